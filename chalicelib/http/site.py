"""Blueprint: the public site's pages (front page and form, privacy notice, static files, the local outbox).

Pages answer HTML, errors included; the middleware gives them the headers of
``render/pages.SECURITY_HEADERS``. The language is ``?lang=`` first, then
Accept-Language, else Dutch; forms carry ``?lang=`` in their action.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import times
from chalicelib.errors import DomainError, InvalidInput, InvalidInputs, NotFound, Unavailable
from chalicelib.http.errors import html_error, json_error
from chalicelib.http.request import current, is_form_post, json_body, page_language, raw_form_body, source_ip
from chalicelib.http.responses import _, json_response, page, see_other
from chalicelib.http.routing import page_route
from chalicelib.model.event import ID_PATTERN
from chalicelib.render import pages
from chalicelib.services import events
from chalicelib.wiring import get_keys, get_mailer, get_repo, get_settings

site = Blueprint(__name__)


@site.route("/static/{name}", methods=["GET", "HEAD"])
def static(name):
    try:
        body, content_type, etag = pages.static_file(name)
    except KeyError:
        return Response(body="Not found", status_code=404,
                        headers={"Content-Type": "text/plain; charset=utf-8"})
    headers = {"Content-Type": content_type, "ETag": etag,
               "Cache-Control": "public, max-age=31536000, immutable"}
    if (current().headers.get("if-none-match") or "") == etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body.decode("utf-8"), status_code=200, headers=headers)


@site.route("/favicon.ico", methods=["GET", "HEAD"])
def favicon():
    # Browsers ask for it on every page load (before reading the page's <link rel="icon">): the office's icon,
    # an SVG (a text answer, which API Gateway passes as it is), cached for a day.
    body, content_type, etag = pages.static_file("favicon.svg")
    headers = {"Content-Type": content_type, "ETag": etag, "Cache-Control": "public, max-age=86400"}
    if (current().headers.get("if-none-match") or "") == etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body.decode("utf-8"), status_code=200, headers=headers)


def _index(status: int = 200, values: dict | None = None, errors: dict | None = None, switch_path: str = "/",
           notice: dict | None = None, headers: dict[str, str] | None = None) -> Response:
    now = times.now()
    upcoming, cancelled = events.front_page_events(get_repo(), now)
    cards = pages.event_cards(upcoming, now)
    # The form shown again after a post holds what was typed (name, address, question): not to be stored.
    return page("index.html", status, switch_path=switch_path, cache="no-cache" if status == 200 else "no-store",
                headers=headers, cards=cards, cancelled=cancelled, values=values or {}, errors=errors or {},
                anchors=pages.field_anchors(cards), notice=notice)


@page_route(site, "/", methods=["GET", "HEAD"])
def index():
    # ?event=<id> (from an event's page) ticks that event in the form.
    params = current().query_params or {}
    chosen = [value for value in (params.getlist("event") if "event" in params else []) if ID_PATTERN.match(value)]
    return _index(values={"event_ids": chosen} if chosen else None)


@page_route(site, "/privacy", methods=["GET", "HEAD"])
def privacy():
    return page("privacy.html", cache="no-cache")


@site.route("/subscriptions", methods=["POST"], content_types=[pages.FORM_CONTENT_TYPE, "application/json"])
def create_subscription():
    if is_form_post():
        return _subscribe_form()
    return _subscribe_json()


@page_route(site, "/subscriptions", methods=["GET"])
def subscription_form():
    # After a form post the browser's bar shows /subscriptions: reloading it
    # as a GET, bookmarking or sharing it leads to the form, not to a 405.
    return see_other(f"/?lang={page_language()}#subscribe")


@page_route(site, "/subscriptions/sent", methods=["GET"])
def subscription_sent():
    # Where a successful form post (and a resend) leads: reloading it sends no
    # mail again, and its address holds nothing personal.
    settings = get_settings()
    return page("check_mail.html", switch_path="/subscriptions/sent", per_hour=settings.confirmation_mails_per_hour,
                per_day=settings.confirmation_mails_per_day)


def _subscribe_json():
    try:
        _subscribe(json_body())
    except DomainError as exc:
        return json_error(exc)
    return json_response({"status": "pending_confirmation"}, 202)


def _subscribe_form():
    try:
        data = pages.subscription_from_form(raw_form_body())
    except (InvalidInput, InvalidInputs) as exc:  # not UTF-8, too many fields: the form again, empty, with why
        return _index(400, {}, pages.form_errors(exc, page_language()))
    except DomainError as exc:
        return html_error(exc)
    try:
        _subscribe(data)
    except (InvalidInput, InvalidInputs) as exc:
        return _index(400, pages.form_values(data), pages.form_errors(exc, page_language()))
    except Unavailable:
        # Our fault, for a moment (the table, SES): the form again, as it was
        # filled in, so that trying again is one press.
        try:
            return _index(503, pages.form_values(data), headers={"Retry-After": "60"}, notice={
                "heading": _("Temporarily unavailable"),
                "message": _("We could not handle your registration just now. What you filled in is still here: press the button again in a few minutes.")})
        except DomainError:  # the events cannot be read either: the plain 503 page
            return html_error(Unavailable("storage: unavailable"))
    except DomainError as exc:
        return html_error(exc)
    return see_other(f"/subscriptions/sent?lang={page_language()}")


def _subscribe(data: Any) -> None:
    from chalicelib.services import subscribe

    # The service answers a filled-in honeypot (``website``) exactly like a
    # person, and keeps and sends nothing.
    settings = get_settings()
    subscribe.subscribe(get_repo(), get_mailer(), data, base_url=settings.base_url, key=get_keys(), settings=settings,
                        now=times.now(), client=source_ip())


@page_route(site, "/outbox", methods=["GET"])
def outbox_page():
    settings = get_settings()
    if not settings.is_local or not settings.endpoint_url:
        raise NotFound("path: the outbox exists only in the local stage")
    from chalicelib.adapters import outbox

    try:
        mails = outbox.read(settings.endpoint_url)
    except OSError as exc:
        raise Unavailable("outbox: moto's server does not answer") from exc
    return page("outbox.html", mails=mails)

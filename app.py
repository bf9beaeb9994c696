"""The HTTP edge: routes parse, call one function of chalicelib, and shape the answer.

This is the only module that imports chalice. Domain errors become HTTP here.
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Any, Callable

from chalice import AuthResponse, Chalice, Rate, Response

from chalicelib import config, times
from chalicelib.errors import (
    AwaitingConfirmation,
    Conflict,
    DomainError,
    Gone,
    InvalidInput,
    InvalidInputs,
    LinkUsed,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from chalicelib.model.event import ID_PATTERN
from chalicelib.model.person import AuditEntry
from chalicelib.render import i18n, pages
from chalicelib.render.event_json import event_json
from chalicelib.services import events, staff

app = Chalice(app_name="sro-events")

MAX_BODY = 64 * 1024

_repo = None


def get_repo():
    """Return the repository, built once per process on first use."""
    global _repo
    if _repo is None:
        from chalicelib.adapters import aws
        from chalicelib.adapters.dynamodb import DynamoDBRepository

        _repo = DynamoDBRepository(aws.client("dynamodb"), config.load().table_name)
    return _repo


def set_repo(repo) -> None:
    """Use ``repo`` from now on (tests)."""
    global _repo
    _repo = repo


_mailer = None


def get_mailer():
    """Return the mailer (SES), built once per process on first use."""
    global _mailer
    if _mailer is None:
        from chalicelib.adapters import aws
        from chalicelib.adapters.ses import SesMailer

        current = config.load()
        _mailer = SesMailer(aws.client("ses"), current.sender_email, current.ses_configuration_set)
    return _mailer


def set_mailer(mailer) -> None:
    """Use ``mailer`` from now on (tests)."""
    global _mailer
    _mailer = mailer


# ------------------------------------------------------------------ errors

_STATUS = [
    (InvalidInput, 400, "BadRequestError"),
    (InvalidInputs, 400, "BadRequestError"),
    (Unauthorized, 401, "UnauthorizedError"),
    (NotFound, 404, "NotFoundError"),
    (Conflict, 409, "ConflictError"),
    (Gone, 410, "GoneError"),
    (TooManyRequests, 429, "TooManyRequestsError"),
    (Unavailable, 503, "ServiceUnavailableError"),
]


class BodyTooLarge(DomainError):
    """Raised when a request body is over 64 KiB."""


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body={"Code": code, "Message": message}, status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _domain_error_response(exc: DomainError) -> Response:
    if isinstance(exc, BodyTooLarge):
        return error_response(413, "RequestTooLargeError", exc.message)
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            headers = {"Retry-After": "60"} if status in (429, 503) else None
            return error_response(status, code, exc.message, headers)
    return error_response(400, "BadRequestError", exc.message)


def _route(path: str, on_error: Callable[[DomainError], Response], **kwargs: Any) -> Callable:
    """Register a route whose domain errors are answered by ``on_error``."""
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def mapped(*args: Any, **params: Any) -> Any:
            try:
                return view(*args, **params)
            except DomainError as exc:
                return on_error(exc)
        return app.route(path, **kwargs)(mapped)
    return register


def api(path: str, **kwargs: Any) -> Callable:
    """Register a route whose domain errors become JSON error answers."""
    return _route(path, _domain_error_response, **kwargs)


def json_body() -> Any:
    """Return the request's JSON body, or raise a domain error naming the problem."""
    raw = raw_form_body()
    if not raw.strip():
        raise InvalidInput("body", "is empty; send a JSON object")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput("body", f"is not valid JSON ({type(exc).__name__})") from exc
    _refuse_lone_surrogates(data)
    return data


def _refuse_lone_surrogates(data: Any) -> None:
    """Refuse a JSON string holding a lone UTF-16 surrogate ("\\ud800"), naming its field.

    JSON allows one; UTF-8 has no way to write it, so no store (DynamoDB),
    feed or answer could take it. Walked without recursion: nesting is as
    deep as json.loads allowed.
    """
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput(path[:100] or "body", "is not valid Unicode text (it holds a lone UTF-16 "
                                   "surrogate such as \\ud800)") from None
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((item, f"{path}.{key}" if path else key))
                stack.append((key, path or "body"))  # checked first: a name that cannot be written is named by its parent
        elif isinstance(value, list):
            stack.extend((item, path or "body") for item in value)


def settings():
    return config.load()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})


# ------------------------------------------------------------ staff access


def _deny() -> None:
    """Refuse a staff request with 401.

    API Gateway answers 401 when a token authorizer fails with exactly the
    message "Unauthorized". Chalice's local gateway (``chalice local`` and the
    test client) lets such an exception escape as a 500, so there we raise
    its own 401 instead.
    """
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
        raise Exception("Unauthorized")  # noqa: TRY002 - the message is API Gateway's contract
    from chalice.local import NotAuthorizedError

    raise NotAuthorizedError(
        {"x-amzn-ErrorType": "UnauthorizedException"},
        b'{"Code": "UnauthorizedError", "Message": "Authorization: a valid staff token is required (Bearer <token>)"}',
    )


# API Gateway caches an authorizer's answer per token; 30 seconds keeps a
# revoked token working for at most that long.
@app.authorizer(ttl_seconds=30)
def staff_authorizer(auth_request):
    try:
        name = staff.verify_authorization(get_repo(), auth_request.token)
    except Exception:  # noqa: BLE001 - fail closed: a bad token or any fault in checking one denies
        _deny()
    return AuthResponse(routes=["/staff/*", "/staff"], principal_id=name)


def staff_route(path: str, **kwargs: Any) -> Callable:
    """Register a route only a valid staff token can reach."""
    return api(path, authorizer=staff_authorizer, **kwargs)


def actor() -> str:
    return app.current_request.context.get("authorizer", {}).get("principalId", "unknown")


# ------------------------------------------------------------- public API


@api("/events", methods=["GET"])
def list_events():
    now = times.now()
    base = settings().base_url
    return json_response({"events": [event_json(e, base_url=base, now=now) for e in events.list_upcoming(get_repo(), now)]})


@api("/events/{event_id}", methods=["GET"])
def get_event(event_id):
    # The same URL is the event's page in calendars (the .ics URL, "More
    # information" in add-to-calendar links): a browser, which asks for
    # HTML first, gets a page; anything else the JSON.
    html = pages.prefers(app.current_request.headers.get("accept"), "text/html", "application/json")
    vary = {"Vary": "Accept, Accept-Language"}  # the page's language comes from Accept-Language without ?lang
    try:
        event = events.get_public_event(get_repo(), event_id)
    except DomainError as exc:
        if html:
            answer = html_error(exc)
            answer.headers.update(vary)
            return answer
        raise
    now = times.now()
    if html:
        return page("event.html", headers=vary, cache="no-cache", event=event,
                    state=pages.registration_state(event, now))
    return json_response(event_json(event, base_url=settings().base_url, now=now), headers=vary)


@api("/openapi.json", methods=["GET"])
def openapi_document():
    from chalicelib.render import openapi

    return json_response(openapi.document(settings().base_url), headers={"Cache-Control": "public, max-age=300"})


# ------------------------------------------------------------ calendar feeds


def query_value(name: str, allowed: tuple[str, ...], default: str) -> str:
    """Return the one value of ``?name`` (``default`` when absent); anything else is a 400, never a fallback.

    Every value counts: chalice's get() reads only the last one, so
    "?lang=xx&lang=" would otherwise pass as the default.
    """
    params = app.current_request.query_params
    values = params.getlist(name) if params and name in params else [default]
    if len(set(values)) != 1 or values[0] not in allowed:
        raise InvalidInput(name, f"must be {' or '.join(allowed)}")
    return values[0]


def feed_lang() -> str:
    """Return ``?lang`` (nl by default); anything but nl or en is a 400, not a silent fallback."""
    return query_value("lang", ("nl", "en"), "nl")


def calendar_response(reply, extra_headers: dict[str, str] | None = None) -> Response:
    """Shape a feed reply: 200 or 304, validators and caching headers; no body for 304 or HEAD."""
    from chalicelib.services.public_feed import CACHE_CONTROL

    headers = {"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": CACHE_CONTROL, **(extra_headers or {})}
    if reply.etag:
        headers["ETag"] = reply.etag
    if reply.last_modified:
        headers["Last-Modified"] = times.format_http_date(reply.last_modified)
    send_body = reply.status == 200 and app.current_request.method != "HEAD"
    return Response(body=reply.body.decode("utf-8") if send_body else "", status_code=reply.status, headers=headers)


@api("/calendar.ics", methods=["GET", "HEAD"])
def public_calendar():
    from chalicelib.services.public_feed import read_public_feed

    headers = app.current_request.headers
    return calendar_response(read_public_feed(
        get_repo(), feed_lang(), if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"), now=times.now()))


@api("/events/{event_id}/calendar.ics", methods=["GET", "HEAD"])
def event_calendar(event_id):
    from chalicelib.services.public_feed import read_event_calendar

    headers = app.current_request.headers
    reply = read_event_calendar(events.get_public_event(get_repo(), event_id), feed_lang(), base_url=settings().base_url,
                                if_none_match=headers.get("if-none-match"),
                                if_modified_since=headers.get("if-modified-since"))
    return calendar_response(reply, {"Content-Disposition": f'attachment; filename="{event_id}.ics"'})


# API Gateway takes only whole path segments as parameters, so the route is
# /feeds/{filename} and the ".ics" is checked here.
@api("/feeds/{filename}", methods=["GET", "HEAD"])
def personal_calendar(filename):
    from chalicelib.errors import NotFound
    from chalicelib.services import manage

    if not filename.endswith(".ics"):
        raise NotFound("token: this link is not valid (any more)")
    token = filename[:-4]
    headers = app.current_request.headers
    reply = manage.read_personal_feed(
        get_repo(), token, base_url=settings().base_url,
        if_none_match=headers.get("if-none-match"), if_modified_since=headers.get("if-modified-since"))
    # Private: it holds join links; the token in the URL must not leak.
    return calendar_response(reply, {"Cache-Control": "private, max-age=300"})


# -------------------------------------------------------------- staff API


def _staff_event(event, status: int = 200) -> Response:
    return json_response(event_json(event, base_url=settings().base_url, now=times.now(), staff=True), status)


@staff_route("/staff/events", methods=["POST"])
def staff_create_event():
    event = events.create_event(get_repo(), json_body(), actor=actor())
    return _staff_event(event, 201)


@staff_route("/staff/events", methods=["GET"])
def staff_list_events():
    now = times.now()
    base = settings().base_url
    return json_response({"events": [event_json(e, base_url=base, now=now, staff=True) for e in get_repo().list_events()]})


@staff_route("/staff/events/{event_id}", methods=["GET"])
def staff_get_event(event_id):
    from chalicelib.services import staff

    event = events.get_event(get_repo(), event_id)
    body = event_json(event, base_url=settings().base_url, now=times.now(), staff=True)
    body["counts"] = staff.counts(get_repo(), event)
    return json_response(body)


@staff_route("/staff/events/{event_id}/registrations", methods=["GET"])
def staff_registrations(event_id):
    from chalicelib.services import staff

    request = app.current_request
    event = events.get_event(get_repo(), event_id)
    rows = staff.registrations_for_staff(get_repo(), event)
    wants = query_value("format", ("json", "csv", "excel"), "") if "format" in (request.query_params or {}) else ""
    if not wants:
        wants = "csv" if pages.prefers(request.headers.get("accept"), "text/csv", "application/json") else "json"
    # Who took the list of addresses, of which event, how many: the audit says, never the addresses.
    get_repo().add_audit(AuditEntry(actor=actor(), action="registrations.read", target=f"event:{event.id}",
                                    at=times.now(), details={"format": wants, "rows": len(rows)}))
    if wants in ("csv", "excel"):
        return Response(body=staff.registrations_csv(rows, excel=wants == "excel"), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="registrations-{event.id}.csv"',
            "Cache-Control": "no-store",
        })
    return json_response({"event_id": event.id, "registrations": rows}, headers={"Cache-Control": "no-store"})


def _subscriber_email() -> str:
    params = app.current_request.query_params
    values = params.getlist("email") if params and "email" in params else []
    if len(values) > 1:
        raise InvalidInput("email", "give one address: ?email=an@example.be")
    if not values or not values[0]:
        raise InvalidInput("email", "is required: ?email=an@example.be")
    return values[0]


def _audit_subscriber(action: str, found: bool) -> None:
    # Whether someone was found, never who: an unknown address is audited too, so probing
    # which addresses are known leaves a trace.
    get_repo().add_audit(AuditEntry(actor=actor(), action=action, target="subscriber", at=times.now(),
                                    details={"found": found}))


def _subscriber(action: str):
    """The person of ?email=, for a lookup or an erasure; NotFound (audited as such) when there is none."""
    from chalicelib.services import privacy

    try:
        return privacy.find_person(get_repo(), _subscriber_email())
    except NotFound:
        _audit_subscriber(action, False)
        raise


@staff_route("/staff/subscribers", methods=["GET"])
def staff_subscriber_data():
    from chalicelib.services import privacy

    person = _subscriber("subscriber.access")
    _audit_subscriber("subscriber.access", True)
    return json_response(privacy.export_person(get_repo(), person), headers={"Cache-Control": "no-store"})


@staff_route("/staff/subscribers", methods=["DELETE"])
def staff_erase_subscriber():
    from chalicelib.services import privacy

    person = _subscriber("subscriber.erase")
    privacy.erase(get_repo(), person)
    _audit_subscriber("subscriber.erase", True)
    return json_response({"status": "erased"})


@staff_route("/staff/events/{event_id}", methods=["PATCH"])
def staff_change_event(event_id):
    from chalicelib.services import planning

    change = events.change_event(get_repo(), event_id, json_body(), actor=actor())
    planning.after_event_change(get_repo(), change)
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/publish", methods=["POST"])
def staff_publish_event(event_id):
    from chalicelib.services import planning

    change = events.publish_event(get_repo(), event_id, actor=actor())
    planning.after_event_change(get_repo(), change)
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/cancel", methods=["POST"])
def staff_cancel_event(event_id):
    from chalicelib.services import planning

    change = events.cancel_event(get_repo(), event_id, actor=actor())
    planning.after_event_change(get_repo(), change)
    return _staff_event(change.after)


@staff_route("/staff/audit", methods=["GET"])
def staff_audit():
    params = app.current_request.query_params
    values = params.getlist("limit") if params and "limit" in params else ["100"]
    try:
        limit = int(values[0])
    except ValueError:
        raise InvalidInput("limit", "must be a whole number from 1 to 1000")
    if len(set(values)) != 1 or not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be a whole number from 1 to 1000")
    return json_response({"entries": [e.to_json() for e in get_repo().list_audit(limit)]})


# ------------------------------------------------------------- HTML pages
#
# Pages answer HTML, errors included; the middleware security_headers gives
# them the headers of ``web.SECURITY_HEADERS``. The language is ``?lang=`` first, then
# Accept-Language, else Dutch; forms carry ``?lang=`` in their action.


def page_language() -> str:
    request = app.current_request
    return i18n.pick_language((request.query_params or {}).get("lang"), request.headers.get("accept-language"))


def _current_path() -> str:
    request = app.current_request
    return request.path.format(**(request.uri_params or {}))


def html_response(body: str, status: int = 200, headers: dict[str, str] | None = None,
                  cache: str = "no-store") -> Response:
    """An HTML answer with the security headers every page carries."""
    return Response(body=body, status_code=status, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": cache,
        "Vary": "Accept-Language",
        **(headers or {}),
    })


def page(template: str, status: int = 200, *, switch_path: str | None = None,
         headers: dict[str, str] | None = None, cache: str = "no-store", **context: Any) -> Response:
    """Render ``web/<template>`` in the page's language as an HTML answer."""
    lang = context.pop("lang", None) or page_language()
    body = i18n.render(
        f"web/{template}", lang,
        css_url=pages.static_url("site.css"),
        switch_url=pages.switch_language_url(switch_path or _current_path(), app.current_request.query_params, lang),
        lang_attr=lambda texts: pages.lang_attribute(texts, lang),
        titled=lambda event: pages.titled(event, lang),
        **context,
    )
    return html_response(body, status, headers, cache)


def see_other(location: str) -> Response:
    """303 to a page a GET shows: after a post (reloading it sends nothing again), or from a POST-only address."""
    return Response(body="", status_code=303, headers={
        "Location": location, "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"})


def _(text: str) -> str:
    return i18n.gettext(text, page_language())


def _page_of_token(token: str | None) -> str:
    """A page a GET can show for the request's link (the language switch of an error after a POST): its own, or "/"."""
    path = app.current_request.path
    if app.current_request.method in ("GET", "HEAD"):
        return _current_path()
    for prefix in ("/confirm/", "/manage/", "/unsubscribe/"):
        if token and path.startswith(prefix):
            return f"{prefix}{token}"
    return "/"


def _known(person_id: str):
    """The person, if they still exist; a table that fails now answers None (the page still shows its error)."""
    try:
        return get_repo().get_person(person_id)
    except DomainError:
        return None


def html_error(exc: DomainError) -> Response:
    """The page for a domain error raised by an HTML route."""
    params = app.current_request.uri_params or {}
    token = params.get("token")
    if _is_erased_link(exc):
        return erased_link_page(404, switch_path=_page_of_token(token))
    if isinstance(exc, Gone) or (isinstance(exc, NotFound) and token):
        status = 410 if isinstance(exc, Gone) else 404
        resend = f"/confirm/{token}/resend?lang={page_language()}" if (
            status == 410 and app.current_request.path.startswith("/confirm/")) else None
        manage = None
        person = _known(exc.person_id) if isinstance(exc, LinkUsed) else None
        if person is not None:
            # A second press, or the mail's link opened again: it worked, and
            # their page is where to go (the mail that held this link has the
            # same manage link in its footer).
            from chalicelib.render.mails import person_links

            manage = person_links(person, settings().base_url).manage + _lang_query()
        return page("token_error.html", status, code=status, resend_url=resend, manage_url=manage,
                    switch_path=_page_of_token(token))
    if isinstance(exc, BodyTooLarge):
        return page("error.html", 413, heading=_("Too much text"),
                    message=_("What you sent is too long. Shorten your question and try again."), switch_path="/")
    if _is_mail_limit(exc):
        return mail_limit_page(exc, token)
    if isinstance(exc, TooManyRequests):
        return page("error.html", 429, headers={"Retry-After": "60"}, heading=_("Please wait a moment"),
                    message=_("We received many requests from you. Try again in a few minutes."), switch_path="/")
    if isinstance(exc, Unavailable):
        return page("error.html", 503, headers={"Retry-After": "60"}, heading=_("Temporarily unavailable"),
                    message=_("Something is not working on our side. Try again in a few minutes."), switch_path="/")
    if isinstance(exc, NotFound):
        return page("error.html", 404, heading=_("Page not found"),
                    message=_("We could not find what you asked for."), switch_path="/")
    if isinstance(exc, AwaitingConfirmation):
        return page("error.html", 409, heading=_("Confirm your registration first"),
                    message=_("This registration waits for its confirmation: open the link in the email we sent you. "
                              "If you did not ask for it, do nothing: it lapses by itself."), switch_path="/")
    if isinstance(exc, Conflict):
        return page("error.html", 409, heading=_("That is not possible"),
                    message=_("This cannot be done any more, for example because the event was cancelled or has started."),
                    switch_path="/")
    return page("error.html", 400, heading=_("Something is wrong with the request"),
                message=_("We could not handle this request. Go back and try again."), switch_path="/")


def _is_erased_link(exc: Exception) -> bool:
    """Whether ``exc`` is a genuine person link (manage, unsubscribe) whose person is erased (or expired)."""
    from chalicelib.errors import ErasedPersonLink

    return isinstance(exc, ErasedPersonLink)


def _is_mail_limit(exc: Exception) -> bool:
    """Whether ``exc`` says a resend button's mail was held back by the confirmation-mail limits."""
    from chalicelib.errors import MailLimitReached

    return isinstance(exc, MailLimitReached)


def mail_limit_page(exc, token: str | None) -> Response:
    """The page of a resend button (a mailed link's, the manage page's) whose mail the limits held back.

    Its holder proved the address, so it tells the truth: nothing was sent, and when to try
    again. The form never says this (it answers every address alike).
    """
    if exc.period == "day":
        message = _("We have already sent you emails in the last 24 hours; to protect your mailbox we send no "
                    "more for now. Try again in a day.")
    else:
        message = _("We have sent you several emails in the last hour; to protect your mailbox we send no more "
                    "for now. Try again in an hour.")
    manage = _manage_path(token) + _lang_query() if token and app.current_request.path.startswith("/manage/") \
        else None
    return page("result.html", 429, headers={"Retry-After": str(exc.retry_after)}, switch_path=_page_of_token(token),
                heading=_("No new email for now"),
                paragraphs=[message, _("Did you not find our emails? Look in your spam folder.")],
                items=[], manage_url=manage)


def erased_link_page(status: int, *, switch_path: str) -> Response:
    """The page of a genuine link whose person is gone: their data is erased, and there is nothing more to do.

    Not "link not found, check that you copied it": the link's signature holds, so it
    was ours, and what it led to is gone. A forged or mistyped link stays "not found".
    """
    return page("result.html", status, switch_path=switch_path, heading=_("Your data is erased"),
                paragraphs=[_("There is nothing more to do: we no longer keep anything about you, so this link leads "
                              "nowhere any more and you get no more emails from us."),
                            _("Your data was erased at your request, or because we keep it only for a limited time "
                              "after your events.")],
                items=[], manage_url=None)


def page_route(path: str, **kwargs: Any) -> Callable:
    """Register a route that answers HTML, its domain errors as HTML pages."""
    return _route(path, html_error, **kwargs)


def raw_form_body() -> bytes:
    """The request's body, JSON or form; over 64 KiB is a 413."""
    raw = app.current_request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise BodyTooLarge(f"body: is {len(raw)} bytes; at most {MAX_BODY} bytes (64 KiB) are accepted")
    return raw


def form_fields() -> dict[str, list[str]]:
    """The fields of a posted form (urlencoded); empty when there is no body."""
    return pages.parse_form(raw_form_body())


def _is_form_post() -> bool:
    content_type = (app.current_request.headers.get("content-type") or "").lower()
    return content_type.split(";")[0].strip() == pages.FORM_CONTENT_TYPE


@app.route("/static/{name}", methods=["GET", "HEAD"])
def static(name):
    try:
        body, content_type, etag = pages.static_file(name)
    except KeyError:
        return Response(body="Not found", status_code=404,
                        headers={"Content-Type": "text/plain; charset=utf-8"})
    headers = {"Content-Type": content_type, "ETag": etag,
               "Cache-Control": "public, max-age=31536000, immutable"}
    if (app.current_request.headers.get("if-none-match") or "") == etag:
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


@page_route("/", methods=["GET", "HEAD"])
def index():
    # ?event=<id> (from an event's page) ticks that event in the form.
    params = app.current_request.query_params or {}
    chosen = [value for value in (params.getlist("event") if "event" in params else []) if ID_PATTERN.match(value)]
    return _index(values={"event_ids": chosen} if chosen else None)


@page_route("/privacy", methods=["GET", "HEAD"])
def privacy():
    return page("privacy.html", cache="no-cache")


@app.route("/subscriptions", methods=["POST"], content_types=[pages.FORM_CONTENT_TYPE, "application/json"])
def create_subscription():
    if _is_form_post():
        return _subscribe_form()
    return _subscribe_json()


@page_route("/subscriptions", methods=["GET"])
def subscription_form():
    # After a form post the browser's bar shows /subscriptions: reloading it
    # as a GET, bookmarking or sharing it leads to the form, not to a 405.
    return see_other(f"/?lang={page_language()}#subscribe")


@page_route("/subscriptions/sent", methods=["GET"])
def subscription_sent():
    # Where a successful form post (and a resend) leads: reloading it sends no
    # mail again, and its address holds nothing personal.
    return page("check_mail.html", switch_path="/subscriptions/sent")


def _subscribe_json():
    try:
        _subscribe(json_body())
    except DomainError as exc:
        return _domain_error_response(exc)
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
    # The service answers a filled-in honeypot (``website``) exactly like a
    # person, and keeps and sends nothing.
    _subscriptions().subscribe(get_repo(), get_mailer(), data, base_url=settings().base_url, now=times.now())


@page_route("/outbox", methods=["GET"])
def outbox_page():
    settings = config.load()
    if not settings.is_local or not settings.endpoint_url:
        raise NotFound("path: the outbox exists only in the local stage")
    from chalicelib.ops import outbox

    try:
        mails = outbox.read(settings.endpoint_url)
    except OSError as exc:
        raise Unavailable("outbox: moto's server does not answer") from exc
    return page("outbox.html", mails=mails)


# ----------------------------------------------------- confirm and manage
#
# A GET never changes state (mail scanners follow links): every page that
# acts has a button that POSTs. Where a POST destroys data (cancel, erase),
# a first POST without ``confirm=yes`` shows a page asking to be sure.

FORM_AND_PLAIN = [pages.FORM_CONTENT_TYPE, "multipart/form-data", "text/plain", "application/json"]


def _subscriptions():
    from types import SimpleNamespace

    from chalicelib.services import manage, people, privacy, subscribe

    return SimpleNamespace(
        subscribe=subscribe.subscribe, inspect_confirm_token=subscribe.inspect_confirm_token, confirm=subscribe.confirm,
        resend_confirmation=subscribe.resend_confirmation, resend_from_manage=subscribe.resend_from_manage,
        manage_view=manage.manage_view, cancel_registration=manage.cancel_registration,
        register_from_link=manage.register_from_link, person_for_token=people.person_for_token,
        unsubscribe=manage.unsubscribe, resume_mail=manage.resume_mail, set_mail_language=manage.set_mail_language,
        erase_by_token=privacy.erase_by_token, unsubscribe_view=manage.unsubscribe_view)


def _confirmed_step() -> bool:
    """Whether a destructive POST carries the "yes, I am sure" of its confirmation page."""
    if not _is_form_post():
        return False
    return form_fields().get("confirm", [""])[0] == "yes"


def _lang_query() -> str:
    return f"?lang={page_language()}"


def result_page(heading: str, *paragraphs: str, manage_url: str | None = None, status: int = 200,
                switch_path: str = "/") -> Response:
    return page("result.html", status, switch_path=switch_path, heading=heading,
                paragraphs=list(paragraphs), items=[], manage_url=manage_url)


@page_route("/confirm/{token}", methods=["GET"])
def confirm_page(token):
    view = _subscriptions().inspect_confirm_token(get_repo(), token, now=times.now())
    return page("confirm.html", token=token, view=view)


@page_route("/confirm/{token}", methods=["POST"], content_types=FORM_AND_PLAIN)
def confirm_registration(token):
    result = _subscriptions().confirm(get_repo(), get_mailer(), token, base_url=settings().base_url, now=times.now())
    return page("confirmed.html", switch_path="/", result=result, summary=pages.confirm_summary(result.outcomes))


@page_route("/confirm/{token}/resend", methods=["POST"], content_types=FORM_AND_PLAIN)
def resend_confirmation(token):
    _subscriptions().resend_confirmation(get_repo(), get_mailer(), token, base_url=settings().base_url, now=times.now())
    return see_other(f"/subscriptions/sent?lang={page_language()}")


# The address of a button's post stays in the browser's bar: opened again as
# a GET (a reload later, a bookmark, the language switch), it leads to the
# page the button was on, never to a 405.
def _back_to(prefix: str, token: str) -> Response:
    from urllib.parse import quote

    return see_other(f"{prefix}{quote(token, safe='')}{_lang_query()}")


@page_route("/confirm/{token}/resend", methods=["GET"])
def resend_address(token):
    return _back_to("/confirm/", token)


@page_route("/manage/{token}/events/{event_id}/cancel", methods=["GET"])
def cancel_address(token, event_id):
    return _back_to("/manage/", token)


@page_route("/manage/{token}/stop", methods=["GET"])
def stop_address(token):
    return _back_to("/manage/", token)


@page_route("/manage/{token}/erase", methods=["GET"])
def erase_address(token):
    return _back_to("/manage/", token)


@page_route("/manage/{token}/resume", methods=["GET"])
def resume_address(token):
    return _back_to("/manage/", token)


@page_route("/manage/{token}/resend", methods=["GET"])
def manage_resend_address(token):
    return _back_to("/manage/", token)


@page_route("/manage/{token}/language", methods=["GET"])
def language_address(token):
    return _back_to("/manage/", token)


def _manage_path(token: str) -> str:
    return f"/manage/{token}"


# What a button of the manage page did, shown on the page it leads back to
# (post, redirect, get): ?done=<one of these>. The notice is worded from the
# state read, so a crafted ?done= cannot make the page claim what is not so.
MANAGE_DONE = ("mail", "language")


@page_route("/manage/{token}", methods=["GET"])
def manage_page(token):
    view = _subscriptions().manage_view(get_repo(), token, base_url=settings().base_url)
    done = (app.current_request.query_params or {}).get("done")
    return page("manage.html", token=token, view=view, now=times.now(), done=done if done in MANAGE_DONE else None)


def _back_to_manage(token: str, done: str) -> Response:
    """303 to the manage page, saying what the button did (``MANAGE_DONE``)."""
    from urllib.parse import quote

    return see_other(f"/manage/{quote(token, safe='')}{_lang_query()}&done={done}")


def _registration(token: str, event_id: str, *, unconfirmed_ok: bool = False):
    """The (event, registration) of this person for ``event_id``; NotFound when there is none.

    A pending one is acted on by its confirm link only; with ``unconfirmed_ok``
    (a cancel), also one whose link no longer works (``ManageView.unconfirmed``).
    """
    view = _subscriptions().manage_view(get_repo(), token, base_url=settings().base_url)
    for event, registration in view.registrations:
        if event.id == event_id and (registration.status != "pending" or
                                     (unconfirmed_ok and event_id in view.unconfirmed_ids)):
            return event, registration
    raise NotFound("event_id: you have no registration for this event")


@page_route("/manage/{token}/events/{event_id}/cancel", methods=["POST"], content_types=FORM_AND_PLAIN)
def cancel_registration(token, event_id):
    back = _manage_path(token) + _lang_query()
    if not _confirmed_step():
        event, registration = _registration(token, event_id, unconfirmed_ok=True)
        lang = page_language()
        about = (i18n.gettext("You are about to cancel your registration for %(title)s, which is not confirmed.", lang)
                 if registration.status == "pending" else
                 i18n.gettext("You are about to cancel your registration for %(title)s. If the event is full, your seat goes to the next person on the waiting list.", lang))
        return page("are_you_sure.html", switch_path=_manage_path(token),
                    heading=_("Cancel this registration?"),
                    message=pages.with_title(about, event, lang),
                    button=_("Yes, cancel my registration"), action=app.current_request.path.format(
                        token=token, event_id=event_id) + _lang_query(), back_url=back)
    event = _subscriptions().cancel_registration(get_repo(), token, event_id, now=times.now())
    lang = page_language()
    return page("result.html", switch_path=_manage_path(token), heading=_("Registration cancelled"),
                paragraphs=[pages.with_title(i18n.gettext("Your registration for %(title)s is cancelled.", lang), event, lang),
                            # An .ics once imported stays in a calendar app until its owner removes it.
                            _("Did you put the event in your calendar yourself? Then remove it there. Your personal "
                              "calendar feed drops it by itself.")],
                items=[], manage_url=back)


@page_route("/manage/{token}/resend", methods=["POST"], content_types=FORM_AND_PLAIN)
def resend_from_manage(token):
    # A fresh confirm link for the registrations whose link no longer works, to the person's own address.
    # Nothing to send (a reload after a send, whose link now works): back to the page, which says where they stand.
    if _subscriptions().resend_from_manage(get_repo(), get_mailer(), token, base_url=settings().base_url,
                                           now=times.now()):
        return see_other(f"/subscriptions/sent?lang={page_language()}")
    return _back_to("/manage/", token)


@page_route("/manage/{token}/events/{event_id}/register", methods=["GET"])
def register_page(token, event_id):
    event, _registration_ = _registration(token, event_id)
    lang = page_language()
    return page("button_page.html", heading=_("Register"),
                message=pages.with_title(i18n.gettext("Register for %(title)s.", lang), event, lang),
                button=_("Register me"), fields={}, action=_current_path() + _lang_query())


def N_(text: str) -> str:
    """Mark a text for translation where it is defined; it is translated where shown."""
    return text


REGISTER_OUTCOMES = {
    "confirmed": (N_("You are registered"), N_("We have sent you an email with the details and the event for your calendar.")),
    "waitlisted": (N_("You are on the waiting list"), N_("This event is full. We mail you as soon as a seat is free for you.")),
    "interested": (N_("Registration is not open yet"), N_("We mail you when it opens.")),
    "already": (N_("You were already registered"), N_("Nothing has changed.")),
    "already_waitlisted": (N_("You were already on the waiting list"), N_("Nothing has changed. We mail you as soon as a seat is free for you.")),
    "closed": (N_("Registration is closed"), N_("You can no longer register for this event.")),
}


# The same outcomes for someone who stopped all mail: nothing is mailed, so nothing is promised by mail.
REGISTER_OUTCOMES_WITHOUT_MAIL = {
    "confirmed": N_("You get no emails from us: the details are on your page, and your personal calendar feed has "
                    "the event."),
    "waitlisted": N_("This event is full. You get no emails from us: check your page to see whether you got a seat."),
    "interested": N_("You get no emails from us: check your page to register once it opens."),
    "already_waitlisted": N_("Nothing has changed. You get no emails from us: check your page to see whether you "
                             "got a seat."),
}


@page_route("/manage/{token}/events/{event_id}/register", methods=["POST"], content_types=FORM_AND_PLAIN)
def register_from_link(token, event_id):
    outcome = _subscriptions().register_from_link(get_repo(), get_mailer(), token, event_id,
                                                  base_url=settings().base_url, now=times.now())
    shown = "already_waitlisted" if outcome.status == "already" and outcome.kept == "waitlisted" else outcome.status
    heading, text = REGISTER_OUTCOMES.get(shown, REGISTER_OUTCOMES["closed"])
    if shown in REGISTER_OUTCOMES_WITHOUT_MAIL and \
            not _subscriptions().person_for_token(get_repo(), "manage", token).receives_mail:
        text = REGISTER_OUTCOMES_WITHOUT_MAIL[shown]
    return result_page(_(heading), pages.with_title("%(title)s", outcome.event, page_language()), _(text),
                       manage_url=_manage_path(token) + _lang_query(), switch_path=_manage_path(token))


@page_route("/manage/{token}/stop", methods=["POST"], content_types=FORM_AND_PLAIN)
def stop_mail(token):
    try:
        _subscriptions().unsubscribe(get_repo(), token, purpose="manage", now=times.now())
    except DomainError as exc:
        if _is_erased_link(exc):  # erased: no mail goes out, which is what was asked
            return erased_link_page(200, switch_path=_manage_path(token))
        raise
    return result_page(_("No more emails"), _("You get no more emails from us. Your registrations stay."),
                       _("Changed your mind? On your page you can receive our emails again."),
                       manage_url=_manage_path(token) + _lang_query(), switch_path=_manage_path(token))


@page_route("/manage/{token}/resume", methods=["POST"], content_types=FORM_AND_PLAIN)
def resume_mail(token):
    # Harmless, so one button without "are you sure?". A stop by a bounce or
    # complaint stays; the page it leads to says why.
    _subscriptions().resume_mail(get_repo(), token, now=times.now())
    return _back_to_manage(token, "mail")


@page_route("/manage/{token}/language", methods=["POST"], content_types=FORM_AND_PLAIN)
def change_mail_language(token):
    values = form_fields().get("language", []) if _is_form_post() else []
    if len(set(values)) != 1:
        raise InvalidInput("language", "choose nl or en")
    _subscriptions().set_mail_language(get_repo(), token, values[0], now=times.now())
    return _back_to_manage(token, "language")


@page_route("/manage/{token}/erase", methods=["POST"], content_types=FORM_AND_PLAIN)
def erase_my_data(token):
    if not _confirmed_step():
        _subscriptions().manage_view(get_repo(), token, base_url=settings().base_url)  # 404 for a bad link
        return page("are_you_sure.html", switch_path=_manage_path(token), heading=_("Erase all your data?"),
                    message=_("We erase your name, address, questions and every registration. Your seats go to the people on the waiting list. This cannot be undone."),
                    button=_("Yes, erase my data"), action=f"/manage/{token}/erase" + _lang_query(),
                    back_url=_manage_path(token) + _lang_query())
    try:
        _subscriptions().erase_by_token(get_repo(), token, now=times.now())
    except DomainError as exc:
        if not _is_erased_link(exc):
            raise
        # Erased already (a double click, a reload of the post): where the first one led.
    return see_other(f"/erased{_lang_query()}")


@page_route("/erased", methods=["GET"])
def erased():
    # After an erase: a reload shows this again, not "link not found".
    return result_page(_("Your data is erased"), _("We no longer keep anything about you. You will get no more emails from us."),
                       switch_path="/erased")


def stop_warnings(view) -> list[str]:
    """What stopping all mail silences for this person (``ManageView.waiting``, ``.interested``), to say before."""
    notes = []
    if view.waiting:
        notes.append(_("You are on a waiting list: without emails you will not hear when a seat is free for you, "
                       "and you may get a seat without knowing it."))
    if view.interested:
        notes.append(_("Without emails you will not hear when registration opens for an event you are waiting for."))
    return notes


@page_route("/unsubscribe/{token}", methods=["GET"])
def unsubscribe_page(token):
    # 404 for a bad link; changes nothing
    view = _subscriptions().unsubscribe_view(get_repo(), token, base_url=settings().base_url, now=times.now())
    return page("button_page.html", heading=_("Stop all emails"),
                message=_("Press the button to receive no more emails from the Smart Region Office about its events. Your registrations stay."),
                notes=stop_warnings(view),
                button=_("Stop all emails"), fields={"List-Unsubscribe": "One-Click"},
                action=_current_path() + _lang_query())


@page_route("/unsubscribe/{token}", methods=["POST"], content_types=FORM_AND_PLAIN)
def unsubscribe(token):
    # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" (urlencoded or
    # multipart). The request itself is the intent; its body is not required.
    raw_form_body()
    try:
        _subscriptions().unsubscribe(get_repo(), token, now=times.now())
    except DomainError as exc:
        if _is_erased_link(exc):  # a genuine link, its person erased: nothing is left to unsubscribe, and no mail goes
            return erased_link_page(200, switch_path=_current_path())
        raise
    return result_page(_("No more emails"), _("You get no more emails from us. Your registrations stay."),
                       switch_path=_current_path())

# ------------------------------------------------- logs, tick, SES notices


@app.middleware("http")
def security_headers(event, get_response):
    """The one place that sets the security headers.

    Every answer: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
    no-referrer`` (token URLs must not leak) and a Content-Type (Chalice's own
    405 and 415 have none). Every page (text/html) also gets the
    Content-Security-Policy of ``web.SECURITY_HEADERS``.
    """
    response = get_response(event)
    headers = response.headers
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    if content_type is None and not isinstance(response.body, str):
        content_type = headers["Content-Type"] = "application/json"
    wanted = dict(pages.SECURITY_HEADERS) if (content_type or "").startswith("text/html") else {
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    for name, value in wanted.items():
        headers.setdefault(name, value)
    if event.method == "HEAD" and response.body:
        # An answer to HEAD has no body, errors included: a body left on a
        # kept-alive connection is read as the start of the next answer.
        response.body = ""
    return response


@app.middleware("http")
def log_request(event, get_response):
    """Log one JSON line per request: method, route template, status, duration, request id."""
    started = time.perf_counter()
    status = 500
    try:
        response = get_response(event)
        status = response.status_code
        return response
    finally:
        from chalicelib import logs

        context = event.context or {}
        lambda_context = getattr(event, "lambda_context", None)
        logs.request(
            method=event.method, route=context.get("resourcePath"), status=status,
            duration_ms=(time.perf_counter() - started) * 1000,
            request_id=context.get("requestId") or getattr(lambda_context, "aws_request_id", None),
        )


@app.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event):
    """Send what is due (EventBridge, every minute)."""
    from chalicelib import wiring

    # Stop TICK_MARGIN s before Lambda would (50 s of the tick's 75): a send
    # begun just before the deadline (an SES call may take 13 s: 3 to
    # connect, 10 to read) and its batch's record still finish. What is left
    # goes to the next tick.
    context = getattr(event, "context", None)
    remaining = context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis") else 75.0
    wiring.run_tick(time_budget=max(remaining - TICK_MARGIN, 1.0), repo=get_repo(), mailer=get_mailer())


TICK_MARGIN = 25.0  # seconds; .chalice/config.json gives the tick 75


# The topic's name here is what `chalice deploy` would subscribe to; the
# CloudFormation of infra/ points the subscription at its own topic instead.
@app.on_sns_message(topic="sro-events-ses-notifications")
def ses_notifications(event):
    """Record the suppressions that SES bounces and complaints call for."""
    from chalicelib.services import bounces

    try:
        message = json.loads(event.message)
    except ValueError:
        return  # not an SES notice (SNS's subscription confirmation, say): nothing to do
    bounces.handle_ses_notification(message, get_repo())

"""Blueprint: the staff JSON API under /staff, behind a Bearer-token authorizer (for scripts).

Every route here carries ``staff_authorizer``; ``tests`` walk the app's route
table to check that none is left open.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

from chalice import AuthResponse, Blueprint, Response

from chalicelib import times
from chalicelib.errors import DomainError, InvalidInput, Unavailable
from chalicelib.http.request import actor, current, json_body, page_language, query_value, subscriber_email
from chalicelib.http.responses import download_response, json_response
from chalicelib.http.routing import api
from chalicelib.model.event import LANGUAGES
from chalicelib.render import pages
from chalicelib.render.event_json import event_json
from chalicelib.render.spreadsheet import XLSX_CONTENT_TYPE
from chalicelib.services import events, staff
from chalicelib.wiring import get_keys, get_mailer, get_repo, get_settings

staff_api = Blueprint(__name__)


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
@staff_api.authorizer(ttl_seconds=30)
def staff_authorizer(auth_request):
    try:
        name = staff.verify_authorization(get_repo(), auth_request.token)
    except Exception:  # noqa: BLE001 - fail closed: a bad token or any fault in checking one denies
        _deny()
    return AuthResponse(routes=["/staff/*", "/staff"], principal_id=name)


def staff_route(path: str, **kwargs: Any) -> Callable:
    """Register a route only a valid staff token can reach; each request notes its token's use (``last used``).

    Noted here, by the API handler, not by the authorizer: that one runs for any bearer string and may only
    read staff tokens.
    """
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def noted(*args: Any, **params: Any) -> Any:
            try:
                answer = view(*args, **params)
            except Unavailable:
                raise  # the table is in trouble: no more writes to it for a note
            except DomainError:
                staff.record_use(get_repo(), current().headers.get("authorization"))  # a 4xx is a use too
                raise
            staff.record_use(get_repo(), current().headers.get("authorization"))
            return answer
        return api(staff_api, path, authorizer=staff_authorizer, **kwargs)(noted)
    return register


def _staff_event(event, status: int = 200) -> Response:
    return json_response(event_json(event, base_url=get_settings().base_url, now=times.now(), staff=True), status)


@staff_route("/staff/events", methods=["POST"])
def staff_create_event():
    event = events.create_event(get_repo(), json_body(), actor=actor(), base_url=get_settings().base_url)
    return _staff_event(event, 201)


@staff_route("/staff/events", methods=["GET"])
def staff_list_events():
    now = times.now()
    base = get_settings().base_url
    return json_response({"events": [event_json(e, base_url=base, now=now, staff=True) for e in get_repo().list_events()]})


@staff_route("/staff/events/{event_id}", methods=["GET"])
def staff_get_event(event_id):
    event = events.get_event(get_repo(), event_id)
    body = event_json(event, base_url=get_settings().base_url, now=times.now(), staff=True)
    body["counts"] = staff.counts(get_repo(), event)
    return json_response(body)


@staff_route("/staff/events/{event_id}/registrations", methods=["GET"])
def staff_registrations(event_id):
    """JSON; ``?format=csv`` (or Accept: text/csv) for programs; ``?format=xlsx`` for people (``excel`` the same).

    Unconfirmed registrations only with ``?pending=include``: anyone can type anything into the form.
    """
    request = current()
    event = events.get_event(get_repo(), event_id)
    params = request.query_params or {}
    wants = query_value("format", ("json", "csv", "xlsx", "excel"), "") if "format" in params else ""
    if not wants:
        wants = "csv" if pages.prefers(request.headers.get("accept"), "text/csv", "application/json") else "json"
    wants = "xlsx" if wants == "excel" else wants
    pending = query_value("pending", ("include", "exclude"), "exclude") == "include"
    # ?lang (the workbook's headers) is nl or en, once: anything else is a 400, as everywhere in the API.
    language = query_value("lang", ("nl", "en"), "nl") if "lang" in params else page_language()
    rows = staff.read_registrations(get_repo(), event, actor=actor(), format=wants, pending=pending)
    # ?lang= (nl or en; anything else a 400), else Accept-Language, else Dutch: the .xlsx's headers.
    language = query_value("lang", LANGUAGES, "") if "lang" in params else page_language()
    if wants == "xlsx":
        return download_response(staff.registrations_xlsx(rows, language=language, title=event.title_in(language)),
                                 XLSX_CONTENT_TYPE, f"registrations-{event.id}.xlsx")
    if wants == "csv":
        return Response(body=staff.registrations_csv(rows), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="registrations-{event.id}.csv"',
            "Cache-Control": "no-store",
        })
    return json_response({"event_id": event.id, "registrations": rows}, headers={"Cache-Control": "no-store"})


@staff_route("/staff/subscribers", methods=["GET"])
def staff_subscriber_data():
    from chalicelib.services import privacy

    data = privacy.access_for_staff(get_repo(), subscriber_email(), actor=actor(), key=get_keys())
    return json_response(data, headers={"Cache-Control": "no-store"})


@staff_route("/staff/subscribers", methods=["DELETE"])
def staff_erase_subscriber():
    from chalicelib.services import privacy

    on_its_way = privacy.erase_for_staff(get_repo(), subscriber_email(), actor=actor(), key=get_keys(),
                                         mailer=get_mailer(), base_url=get_settings().base_url)
    body = {"status": "erased", "mail_on_its_way": on_its_way}
    if on_its_way:
        body["note"] = ("a mail to this person was being sent when the erasure ran; it may still arrive within "
                        "a few minutes. Nothing else is sent, and nothing of them is kept.")
    return json_response(body)


@staff_route("/staff/events/{event_id}", methods=["PATCH"])
def staff_change_event(event_id):
    from chalicelib.services import planning

    change = events.change_event(get_repo(), event_id, json_body(), actor=actor(), base_url=get_settings().base_url)
    planning.after_event_change(get_repo(), change, settings=get_settings())
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/publish", methods=["POST"])
def staff_publish_event(event_id):
    from chalicelib.services import planning

    change = events.publish_event(get_repo(), event_id, actor=actor(), base_url=get_settings().base_url)
    planning.after_event_change(get_repo(), change, settings=get_settings())
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/cancel", methods=["POST"])
def staff_cancel_event(event_id):
    from chalicelib.services import planning

    change = events.cancel_event(get_repo(), event_id, actor=actor(), base_url=get_settings().base_url)
    planning.after_event_change(get_repo(), change, settings=get_settings())
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/messages", methods=["POST"])
def staff_write_to_people(event_id):
    """Plan a message to the event's registrants in the audience; the tick sends it (202: planned, not yet sent)."""
    from chalicelib.services import messages

    return json_response(messages.write_to_people(get_repo(), event_id, json_body(), actor=actor()), status=202)


@staff_route("/staff/events/{event_id}/messages/preview", methods=["POST"])
def staff_preview_message(event_id):
    """The message as it will read in Dutch and in English; nothing is planned or sent."""
    from chalicelib.services import messages

    return json_response(messages.preview(get_repo(), event_id, json_body(), base_url=get_settings().base_url))


@staff_route("/staff/audit", methods=["GET"])
def staff_audit():
    params = current().query_params
    values = params.getlist("limit") if params and "limit" in params else ["100"]
    try:
        limit = int(values[0])
    except ValueError:
        raise InvalidInput("limit", "wrong_type", "must be a whole number from 1 to 1000", expected="whole number")
    if len(set(values)) != 1 or not 1 <= limit <= 1000:
        raise InvalidInput("limit", "out_of_range", "must be a whole number from 1 to 1000", minimum=1, maximum=1000)
    return json_response({"entries": [e.to_json() for e in get_repo().list_audit(limit)]})

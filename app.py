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

from chalicelib import config, events, staff
from chalicelib.errors import (
    Conflict, DomainError, Gone, InvalidInput, InvalidInputs, NotFound, TooManyRequests,
    Unauthorized, Unavailable,
)
from chalicelib.models import AuditEntry, event_json
from chalicelib import times

app = Chalice(app_name="sro-events")

MAX_BODY = 64 * 1024

_repo = None


def get_repo():
    """Return the repository, built once per process on first use."""
    global _repo
    if _repo is None:
        from chalicelib import aws
        from chalicelib.storage import DynamoDBRepository

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
        from chalicelib import aws
        from chalicelib.mail import SesMailer

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


def api(path: str, **kwargs: Any) -> Callable:
    """Register a route whose domain errors become JSON error answers."""
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def mapped(*args: Any, **params: Any) -> Any:
            try:
                return view(*args, **params)
            except DomainError as exc:
                return _domain_error_response(exc)
        return app.route(path, **kwargs)(mapped)
    return register


def json_body() -> Any:
    """Return the request's JSON body, or raise a domain error naming the problem."""
    raw = app.current_request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise BodyTooLarge(f"body: is {len(raw)} bytes; at most {MAX_BODY} bytes (64 KiB) are accepted")
    if not raw.strip():
        raise InvalidInput("body", "is empty; send a JSON object")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput("body", f"is not valid JSON ({type(exc).__name__})") from exc


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
    event = events.get_public_event(get_repo(), event_id)
    return json_response(event_json(event, base_url=settings().base_url, now=times.now()))


# ------------------------------------------------------------ calendar feeds


def feed_lang() -> str:
    """Return ``?lang`` (nl by default); anything but nl or en is a 400, not a silent fallback."""
    lang = (app.current_request.query_params or {}).get("lang") or "nl"
    if lang not in ("nl", "en"):
        raise InvalidInput("lang", "must be nl or en")
    return lang


def calendar_response(reply, extra_headers: dict[str, str] | None = None) -> Response:
    """Shape a feed reply: 200 or 304, validators and caching headers; no body for 304 or HEAD."""
    from chalicelib.feed_snapshots import CACHE_CONTROL

    headers = {"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": CACHE_CONTROL, **(extra_headers or {})}
    if reply.etag:
        headers["ETag"] = reply.etag
    if reply.last_modified:
        headers["Last-Modified"] = times.format_http_date(reply.last_modified)
    send_body = reply.status == 200 and app.current_request.method != "HEAD"
    return Response(body=reply.body.decode("utf-8") if send_body else "", status_code=reply.status, headers=headers)


@api("/calendar.ics", methods=["GET", "HEAD"])
def public_calendar():
    from chalicelib.feed_snapshots import read_public_feed

    headers = app.current_request.headers
    return calendar_response(read_public_feed(
        get_repo(), feed_lang(), if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"), now=times.now()))


@api("/events/{event_id}/calendar.ics", methods=["GET", "HEAD"])
def event_calendar(event_id):
    from chalicelib.feed_snapshots import read_event_calendar

    headers = app.current_request.headers
    reply = read_event_calendar(get_repo(), event_id, feed_lang(), base_url=settings().base_url,
                                if_none_match=headers.get("if-none-match"),
                                if_modified_since=headers.get("if-modified-since"))
    return calendar_response(reply, {"Content-Disposition": f'attachment; filename="{event_id}.ics"'})


# API Gateway takes only whole path segments as parameters, so the route is
# /feeds/{filename} and the ".ics" is checked here.
@api("/feeds/{filename}", methods=["GET", "HEAD"])
def personal_calendar(filename):
    from chalicelib import subscriptions
    from chalicelib.errors import NotFound

    if not filename.endswith(".ics"):
        raise NotFound("token: this link is not valid (any more)")
    token = filename[:-4]
    headers = app.current_request.headers
    reply = subscriptions.read_personal_feed(
        get_repo(), token, base_url=settings().base_url,
        if_none_match=headers.get("if-none-match"), if_modified_since=headers.get("if-modified-since"))
    # Private: it holds join links; the token in the URL must not leak.
    return calendar_response(reply, {"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"})


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
    from chalicelib import subscriptions

    event = events.get_event(get_repo(), event_id)
    body = event_json(event, base_url=settings().base_url, now=times.now(), staff=True)
    body["counts"] = subscriptions.counts(get_repo(), event)
    return json_response(body)


@staff_route("/staff/events/{event_id}/registrations", methods=["GET"])
def staff_registrations(event_id):
    from chalicelib import subscriptions

    request = app.current_request
    event = events.get_event(get_repo(), event_id)
    rows = subscriptions.registrations_for_staff(get_repo(), event)
    wants = (request.query_params or {}).get("format", "")
    if wants not in ("", "json", "csv"):
        raise InvalidInput("format", "must be json or csv")
    accept = request.headers.get("accept", "")
    if wants == "csv" or (not wants and "text/csv" in accept):
        return Response(body=subscriptions.registrations_csv(rows), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="registrations-{event.id}.csv"',
            "Cache-Control": "no-store",
        })
    return json_response({"event_id": event.id, "registrations": rows}, headers={"Cache-Control": "no-store"})


def _subscriber_email() -> str:
    email = (app.current_request.query_params or {}).get("email")
    if not email:
        raise InvalidInput("email", "is required: ?email=an@example.be")
    return email


@staff_route("/staff/subscribers", methods=["GET"])
def staff_subscriber_data():
    from chalicelib import subscriptions

    person = subscriptions.find_person(get_repo(), _subscriber_email())
    get_repo().add_audit(AuditEntry(actor=actor(), action="subscriber.access", target="subscriber", at=times.now()))
    return json_response(subscriptions.export_person(get_repo(), person), headers={"Cache-Control": "no-store"})


@staff_route("/staff/subscribers", methods=["DELETE"])
def staff_erase_subscriber():
    from chalicelib import subscriptions

    person = subscriptions.find_person(get_repo(), _subscriber_email())
    subscriptions.erase(get_repo(), get_mailer(), person, base_url=settings().base_url)
    # The audit says that someone was erased, never who.
    get_repo().add_audit(AuditEntry(actor=actor(), action="subscriber.erase", target="subscriber", at=times.now()))
    return json_response({"status": "erased"})


@staff_route("/staff/events/{event_id}", methods=["PATCH"])
def staff_change_event(event_id):
    from chalicelib import subscriptions

    change = events.change_event(get_repo(), event_id, json_body(), actor=actor())
    subscriptions.after_event_change(get_repo(), get_mailer(), change, base_url=settings().base_url)
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/publish", methods=["POST"])
def staff_publish_event(event_id):
    from chalicelib import subscriptions

    change = events.publish_event(get_repo(), event_id, actor=actor())
    subscriptions.after_event_change(get_repo(), get_mailer(), change, base_url=settings().base_url)
    return _staff_event(change.after)


@staff_route("/staff/events/{event_id}/cancel", methods=["POST"])
def staff_cancel_event(event_id):
    from chalicelib import subscriptions

    change = events.cancel_event(get_repo(), event_id, actor=actor())
    subscriptions.after_event_change(get_repo(), get_mailer(), change, base_url=settings().base_url)
    return _staff_event(change.after)


@staff_route("/staff/audit", methods=["GET"])
def staff_audit():
    params = app.current_request.query_params or {}
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        raise InvalidInput("limit", "must be a whole number from 1 to 1000")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be a whole number from 1 to 1000")
    return json_response({"entries": [e.to_json() for e in get_repo().list_audit(limit)]})


# ------------------------------------------------- logs, tick, SES notices


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
    from chalicelib import tick as ticks

    # Stop 10 s before Lambda would: what is left goes to the next tick.
    context = getattr(event, "context", None)
    remaining = context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis") else 60.0
    ticks.run_tick(time_budget=max(remaining - 10.0, 1.0), repo=get_repo(), mailer=get_mailer())


# The topic's name here is what `chalice deploy` would subscribe to; the
# CloudFormation of infra/ points the subscription at its own topic instead.
@app.on_sns_message(topic="sro-events-ses-notifications")
def ses_notifications(event):
    """Record the suppressions that SES bounces and complaints call for."""
    from chalicelib import aws, bounces

    try:
        message = json.loads(event.message)
    except ValueError:
        return  # not an SES notice (SNS's subscription confirmation, say): nothing to do
    store = bounces.DynamoDBSuppressions(aws.client("dynamodb"), settings().table_name)
    bounces.handle_ses_notification(message, store, get_repo())

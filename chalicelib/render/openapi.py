"""The OpenAPI 3.1 document of the whole HTTP interface, served at ``GET /openapi.json``.

Kept by hand, next to the routes it describes: ``tests/edge/test_openapi.py``
fails when a route is added to ``chalicelib/http`` without being described here (or
described here without existing), and the fuzz tests
(``tests/live/test_fuzz.py``, ``make fuzz``) fail when an answer is not one this
document allows: a status it does not list, a body outside its schema, a
missing security header.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1), so the tests validate
recorded answers against them with ``jsonschema`` as they are.
"""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.model.event import LANGUAGES
from chalicelib.render.openapi_console import console_paths
from chalicelib.render.openapi_schemas import SCHEMAS, VERSION
from chalicelib.render.spreadsheet import XLSX_CONTENT_TYPE

_NOSNIFF = {
    "X-Content-Type-Options": {"description": "Browsers must not guess content types.",
                               "required": True, "schema": {"const": "nosniff"}},
    "Referrer-Policy": {"description": "Token URLs must not leak.", "required": True,
                        "schema": {"const": "no-referrer"}},
}
_PAGE_HEADERS = {
    **_NOSNIFF,
    "Content-Security-Policy": {"required": True, "schema": {"type": "string", "pattern": "default-src 'none'"}},
}

_STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted: check your mail", 304: "Not modified since the ETag or date sent",
    400: "Bad input; the message names the field", 401: "No valid staff token",
    404: "Unknown (or not shown)", 409: "Conflict (id taken, or not possible in the event's state)",
    410: "Expired or used already", 413: "Body over 64 KiB", 415: "Unsupported media type",
    429: "Too many requests; try again after Retry-After seconds",
    503: "A dependency (the table, SES) is unreachable; try again after Retry-After seconds",
}


def _json_error(status: int) -> dict[str, Any]:
    return {"description": _STATUS_TEXT[status], "headers": _NOSNIFF,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: str, status: int = 200, headers: dict | None = None) -> dict[str, Any]:
    return {"description": _STATUS_TEXT[status], "headers": {**_NOSNIFF, **(headers or {})},
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _calendar(status: int = 200) -> dict[str, Any]:
    return {"description": _STATUS_TEXT[status] if status != 200 else "iCalendar (RFC 5545); no body for HEAD",
            "headers": {**_NOSNIFF, "ETag": {"schema": {"type": "string"}}},
            "content": {"text/calendar": {"schema": {"type": "string"}}}}


def _not_modified() -> dict[str, Any]:
    return {"description": _STATUS_TEXT[304], "headers": {**_NOSNIFF, "ETag": {"schema": {"type": "string"}}}}


def _page(status: int = 200, description: str | None = None) -> dict[str, Any]:
    return {"description": description or _STATUS_TEXT[status], "headers": _PAGE_HEADERS,
            "content": {"text/html": {"schema": {"type": "string"}}}}


def _with_page(answer: dict[str, Any]) -> dict[str, Any]:
    """A JSON answer that a browser, asking for HTML first, gets as a page."""
    return {**answer, "content": {**answer["content"], "text/html": {"schema": {"type": "string"}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json_error(s) for s in statuses}


def _json_or_page(status: int) -> dict[str, Any]:
    """An answer of /subscriptions: JSON to a JSON post, a page to a form post."""
    json_schema = {"$ref": "#/components/schemas/Pending" if status == 202 else "#/components/schemas/Error"}
    return {"description": _STATUS_TEXT[status], "headers": _NOSNIFF, "content": {
        "application/json": {"schema": json_schema}, "text/html": {"schema": {"type": "string"}}}}


def _page_errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _page(s) for s in statuses}


# Every error an HTML route can answer (app.html_error): its page, with the security headers.
PAGE_ERRORS = (400, 404, 409, 410, 413, 429, 503)


def _page_ops(summary: str, operation_id: str, *, params: list | None = None, ok: int = 200,
              errors: tuple[int, ...] = PAGE_ERRORS, body: dict | None = None) -> dict[str, Any]:
    return _op(summary, "pages", {str(ok): _page(ok), **_page_errors(*errors)}, params=params, body=body,
               operation_id=operation_id)


def _see_other(description: str) -> dict[str, Any]:
    """A 303 to a page a GET shows (app.see_other): after a post, or from a post's address opened as a GET."""
    return {"description": description, "headers": {**_NOSNIFF, "Location": {"schema": {"type": "string"}}}}


def _redirect_op(summary: str, operation_id: str, params: list) -> dict[str, Any]:
    """A button's address opened as a GET (a reload, a bookmark): 303 to the page the button was on."""
    return _op(summary, "pages", {"303": _see_other("See the page the button was on")}, params=params,
               operation_id=operation_id)


def _or_see_other(operation: dict[str, Any], description: str) -> dict[str, Any]:
    """``operation``, which may also answer 303 (a post done: the page it leads to)."""
    responses = {**operation["responses"], "303": _see_other(description)}
    return {**operation, "responses": dict(sorted(responses.items()))}


def _button_body() -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ButtonForm"}
    return {"required": False, "content": {
        "application/x-www-form-urlencoded": {"schema": schema},
        "multipart/form-data": {"schema": schema},
    }}


def _unauthorized() -> dict[str, Any]:
    return {"description": _STATUS_TEXT[401], "headers": {},
            "content": {"application/json": {"schema": {"oneOf": [
                {"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/GatewayError"}]}}}}


def _path_param(name: str, description: str, examples: list[str] | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "path", "required": True, "description": description,
                             "schema": {"type": "string", "minLength": 1}}
    if examples:
        param["examples"] = {value: {"value": value} for value in examples}
    return param


EVENT_ID = _path_param("event_id", "The event's id (a slug)",
                       ["smart-region-dag-2027", "webinar-2027-01-14", "no-such-event"])
TOKEN = _path_param("token", "A link token from a mail")
LANG = {"name": "lang", "in": "query", "required": False, "schema": {"enum": list(LANGUAGES)},
        "description": "The language (Dutch by default)"}
PAGE_LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "nl or en; anything else falls back to Accept-Language, then Dutch"}
CONDITIONAL = [
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "If-Modified-Since", "in": "header", "required": False, "schema": {"type": "string"}},
]


def _op(summary: str, tag: str, responses: dict[str, Any], *, params: list | None = None,
        body: dict | None = None, staff: bool = False, operation_id: str) -> dict[str, Any]:
    # Chalice checks Content-Type on every route: a mismatch is a 415 before the view runs.
    responses = {**responses}
    responses.setdefault("415", _json_error(415))
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag],
                                 "responses": dict(sorted(responses.items()))}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    if staff:
        operation["security"] = [{"staffToken": []}]
        operation["responses"].setdefault("401", _unauthorized())
        operation["responses"] = dict(sorted(operation["responses"].items()))
    return operation


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _calendar_ops(summary: str, tag: str, operation_id: str, params: list, extra: dict[str, Any], *,
                  lang: bool = True) -> dict[str, Any]:
    """A feed's GET and HEAD; ``lang``: it takes ?lang (a personal feed is in the person's own language)."""
    responses = {"200": _calendar(), "304": _not_modified(), **_errors(400, 503), **extra}
    params = params + ([LANG] if lang else []) + CONDITIONAL
    return {
        "get": _op(summary, tag, responses, params=params, operation_id=operation_id),
        "head": _op(summary + " (headers only)", tag, copy.deepcopy(responses), params=params,
                    operation_id=operation_id + "Head"),
    }


def _paths() -> dict[str, Any]:
    staff_event_errors = _errors(400, 404, 409, 413, 503)
    return {
        "/openapi.json": {"get": _op("This document", "meta", {"200": {
            "description": "The OpenAPI document", "headers": _NOSNIFF,
            "content": {"application/json": {"schema": {"type": "object"}}}}}, operation_id="getOpenApi")},
        "/events": {"get": _op("Upcoming published events, soonest first", "public",
                               {"200": _json("EventList"), **_errors(503)}, operation_id="listEvents")},
        "/events/{event_id}": {"get": _op(
            "One published or cancelled event: its page to a browser (Accept preferring text/html), else JSON",
            "public", {"200": _with_page(_json("Event")), "404": _with_page(_json_error(404)), **_errors(503)},
            params=[EVENT_ID], operation_id="getEvent")},
        "/calendar.ics": _calendar_ops("The public feed: every published event and those cancelled recently",
                                       "calendar", "publicCalendar", [], {}),
        "/events/{event_id}/calendar.ics": _calendar_ops("One event as iCalendar (add to calendar)", "calendar",
                                                         "eventCalendar", [EVENT_ID], _errors(404)),
        "/manage/{token}/events/{event_id}/invite.ics": {method: _op(
            "The invitation (iMIP REQUEST, with the join link) of an event the link's person has a seat for, as the "
            "confirmation mail carried it: for the manage page, when that mail is lost", "calendar",
            {"200": {"description": "iCalendar (RFC 5545, METHOD:REQUEST); no body for HEAD", "headers": _NOSNIFF,
                     "content": {"text/calendar": {"schema": {"type": "string"}}}}, **_errors(404, 503)},
            params=[TOKEN, EVENT_ID], operation_id="seatInvitation" + ("Head" if method == "head" else ""))
            for method in ("get", "head")},
        "/feeds/{filename}": _calendar_ops(
            "A person's feed (`<token>.ics`): their confirmed events with join links", "calendar", "personalCalendar",
            [_path_param("filename", "`<token>.ics`, from a mail or the manage page")], _errors(404), lang=False),
        "/": {
            "get": _page_ops("The upcoming events and the subscription form (Dutch; ?lang=en or Accept-Language)",
                             "index", params=[PAGE_LANG], errors=(503,)),
            "head": _page_ops("The front page's headers", "indexHead", params=[PAGE_LANG], errors=(503,)),
        },
        "/privacy": {
            "get": _page_ops("The privacy statement", "privacy", params=[PAGE_LANG], errors=()),
            "head": _page_ops("The privacy statement's headers", "privacyHead", params=[PAGE_LANG], errors=()),
        },
        "/static/{name}": {method: _op(
            "The stylesheet (and other static files), cached for a year: the URL carries a version",
            "pages", {"200": {"description": "The file", "headers": {**_NOSNIFF, "ETag": {"schema": {"type": "string"}}},
                              "content": {"text/css": {"schema": {"type": "string"}},
                                          "image/svg+xml": {"schema": {"type": "string"}}}},
                      "304": _not_modified(),
                      "404": {"description": "No such file", "headers": _NOSNIFF,
                              "content": {"text/plain": {"schema": {"type": "string"}}}}},
            params=[_path_param("name", "The file's name", ["site.css", "favicon.svg"]),
                    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}],
            operation_id="static" + ("Head" if method == "head" else "")) for method in ("get", "head")},
        "/favicon.ico": {method: _op(
            "The office's icon (an SVG), which browsers ask for on every page load; cached for a day",
            "pages", {"200": {"description": "The icon", "headers": {**_NOSNIFF, "ETag": {"schema": {"type": "string"}}},
                              "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                      "304": _not_modified()},
            params=[{"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}],
            operation_id="favicon" + ("Head" if method == "head" else "")) for method in ("get", "head")},
        "/subscriptions": {"get": _op(
            "The address a form post leaves in the browser's bar, opened again: 303 to the form", "pages",
            {"303": {"description": "See the form: Location /?lang=..#subscribe", "headers": {
                **_NOSNIFF, "Location": {"schema": {"type": "string"}}}}},
            params=[PAGE_LANG], operation_id="subscriptionForm"), "post": _op(
            "Subscribe: JSON answers JSON, the form answers a page (400: the form again, with the problems)",
            "public",
            {"202": _json_or_page(202), "303": _see_other("A form post done: see /subscriptions/sent"),
             **{str(s): _json_or_page(s) for s in (400, 404, 409, 413, 429, 503)}},
            body={"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SubscriptionRequest"}},
                "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/SubscriptionForm"},
                                                      "encoding": {"event_ids": {"explode": True}}}}},
            params=[PAGE_LANG], operation_id="subscribe")},
        "/subscriptions/sent": {"get": _page_ops(
            "Check your mail: where a form post and a resend lead (a reload sends nothing again)",
            "subscriptionSent", params=[PAGE_LANG], errors=())},
        "/erased": {"get": _page_ops("Your data is erased: where an erase leads", "erased", params=[PAGE_LANG],
                                     errors=())},
        "/outbox": {"get": _page_ops("Local stage only: the mail the app has sent (404 elsewhere)", "outbox",
                                     errors=(404, 503))},
        "/confirm/{token}": {
            "get": _page_ops("The confirm page with its button; a GET changes nothing (mail scanners follow links)",
                             "confirmPage", params=[TOKEN, PAGE_LANG], errors=(404, 410, 503)),
            "post": _page_ops("Confirm: take a seat or a place on the waiting list. Used or expired: 410 with a way "
                              "to ask for a new mail", "confirm", params=[TOKEN, PAGE_LANG], body=_button_body()),
        },
        "/confirm/{token}/resend": {
            "get": _redirect_op("The resend button's address: 303 to the confirm page", "resendAddress",
                                [TOKEN, PAGE_LANG]),
            "post": _or_see_other(_page_ops(
                "Mail a new confirm link for the same events (303 to /subscriptions/sent); 429 with Retry-After, "
                "saying so, when the confirmation-mail limits hold it back", "resendConfirmation",
                params=[TOKEN, PAGE_LANG], body=_button_body()), "Sent: see /subscriptions/sent")},
        "/manage/{token}": {"get": _page_ops(
            "The person's registrations with cancel buttons, personal feed link, stop or receive again all mail, "
            "the language of the emails, erase my data. 404 for an unknown link; a genuine link whose person is "
            "erased says so", "managePage",
            params=[TOKEN, PAGE_LANG, {"name": "done", "in": "query", "required": False,
                                       "schema": {"type": "string"},
                                       "description": "What a button did (mail, language): the page says so"}],
            errors=(404, 410, 503))},
        "/manage/{token}/events/{event_id}/cancel": {
            "get": _redirect_op("The cancel button's address: 303 to the manage page", "cancelAddress",
                                [TOKEN, EVENT_ID, PAGE_LANG]),
            "post": _page_ops(
                "Cancel one registration (frees the seat); without confirm=yes, a page asking to be sure",
                "cancelRegistration", params=[TOKEN, EVENT_ID, PAGE_LANG], body=_button_body())},
        "/manage/{token}/events/{event_id}/register": {
            "get": _page_ops("The register button for an event that opened (the link in the mail)", "registerPage",
                             params=[TOKEN, EVENT_ID, PAGE_LANG], errors=(404, 410, 503)),
            "post": _page_ops("Register from the mailed link", "registerFromLink", params=[TOKEN, EVENT_ID, PAGE_LANG],
                              body=_button_body()),
        },
        "/manage/{token}/stop": {
            "get": _redirect_op("The stop button's address: 303 to the manage page", "stopAddress", [TOKEN, PAGE_LANG]),
            "post": _page_ops("Stop all mail; registrations stay", "stopMail", params=[TOKEN, PAGE_LANG],
                              body=_button_body())},
        "/manage/{token}/resume": {
            "get": _redirect_op("The receive-mail-again button's address: 303 to the manage page", "resumeAddress",
                                [TOKEN, PAGE_LANG]),
            "post": _or_see_other(_page_ops(
                "Receive mail again after stopping it oneself (303 to the manage page, ?done=mail); a stop by a "
                "bounce or complaint stays", "resumeMail", params=[TOKEN, PAGE_LANG], body=_button_body()),
                "Done: see the manage page")},
        "/manage/{token}/resend": {
            "get": _redirect_op("The new-confirmation-mail button's address: 303 to the manage page",
                                "manageResendAddress", [TOKEN, PAGE_LANG]),
            "post": _or_see_other(_page_ops(
                "Mail a fresh confirm link, to the person's own address, for the registrations still waiting for a "
                "confirmation whose link expired or was never sent (303 to /subscriptions/sent; with nothing to send, "
                "303 to the manage page); 429 with Retry-After when the confirmation-mail limits hold it back",
                "resendFromManage", params=[TOKEN, PAGE_LANG], body=_button_body()),
                "Sent: see /subscriptions/sent (nothing to send: the manage page)")},
        "/manage/{token}/language": {
            "get": _redirect_op("The mail language form's address: 303 to the manage page", "languageAddress",
                                [TOKEN, PAGE_LANG]),
            "post": _or_see_other(_page_ops(
                "Change the language of the person's emails (303 to the manage page, ?done=language)",
                "changeMailLanguage", params=[TOKEN, PAGE_LANG], body={"required": True, "content": {
                    "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/LanguageForm"}}}}),
                "Saved: see the manage page")},
        "/manage/{token}/erase": {
            "get": _redirect_op("The erase button's address: 303 to the manage page", "eraseAddress",
                                [TOKEN, PAGE_LANG]),
            "post": _or_see_other(_page_ops(
                "Erase the person everywhere (303 to /erased); without confirm=yes, a page asking to be sure",
                "eraseMyData", params=[TOKEN, PAGE_LANG], body=_button_body()), "Erased: see /erased")},
        "/unsubscribe/{token}": {
            "get": _page_ops("The stop-all-mail button (a GET changes nothing)", "unsubscribePage",
                             params=[TOKEN, PAGE_LANG], errors=(404, 410, 503)),
            "post": _page_ops("RFC 8058 one-click unsubscribe: stops all mail to the person (200 too for a genuine "
                              "link whose person is erased: nothing is left to unsubscribe)", "unsubscribe",
                              params=[TOKEN, PAGE_LANG], body=_button_body()),
        },
        "/staff/events": {
            "post": _op("Create an event; 409 when the id is taken or, sent without an id, when an event with the "
                        "same Dutch title and start exists (the message names it)", "staff",
                        {"201": _json("Event", 201), **_errors(400, 409, 413, 503)},
                        body=_json_body("EventInput"), staff=True, operation_id="staffCreateEvent"),
            "get": _op("Every event, drafts and cancelled included", "staff",
                       {"200": _json("EventList"), **_errors(503)}, staff=True, operation_id="staffListEvents"),
        },
        "/staff/events/{event_id}": {
            "get": _op("One event with its counts", "staff", {"200": _json("Event"), **_errors(404, 503)},
                       params=[EVENT_ID], staff=True, operation_id="staffGetEvent"),
            "patch": _op("Change fields; a change of time, place or join link mails the confirmed registrants. "
                         "409 when the event's state forbids it: a cancelled event published again, a capacity "
                         "below the seats taken", "staff", {"200": _json("Event"), **staff_event_errors}, params=[EVENT_ID],
                         body=_json_body("EventInput"), staff=True, operation_id="staffChangeEvent"),
        },
        "/staff/events/{event_id}/publish": {"post": _op(
            "Publish a draft (409 for a cancelled event: it cannot be published again)", "staff",
            {"200": _json("Event"), **_errors(400, 404, 409, 503)}, params=[EVENT_ID],
            staff=True, operation_id="staffPublishEvent")},
        "/staff/events/{event_id}/cancel": {"post": _op(
            "Cancel; mails everyone registered, interested or waiting (409 for a draft: delete-like, not public)",
            "staff", {"200": _json("Event"), **_errors(404, 409, 503)}, params=[EVENT_ID], staff=True,
            operation_id="staffCancelEvent")},
        "/staff/events/{event_id}/registrations": {"get": _op(
            "Registrations with the questions for the Q&A: JSON; CSV for programs with ?format=csv or Accept: "
            "text/csv (RFC 4180, stable English headers, every cell neutralised after each separator and line "
            "break); an .xlsx workbook for people with ?format=xlsx (or excel): headers in the staff member's "
            "language (?lang=, else Accept-Language, else Dutch), every cell text. Unconfirmed registrations only "
            "with ?pending=include",
            "staff", {"200": {"description": "The registrations", "headers": _NOSNIFF, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Registrations"}},
                "text/csv": {"schema": {"type": "string"}},
                XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}, **_errors(400, 404, 503)},
            params=[EVENT_ID, {"name": "format", "in": "query", "required": False,
                               "schema": {"enum": ["json", "csv", "xlsx", "excel"]}},
                    {"name": "pending", "in": "query", "required": False,
                     "schema": {"enum": ["include", "exclude"]},
                     "description": "include: unconfirmed registrations too (left out by default)"},
                    {"name": "lang", "in": "query", "required": False, "schema": {"enum": ["nl", "en"]},
                     "description": "The language of the .xlsx's headers"}],
            staff=True, operation_id="staffRegistrations")},
        "/staff/events/{event_id}/messages": {"post": _op(
            "Write to the event's registrants in the audience (confirmed, waitlisted, interested): planned now, "
            "sent by the tick once per person, never to someone who stopped all mail",
            "staff", {"202": _json("MessagePlanned", 202), **_errors(400, 404, 413, 503)}, params=[EVENT_ID],
            body=_json_body("MessageInput"), staff=True, operation_id="staffWriteToPeople")},
        "/staff/events/{event_id}/messages/preview": {"post": _op(
            "The message as it will read in Dutch and in English; nothing is planned or sent",
            "staff", {"200": _json("MessagePreview"), **_errors(400, 404, 413, 503)}, params=[EVENT_ID],
            body=_json_body("MessageInput"), staff=True, operation_id="staffPreviewMessage")},
        "/staff/subscribers": {
            "get": _op("Every piece of data held on an address (right of access)", "staff",
                       {"200": _json("SubscriberData"), **_errors(400, 404, 503)}, params=[_EMAIL_QUERY],
                       staff=True, operation_id="staffSubscriberData"),
            "delete": _op("Erase the person everywhere (right to erasure)", "staff",
                          {"200": _json("Erased"), **_errors(400, 404, 503)}, params=[_EMAIL_QUERY],
                          staff=True, operation_id="staffEraseSubscriber"),
        },
        "/staff/audit": {"get": _op(
            "Recent staff actions: who, what, when", "staff", {"200": _json("AuditLog"), **_errors(400, 503)},
            params=[{"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
            staff=True, operation_id="staffAudit")},
    }


_EMAIL_QUERY = {"name": "email", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1},
                "examples": {"known": {"value": "an@example.be"}}}


def document(base_url: str | None = None) -> dict[str, Any]:
    """Return the OpenAPI document; ``base_url`` becomes its server."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Smart Region Office events",
            "version": VERSION,
            "description": ("Events of the Smart Region Office (Flemish government): public pages, JSON and "
                            "calendar feeds, subscriptions with double opt-in, and the staff API. Errors are "
                            "`{\"Code\", \"Message\"}`, the message starting with the field it is about. No "
                            "input, however malformed, gets a 5xx other than 503 (a dependency unreachable)."),
            "contact": {"email": "smartregionoffice@vlaanderen.be"},
        },
        "paths": {**_paths(), **console_paths()},
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"staffToken": {
                "type": "http", "scheme": "bearer",
                "description": "A staff token from `python -m chalicelib.cli staff-token create NAME`"}},
        },
    }
    if base_url:
        doc["servers"] = [{"url": base_url}]
    return doc


def operations(doc: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    """Return every (path, METHOD) the document describes."""
    doc = doc or document()
    return {(path, method.upper()) for path, item in doc["paths"].items()
            for method in item if method in ("get", "head", "post", "put", "patch", "delete", "options")}

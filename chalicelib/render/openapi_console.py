"""The staff console's routes in the OpenAPI document: HTML pages and form posts behind a session cookie.

Every console page but the sign-in pages answers a GET without a session
with 303 to ``/console/sign-in``, and any other method with a 403 page; a
POST needs the session's CSRF token (form field ``csrf``), else 403.
"""

from __future__ import annotations

from typing import Any

_NOSNIFF = {
    "X-Content-Type-Options": {"required": True, "schema": {"const": "nosniff"}},
    "Referrer-Policy": {"required": True, "schema": {"const": "no-referrer"}},
}
_PAGE_HEADERS = {**_NOSNIFF,
                 "Content-Security-Policy": {"required": True, "schema": {"type": "string", "pattern": "default-src 'none'"}}}
_TEXT = {200: "The page", 303: "See the page it leads to (Location): after a post, or to sign in",
         400: "A form with its errors beside the fields", 403: "No session, or a post without this session's "
         "CSRF token, or an admin's action by someone who is not one: nothing changed",
         404: "Unknown event or link", 409: "Not possible in the event's state", 410: "A sign-in link used or expired",
         413: "Body over 64 KiB", 429: "Too many requests", 503: "A dependency is unreachable; try again"}

PAGE_LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "nl or en; anything else falls back to Accept-Language, then Dutch"}
EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
            "description": "The event's id"}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
         "description": "A sign-in link's token, from the mail"}
FORM_BODY = {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "properties": {"csrf": {"type": "string", "description": "The session's CSRF token"}}}}}}

# (path, method, operationId, summary, extra statuses besides 200/303/403 and the error pages)
ROUTES = (
    ("/console/sign-in", "get", "consoleSignInPage", "The sign-in form (an address; no password)", ()),
    ("/console/sign-in", "post", "consoleRequestSignIn",
     "Mail a sign-in link when the address is a staff member's; the same 303 whether it is or not", ()),
    ("/console/sign-in-sent", "get", "consoleSignInSent", "Check your mail", ()),
    ("/console/sign-in/{token}", "get", "consoleSignInButton",
     "The sign-in link's page: a button (a GET signs no one in); 410 when used or expired", ()),
    ("/console/sign-in/{token}", "post", "consoleSignIn",
     "Spend the link and start a session: 303 to /console with the session cookie; 410 when used or expired", ()),
    ("/console/sign-out", "post", "consoleSignOut", "End the session", ()),
    ("/console", "get", "consoleEvents",
     "Every event (upcoming, drafts, past, cancelled) with seats taken of capacity, waiting, interested", ()),
    ("/console/events/new", "get", "consoleNewEventForm", "The form for a new event (a draft)", ()),
    ("/console/events/new", "post", "consoleCreateEvent",
     "Create a draft: 303 to its page; 400 with the form, everything typed and each problem beside its field", ()),
    ("/console/events/{event_id}", "get", "consoleEvent", "An event: its facts, counts and what staff can do", ()),
    ("/console/events/{event_id}/edit", "get", "consoleEditEventForm", "The event's form, filled in", ()),
    ("/console/events/{event_id}/edit", "post", "consoleEditEvent",
     "Save a change (registrants mailed when the time, place or join link changed): 303; 400 with the form", ()),
    ("/console/events/{event_id}/preview", "get", "consolePreviewEvent",
     "The event's public page exactly as it will be once published", ()),
    ("/console/events/{event_id}/publish", "post", "consolePublishEvent", "Publish a draft: 303 to its page", ()),
    ("/console/events/{event_id}/copy", "get", "consoleCopyEventForm", "Copy to a new date: the form", ()),
    ("/console/events/{event_id}/copy", "post", "consoleCopyEvent",
     "Make a draft copy on the date given: 303 to its form", ()),
    ("/console/events/{event_id}/cancel", "get", "consoleCancelEventForm",
     "Cancel: the form with an optional message in Dutch and English", ()),
    ("/console/events/{event_id}/cancel", "post", "consoleCancelEvent",
     "Cancel the event; the cancellation mail carries the message: 303 to its page", ()),
    ("/console/events/{event_id}/registrations", "get", "consoleRegistrations",
     "The registrations (name, organisation, status, question, when) and the waiting list in order; the read "
     "is audited", ()),
    ("/console/events/{event_id}/registrations", "post", "consoleRegisterByPhone",
     "Register someone who asked by phone: they get the usual confirmation mail and confirm themselves", ()),
    ("/console/events/{event_id}/registrations/export", "get", "consoleExport",
     "The registrations as CSV (format=csv) or for Excel in Belgium (format=excel); the read is audited", ()),
    ("/console/events/{event_id}/messages", "get", "consoleMessageForm",
     "Write to the people of an event: audience, subject and text in Dutch and English", ()),
    ("/console/events/{event_id}/messages/preview", "post", "consoleMessagePreview",
     "The message as it will read in Dutch and in English; nothing is planned or sent", ()),
    ("/console/events/{event_id}/messages", "post", "consoleSendMessage",
     "Plan the message for everyone in the audience (the tick sends it once to each): 303", ()),
    ("/console/people", "get", "consolePeople",
     "Look a person up by address (?email=): everything held about them; audited", ()),
    ("/console/people/erase", "post", "consoleErase", "Erase a person once the address is typed again", ()),
    ("/console/audit", "get", "consoleAudit",
     "The audit log, newest first; ?event=<id> or ?actor=<staff member> narrow it", ()),
    ("/console/staff", "get", "consoleStaff", "The staff members", ()),
    ("/console/staff", "post", "consoleAddStaff", "An admin adds a staff member", ()),
    ("/console/staff/remove", "post", "consoleRemoveStaff",
     "An admin removes a staff member: their sessions end at once", ()),
)

_OPEN = ("/console/sign-in",)


def _responses(path: str, method: str, csv: bool = False) -> dict[str, Any]:
    statuses = (200, 303, 400, 403, 404, 409, 410, 413, 429, 503)
    answers: dict[str, Any] = {}
    for status in statuses:
        if status == 303:
            answers["303"] = {"description": _TEXT[303], "headers": {**_NOSNIFF, "Location": {"schema": {"type": "string"}}}}
        elif status == 200 and csv:
            answers["200"] = {"description": "The registrations as CSV", "headers": _NOSNIFF,
                              "content": {"text/csv": {"schema": {"type": "string"}}}}
        else:
            answers[str(status)] = {"description": _TEXT[status], "headers": _PAGE_HEADERS,
                                    "content": {"text/html": {"schema": {"type": "string"}}}}
    answers["415"] = {"description": "Unsupported media type", "headers": _NOSNIFF,
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return answers


def console_paths() -> dict[str, Any]:
    """The console's paths, to merge into the document's."""
    paths: dict[str, Any] = {}
    for path, method, operation_id, summary, _extra in ROUTES:
        params: list[dict[str, Any]] = []
        if "{event_id}" in path:
            params.append(EVENT_ID)
        if "{token}" in path:
            params.append(TOKEN)
        params.append(PAGE_LANG)
        operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": ["console"],
                                     "parameters": params,
                                     "responses": _responses(path, method, csv=operation_id == "consoleExport")}
        if method == "post":
            operation["requestBody"] = FORM_BODY
        if not path.startswith(_OPEN):
            # The session cookie is not declared as a security scheme: without it a GET is not refused but
            # sent to sign in (303), as a browser needs.
            operation["description"] = ("Needs the console's session cookie (sro_console), set by signing in: "
                                        "without it a GET answers 303 to /console/sign-in, any other method 403.")
        paths.setdefault(path, {})[method] = operation
    return paths

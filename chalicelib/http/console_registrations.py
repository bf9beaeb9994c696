"""Blueprint: an event's registrations in the console (the list, the waiting list in order, CSV and Excel,
someone registered by phone) and writing to the people of an event (audience, texts, preview, send).

The lists and exports are the staff API's (``services/staff.py``: the read
audited, formula cells neutralised); the message is the staff API's too
(``services/messages.py``: planned per person, sent by the tick); someone
registered by phone gets the public form's confirmation mail and confirms
themselves (``services/subscribe.py``).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import times
from chalicelib.errors import InvalidInput, InvalidInputs
from chalicelib.http.console import back_to, console_page, console_route, field
from chalicelib.http.request import current, form_fields, page_language, query_value
from chalicelib.http.responses import _, download_response
from chalicelib.model.person import AuditEntry
from chalicelib.render import pages
from chalicelib.render.spreadsheet import XLSX_CONTENT_TYPE
from chalicelib.services import events
from chalicelib.wiring import get_keys, get_mailer, get_repo, get_settings

console_registrations = Blueprint(__name__)

PHONE_FIELDS = ("name", "email", "organisation", "question", "language")
AUDIENCES = ("confirmed", "waitlisted", "interested")


def _rows(who, event) -> list[dict[str, Any]]:
    from chalicelib.services import staff

    # The page shows every registration, unconfirmed ones too (as text, each with its status); the exports
    # leave those out (anyone can type anything into the public form: issue 21, item 2).
    return staff.read_registrations(get_repo(), event, actor=who.actor, format="console", pending=True)


def _registrations_page(who, event, status=200, values=None, errors=None, done=None):
    rows = _rows(who, event)
    waiting = sorted((r for r in rows if r["status"] == "waitlisted"),
                     key=lambda r: r.get("waitlisted_at") or r["registered_at"])
    return console_page("registrations.html", who, status, event=event, rows=rows, waiting=waiting,
                        values=values or {"language": page_language()}, errors=errors or {}, done=done,
                        registration_open=event.status == "published" and event.starts_at > times.now())


@console_route(console_registrations, "/console/events/{event_id}/registrations", methods=["GET"])
def registrations(who, event_id):
    done = (current().query_params or {}).get("done")
    return _registrations_page(who, events.get_event(get_repo(), event_id), done=done if done == "phoned" else None)


@console_route(console_registrations, "/console/events/{event_id}/registrations/export", methods=["GET"])
def export(who, event_id):
    """The registrations as CSV for programs (``format=csv``) or an .xlsx for Excel (``format=excel``), as the
    staff API's: unconfirmed ones left out; the workbook's headers in the page's language, every cell text."""
    from chalicelib.services import staff

    event = events.get_event(get_repo(), event_id)
    wanted = query_value("format", ("csv", "excel"), "csv")
    rows = staff.read_registrations(get_repo(), event, actor=who.actor, format=wanted)
    if wanted == "excel":
        language = page_language()
        return download_response(staff.registrations_xlsx(rows, language=language, title=event.title_in(language)),
                                 XLSX_CONTENT_TYPE, f"registrations-{event.id}.xlsx")
    return Response(body=staff.registrations_csv(rows), status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="registrations-{event.id}.csv"',
        "Cache-Control": "no-store",
    })


@console_route(console_registrations, "/console/events/{event_id}/registrations", methods=["POST"])
def register_by_phone(who, event_id):
    """Someone who asked by phone: they get the usual confirmation mail, and are registered once they confirm."""
    from chalicelib.services import subscribe

    event = events.get_event(get_repo(), event_id)
    fields = form_fields()
    values = {name: field(fields, name) for name in PHONE_FIELDS}
    data = {**values, "event_ids": [event.id], "consent": field(fields, "asked") == "yes", "website": ""}
    settings = get_settings()
    try:
        subscribe.subscribe(get_repo(), get_mailer(), data, base_url=settings.base_url, key=get_keys(),
                            settings=settings, now=times.now())
    except (InvalidInput, InvalidInputs) as exc:
        errors = pages.form_errors(exc, page_language())
        if "consent" in errors:
            errors["asked"] = errors.pop("consent")
        return _registrations_page(who, event, 400, values={**values, "asked": data["consent"]}, errors=errors)
    get_repo().add_audit(AuditEntry(actor=who.actor, action="registration.by_phone", target=f"event:{event.id}",
                                    at=times.now()))
    return back_to(f"/console/events/{event.id}/registrations", done="phoned")


# ------------------------------------------------------------------ messages


def _message_data(fields: dict[str, list[str]]) -> dict[str, Any]:
    return {"message_id": field(fields, "message_id"), "audience": [a for a in fields.get("audience", []) if a],
            "subject": {"nl": field(fields, "subject_nl"), "en": field(fields, "subject_en")},
            "text": {"nl": field(fields, "text_nl"), "en": field(fields, "text_en")}}


def _message(data: dict[str, Any]) -> dict[str, Any]:
    """What the staff API's message takes: the form's data but the id the form was shown with."""
    return {name: value for name, value in data.items() if name != "message_id"}


def _message_values(data: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": data["message_id"], "audience": data["audience"], "subject_nl": data["subject"]["nl"], "subject_en": data["subject"]["en"],
            "text_nl": data["text"]["nl"], "text_en": data["text"]["en"]}


def _message_error(exc: InvalidInput) -> dict[str, str]:
    lang = page_language()
    name = exc.field.replace(".", "_")
    if name == "audience":
        return {"audience": _("Choose who gets the message.")}
    if name not in ("subject_nl", "subject_en", "text_nl", "text_en"):
        name = "text_nl"
    if exc.code == "required":
        return {name: _("Write this in Dutch and in English.")}
    return {name: pages.describe_problem(name, exc.code, exc.params, lang)}


def _messages_page(who, event, status=200, values=None, errors=None, preview=None, sent=None):
    from chalicelib.services import messages

    values = values or {"audience": ["confirmed"]}
    if not messages.MESSAGE_ID.match(values.get("message_id") or ""):
        # Made when the form is shown and kept through its preview: sending the form twice sends it once.
        values = {**values, "message_id": messages.new_message_id(times.now())}
    return console_page("messages.html", who, status, event=event,
                        values=values, errors=errors or {}, preview=preview,
                        sent=sent, audiences=AUDIENCES)


@console_route(console_registrations, "/console/events/{event_id}/messages", methods=["GET"])
def message_form(who, event_id):
    sent = (current().query_params or {}).get("sent", "")
    return _messages_page(who, events.get_event(get_repo(), event_id), sent=int(sent) if sent.isdigit() else None)


@console_route(console_registrations, "/console/events/{event_id}/messages/preview", methods=["POST"])
def message_preview(who, event_id):
    """The message as each language's readers will get it; nothing is planned or sent."""
    from chalicelib.services import messages

    event = events.get_event(get_repo(), event_id)
    data = _message_data(form_fields())
    try:
        shown = messages.preview(get_repo(), event_id, _message(data), base_url=get_settings().base_url)
    except InvalidInput as exc:
        return _messages_page(who, event, 400, _message_values(data), _message_error(exc))
    return _messages_page(who, event, values=_message_values(data), preview=shown)


@console_route(console_registrations, "/console/events/{event_id}/messages", methods=["POST"])
def send_message(who, event_id):
    """Plan the message for each person in the audience; the tick sends it, once a person, within SES's rate."""
    from chalicelib.services import messages

    event = events.get_event(get_repo(), event_id)
    data = _message_data(form_fields())
    try:
        planned = messages.write_to_people(get_repo(), event_id, _message(data), actor=who.actor,
                                           message_id=data["message_id"])
    except InvalidInput as exc:
        return _messages_page(who, event, 400, _message_values(data), _message_error(exc))
    return back_to(f"/console/events/{event.id}/messages", sent=str(planned["recipients"]))

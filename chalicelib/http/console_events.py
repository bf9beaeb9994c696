"""Blueprint: the console's events: the list with counts, create, edit, preview, publish, copy, cancel.

The form posts what staff typed; ``render/console_forms.py`` turns it into
the staff API's event data, and the same services as the staff API
(``services/events.py``, ``services/planning.py``) validate and store it, the
audit naming the staff member. A form with problems comes back with
everything typed and each problem beside its field (400).
"""

from __future__ import annotations

from dataclasses import replace

from chalice import Blueprint

from chalicelib import times
from chalicelib.errors import Conflict, InvalidInput, InvalidInputs
from chalicelib.http.console import back_to, console_page, console_route, field
from chalicelib.http.request import current, form_fields, page_language
from chalicelib.http.responses import page
from chalicelib.render import console_forms, pages
from chalicelib.services import events
from chalicelib.wiring import get_repo, get_settings

console_events = Blueprint(__name__)

DONE = ("created", "saved", "published", "cancelled", "copied")


def _done() -> str | None:
    done = (current().query_params or {}).get("done")
    return done if done in DONE else None


@console_route(console_events, "/console", methods=["GET"])
def home(who):
    from chalicelib.services import console_events as service

    return console_page("events.html", who, overview=service.overview(get_repo(), times.now()))


def _form(who, event, values, errors, status=200, done=None):
    lang = page_language()
    return console_page("event_form.html", who, status, event=event, values=values, done=done,
                        errors=console_forms.form_errors(errors, lang),
                        reminders=[(r, console_forms.reminder_label(r, lang))
                                   for r in console_forms.reminder_choices(values)])


@console_route(console_events, "/console/events/new", methods=["GET"])
def new_event_form(who):
    return _form(who, None, console_forms.blank_values(), {})


@console_route(console_events, "/console/events/new", methods=["POST"])
def create_event(who):
    values = console_forms.form_values(form_fields())
    data, problems = console_forms.event_data(values, new=True)
    if problems:
        return _form(who, None, values, problems, 400)
    data["status"] = "draft"
    try:
        event = events.create_event(get_repo(), data, actor=who.actor, base_url=get_settings().base_url)
    except (InvalidInput, InvalidInputs, Conflict) as exc:
        found = console_forms.problems_of(exc)
        if not found:
            raise
        return _form(who, None, values, found, 400)
    return back_to(f"/console/events/{event.id}", done="created")


@console_route(console_events, "/console/events/{event_id}", methods=["GET"])
def event_page(who, event_id):
    event = events.get_event(get_repo(), event_id)
    lang = page_language()
    return console_page("event.html", who, event=event, done=_done(), now=times.now(),
                        state=pages.registration_state(event, times.now()),
                        reminders=[console_forms.reminder_label(r, lang) for r in event.reminders])


@console_route(console_events, "/console/events/{event_id}/edit", methods=["GET"])
def edit_event_form(who, event_id):
    event = events.get_event(get_repo(), event_id)
    done = _done()
    return _form(who, event, console_forms.event_values(event), {}, done=done if done == "copied" else None)


@console_route(console_events, "/console/events/{event_id}/edit", methods=["POST"])
def edit_event(who, event_id):
    from chalicelib.services import planning

    event = events.get_event(get_repo(), event_id)
    values = console_forms.form_values(form_fields())
    values["id"] = event.id
    data, problems = console_forms.event_data(values, new=False)
    if problems:
        return _form(who, event, values, problems, 400)
    try:
        change = events.change_event(get_repo(), event_id, data, actor=who.actor, base_url=get_settings().base_url)
    except (InvalidInput, InvalidInputs, Conflict) as exc:
        found = console_forms.problems_of(exc)
        if not found:
            raise
        return _form(who, event, values, found, 400)
    planning.after_event_change(get_repo(), change, settings=get_settings())
    return back_to(f"/console/events/{event_id}", done="saved")


@console_route(console_events, "/console/events/{event_id}/preview", methods=["GET"])
def preview(who, event_id):
    """The event's public page exactly as it will be once published (the public template), under a line that
    says it is a preview, with the way back to the console."""
    event = events.get_event(get_repo(), event_id)
    shown = replace(event, status="published") if event.status == "draft" else event
    return page("event.html", event=shown, state=pages.registration_state(shown, times.now()), preview_of=event.id,
                preview_draft=event.status == "draft")


@console_route(console_events, "/console/events/{event_id}/publish", methods=["POST"])
def publish(who, event_id):
    from chalicelib.services import planning

    change = events.publish_event(get_repo(), event_id, actor=who.actor, base_url=get_settings().base_url)
    planning.after_event_change(get_repo(), change, settings=get_settings())
    return back_to(f"/console/events/{event_id}", done="published")


@console_route(console_events, "/console/events/{event_id}/copy", methods=["GET"])
def copy_form(who, event_id):
    event = events.get_event(get_repo(), event_id)
    return console_page("event_copy.html", who, event=event, values={}, errors={})


@console_route(console_events, "/console/events/{event_id}/copy", methods=["POST"])
def copy_event(who, event_id):
    event = events.get_event(get_repo(), event_id)
    fields = form_fields()
    values = {"start_date": field(fields, "start_date").strip(), "id": field(fields, "id").strip()}
    lang = page_language()
    try:
        data = console_forms.shifted(event, values["start_date"])
        if values["id"]:
            data["id"] = values["id"]
        copy = events.create_event(get_repo(), data, actor=who.actor, base_url=get_settings().base_url)
    except (InvalidInput, InvalidInputs, Conflict) as exc:
        found = {"start_date": ("required", {})} if isinstance(exc, InvalidInput) and exc.field == "start_date" \
            else console_forms.problems_of(exc)
        if "start_date" not in found and "id" not in found:
            found = {"start_date": (getattr(exc, "code", "invalid_time"), {})}
        return console_page("event_copy.html", who, 400, event=event, values=values,
                            errors=console_forms.form_errors(found, lang))
    return back_to(f"/console/events/{copy.id}/edit", done="copied")


@console_route(console_events, "/console/events/{event_id}/cancel", methods=["GET"])
def cancel_form(who, event_id):
    event = events.get_event(get_repo(), event_id)
    return console_page("event_cancel.html", who, event=event, values={}, errors={})


@console_route(console_events, "/console/events/{event_id}/cancel", methods=["POST"])
def cancel(who, event_id):
    from chalicelib.services import planning

    fields = form_fields()
    message = {"nl": field(fields, "message_nl"), "en": field(fields, "message_en")}
    try:
        change = events.cancel_event(get_repo(), event_id, actor=who.actor, base_url=get_settings().base_url,
                                     message=message)
    except InvalidInput as exc:
        event = events.get_event(get_repo(), event_id)
        name = exc.field.replace("message.", "message_")
        return console_page("event_cancel.html", who, 400, event=event,
                            values={"message_nl": message["nl"], "message_en": message["en"]},
                            errors={name: pages.describe_problem(name, exc.code, exc.params, page_language())})
    planning.after_event_change(get_repo(), change, settings=get_settings())
    return back_to(f"/console/events/{event_id}", done="cancelled")

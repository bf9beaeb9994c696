"""The console's event form: an event as form values, form fields as the event data the staff API takes, and
each problem as a sentence beside its field.

Pure functions, no chalice. Validation stays in ``input/event.py``: the form
only turns what the browser sent (a date, a time, a number of seats) into
the JSON the API takes, and the ``InvalidInput`` it raises back into a field
of the form, by the problem's code.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from chalicelib import times
from chalicelib.errors import Conflict, InvalidInput, InvalidInputs
from chalicelib.model.event import CAPACITY_MAX, DEFAULT_REMINDERS, EVENT_LENGTH_MAX, Event
from chalicelib.render import i18n
from chalicelib.render.pages import describe_problem

# The reminders offered as boxes to tick; an event's own others are shown with them.
REMINDER_CHOICES = ("P7D", "P2D", "P1D", "PT2H", "PT1H", "PT15M")

TEXT_FIELDS = ("id", "kind", "title_nl", "title_en", "description_nl", "description_en", "start_date", "start_time",
               "end_date", "end_time", "location_name", "location_address", "online_url", "capacity",
               "opens_date", "opens_time")
# The order of the form, for its error summary; each field's element id is "field-<name>".
FIELD_ORDER = ("id", "kind", "title_nl", "title_en", "description_nl", "description_en", "start_date", "start_time",
               "end_date", "end_time", "location_name", "location_address", "online_url", "capacity", "opens_date",
               "opens_time", "reminders")
# Where a problem of the event's data is shown: the form field of the API field it names.
FIELD_OF = {
    "title": "title_nl", "title.nl": "title_nl", "title.en": "title_en",
    "description": "description_nl", "description.nl": "description_nl", "description.en": "description_en",
    "starts_at": "start_date", "ends_at": "end_time", "registration_opens_at": "opens_date",
    "registration_closes_at": "opens_date", "location": "location_name", "location.name": "location_name",
    "location.address": "location_address", "online_url": "online_url", "capacity": "capacity",
    "reminders": "reminders", "id": "id", "kind": "kind",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def _local(instant: datetime | None, tz: str) -> tuple[str, str]:
    if instant is None:
        return "", ""
    local = instant.astimezone(times.stored_zone(tz))
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M")


def event_values(event: Event) -> dict[str, Any]:
    """The form, filled in with ``event`` (dates and times in the event's zone)."""
    start_date, start_time = _local(event.starts_at, event.timezone)
    end_date, end_time = _local(event.ends_at, event.timezone)
    opens_date, opens_time = _local(event.registration_opens_at, event.timezone)
    return {
        "id": event.id, "kind": event.kind,
        "title_nl": event.title.get("nl", ""), "title_en": event.title.get("en", ""),
        "description_nl": event.description.get("nl", ""), "description_en": event.description.get("en", ""),
        "start_date": start_date, "start_time": start_time, "end_date": end_date, "end_time": end_time,
        "location_name": event.location.name if event.location else "",
        "location_address": event.location.address if event.location else "",
        "online_url": event.online_url or "", "capacity": "" if event.capacity is None else str(event.capacity),
        "opens_date": opens_date, "opens_time": opens_time, "reminders": list(event.reminders),
    }


def blank_values() -> dict[str, Any]:
    """A new event's form: a webinar with the usual reminders."""
    values: dict[str, Any] = {name: "" for name in TEXT_FIELDS}
    values.update(kind="webinar", reminders=list(DEFAULT_REMINDERS))
    return values


def form_values(fields: dict[str, list[str]]) -> dict[str, Any]:
    """What was typed, to show again with the errors (nothing typed is lost)."""
    values: dict[str, Any] = {name: (fields.get(name) or [""])[0] for name in TEXT_FIELDS}
    values["reminders"] = [r for r in fields.get("reminders", []) if r]
    return values


def reminder_choices(values: dict[str, Any]) -> list[str]:
    """The boxes to show: the usual ones and any other the event has, longest first."""
    chosen = [r for r in values.get("reminders", []) if isinstance(r, str)]
    every = list(dict.fromkeys([*REMINDER_CHOICES, *chosen]))
    valid = []
    for item in every:
        try:
            valid.append((times.parse_duration(item, "reminders"), item))
        except InvalidInput:
            continue
    return [item for _, item in sorted(valid, reverse=True)]


def reminder_label(duration: str, lang: str) -> str:
    """"1 day before", "15 minutes before"."""
    from babel.dates import format_timedelta

    offset = times.parse_duration(duration, "reminders")
    seconds = int(offset.total_seconds())
    count = next(seconds // unit for unit in (86400, 3600, 60, 1) if seconds % unit == 0)
    words = format_timedelta(offset, threshold=count, locale=i18n._babel_locale(lang))
    return i18n.gettext("%(interval)s before", lang) % {"interval": words}


def event_data(values: dict[str, Any], *, new: bool) -> tuple[dict[str, Any], dict[str, tuple[str, dict]]]:
    """The staff API's event data for the form's ``values``, and the problems found reading them
    (form field -> (code, params)), which the API could not name by the form's fields."""
    problems: dict[str, tuple[str, dict]] = {}
    data: dict[str, Any] = {
        "kind": values["kind"] if values["kind"] in ("webinar", "in_person") else values["kind"] or None,
        "title": {"nl": values["title_nl"], "en": values["title_en"]},
        "description": {"nl": values["description_nl"], "en": values["description_en"]},
        "online_url": values["online_url"].strip() or None,
        "reminders": values["reminders"],
    }
    if new and values["id"].strip():
        data["id"] = values["id"].strip()
    if values["kind"] == "in_person":
        data["location"] = {"name": values["location_name"], "address": values["location_address"]} \
            if values["location_name"].strip() or values["location_address"].strip() else None
    else:
        data["location"] = None
    capacity = values["capacity"].strip()
    if capacity and not capacity.isdigit():
        problems["capacity"] = ("wrong_type", {})
    data["capacity"] = int(capacity) if capacity.isdigit() else None

    def instant(date_field: str, time_field: str, *, required: bool, date: str | None = None) -> str | None:
        day, hour = date if date is not None else values[date_field].strip(), values[time_field].strip()
        if not day and not hour and not required:
            return None
        if not _DATE.match(day):
            problems.setdefault(date_field, ("required" if not day else "invalid_time", {}))
        if not _TIME.match(hour):
            problems.setdefault(time_field, ("required" if not hour else "invalid_time", {}))
        return f"{day}T{hour}" if _DATE.match(day) and _TIME.match(hour) else None

    data["starts_at"] = instant("start_date", "start_time", required=True)
    data["ends_at"] = instant("end_date", "end_time", required=True,
                              date=values["end_date"].strip() or values["start_date"].strip())
    data["registration_opens_at"] = instant("opens_date", "opens_time", required=False)
    return data, problems


def problem_sentence(form_field: str, code: str, params: dict[str, Any], lang: str) -> str:
    """A sentence for staff about one problem of the event form, chosen by field and code."""
    _ = lambda text: i18n.gettext(text, lang)  # noqa: E731 - short alias the extractor knows
    if form_field == "capacity":
        return _("Enter a number of seats from 1 to %(n)s, or leave it empty for no limit.") % {"n": CAPACITY_MAX}
    if form_field in ("start_date", "end_date", "opens_date") and code in ("required", "invalid_time"):
        return _("Enter a date.")
    if form_field in ("start_time", "end_time", "opens_time") and code in ("required", "invalid_time"):
        return _("Enter a time, like 10:00.")
    if code == "invalid_time":
        return _("Enter a date and a time that exist in this time zone.")
    if form_field == "end_time" and code == "not_after":
        return _("The end must be after the start.")
    if form_field == "end_time" and code == "too_long":
        return _("An event lasts at most %(n)s days.") % {"n": EVENT_LENGTH_MAX.days}
    if form_field == "opens_date" and code in ("not_before", "not_after"):
        return _("Registration must open before the event starts.")
    if code == "invalid_url":
        return _("Enter an https:// address.")
    if form_field == "id":
        if code == "taken":
            return _("An event with this id exists already. Choose another id, or leave it empty.")
        return _("Use lower-case letters, digits and hyphens only.")
    if form_field == "location_name" and code == "required":
        return _("Fill in the place of an event in person.")
    if form_field == "reminders":
        return _("Choose reminders from 5 minutes to 60 days before the start.")
    if form_field == "kind":
        return _("Choose online or in person.")
    return describe_problem(form_field, code, params, lang)


def form_errors(found: dict[str, tuple[str, dict]], lang: str) -> dict[str, str]:
    """The problems by form field, in the order of the form, as sentences."""
    return {name: problem_sentence(name, *found[name], lang) for name in FIELD_ORDER if name in found}


def problems_of(exc: InvalidInput | InvalidInputs | Conflict) -> dict[str, tuple[str, dict]]:
    """The form fields an error of ``build_event`` (or of storing the event) is about."""
    if isinstance(exc, Conflict):
        field = exc.message.split(":", 1)[0]
        if field == "id":
            return {"id": ("taken", {})}
        if field == "capacity":
            return {"capacity": ("out_of_range", {})}
        return {}
    found: dict[str, tuple[str, dict]] = {}
    for problem in exc.problems if isinstance(exc, InvalidInputs) else [exc]:
        form_field = FIELD_OF.get(problem.field) or FIELD_OF.get(problem.field.split(".")[0])
        if form_field:
            found.setdefault(form_field, (problem.code, problem.params))
    return found


def shifted(event: Event, new_date: str) -> dict[str, Any]:
    """The staff API's data for a copy of ``event`` on ``new_date`` (its start's day in its zone): the same
    local times, registration opening as long before, a draft; InvalidInput("start_date") if no date."""
    if not new_date:
        raise InvalidInput("start_date", "required", "enter a date")
    if not _DATE.match(new_date):
        raise InvalidInput("start_date", "invalid_time", "enter a date")
    zone = times.stored_zone(event.timezone)
    try:
        days = (datetime.strptime(new_date, "%Y-%m-%d").date() - event.starts_at.astimezone(zone).date()).days
    except ValueError as exc:
        raise InvalidInput("start_date", "invalid_time", "not a date") from exc

    def moved(instant: datetime | None) -> str | None:
        if instant is None:
            return None
        local = instant.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
        return local.strftime("%Y-%m-%dT%H:%M:%S")

    return {
        "kind": event.kind, "status": "draft", "title": dict(event.title), "description": dict(event.description),
        "starts_at": moved(event.starts_at), "ends_at": moved(event.ends_at), "timezone": event.timezone,
        "location": event.location.to_dict() if event.location else None, "online_url": event.online_url,
        "capacity": event.capacity, "registration_opens_at": moved(event.registration_opens_at),
        "registration_closes_at": moved(event.registration_closes_at), "reminders": list(event.reminders),
    }


# ------------------------------------------------------------ the access report's mails, for people



def N_(text: str) -> str:
    """A text to translate where it is shown, marked here for ``make i18n``."""
    return text


# What each mail is, as the person look-up lists it (the report's ``kind``: a request's mail or a send's).
MAIL_KINDS = {
    "confirm_request": N_("Request to confirm"), "already_registered": N_("You are already registered"),
    "confirmed": N_("Confirmation"), "registration_cancelled": N_("Registration cancelled"),
    "reminder": N_("Reminder"), "change": N_("Change to the event"), "cancel": N_("Event cancelled"),
    "open": N_("Registration is open"), "seat": N_("A seat for you"), "message": N_("Message from the office"),
}
MAIL_STATES = {"sent": N_("sent"), "pending": N_("planned"), "claimed": N_("being sent"), "skipped": N_("not sent"),
               "failed": N_("could not be sent")}


def event_names(report: dict[str, Any], events: dict[str, Event], lang: str) -> dict[str, str]:
    """Each event the report names, as staff read it: its title in the page's language and its day ("Webinar
    (14 jan)"): a monthly webinar keeps one title. An event gone since is named by its id."""
    named = {r["event_id"] for r in report["registrations"]}
    named |= {e for mail in report["mails"] for e in mail["event_ids"]}
    return {e: i18n.dated_title(events[e], lang) if e in events else e for e in named}


def mail_rows(report: dict[str, Any], lang: str, names: dict[str, str]) -> list[dict[str, str]]:
    """The report's mails in words: what, about which events (``names``: ``event_names``), sent or planned, and
    when."""
    rows = []
    for mail in report["mails"]:
        kind, state = mail["kind"], mail["state"]
        label = MAIL_KINDS.get(kind)
        what = i18n.gettext(label, lang) if label else kind
        if kind == "reminder" and mail["detail"]:
            try:
                what = f"{what} ({reminder_label(mail['detail'], lang)})"
            except InvalidInput:
                pass
        when = i18n.format_instant_text(mail["sent_at"] or mail["due"], lang)
        said = MAIL_STATES.get(state)
        rows.append({"what": what, "events": ", ".join(names.get(e, e) for e in mail["event_ids"]) or "–",
                     "state": i18n.gettext(said, lang) if said else state, "when": when})
    return rows

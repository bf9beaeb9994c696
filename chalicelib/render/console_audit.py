"""The console's audit log in words: when (Brussels time), who, what happened, on what, and what changed.

Pure functions, no chalice. An entry's action becomes a short label in the
page's language (an action not known here is shown as it is), an event
target its title, and the details lines of "label: value", a change's as
"before → after", instants in Brussels time and other values as text.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.errors import InvalidInput
from chalicelib.model.event import Event
from chalicelib.model.person import AuditEntry
from chalicelib.render import i18n
from chalicelib.render.console_forms import N_, reminder_label

ZONE = times.DEFAULT_ZONE  # the console's times are Brussels time

# What each action of services/*.py (and the console's phone registration) did, as a staff member reads it.
ACTIONS = {
    "event.create": N_("Created the event"),
    "event.change": N_("Changed the event"),
    "event.cancel": N_("Cancelled the event"),
    "event.message": N_("Wrote to the people registered"),
    "registrations.read": N_("Looked at the registrations"),
    "registration.by_phone": N_("Registered someone by phone"),
    "subscriber.access": N_("Looked up a person"),
    "subscriber.erase": N_("Erased a person"),
    "staff.add": N_("Added a staff member"),
    "staff.remove": N_("Removed a staff member"),
    "console.sign_in": N_("Signed in"),
    "console.sign_out": N_("Signed out"),
}

# An event's fields, as a change lists them.
FIELDS = {
    "id": N_("Id"), "kind": N_("Kind"), "status": N_("Status"), "title": N_("Title"),
    "description": N_("Description"), "starts_at": N_("Starts"), "ends_at": N_("Ends"),
    "timezone": N_("Time zone"), "location": N_("Place"), "online_url": N_("Join link"),
    "capacity": N_("Seats"), "registration_opens_at": N_("Registration opens"),
    "registration_closes_at": N_("Registration closes"), "reminders": N_("Reminders"),
    "cancelled_at": N_("Cancelled on"), "cancellation_message": N_("Message with the cancellation"),
}

# The other details an action records.
DETAILS = {
    "status": N_("Status"), "previous_status": N_("Status before"), "material": N_("Registrants told of"),
    "message": N_("With a message to the people registered"), "audience": N_("To"),
    "recipients": N_("Number of people"), "subject": N_("Subject"), "format": N_("How"),
    "rows": N_("Number of registrations"), "pending": N_("Unconfirmed registrations included"),
    "found": N_("Person found"), "admin": N_("Admin"),
}
# Bookkeeping a reader needs not: the fields sent (the changes, listed first, say what changed), the event's
# sequence, a message's id.
HIDDEN = ("fields", "sequence", "changes", "message_id")

VALUES = {
    "status": {"draft": N_("Draft"), "published": N_("Published"), "cancelled": N_("Cancelled")},
    "previous_status": {"draft": N_("Draft"), "published": N_("Published"), "cancelled": N_("Cancelled")},
    "kind": {"webinar": N_("Online"), "in_person": N_("In person")},
    "audience": {"confirmed": N_("confirmed"), "waitlisted": N_("waiting list"), "pending": N_("unconfirmed"),
                 "interested": N_("interested"), "cancelled": N_("cancelled")},
    "pending": {"include": N_("yes")},
    "format": {"csv": N_("CSV download"), "excel": N_("Excel download"), "console": N_("list in the console"),
               "xlsx": N_("Excel download"), "json": N_("JSON download")},
}

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
LONG_TEXT = 160  # a description's change is shown by its start
NOTHING = "–"


def action_label(action: str, lang: str) -> str:
    """"Changed the event"; an unknown action as it is."""
    label = ACTIONS.get(action)
    return i18n.gettext(label, lang) if label else action


def _instant(value: str) -> datetime | None:
    if not _INSTANT.match(value):
        return None
    try:
        return times.parse_instant(value, "at")
    except InvalidInput:
        return None


def value_text(name: str, value: Any, lang: str) -> str:
    """A detail's or field's value as text: an instant in Brussels time, yes or no, the words for a code."""
    _ = lambda text: i18n.gettext(text, lang)  # noqa: E731
    if value is None or value == "" or value == [] or value == {}:
        return NOTHING
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return i18n.format_when(value, ZONE, lang, "short")
    if isinstance(value, str):
        words = VALUES.get(name, {}).get(value)
        if words:
            return _(words)
        at = _instant(value)
        if at is not None:
            return i18n.format_when(at, ZONE, lang, "short")
        return i18n.summary(value, LONG_TEXT) if name in ("description", "cancellation_message") else value
    if isinstance(value, dict):
        if set(value) <= {"nl", "en"}:  # a text in Dutch and English
            return "; ".join(f"{k.upper()}: {value_text(name, value[k], lang)}" for k in ("nl", "en") if k in value)
        if set(value) <= {"name", "address"}:  # a place
            return ", ".join(str(value[k]) for k in ("name", "address") if value.get(k)) or NOTHING
        return "; ".join(f"{k}: {value_text(k, v, lang)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if name == "reminders":
            return ", ".join(_reminder(str(v), lang) for v in value)
        if name in ("material", "fields"):
            return ", ".join(field_label(str(v), lang) for v in value)
        return ", ".join(value_text(name, v, lang) for v in value)
    return str(value)


def _reminder(duration: str, lang: str) -> str:
    try:
        return reminder_label(duration, lang)
    except InvalidInput:
        return duration


def field_label(name: str, lang: str) -> str:
    label = FIELDS.get(name)
    return i18n.gettext(label, lang) if label else name


def detail_lines(details: dict[str, Any], lang: str) -> list[str]:
    """The details as lines: each change "Starts: ma 7 dec. 2026, 10:00 → di 8 dec. 2026, 10:00", then the
    other details "Person found: yes"."""
    lines = []
    changes = details.get("changes")
    if isinstance(changes, dict):
        for name, change in changes.items():
            if isinstance(change, dict) and set(change) == {"before", "after"}:
                lines.append(f"{field_label(name, lang)}: {value_text(name, change['before'], lang)} → "
                             f"{value_text(name, change['after'], lang)}")
            else:
                lines.append(f"{field_label(name, lang)}: {value_text(name, change, lang)}")
    for name, value in details.items():
        if name in HIDDEN and (name != "fields" or isinstance(changes, dict)):
            continue
        label = DETAILS.get(name)
        lines.append(f"{i18n.gettext(label, lang) if label else name}: {value_text(name, value, lang)}")
    return lines


def entry_rows(entries: list[AuditEntry], events: dict[str, Event], lang: str) -> list[dict[str, Any]]:
    """Each entry in words: ``when``, ``at`` (ISO, for ``<time>``), ``who``, ``what``, ``event_id`` and
    ``on`` (an event's title, a staff member's address, else the target as it is; ``event_known`` when
    the event is there to link to), and ``details`` (lines)."""
    rows = []
    for entry in entries:
        event_id = entry.target[len("event:"):] if entry.target.startswith("event:") else None
        if event_id is not None:
            event = events.get(event_id)
            title = (event.title.get(lang) or event.title.get("nl") or event_id) if event else event_id
            on = title
        elif entry.target.startswith("staff:"):
            on = entry.target[len("staff:"):]
        elif entry.target == "subscriber":
            on = i18n.gettext("a person (not named in the log)", lang)
        else:
            on = entry.target
        rows.append({
            "when": i18n.format_when(entry.at, ZONE, lang, "short"),
            "at": times.format_instant(entry.at, ZONE),
            "who": entry.actor,
            "what": action_label(entry.action, lang),
            "action": entry.action,
            "event_id": event_id,
            "event_known": event_id in events if event_id is not None else False,
            "target": entry.target,
            "on": on,
            "details": detail_lines(entry.details or {}, lang),
        })
    return rows

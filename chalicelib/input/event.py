"""Validation of event fields sent by staff: texts, translations, times, place, capacity, reminders.

Raises ``InvalidInput`` naming the field and the code of the problem (``errors.INPUT_CODES``); ``build_event``
merges a change into an existing event.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib import times
from chalicelib.errors import Conflict, InvalidInput
from chalicelib.model.event import (
    CAPACITY_MAX,
    DEFAULT_REMINDERS,
    DESCRIPTION_MAX,
    EVENT_LENGTH_MAX,
    ID_PATTERN,
    KINDS,
    LANGUAGES,
    LOCATION_FIELD_MAX,
    MAX_REMINDER,
    MAX_REMINDERS,
    MIN_REMINDER,
    READ_ONLY_FIELDS,
    SETTABLE_STATUSES,
    STATUSES,
    TITLE_MAX,
    URL_MAX,
    WRITABLE_FIELDS,
    Event,
    Location,
    calendar_changes,
    slugify,
)

# Line breaks of other systems: CR LF, CR, vertical tab (Word's manual line
# break), form feed, NEL (the C1 line break).
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85]")
# Every other C0 and C1 control character, and DEL; tab and newline are not among them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates (U+202E shows "moc.evil" as "live.com"): they make a text
# read other than it is written. Refused in a one-line text, dropped from a longer one.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Invisible characters that make two texts look the same ("An" and "A\u200bn"): dropped everywhere. (Zero-width
# joiners, which emoji and Persian need, and the soft hyphen, which breaks long words, stay.)
INVISIBLE = re.compile("[\u200b\u2060-\u2064\ufeff\u180e\u034f\u115f\u1160\u3164\uffa0]")


def text_as_unicode(value: str, field_name: str) -> None:
    """Refuse text that cannot be written as UTF-8 (a lone UTF-16 surrogate, which JSON allows): no store takes it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(field_name, "not_unicode",
                           "is not valid Unicode text (it holds a lone UTF-16 surrogate such as \\ud800)") from exc


def checked_text(value: Any, field_name: str, max_length: int, required: bool, *, multiline: bool = False,
                 one_line: bool = False) -> str:
    r"""Check a text; line breaks become "\n", other control characters are refused (or, ``multiline``, dropped).

    iCalendar TEXT (RFC 5545) allows no control character but tab, and
    knows only "\n" as a line break: a lone CR would come back from a
    calendar app as a different text. ``one_line`` (a title, a place's
    name): a line break is refused too. Bidirectional controls are refused
    (``multiline``: dropped) and invisible characters dropped: both make a
    text read other than it is written.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(field_name, "wrong_type", "must be text", expected="text")
    text_as_unicode(value, field_name)
    if "\x00" in value:
        raise InvalidInput(field_name, "control_characters", "must not contain a NUL character")
    value = INVISIBLE.sub("", _LINE_BREAKS.sub("\n", value))
    if BIDI_CONTROLS.search(value):
        if not multiline:
            raise InvalidInput(field_name, "control_characters",
                               "must not contain characters that change the direction of the text (U+202A to "
                               "U+202E, U+2066 to U+2069)")
        value = BIDI_CONTROLS.sub("", value)
    if one_line and ("\n" in value.strip() or "\u2028" in value or "\u2029" in value):
        raise InvalidInput(field_name, "not_one_line", "must be one line")
    if _CONTROLS.search(value):
        if not multiline:
            raise InvalidInput(field_name, "control_characters",
                               "must not contain control characters (only tabs and line breaks)")
        value = _CONTROLS.sub("", value)  # a description pasted from a word processor keeps its words
    value = value.strip()
    if required and not value:
        raise InvalidInput(field_name, "required", "is required")
    if len(value) > max_length:
        raise InvalidInput(field_name, "too_long", f"must be at most {max_length} characters (got {len(value)})",
                           limit=max_length)
    return value


def _translated(value: Any, field_name: str, max_length: int, required: bool, *,
                multiline: bool = False, one_line: bool = False) -> dict[str, str]:
    if value is None and required:
        raise InvalidInput(field_name, "required", "is required (at least the Dutch text, nl)")
    if value is None or isinstance(value, str):
        value = {"nl": value}
    if not isinstance(value, dict):
        raise InvalidInput(field_name, "wrong_type", "must be text or an object with nl and en texts",
                           expected="text or object")
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        raise InvalidInput(field_name, "not_one_of", f"languages must be nl or en, not {sorted(map(str, unknown))[0]!r}",
                           allowed=LANGUAGES)
    result = {"nl": checked_text(value.get("nl"), f"{field_name}.nl", max_length, required, multiline=multiline,
                                 one_line=one_line)}
    english = checked_text(value.get("en"), f"{field_name}.en", max_length, False, multiline=multiline,
                           one_line=one_line)
    if english:
        result["en"] = english
    if not result["nl"]:
        del result["nl"]
    return result


def _https_url(value: Any, field_name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > URL_MAX or any(c.isspace() for c in value):
        raise InvalidInput(field_name, "invalid_url", "must be an https:// address without spaces")
    text_as_unicode(value, field_name)
    if _CONTROLS.search(value):
        raise InvalidInput(field_name, "invalid_url", "must be an https:// address without control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidInput(field_name, "invalid_url", "must be an https:// address") from exc
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput(field_name, "invalid_url", "must be an https:// address (a plain http link is not accepted)")
    return value


def _location(value: Any) -> Location | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise InvalidInput("location", "wrong_type", "must be an object with a name and an address", expected="object")
    unknown = set(value) - {"name", "address"}
    if unknown:
        unknown_name = sorted(map(str, unknown))[0]
        raise InvalidInput("location", "unknown_field", f"unknown field {unknown_name!r}; use name and address",
                           name=unknown_name)
    name = checked_text(value.get("name"), "location.name", LOCATION_FIELD_MAX, True, one_line=True)
    address = checked_text(value.get("address"), "location.address", LOCATION_FIELD_MAX, False)
    return Location(name=name, address=address)


def _capacity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("capacity", "wrong_type", "must be a whole number of seats, or null for no limit",
                           expected="whole number")
    if value < 1 or value > CAPACITY_MAX:
        raise InvalidInput("capacity", "out_of_range", f"must be between 1 and {CAPACITY_MAX}, or null for no limit",
                           minimum=1, maximum=CAPACITY_MAX)
    return value


def _reminders(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_REMINDERS
    if not isinstance(value, list):
        raise InvalidInput("reminders", "wrong_type", "must be a list of ISO 8601 durations like [\"P1D\", \"PT1H\"]",
                           expected="list")
    if len(value) > MAX_REMINDERS:
        raise InvalidInput("reminders", "too_many", f"at most {MAX_REMINDERS} reminders", limit=MAX_REMINDERS)
    normalized: list[str] = []
    seen: set[timedelta] = set()
    for item in value:
        delta = times.parse_duration(item, "reminders")
        if not MIN_REMINDER <= delta <= MAX_REMINDER:
            raise InvalidInput("reminders", "out_of_range",
                               f"{item} is out of range: from 5 minutes (PT5M) to 60 days (P60D) before the start",
                               minimum=times.format_duration(MIN_REMINDER), maximum=times.format_duration(MAX_REMINDER))
        if delta in seen:
            raise InvalidInput("reminders", "not_unique", f"{item} is listed twice", value=item)
        seen.add(delta)
        normalized.append(times.format_duration(delta))
    return tuple(sorted(normalized, key=lambda r: times.parse_duration(r, "reminders"), reverse=True))


def _optional_instant(value: Any, field_name: str, tz: str) -> datetime | None:
    if value is None or value == "":
        return None
    return times.parse_instant(value, field_name, tz)


def validate_event_fields(data: Any) -> dict[str, Any]:
    """Check a create or PATCH body's shape; return the fields it sets, still raw where times are involved."""
    if not isinstance(data, dict):
        raise InvalidInput("body", "wrong_type", "must be a JSON object", expected="object")
    for key in data:
        if not isinstance(key, str) or (key not in WRITABLE_FIELDS and key not in READ_ONLY_FIELDS):
            raise InvalidInput(str(key)[:50], "unknown_field", "is not a field of an event", name=str(key)[:50])
    return {k: v for k, v in data.items() if k in WRITABLE_FIELDS}


def build_event(data: dict[str, Any], *, existing: Event | None, now: datetime) -> Event:
    """Validate ``data`` (a whole new event, or changes to ``existing``) and return the resulting Event."""
    fields = validate_event_fields(data)
    if existing is not None and "id" in fields and fields["id"] != existing.id:
        raise InvalidInput("id", "read_only", "cannot be changed; create a new event instead")

    def pick(name: str, default: Any = None) -> Any:
        if name in fields:
            return fields[name]
        if existing is not None:
            return _current(existing, name)
        return default

    tz_name = pick("timezone", times.DEFAULT_ZONE)
    if not isinstance(tz_name, str):
        raise InvalidInput("timezone", "invalid_time_zone", "must be a time zone name like Europe/Brussels")
    if existing is None or "timezone" in fields:  # a stored zone was checked when it was sent
        times.zone(tz_name)

    kind = pick("kind")
    if kind not in KINDS:
        raise InvalidInput("kind", "not_one_of", "must be webinar or in_person", allowed=KINDS)
    status = pick("status", "draft")
    if status not in STATUSES:
        raise InvalidInput("status", "not_one_of", "must be draft or published", allowed=SETTABLE_STATUSES)
    if status == "cancelled" and (existing is None or existing.status != "cancelled"):
        raise InvalidInput("status", "not_one_of", "use POST /staff/events/{event_id}/cancel to cancel an event",
                           allowed=SETTABLE_STATUSES)
    if existing is not None and existing.status == "cancelled" and status != "cancelled":
        raise Conflict("status: the event is cancelled, so it cannot be published (or made a draft) again; "
                       "create a new event instead")
    if existing is not None and existing.status == "published" and status == "draft" and existing.seats_taken:
        raise Conflict("status: people are registered; cancel the event rather than unpublish it")

    title = _translated(_merged_texts(fields, existing, "title"), "title", TITLE_MAX, True, one_line=True)
    description = _translated(_merged_texts(fields, existing, "description"), "description", DESCRIPTION_MAX, False,
                              multiline=True)

    starts_at = _instant_field(fields, existing, "starts_at", tz_name, required=True)
    ends_at = _instant_field(fields, existing, "ends_at", tz_name, required=True)
    if ends_at <= starts_at:
        raise InvalidInput("ends_at", "not_after", "must be after starts_at", other="starts_at")
    if ends_at - starts_at > EVENT_LENGTH_MAX:
        raise InvalidInput("ends_at", "too_long", f"an event lasts at most {EVENT_LENGTH_MAX.days} days",
                           limit=EVENT_LENGTH_MAX.days, unit="days")

    location = _location(pick("location"))
    online_url = _https_url(pick("online_url"), "online_url")
    if kind == "in_person" and location is None:
        raise InvalidInput("location", "required", "is required for an in_person event")
    capacity = _capacity(pick("capacity"))
    if existing is not None and capacity is not None and capacity < existing.seats_taken:
        raise Conflict(f"capacity: {existing.seats_taken} seats are taken already; capacity cannot be lower")

    opens = _instant_field(fields, existing, "registration_opens_at", tz_name, required=False)
    closes = _instant_field(fields, existing, "registration_closes_at", tz_name, required=False)
    if opens is not None and closes is not None and closes <= opens:
        raise InvalidInput("registration_closes_at", "not_after", "must be after registration_opens_at",
                           other="registration_opens_at")
    if opens is not None and opens >= starts_at:
        raise InvalidInput("registration_opens_at", "not_before", "must be before starts_at", other="starts_at")

    reminders = _reminders(fields["reminders"]) if "reminders" in fields else (
        existing.reminders if existing is not None else DEFAULT_REMINDERS)

    if existing is None:
        event_id = fields.get("id")
        if event_id is None:
            event_id = slugify(title["nl"]) or "event"
        elif not isinstance(event_id, str) or not ID_PATTERN.match(event_id):
            raise InvalidInput("id", "invalid_id",
                               "must be 1 to 80 lower-case letters, digits and hyphens, not starting or ending with a hyphen")
        return Event(
            id=event_id, kind=kind, status=status, title=title, description=description,
            starts_at=starts_at, ends_at=ends_at, timezone=tz_name, location=location,
            online_url=online_url, capacity=capacity, registration_opens_at=opens,
            registration_closes_at=closes, reminders=reminders, sequence=0,
            created_at=now, updated_at=now,
        )

    changed = replace(
        existing, kind=kind, status=status, title=title, description=description,
        starts_at=starts_at, ends_at=ends_at, timezone=tz_name, location=location,
        online_url=online_url, capacity=capacity, registration_opens_at=opens,
        registration_closes_at=closes, reminders=reminders,
    )
    if calendar_changes(existing, changed):
        changed = replace(changed, sequence=existing.sequence + 1)
    if changed != existing:
        changed = replace(changed, updated_at=now)
    return changed


def _merged_texts(fields: dict[str, Any], existing: Event | None, name: str) -> Any:
    """A translated text as sent, or, on a change, an object of languages merged into the event's: languages
    sent replace, languages not sent are kept, a language sent as null is removed. A plain string is the text
    in Dutch alone, as on create: it replaces every language (a translation of the old text would not fit)."""
    if name not in fields:
        return _current(existing, name) if existing is not None else None
    sent = fields[name]
    if existing is None or sent is None or not isinstance(sent, dict):
        return sent  # refused by _translated, as on create
    merged: dict[Any, Any] = dict(getattr(existing, name))
    for lang, text in sent.items():
        if text is None and lang in LANGUAGES:
            merged.pop(lang, None)
        else:
            merged[lang] = text  # an unknown language stays, for _translated to refuse
    return merged


def _current(event: Event, name: str) -> Any:
    value = getattr(event, name)
    if isinstance(value, Location):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    return value


def _instant_field(fields: dict[str, Any], existing: Event | None, name: str, tz: str, *, required: bool) -> datetime | None:
    if name in fields:
        value = fields[name]
        if value is None or value == "":
            if required:
                raise InvalidInput(name, "required", "is required")
            return None
        return times.parse_instant(value, name, tz)
    if existing is not None:
        return getattr(existing, name)
    if required:
        raise InvalidInput(name, "required", "is required")
    return None

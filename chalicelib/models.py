"""The service's dataclasses and the validation of what people send in.

Validation raises ``InvalidInput(field, message)`` and nothing else, whatever
the input: routes rely on that to answer 400 rather than 500. A change that
the event's state forbids (publishing a cancelled event, fewer seats than are
taken) raises ``Conflict`` (409) instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from . import times
from .errors import Conflict, InvalidInput

KINDS = ("webinar", "in_person")
STATUSES = ("draft", "published", "cancelled")
LANGUAGES = ("nl", "en")
DEFAULT_REMINDERS = ("P1D", "PT1H")
MIN_REMINDER = timedelta(minutes=5)
MAX_REMINDER = timedelta(days=60)
MAX_REMINDERS = 10
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
LOCATION_FIELD_MAX = 500
URL_MAX = 2_000
ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")

# Fields whose change alters what a calendar shows of when or where: they
# raise SEQUENCE and registrants are told.
MATERIAL_FIELDS = ("starts_at", "ends_at", "timezone", "location", "online_url")

WRITABLE_FIELDS = {
    "id", "kind", "status", "title", "description", "starts_at", "ends_at", "timezone",
    "location", "online_url", "capacity", "registration_opens_at",
    "registration_closes_at", "reminders",
}
# Fields a client may send back unchanged from a GET; they are ignored.
READ_ONLY_FIELDS = {
    "sequence", "created_at", "updated_at", "seats_left", "registration_open", "url",
    "ics_url", "counts", "cancelled_at",
}


@dataclass(frozen=True)
class Location:
    """Where an in-person event takes place."""

    name: str
    address: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address}

    def one_line(self) -> str:
        return ", ".join(part for part in (self.name, self.address) if part)


@dataclass(frozen=True)
class Event:
    """A webinar or an in-person event, as staff publish it."""

    id: str
    kind: str
    status: str
    title: dict[str, str]
    description: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str = times.DEFAULT_ZONE
    location: Location | None = None
    online_url: str | None = None
    capacity: int | None = None
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    reminders: tuple[str, ...] = DEFAULT_REMINDERS
    sequence: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    seats_taken: int = 0
    # The event as it was before a change whose mails (notices, moved
    # reminders, seats for the people waiting) are not all planned yet: saved
    # with the change, cleared once they are. A failed planning is taken up
    # again by the next change, the same request repeated, or the tick.
    unplanned: dict[str, Any] | None = None
    # When a seat was last freed (a cancellation, an erasure) and not yet
    # offered to the people waiting; kept apart, like ``seats_taken``. Cleared
    # by ``promote_waiting``; if that failed, the tick takes it up.
    seat_freed_at: datetime | None = None

    @property
    def seats_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.seats_taken, 0)

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title["nl"]

    def description_in(self, lang: str) -> str:
        return self.description.get(lang) or self.description.get("nl", "")

    def reminder_offsets(self) -> list[timedelta]:
        return [times.parse_duration(r, "reminders") for r in self.reminders]

    def registration_not_open_yet(self, now: datetime) -> bool:
        return self.registration_opens_at is not None and now < self.registration_opens_at

    def is_registration_open(self, now: datetime) -> bool:
        """Whether a person may register now (published, opened, not closed, not started)."""
        if self.status != "published" or now >= self.starts_at:
            return False
        if self.registration_not_open_yet(now):
            return False
        if self.registration_closes_at is not None and now >= self.registration_closes_at:
            return False
        return True

    def is_upcoming(self, now: datetime) -> bool:
        return self.status == "published" and self.ends_at > now

    def to_record(self) -> dict[str, Any]:
        """Return every field as JSON-ready data, for storage."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "title": dict(self.title),
            "description": dict(self.description),
            "starts_at": times.to_utc_iso(self.starts_at),
            "ends_at": times.to_utc_iso(self.ends_at),
            "timezone": self.timezone,
            "location": self.location.to_dict() if self.location else None,
            "online_url": self.online_url,
            "capacity": self.capacity,
            "registration_opens_at": _iso_or_none(self.registration_opens_at),
            "registration_closes_at": _iso_or_none(self.registration_closes_at),
            "reminders": list(self.reminders),
            "sequence": self.sequence,
            "created_at": _iso_or_none(self.created_at),
            "updated_at": _iso_or_none(self.updated_at),
            "cancelled_at": _iso_or_none(self.cancelled_at),
            "unplanned": self.unplanned,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], seats_taken: int = 0, seat_freed_at: datetime | None = None) -> "Event":
        """Rebuild an event written by ``to_record``."""
        loc = record.get("location")
        return cls(
            id=record["id"],
            kind=record["kind"],
            status=record["status"],
            title=dict(record["title"]),
            description=dict(record.get("description") or {}),
            starts_at=times.from_utc_iso(record["starts_at"]),
            ends_at=times.from_utc_iso(record["ends_at"]),
            timezone=record.get("timezone") or times.DEFAULT_ZONE,
            location=Location(**loc) if loc else None,
            online_url=record.get("online_url"),
            capacity=record.get("capacity"),
            registration_opens_at=_from_iso_or_none(record.get("registration_opens_at")),
            registration_closes_at=_from_iso_or_none(record.get("registration_closes_at")),
            reminders=tuple(record.get("reminders") or ()),
            sequence=int(record.get("sequence", 0)),
            created_at=_from_iso_or_none(record.get("created_at")),
            updated_at=_from_iso_or_none(record.get("updated_at")),
            cancelled_at=_from_iso_or_none(record.get("cancelled_at")),
            seats_taken=int(seats_taken),
            unplanned=record.get("unplanned"),
            seat_freed_at=seat_freed_at,
        )


def _iso_or_none(value: datetime | None) -> str | None:
    return times.to_utc_iso(value) if value is not None else None


def _from_iso_or_none(value: str | None) -> datetime | None:
    return times.from_utc_iso(value) if value else None


# ---------------------------------------------------------------- validation


def slugify(text: str, max_length: int = 80) -> str:
    """Make an id from a title: ASCII, lower case, words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


# Line breaks of other systems: CR LF, CR, vertical tab (Word's manual line
# break), form feed, NEL (the C1 line break).
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85]")
# Every other C0 and C1 control character, and DEL; tab and newline are not among them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def text_as_unicode(value: str, field_name: str) -> None:
    """Refuse text that cannot be written as UTF-8 (a lone UTF-16 surrogate, which JSON allows): no store takes it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(field_name, "is not valid Unicode text (it holds a lone UTF-16 surrogate such as \\ud800)") from exc


def checked_text(value: Any, field_name: str, max_length: int, required: bool, *, multiline: bool = False) -> str:
    r"""Check a text; line breaks become "\n", other control characters are refused (or, ``multiline``, dropped).

    iCalendar TEXT (RFC 5545) allows no control character but tab, and
    knows only "\n" as a line break: a lone CR would come back from a
    calendar app as a different text.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(field_name, "must be text")
    text_as_unicode(value, field_name)
    if "\x00" in value:
        raise InvalidInput(field_name, "must not contain a NUL character")
    value = _LINE_BREAKS.sub("\n", value)
    if _CONTROLS.search(value):
        if not multiline:
            raise InvalidInput(field_name, "must not contain control characters (only tabs and line breaks)")
        value = _CONTROLS.sub("", value)  # a description pasted from a word processor keeps its words
    value = value.strip()
    if required and not value:
        raise InvalidInput(field_name, "is required")
    if len(value) > max_length:
        raise InvalidInput(field_name, f"must be at most {max_length} characters (got {len(value)})")
    return value


def _translated(value: Any, field_name: str, max_length: int, required: bool, *,
                multiline: bool = False) -> dict[str, str]:
    if value is None and required:
        raise InvalidInput(field_name, "is required (at least the Dutch text, nl)")
    if value is None or isinstance(value, str):
        value = {"nl": value}
    if not isinstance(value, dict):
        raise InvalidInput(field_name, "must be text or an object with nl and en texts")
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        raise InvalidInput(field_name, f"languages must be nl or en, not {sorted(map(str, unknown))[0]!r}")
    result = {"nl": checked_text(value.get("nl"), f"{field_name}.nl", max_length, required, multiline=multiline)}
    english = checked_text(value.get("en"), f"{field_name}.en", max_length, False, multiline=multiline)
    if english:
        result["en"] = english
    if not result["nl"]:
        del result["nl"]
    return result


def _https_url(value: Any, field_name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > URL_MAX or any(c.isspace() for c in value):
        raise InvalidInput(field_name, "must be an https:// address without spaces")
    text_as_unicode(value, field_name)
    if _CONTROLS.search(value):
        raise InvalidInput(field_name, "must be an https:// address without control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidInput(field_name, "must be an https:// address") from exc
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput(field_name, "must be an https:// address (a plain http link is not accepted)")
    return value


def _location(value: Any) -> Location | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise InvalidInput("location", "must be an object with a name and an address")
    unknown = set(value) - {"name", "address"}
    if unknown:
        raise InvalidInput("location", f"unknown field {sorted(map(str, unknown))[0]!r}; use name and address")
    name = checked_text(value.get("name"), "location.name", LOCATION_FIELD_MAX, True)
    address = checked_text(value.get("address"), "location.address", LOCATION_FIELD_MAX, False)
    return Location(name=name, address=address)


def _capacity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("capacity", "must be a whole number of seats, or null for no limit")
    if value < 1 or value > 1_000_000:
        raise InvalidInput("capacity", "must be between 1 and 1000000, or null for no limit")
    return value


def _reminders(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_REMINDERS
    if not isinstance(value, list):
        raise InvalidInput("reminders", "must be a list of ISO 8601 durations like [\"P1D\", \"PT1H\"]")
    if len(value) > MAX_REMINDERS:
        raise InvalidInput("reminders", f"at most {MAX_REMINDERS} reminders")
    normalized: list[str] = []
    seen: set[timedelta] = set()
    for item in value:
        delta = times.parse_duration(item, "reminders")
        if not MIN_REMINDER <= delta <= MAX_REMINDER:
            raise InvalidInput("reminders", f"{item} is out of range: from 5 minutes (PT5M) to 60 days (P60D) before the start")
        if delta in seen:
            raise InvalidInput("reminders", f"{item} is listed twice")
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
        raise InvalidInput("body", "must be a JSON object")
    for key in data:
        if not isinstance(key, str) or (key not in WRITABLE_FIELDS and key not in READ_ONLY_FIELDS):
            raise InvalidInput(str(key)[:50], "is not a field of an event")
    return {k: v for k, v in data.items() if k in WRITABLE_FIELDS}


def build_event(data: dict[str, Any], *, existing: Event | None, now: datetime) -> Event:
    """Validate ``data`` (a whole new event, or changes to ``existing``) and return the resulting Event."""
    fields = validate_event_fields(data)
    if existing is not None and "id" in fields and fields["id"] != existing.id:
        raise InvalidInput("id", "cannot be changed; create a new event instead")

    def pick(name: str, default: Any = None) -> Any:
        if name in fields:
            return fields[name]
        if existing is not None:
            return _current(existing, name)
        return default

    tz_name = pick("timezone", times.DEFAULT_ZONE)
    if not isinstance(tz_name, str):
        raise InvalidInput("timezone", "must be a time zone name like Europe/Brussels")
    if existing is None or "timezone" in fields:  # a stored zone was checked when it was sent
        times.zone(tz_name)

    kind = pick("kind")
    if kind not in KINDS:
        raise InvalidInput("kind", "must be webinar or in_person")
    status = pick("status", "draft")
    if status not in STATUSES:
        raise InvalidInput("status", "must be draft or published")
    if status == "cancelled" and (existing is None or existing.status != "cancelled"):
        raise InvalidInput("status", "use POST /staff/events/{event_id}/cancel to cancel an event")
    if existing is not None and existing.status == "cancelled" and status != "cancelled":
        raise Conflict("status: the event is cancelled, so it cannot be published (or made a draft) again; "
                       "create a new event instead")
    if existing is not None and existing.status == "published" and status == "draft" and existing.seats_taken:
        raise Conflict("status: people are registered; cancel the event rather than unpublish it")

    title = _translated(_merged_texts(fields, existing, "title"), "title", TITLE_MAX, True)
    description = _translated(_merged_texts(fields, existing, "description"), "description", DESCRIPTION_MAX, False,
                              multiline=True)

    starts_at = _instant_field(fields, existing, "starts_at", tz_name, required=True)
    ends_at = _instant_field(fields, existing, "ends_at", tz_name, required=True)
    if ends_at <= starts_at:
        raise InvalidInput("ends_at", "must be after starts_at")
    if ends_at - starts_at > timedelta(days=31):
        raise InvalidInput("ends_at", "an event lasts at most 31 days")

    location = _location(pick("location"))
    online_url = _https_url(pick("online_url"), "online_url")
    if kind == "in_person" and location is None:
        raise InvalidInput("location", "is required for an in_person event")
    capacity = _capacity(pick("capacity"))
    if existing is not None and capacity is not None and capacity < existing.seats_taken:
        raise Conflict(f"capacity: {existing.seats_taken} seats are taken already; capacity cannot be lower")

    opens = _instant_field(fields, existing, "registration_opens_at", tz_name, required=False)
    closes = _instant_field(fields, existing, "registration_closes_at", tz_name, required=False)
    if opens is not None and closes is not None and closes <= opens:
        raise InvalidInput("registration_closes_at", "must be after registration_opens_at")
    if opens is not None and opens >= starts_at:
        raise InvalidInput("registration_opens_at", "must be before starts_at")

    reminders = _reminders(fields["reminders"]) if "reminders" in fields else (
        existing.reminders if existing is not None else DEFAULT_REMINDERS)

    if existing is None:
        event_id = fields.get("id")
        if event_id is None:
            event_id = slugify(title["nl"]) or "event"
        elif not isinstance(event_id, str) or not ID_PATTERN.match(event_id):
            raise InvalidInput("id", "must be 1 to 80 lower-case letters, digits and hyphens, not starting or ending with a hyphen")
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
    if material_changes(existing, changed):
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
                raise InvalidInput(name, "is required")
            return None
        return times.parse_instant(value, name, tz)
    if existing is not None:
        return getattr(existing, name)
    if required:
        raise InvalidInput(name, "is required")
    return None


def material_changes(before: Event, after: Event) -> list[str]:
    """Name the fields whose change registrants must hear about (time, place, join link)."""
    return [name for name in MATERIAL_FIELDS if getattr(before, name) != getattr(after, name)]


# ------------------------------------------------------------ presentation


def event_json(event: Event, *, base_url: str, now: datetime, staff: bool = False) -> dict[str, Any]:
    """Shape an event as API.md's Event; the join link only for staff."""
    tz = event.timezone
    body: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "status": event.status,
        "title": dict(event.title),
        "description": dict(event.description),
        "starts_at": times.format_instant(event.starts_at, tz),
        "ends_at": times.format_instant(event.ends_at, tz),
        "timezone": tz,
        "location": event.location.to_dict() if event.location else None,
        "online_url": event.online_url if staff else None,
        "capacity": event.capacity,
        "registration_opens_at": times.format_instant(event.registration_opens_at, tz),
        "registration_closes_at": times.format_instant(event.registration_closes_at, tz),
        "reminders": list(event.reminders),
        "sequence": event.sequence,
        "created_at": times.format_instant(event.created_at, tz),
        "updated_at": times.format_instant(event.updated_at, tz),
        "seats_left": event.seats_left,
        "registration_open": event.is_registration_open(now),
        "url": f"{base_url}/events/{event.id}",
        "ics_url": f"{base_url}/events/{event.id}/calendar.ics",
    }
    if event.status == "cancelled":
        body["cancelled_at"] = times.format_instant(event.cancelled_at, tz)
    return body


@dataclass(frozen=True)
class StaffToken:
    """A staff member's token as stored: only its hash, never the token itself."""

    name: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One staff action: who, what, when."""

    actor: str
    action: str
    target: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "at": times.format_instant(self.at, times.DEFAULT_ZONE),
            "details": self.details,
        }


# ------------------------------------------------------------ subscribers

REGISTRATION_STATUSES = ("pending", "confirmed", "waitlisted", "interested", "cancelled")
# A registration in one of these states is never put back to pending by a
# new submission of the form.
KEPT_STATUSES = ("confirmed", "waitlisted", "interested")


@dataclass(frozen=True)
class Person:
    """Someone who subscribed: the profile kept under a keyed hash of their address."""

    id: str
    email: str
    name: str
    organisation: str
    language: str
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    mail_stopped_at: datetime | None = None
    mail_stopped_reason: str | None = None
    confirm_mails: tuple[datetime, ...] = ()
    event_ids: frozenset[str] = frozenset()
    # Confirm links made before their times were kept (a profile written before ``tokens_made``): time unknown.
    # A submission moves them into ``tokens_made``, as made then; none is added here any more.
    token_hashes: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    # (made at, UTC as ``times.to_utc_iso``; hash) of each confirm link whose item may still be stored, oldest
    # first: a submission drops those past the item's TTL (``subscriptions.TOKEN_LISTED_FOR``).
    tokens_made: tuple[tuple[str, str], ...] = ()
    # Random, set when the profile is made: part of the HMAC of the person's links, so links of an erased
    # profile do not work for a new one of the same address. "" for profiles made before it (their links as before).
    link_salt: str = ""

    @property
    def receives_mail(self) -> bool:
        return self.mail_stopped_at is None

    @property
    def all_token_hashes(self) -> frozenset[str]:
        """Every confirm link of this person whose item may still be stored: what an erasure deletes."""
        return self.token_hashes | {token_hash for _, token_hash in self.tokens_made}

    def token_hashes_since(self, since: datetime) -> list[str]:
        """The confirm links made after ``since``, and those whose time is unknown (which may be), sorted."""
        after = times.to_utc_iso(since)
        return sorted(self.token_hashes | {token_hash for made, token_hash in self.tokens_made if made > after})


@dataclass(frozen=True)
class Registration:
    """One person's place (or wish) for one event."""

    event_id: str
    person_id: str
    email: str
    name: str
    organisation: str
    language: str
    status: str
    registered_at: datetime
    updated_at: datetime
    question: str = ""
    confirmed_at: datetime | None = None
    waitlisted_at: datetime | None = None
    cancelled_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ConfirmToken:
    """A double opt-in token as stored: its hash, whose it is, for which events, until when.

    It carries the submission it was mailed for (name, organisation, language,
    question): confirming applies those, whatever was submitted for the same
    address since (anyone can type someone's address into the form).
    ``used_at``: when a confirm began with it; ``done_at``: when one finished.
    """

    token_hash: str
    person_id: str
    event_ids: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    name: str = ""
    organisation: str = ""
    language: str = ""
    question: str = ""
    done_at: datetime | None = None


# ------------------------------------------------------------------ sends

SEND_KINDS = ("reminder", "change", "cancel", "open", "seat")
# pending: waits in the due index; claimed: a dispatcher holds it (its lease
# is ``due_at``); sent, skipped, failed: settled, out of the index.
SEND_STATES = ("pending", "claimed", "sent", "skipped", "failed")


@dataclass(frozen=True)
class Send:
    """One mail the service sends on its own: a reminder or a notice, to one person about one event.

    It holds no address, name or question: those are read at send time from
    the person, so erasure and "stop all mail" need no search through sends.
    """

    event_id: str
    person_id: str
    kind: str
    detail: str            # the reminder's offset (P1D), the change's sequence, or ""
    due: datetime          # when it should go out
    cutoff: datetime       # after this it is stale and skipped
    state: str = "pending"
    due_at: datetime | None = None  # the index's sort key: ``due``, a retry time, or a claim's lease end
    attempts: int = 0
    claimed_by: str | None = None
    message_id: str | None = None
    settled_at: datetime | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None

    @property
    def key(self) -> str:
        """The sort key within the event's partition: one send per person, kind and detail."""
        return f"SEND#{self.person_id}#{self.kind}" + (f"#{self.detail}" if self.detail else "")

    @property
    def next_at(self) -> datetime:
        return self.due_at or self.due

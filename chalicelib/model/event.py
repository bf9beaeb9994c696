"""The service's dataclasses and the validation of what people send in.

Validation (``chalicelib.input``) raises ``InvalidInput(field, code, message)`` and nothing else, whatever
the input: routes rely on that to answer 400 rather than 500. A change that
the event's state forbids (publishing a cancelled event, fewer seats than are
taken) raises ``Conflict`` (409) instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import times

KINDS = ("webinar", "in_person")
STATUSES = ("draft", "published", "cancelled")
SETTABLE_STATUSES = ("draft", "published")  # cancelled only through the cancel action
LANGUAGES = ("nl", "en")
DEFAULT_REMINDERS = ("P1D", "PT1H")
MIN_REMINDER = timedelta(minutes=5)
MAX_REMINDER = timedelta(days=60)
MAX_REMINDERS = 10
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
LOCATION_FIELD_MAX = 500
URL_MAX = 2_000
CAPACITY_MAX = 1_000_000
EVENT_LENGTH_MAX = timedelta(days=31)
ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")

# Fields whose change alters when or where the event is, or how to join it:
# registrants are told (a change notice).
MATERIAL_FIELDS = ("starts_at", "ends_at", "timezone", "location", "online_url")
# Fields whose change alters anything a calendar shows (render/ical.py): they
# raise SEQUENCE, so a calendar that has the event takes the new version
# (Google's subscriptions are reported to keep the old text otherwise). The
# kind shows as the place of an event without an address ("Online").
CALENDAR_FIELDS = ("title", "description", "kind", "status") + MATERIAL_FIELDS

WRITABLE_FIELDS = {
    "id", "kind", "status", "title", "description", "starts_at", "ends_at", "timezone",
    "location", "online_url", "capacity", "registration_opens_at",
    "registration_closes_at", "reminders",
}
# Fields a client may send back unchanged from a GET; they are ignored.
READ_ONLY_FIELDS = {
    "sequence", "created_at", "updated_at", "seats_left", "registration_open", "url",
    "ics_url", "counts", "cancelled_at", "cancellation_message",
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
    # What staff wrote when cancelling (nl, en; empty: nothing), which the cancellation mail carries.
    cancellation_message: dict[str, str] | None = None
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
    # How many registrations are waiting for a seat, and interested until registration opens: kept apart, like
    # ``seats_taken``, moved in the transaction that moves a registration, so that the console lists every
    # event with its counts from the one Query of the events.
    waiting_count: int = 0
    interested_count: int = 0

    @property
    def seats_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.seats_taken, 0)

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title["nl"]

    def cancellation_message_in(self, lang: str) -> str:
        message = self.cancellation_message or {}
        return message.get(lang) or message.get("nl", "")

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
            "cancellation_message": dict(self.cancellation_message) if self.cancellation_message else None,
            "unplanned": self.unplanned,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], seats_taken: int = 0, seat_freed_at: datetime | None = None,
                    waiting_count: int = 0, interested_count: int = 0) -> "Event":
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
            cancellation_message=dict(record["cancellation_message"]) if record.get("cancellation_message") else None,
            seats_taken=int(seats_taken),
            unplanned=record.get("unplanned"),
            seat_freed_at=seat_freed_at,
            waiting_count=max(int(waiting_count), 0),
            interested_count=max(int(interested_count), 0),
        )


# The registration statuses counted on the event item (confirmed ones are ``seats_taken``), by attribute.
COUNTED = {"waitlisted": "waiting_count", "interested": "interested_count"}


def count_changes(before: str | None, after: str) -> dict[str, int]:
    """How a registration's move from ``before`` (None: not known) to ``after`` moves the event's counts."""
    if before is None or before == after:
        return {}
    changes = {}
    if before in COUNTED:
        changes[COUNTED[before]] = -1
    if after in COUNTED:
        changes[COUNTED[after]] = 1
    return changes


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


def material_changes(before: Event, after: Event) -> list[str]:
    """Name the fields whose change registrants must hear about (time, place, join link)."""
    return [name for name in MATERIAL_FIELDS if getattr(before, name) != getattr(after, name)]


def calendar_changes(before: Event, after: Event) -> list[str]:
    """Name the fields whose change a calendar shows: each raises SEQUENCE (``CALENDAR_FIELDS``)."""
    return [name for name in CALENDAR_FIELDS if getattr(before, name) != getattr(after, name)]


def _sort_events(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.starts_at, e.id))


@dataclass(frozen=True)
class EventChange:
    """The outcome of a staff change: the event before and after, and what registrants must hear of."""

    before: Event
    after: Event
    material: list[str]


def _marked(before: Event, after: Event) -> Event:
    """``after``, noting the event as it was when its mails were last planned (kept if an earlier change's are not)."""
    return replace(after, unplanned=before.unplanned or {"before": replace(before, unplanned=None).to_record()})


def unplanned_change(event: Event) -> EventChange:
    """The change whose mails are still to plan: from the event as it was when they last were, to now."""
    if event.unplanned is None:
        return EventChange(before=event, after=event, material=[])
    before = Event.from_record(event.unplanned["before"], seats_taken=event.seats_taken)
    return EventChange(before=before, after=event, material=material_changes(before, event))


def _can_register(event: Event, now: datetime) -> bool:
    """Whether the form accepts this event: open now, or published and opening later."""
    if event.status != "published" or now >= event.starts_at:
        return False
    if event.registration_closes_at is not None and now >= event.registration_closes_at:
        return False
    return True

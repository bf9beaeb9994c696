"""Sends (reminders, notices, seat and opening mails): the dataclass and the pure planning rules.

When each kind is due, its cut-off and grace, and which registrations it is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from chalicelib import times
from chalicelib.model.event import Event
from chalicelib.model.person import Person, Registration

# ------------------------------------------------------------------ sends

SEND_KINDS = ("reminder", "change", "cancel", "open", "seat", "message")
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
    settled_at: datetime | None = None  # the tick's "now" (a --now moment, when one was given)
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    sent_at: datetime | None = None  # when SES took it, by the clock (not a --now moment): the access report's time

    @property
    def key(self) -> str:
        """The sort key within the event's partition: one send per person, kind and detail."""
        return f"SEND#{self.person_id}#{self.kind}" + (f"#{self.detail}" if self.detail else "")

    @property
    def next_at(self) -> datetime:
        return self.due_at or self.due


@dataclass(frozen=True)
class SendReads:
    """``Repository.read_for_sends``: people by id, events by id, registrations by (event id, person id)."""

    people: dict[str, Person]
    events: dict[str, Event]
    registrations: dict[tuple[str, str], Registration]


@dataclass(frozen=True)
class SlotWindow:
    """A stretch of time reserved for sending: [start, end), ``stored`` being the end as written."""

    start: float
    stored: str

    @property
    def end(self) -> float:
        return float(self.stored)

GRACE_SHARE = 0.25
GRACE_MIN = timedelta(minutes=5)
GRACE_MAX = timedelta(hours=6)
REGISTRATION_RETENTION = timedelta(days=180)


# ---------------------------------------------------------------- planning


def grace(offset: timedelta) -> timedelta:
    """How late a reminder sent ``offset`` before the start may still go out."""
    return min(max(offset * GRACE_SHARE, GRACE_MIN), GRACE_MAX)


def _expiry(event: Event, reg: Registration | None) -> datetime:
    return (reg.expires_at if reg is not None and reg.expires_at else None) or event.ends_at + REGISTRATION_RETENTION


def reminder_sends(event: Event, reg: Registration, now: datetime) -> list[Send]:
    """The reminders a confirmed registration calls for: one per offset whose time has not passed."""
    sends = []
    for text, offset in zip(event.reminders, event.reminder_offsets()):
        due = event.starts_at - offset
        if due <= now:
            continue
        sends.append(Send(event_id=event.id, person_id=reg.person_id, kind="reminder", detail=text, due=due,
                          cutoff=min(due + grace(offset), event.starts_at), expires_at=_expiry(event, reg)))
    return sends


def open_send(event: Event, reg: Registration, now: datetime) -> Send:
    """The "registration is open" mail for an interested person, due when registration opens."""
    due = max(event.registration_opens_at or now, now)
    ends = min(event.registration_closes_at or event.starts_at, event.starts_at)
    return Send(event_id=event.id, person_id=reg.person_id, kind="open", detail="", due=due, cutoff=ends,
                expires_at=_expiry(event, reg))


def seat_send(event: Event, reg: Registration, now: datetime) -> Send:
    """The "a seat is yours" mail for someone promoted from the waiting list: due now, until the start."""
    return Send(event_id=event.id, person_id=reg.person_id, kind="seat", detail="", due=now, cutoff=event.starts_at,
                expires_at=_expiry(event, reg))


MESSAGE_WINDOW = timedelta(days=2)  # a staff message not out within two days (SES down) is not sent late
# Due a minute after it is written: the writer checks each registration again after writing its send (a
# cancellation meanwhile undoes it), and no tick may claim the send before that check is done.
MESSAGE_DELAY = timedelta(minutes=1)


def message_send(event: Event, reg: Registration, message_id: str, details: dict[str, Any], now: datetime) -> Send:
    """A staff message to one registrant, due in a minute; ``detail`` is the message's id: each person gets it once.

    ``details`` holds what staff wrote (audience, subject, text): the tick reads
    nothing more to send it. It may go out after the event (the slides, a
    thank-you), so its cut-off is its own window, not the start.
    """
    return Send(event_id=event.id, person_id=reg.person_id, kind="message", detail=message_id, due=now + MESSAGE_DELAY,
                cutoff=now + MESSAGE_WINDOW, details=details, expires_at=_expiry(event, reg))


def _notice(event: Event, reg: Registration, kind: str, detail: str, now: datetime, cutoff: datetime,
            details: dict[str, Any]) -> Send:
    return Send(event_id=event.id, person_id=reg.person_id, kind=kind, detail=detail, due=now, cutoff=cutoff,
                details=details, expires_at=_expiry(event, reg))


def _pending(sends: Iterable[Send]) -> list[Send]:
    """The sends waiting for their time; a claimed one is being sent, and its tick records it."""
    return [s for s in sends if s.state == "pending"]


def _snapshot(event: Event) -> dict[str, Any]:
    """What a change notice shows as "was": time, place and join link before the change."""
    return {"starts_at": times.to_utc_iso(event.starts_at), "ends_at": times.to_utc_iso(event.ends_at),
            "timezone": event.timezone, "location": event.location.one_line() if event.location else "",
            "online_url": event.online_url or ""}
# Who a send is for, by kind: a send put back (throttled, or the tick out of
# time) was not held from its registration's moves, since cancelling drops
# only the sends no tick holds; when it is claimed again, the registration is
# read with the batch and must still be one of these.
STANDINGS = {"reminder": ("confirmed",), "seat": ("confirmed",), "change": ("confirmed", "waitlisted"),
             "open": ("interested",)}


# Who a send may be planned for: as STANDINGS, and a cancellation for everyone who was registered.
PLANNED_FOR = {**STANDINGS, "cancel": ("confirmed", "waitlisted", "interested")}


def standings(send: Send) -> tuple[str, ...]:
    """The registration statuses ``send`` is for when sent: by kind, or, for a staff message, the audience chosen."""
    if send.kind == "message":
        return tuple(send.details.get("audience", ()))
    return STANDINGS[send.kind]


# Where a registration may go while a send waits, without the send being dropped (a cancellation drops the
# registration's pending sends): someone interested registers, someone waiting gets a seat.
MOVES = {"interested": ("waitlisted", "confirmed"), "waitlisted": ("confirmed",), "confirmed": ()}


def audience_kept(audience: tuple[str, ...]) -> bool:
    """Whether no registration in ``audience`` can move out of it while its send waits (then the tick need
    not read the registration to send a message: {confirmed}, {confirmed, waitlisted}, all three)."""
    return all(status in audience for member in audience for status in MOVES.get(member, ()))


def planned_for(send: Send) -> tuple[str, ...]:
    """The registration statuses ``send`` may be planned for (``PLANNED_FOR``, or a message's audience)."""
    if send.kind == "message":
        return standings(send)
    return PLANNED_FOR[send.kind]

"""Seats and the waiting list: placing a registration, cancelling, giving free seats in order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib import config
from chalicelib.errors import Conflict, EventChanged
from chalicelib.model import send as send_model
from chalicelib.model.event import Event, _can_register
from chalicelib.model.person import KEPT_STATUSES, Registration, _waiting_order
from chalicelib.model.send import Send, _pending
from chalicelib.ports import Repository
from chalicelib.services.people import RETRIES, _retention_until


def sends_to_drop(repo: Repository, event_id: str, person_id: str) -> list[Send]:
    """The unsent mails of one registration, to delete when it is cancelled."""
    return _pending(repo.list_sends(event_id, person_id))


def _place_again(repo: Repository, event: Event, reg: Registration, now: datetime, *, settings: config.Settings,
                 done: tuple[str, ...] = KEPT_STATUSES,
                 details: dict[str, str] | None = None) -> tuple[str, str, Event]:
    """``place``, with a move that meets another transaction tried again: (status, "", event);
    ("already", the status found, event) if another request placed it.

    For a confirm link already spent, failing would leave the registration
    pending behind a link that answers 410; for a second click on a
    one-click link, it would show an error where the first click succeeded.
    An event changed by staff since it was read (``EventChanged``: a
    postponement, say) is read again, and the place worked out anew from it:
    its expiry and reminders come from the event's end and start. The event
    returned is the one placed with.
    """
    for attempt in range(RETRIES):
        try:
            return place(repo, event, reg, now, expect=(reg.status,), settings=settings), "", event
        except EventChanged:
            fresh_event = repo.get_event(event.id)
            if fresh_event is None:
                return "closed", "", event
            if attempt == RETRIES - 1:
                raise
            event = fresh_event
        except Conflict:
            fresh = repo.get_registrations(reg.person_id, [event.id]).get(event.id)
            if fresh is not None and fresh.status in done:
                return "already", fresh.status, event  # a double click's other request placed it
            if fresh is None or fresh.status != reg.status or attempt == RETRIES - 1:
                raise
            reg = replace(fresh, **(details or {}))
    raise AssertionError("unreachable")  # pragma: no cover


def place(repo: Repository, event: Event, reg: Registration, now: datetime, expect: tuple[str, ...] = ("pending",),
          *, settings: config.Settings) -> str:
    """Give a registration its place: a seat, the waiting list, or interest until registration opens.

    Every move is conditioned on ``event`` being as read (EventChanged otherwise, nothing written):
    the expiry and the reminders written come from it. The storage never lowers the expiry stored.
    """
    expiry = _retention_until(event, now, settings)
    if not _can_register(event, now):
        return "closed"
    # The mails a status calls for are planned in the same transaction as the
    # status itself (services/tick.py): nothing is lost between the two.
    if event.registration_not_open_yet(now):
        interested = replace(reg, status="interested", updated_at=now, expires_at=expiry)
        repo.move_registration(interested, expect=expect, put_sends=[send_model.open_send(event, interested, now)],
                               event_seen=event)
        return "interested"
    no_longer_interested = [send_model.open_send(event, reg, now)]
    seated = replace(reg, status="confirmed", confirmed_at=now, updated_at=now, expires_at=expiry)
    # A seat freed and not yet offered (Event.seat_freed_at) is owed to the
    # people waiting: a newcomer queues behind them, and the promotion that
    # follows gives the seats out in order.
    owed = event.capacity is not None and event.seat_freed_at is not None
    if not owed and repo.move_registration(seated, expect=expect, seat_change=1, capacity=event.capacity,
                                           put_sends=send_model.reminder_sends(event, seated, now),
                                           drop_sends=no_longer_interested, event_seen=event):
        return "confirmed"
    waiting = replace(reg, status="waitlisted", waitlisted_at=now, updated_at=now, expires_at=expiry)
    repo.move_registration(waiting, expect=expect, drop_sends=no_longer_interested, event_seen=event)
    return "waitlisted"


def _cancel(repo: Repository, event: Event, reg: Registration, now: datetime) -> None:
    cancelled = replace(reg, status="cancelled", cancelled_at=now, updated_at=now)
    unsent = sends_to_drop(repo, event.id, reg.person_id)
    if reg.status == "confirmed":
        repo.move_registration(cancelled, expect=("confirmed",), seat_change=-1, drop_sends=unsent)
    else:
        repo.move_registration(cancelled, expect=(reg.status,), drop_sends=unsent)
    # A staff change may have planned a send for this registration between the
    # read above and the move (it checks the registration after its write and
    # found it still standing): written first, read after, on both sides.
    dropped = {(u.event_id, u.key) for u in unsent}
    late = [s for s in sends_to_drop(repo, event.id, reg.person_id) if (s.event_id, s.key) not in dropped]
    if late:
        repo.delete_sends(late)
    if reg.status == "confirmed":
        promote_waiting(repo, event.id, now=now)


def promote_waiting(repo: Repository, event_id: str, *, now: datetime, quiet_for: str | None = None) -> list[str]:
    """Give free seats to the people waiting, in order; return whose registration was confirmed.

    Everyone promoted is mailed by the tick (a "seat" send, planned with the
    promotion: once, and retried if SES fails), except ``quiet_for`` (who is
    being told already).
    """
    promoted: list[str] = []
    event = repo.get_event(event_id)
    if event is None:
        return promoted
    if _seats_to_give(event, now):
        promoted = _promote(repo, event, now, quiet_for)
    if event.seat_freed_at is not None:  # offered (or no longer to be had): the tick need not take it up
        repo.seat_offered(event.id, event.seat_freed_at)
    return promoted


def _seats_to_give(event: Event, now: datetime) -> bool:
    return event.status == "published" and now < event.starts_at and (
        event.capacity is None or event.seats_taken < event.capacity)


def _promote(repo: Repository, event: Event, now: datetime, quiet_for: str | None) -> list[str]:
    promoted: list[str] = []
    waiting = sorted((r for r in repo.list_registrations(event.id) if r.status == "waitlisted"), key=_waiting_order)
    for reg in waiting:
        outcome, event = _seat(repo, event, reg, now, quiet_for)
        if outcome is None:
            break  # no seat left
        if outcome:
            promoted.append(reg.person_id)
    return promoted


def _seat(repo: Repository, event: Event, reg: Registration, now: datetime,
          quiet_for: str | None) -> tuple[bool | None, Event]:
    """Give one waiting person a seat: True if given, False if they are no longer waiting, None if none is left;
    with the event as last read.

    A move that fails while they are still waiting (another transaction on
    the event at that moment) is tried again: the next in line never jumps
    ahead of them. An event changed by staff since it was read (its times:
    the reminders) is read again. The registration keeps the expiry it has
    (a postponement raises it; the storage never lowers it).
    """
    for attempt in range(RETRIES):
        seated = replace(reg, status="confirmed", confirmed_at=now, updated_at=now)
        sends = send_model.reminder_sends(event, seated, now)
        if reg.person_id != quiet_for:
            sends.append(send_model.seat_send(event, seated, now))
        try:
            if not repo.move_registration(seated, expect=("waitlisted",), seat_change=1, capacity=event.capacity,
                                          put_sends=sends, event_seen=event):
                return None, event
            return True, event
        except EventChanged:
            fresh_event = repo.get_event(event.id)
            if fresh_event is None or not _seats_to_give(fresh_event, now):
                return None, event  # cancelled, started or full meanwhile: no seat to give now
            if attempt == RETRIES - 1:
                raise
            event = fresh_event
        except Conflict:
            fresh = repo.get_registrations(reg.person_id, [event.id]).get(event.id)
            if fresh is None or fresh.status != "waitlisted":
                return False, event  # they cancelled (or were seated) meanwhile
            if attempt == RETRIES - 1:
                raise
            reg = fresh
    return False, event  # pragma: no cover - the loop returns or raises

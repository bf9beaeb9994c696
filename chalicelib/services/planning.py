"""Planning sends when events and registrations change, and keeping registrations until after their event.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import config, times
from chalicelib.errors import Conflict, Unavailable
from chalicelib.model import event as event_model
from chalicelib.model.event import Event
from chalicelib.model.person import KEPT_STATUSES
from chalicelib.model.send import Send, _notice, _pending, _snapshot, open_send, planned_for, reminder_sends
from chalicelib.ports import Repository
from chalicelib.render.mails import _changed
from chalicelib.services.people import RETRIES, _change_person, _retention_until
from chalicelib.services.seats import promote_waiting

log = logging.getLogger(__name__)


def on_event_change(repo: Repository, before: Event, after: Event, material: list[str], now: datetime) -> dict[str, int]:
    """Plan what a staff change calls for: notices, rescheduled reminders, registration-open mails.

    Safe to run twice for the same change: notices are keyed by what they
    announce and written only where absent.
    """
    planned = {"notices": 0, "rescheduled": 0, "dropped": 0}
    if before.status == after.status and not material and before.reminders == after.reminders \
            and before.registration_opens_at == after.registration_opens_at \
            and before.registration_closes_at == after.registration_closes_at:
        return planned
    regs = repo.list_registrations(after.id)
    existing = {(s.person_id, s.key): s for s in repo.list_sends(after.id)}

    if after.status == "cancelled":
        # What a tick holds is not deleted: it checks the event, records the
        # send skipped ("event cancelled"), or sent if SES had it already.
        planned["dropped"] = sum(repo.delete_sends(_pending(existing.values())))
        if before.status == "published" and before.starts_at > now:
            # Only who had a seat had the event in their calendar (the invite): the others get no .ics.
            notices = [_notice(after, r, "cancel", "", now, before.starts_at,
                               {} if r.status == "confirmed" else {"seat": False})
                       for r in regs if r.status in ("confirmed", "waitlisted", "interested")]
            planned["notices"] = put_planned(repo, notices, overwrite=False)
        return planned
    if after.status != "published" or after.starts_at <= now:
        return planned

    confirmed = [r for r in regs if r.status == "confirmed"]
    put: list[Send] = []
    drop: list[Send] = []
    if material and before.status == "published":
        # An unsent notice of an earlier change is folded into this one: one
        # mail says everything that changed since the person last heard. Only
        # one that is still there to delete (no tick is sending it) is folded.
        # People waiting hear of it too (without the join link or the .ics):
        # a new date may be one they cannot make, and they can leave the list.
        told = [r for r in regs if r.status in ("confirmed", "waitlisted")]
        told_ids = {r.person_id for r in told}
        older = [s for s in existing.values() if s.kind == "change" and s.state == "pending"
                 and s.detail != str(after.sequence) and s.person_id in told_ids]
        folded = [s for s, gone in zip(older, repo.delete_sends(older)) if gone]
        planned["dropped"] += len(folded)
        notices = []
        for reg in told:
            fields, was = list(material), _snapshot(before)
            earlier = sorted((s for s in folded if s.person_id == reg.person_id), key=lambda s: int(s.detail or 0))
            for notice in earlier:
                fields = sorted(set(fields) | set(notice.details.get("material", [])))
            if earlier:  # "was": what the person last heard, before the earliest change not yet sent
                was = earlier[0].details.get("before", was)
            details: dict[str, Any] = {"material": sorted(fields), "before": was}
            if reg.status != "confirmed":
                if not {"time", "place"} & set(_changed(fields)):
                    continue  # only the join link changed: not theirs to have yet
                details["seat"] = False
            notices.append(_notice(after, reg, "change", str(after.sequence), now, after.starts_at, details))
        planned["notices"] = put_planned(repo, notices, overwrite=False)

    if before.starts_at != after.starts_at or before.reminders != after.reminders or before.status != "published":
        for reg in confirmed:
            wanted = {s.key: s for s in reminder_sends(after, reg, now)}
            for key, send in wanted.items():
                if _follows(existing.get((reg.person_id, key)), send):
                    put.append(send)
            drop += [s for s in existing.values() if s.person_id == reg.person_id and s.kind == "reminder"
                     and s.state == "pending" and s.key not in wanted]

    if (before.registration_opens_at != after.registration_opens_at
            or before.registration_closes_at != after.registration_closes_at or before.status != "published"):
        for reg in (r for r in regs if r.status == "interested"):
            send = open_send(after, reg, now)
            current = existing.get((reg.person_id, send.key))
            if current is None or _moved(current, send):
                put.append(send)
    planned["dropped"] += sum(repo.delete_sends(drop))
    planned["rescheduled"] = put_planned(repo, put, overwrite=True)
    return planned


def put_planned(repo: Repository, sends: list[Send], *, overwrite: bool) -> int:
    """Write sends planned from registrations read a moment ago, then undo those whose registration moved meanwhile.

    A person who cancelled, or was erased, between the read and the write
    would otherwise get a reminder (a first claim does not read the
    registration) or leave sends with their id behind. Erasure cancels the
    registrations before it deletes them and their sends, and the read here
    comes after the write: whichever order the two take, no planned send
    outlives its registration. Only sends still pending are undone; a record
    of one sent stays.
    """
    written = repo.put_sends(sends, overwrite=overwrite)
    if not sends:
        return written
    keys = list(dict.fromkeys((s.event_id, s.person_id) for s in sends))
    regs = repo.read_for_sends([], [], keys).registrations
    moved = {(s.event_id, s.person_id, s.key) for s in sends
             if (reg := regs.get((s.event_id, s.person_id))) is None or reg.status not in planned_for(s)}
    if not moved:
        return written
    undo = [current for event_id, person_id in dict.fromkeys((e, p) for e, p, _ in moved)
            for current in repo.list_sends(event_id, person_id)
            if (event_id, person_id, current.key) in moved and current.state == "pending"]
    log.info("planned sends undone: their registration moved meanwhile (%d)", len(undo))
    return max(written - sum(repo.delete_sends(undo)), 0)


def _follows(current: Send | None, wanted: Send) -> bool:
    """Whether a reminder is (re)planned as ``wanted``: unsent ones follow the event; sent ones keep their record."""
    if current is None:
        return True
    if current.state == "pending":
        return _moved(current, wanted)
    # Skipped (the event was a draft, say) never reached the person; but one
    # "interrupted" may have, and "sent" and "failed" (rejected, or maybe
    # taken by SES) are never sent again.
    return current.state == "skipped" and not (current.reason or "").startswith("interrupted")


def _moved(current: Send, wanted: Send) -> bool:
    """A send still waiting whose time or cut-off is no longer the one wanted."""
    return current.state == "pending" and (current.due, current.cutoff) != (wanted.due, wanted.cutoff)


# ------------------------------------------------------------------ staff


def after_event_change(repo: Repository, change: Any, *, settings: config.Settings,
                       now: datetime | None = None) -> None:
    """What a staff change means for registrants: notices and rescheduled reminders, more seats for the people waiting.

    The mails themselves go out from the next tick (reminders.send_due), each
    claimed once.
    """
    now = now or times.now()
    before, after = change.before, change.after
    if after.ends_at > before.ends_at and after.status != "cancelled":
        # first: the reminders planned next take the registrations' expiry
        keep_until_after(repo, after, now, settings=settings)
    on_event_change(repo, before, after, list(change.material), now)
    if after.capacity is not None and (before.capacity is None or after.capacity > before.capacity) or \
            (before.capacity is not None and after.capacity is None):
        promote_waiting(repo, after.id, now=now)
    if after.unplanned is not None:
        try:
            repo.update_event(replace(after, unplanned=None), previous=after)  # all planned
        except Conflict:
            pass  # changed again meanwhile: the later change plans from the same "before", this one included


def keep_until_after(repo: Repository, event: Event, now: datetime, *, settings: config.Settings) -> int:
    """An event that moved later keeps its registrants as confirming it now would: until its new end plus retention.

    Registrations (confirmed, waiting or interested) and their profiles are
    kept until a set time after the event's end (``_retention_until``),
    fixed when they were confirmed. A postponement past that time would let
    DynamoDB's TTL delete them, and their reminders, before the event. Each
    is raised, never lowered; a registration or profile changed meanwhile is
    read again. Pending registrations keep their own short expiry. Safe to
    run twice; return how many registrations were raised.
    """
    until = _retention_until(event, now, settings)
    raised, kept = 0, set()
    for reg in repo.list_registrations(event.id):
        for attempt in range(RETRIES):
            if reg is None or reg.status not in KEPT_STATUSES:
                break
            kept.add(reg.person_id)
            if (reg.expires_at or until) >= until:
                break
            try:
                repo.move_registration(replace(reg, expires_at=until), expect=(reg.status,))
                raised += 1
                break
            except Conflict:
                if attempt == RETRIES - 1:
                    raise
                reg = repo.get_registrations(reg.person_id, [event.id]).get(event.id)
    for person in repo.get_people(sorted(kept)).values():
        if _change_person(repo, person, lambda p: None if (p.expires_at or until) >= until else {"expires_at": until},
                          now, gone_ok=True) is not None:
            # The mails they were sent are listed as long as the profile lasts; raised even when the profile
            # was already (a run that stopped between the two writes, taken up again), writing only if needed.
            repo.keep_mails(person.id, until)
    return raised


def plan_unplanned(repo: Repository, now: datetime, *, settings: config.Settings,
                   settle_for: timedelta = timedelta(minutes=1)) -> int:
    """Plan what failed to be planned (the tick, each minute); return how many events it took up.

    The mails of a staff change (``Event.unplanned``), and a freed seat not
    yet offered to the people waiting (``Event.seat_freed_at``). One younger
    than ``settle_for`` is left to the request that made it.
    """

    done = 0
    for event in repo.list_events():
        try:
            if event.unplanned is not None and not (event.updated_at and event.updated_at > now - settle_for):
                after_event_change(repo, event_model.unplanned_change(event), settings=settings, now=now)
                done += 1
            elif event.seat_freed_at is not None and event.seat_freed_at <= now - settle_for:
                promote_waiting(repo, event.id, now=now)  # a seat freed, and its promotion failed
                done += 1
        except (Conflict, Unavailable) as exc:
            log.warning("planning the mails of a change to %s failed again: %s", event.id, type(exc).__name__)
    return done

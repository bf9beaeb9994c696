"""What the manage page shows: a person's registrations, their state and place in line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.model.event import Event, _can_register
from chalicelib.model.expiry import CONFIRM_VALIDITY
from chalicelib.model.mail import Links
from chalicelib.model.person import Person, Registration, _waiting_order
from chalicelib.ports import Repository
from chalicelib.render.ical import CalendarLinks, add_to_calendar_links
from chalicelib.render.mails import person_links
from chalicelib.services.people import _events_by_id

# ----------------------------------------------------------------- manage


@dataclass(frozen=True)
class ManageView:
    """What the manage page shows.

    ``waiting`` and ``interested``: the events (published, not started) where the
    person waits for a seat, or for registration to open. What they wait for is
    told by mail only: stopping all mail means not hearing of it.

    ``unconfirmed``: the events whose registration waits for a confirmation no
    link can give any more (expired, used, or never mailed: the form's limit
    held it back) and that still take registrations: a new confirmation mail
    (``resend_from_manage``) or a cancel is the way on.
    """

    person: Person
    registrations: list[tuple[Event, Registration]]
    links: Links
    waiting: tuple[Event, ...] = ()
    interested: tuple[Event, ...] = ()
    unconfirmed: tuple[Event, ...] = ()
    places: dict[str, int] = field(default_factory=dict)  # event id -> the person's place on its waiting list
    # event id -> the add-to-calendar links of an event the person has a seat for (published, not ended): with
    # the join link, as the confirmation had them (``CalendarLinks.for_seat``); and that mail's invitation.
    calendar: dict[str, CalendarLinks] = field(default_factory=dict)
    invites: dict[str, str] = field(default_factory=dict)  # event id -> its invitation's address (invite.ics)
    offered: tuple[Event, ...] = ()  # events to register for with one click (``offered_events``)

    @property
    def unconfirmed_ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self.unconfirmed)


def offered_events(repo: Repository, person: Person, now: datetime, regs: dict[str, Registration] | None = None,
                   events: dict[str, Event] | None = None) -> list[Event]:
    """The events a confirmed person may register for with one click from their manage page: published, taking
    registrations (open now, or opening later: then the click asks for a mail when it opens, as the form
    does), and with no registration of theirs (or a cancelled one), soonest first."""
    if person.confirmed_at is None:
        return []  # the name on a profile never confirmed is anyone's word: the form and its mail are the way
    if regs is None:
        regs = repo.get_registrations(person.id, sorted(person.event_ids))
    return sorted((e for e in (events if events is not None else _events_by_id(repo)).values()
                   if e.status == "published" and _can_register(e, now)
                   and (e.id not in regs or regs[e.id].status == "cancelled")),
                  key=lambda e: (e.starts_at, e.id))


def _linked_events(repo: Repository, person: Person, regs: dict[str, Registration], now: datetime) -> frozenset[str]:
    """The events that a confirm link mailed to the person, and still working, is for.

    A link for an event is made in the same write as its pending registration,
    so none outlives that registration's last change by more than
    ``CONFIRM_VALIDITY``: the person's links are read only while a pending
    registration is younger than that, and only those made within it (at most
    two days' confirmation mails; ``Person.token_hashes_since``), in one
    BatchGetItem (no Scan).
    """
    if not any(r.status == "pending" and r.updated_at + CONFIRM_VALIDITY > now for r in regs.values()):
        return frozenset()
    linked: set[str] = set()
    found = repo.get_confirm_tokens(person.token_hashes_since(now - CONFIRM_VALIDITY))
    for _, stored in sorted(found.items()):
        if stored.expires_at <= now or stored.done_at is not None or (
                stored.used_at is not None and not stored.name):  # as _live_token: expired, or used and done
            continue
        linked.update(stored.event_ids)
    return frozenset(linked)


def _person_view(repo: Repository, person: Person, *, base_url: str, key: bytes, now: datetime,
                 pending: bool = True) -> ManageView:
    """The person's ``ManageView``; with ``pending`` False (the unsubscribe page, which shows no registrations),
    their pending registrations are left out and no confirm link is read."""
    events = _events_by_id(repo)
    regs = repo.get_registrations(person.id, sorted(person.event_ids))
    if not pending:
        regs = {e: r for e, r in regs.items() if r.status != "pending"}
    linked = _linked_events(repo, person, regs, now)

    def shown(event: Event, reg: Registration) -> bool:
        if reg.status != "pending":
            return True
        if reg.expires_at is not None and reg.expires_at <= now:
            return False  # lapsed unconfirmed; the table's TTL deletes it
        return event.id in linked or _can_register(event, now)

    rows = sorted(((events[e], r) for e, r in regs.items() if e in events and shown(events[e], r)),
                  key=lambda row: row[0].starts_at)

    def awaiting(status: str) -> tuple[Event, ...]:
        return tuple(e for e, r in rows if r.status == status and e.status == "published" and now < e.starts_at)

    unconfirmed = tuple(e for e, r in rows if r.status == "pending" and e.id not in linked and _can_register(e, now))
    waiting = awaiting("waitlisted")
    places = {e.id: _place_in_line(repo, e.id, regs[e.id]) for e in waiting} if pending else {}
    seats = [e for e, r in rows if r.status == "confirmed" and e.status == "published" and e.ends_at > now] \
        if pending else []
    links = person_links(person, base_url, key)
    return ManageView(person=person, registrations=rows, links=links,
                      waiting=waiting, interested=awaiting("interested"), unconfirmed=unconfirmed,
                      places={e: p for e, p in places.items() if p},
                      calendar={e.id: add_to_calendar_links(e, lang=person.language, base_url=base_url,
                                                            include_join_link=True) for e in seats},
                      invites={e.id: f"{links.manage}/events/{e.id}/invite.ics" for e in seats},
                      offered=tuple(offered_events(repo, person, now, regs, events)) if pending else ())


def _place_in_line(repo: Repository, event_id: str, reg: Registration) -> int | None:
    """The person's place on the event's waiting list (1: the next free seat is theirs); one Query of the event."""
    if reg.status != "waitlisted":
        return None
    mine = _waiting_order(reg)
    return 1 + sum(1 for r in repo.list_registrations(event_id)
                   if r.status == "waitlisted" and r.person_id != reg.person_id and _waiting_order(r) < mine)

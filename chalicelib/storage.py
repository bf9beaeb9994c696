"""Repositories: one small interface, an in-memory fake and DynamoDB.

One table, generic keys ``PK`` and ``SK``. Key layout:

==================  =========================  ===========================  ==========================================
item                PK                         SK                           attributes
==================  =========================  ===========================  ==========================================
event               ``EVENTS``                 ``EVENT#<event_id>``         body (JSON), updated_at, seats_taken (N), seat_freed_at
staff token         ``STAFFTOKEN#<sha256>``    ``TOKEN``                    name, created_at, revoked_at
staff member        ``STAFF#<name>``           ``STAFF``                    token_hashes (SS)
audit entry         ``AUDIT``                  ``<utc iso>#<random>``       actor, action, target, details; TTL
person              ``PERSON#<person_id>``     ``PROFILE``                  body (JSON), updated_at; TTL
registration        ``EVENT#<event_id>``       ``REG#<person_id>``          body (JSON), status; TTL
confirm token       ``TOKEN#<sha256>``         ``TOKEN``                    body (JSON), used_at, done_at, valid_until; TTL
feed version        ``FEED``                   ``CALENDAR#<lang>#V#<n>``    body (B, gzip), etag, built_at; TTL
send slots          ``RATE``                   ``SES``                      slots_end (N, epoch seconds)
erasure mark        ``TICK#<tick id>``         ``ERASED``                   (set for a tick holding an erased person's
                                                                            sends; TTL)
send                ``EVENT#<event_id>``       ``SEND#<person_id>#<kind>``  body (JSON: state, due, cutoff, attempts,
                                               ``[#<detail>]``              message_id, reason, details, due_at); ``due_pk``
                                                                            and ``due_at`` while pending or claimed;
                                                                            ``claimed_by`` while claimed; TTL
==================  =========================  ===========================  ==========================================

``person_id`` is a keyed hash of the normalised address (subscriptions.py),
so finding a person by address is one GetItem, and a key never shows the
address itself.

``<n>`` is the version number: epoch seconds, zero-padded to 12 digits so
that the sort key orders versions (see ``feed_snapshots.py``).

Access patterns, each one request:

- list every event: Query ``PK = EVENTS`` (a handful of events a year;
  one partition keeps the list one Query, never a Scan).
- read one event: GetItem.
- create an event: PutItem, condition the key does not exist (409 otherwise).
- change an event: PutItem, condition ``updated_at`` is what was read
  (optimistic lock; ``seats_taken`` is kept apart so a change never clobbers
  a seat count moved meanwhile).
- check a staff token: GetItem by the token's hash.
- revoke by name: GetItem of the member, then one TransactWriteItems.
- recent audit: Query ``PK = AUDIT`` newest first with a Limit.
- a person: GetItem; their registrations: BatchGetItem of
  ``EVENT#<id>/REG#<person_id>`` for the ids their profile lists.
- an event's registrations (staff list, counts, waiting list): Query
  ``PK = EVENT#<id>``, ``SK begins_with REG#``.
- subscribe: one TransactWriteItems (profile, registrations, token); a
  registration already confirmed, waiting or interested fails the condition
  and is never downgraded.
- take or free a seat: one TransactWriteItems moving the registration's
  status (conditioned on its current status) and ``seats_taken`` on the
  event (conditioned on ``seats_taken < capacity``): two people can never
  both take the last seat. Freeing one also sets ``seat_freed_at`` on the
  event, which ``promote_waiting`` removes (UpdateItem, conditioned on the
  value it read) once the people waiting have been offered it.
- never lower an expiry (TTL): a move of a registration is also conditioned on
  its stored ``expires_at`` being no later than the one written; when it is
  later (raised by a postponement meanwhile), the transaction's cancellation
  reason returns the stored item (``ReturnValuesOnConditionCheckFailure``) and
  the move is written again with that expiry, its sends with it: no extra read.
  A profile's put is conditioned on the ``updated_at`` read, and keeps the
  later of the two expiries.
- a move worked out from the event as read (a confirm, a one-click register,
  a promotion: their expiry and reminders come from its end and start) is
  conditioned on the event's ``updated_at`` still being the one read: in the
  seat update where it takes a seat, else in a no-op update of the event in
  the same transaction. If staff changed the event meanwhile, nothing is
  written (``EventChanged``) and the caller reads the event again.
- use a confirm token: UpdateItem conditioned on not used and not expired.
- a person's confirm links that may still work (the manage page): one
  BatchGetItem of ``TOKEN#<sha256>`` for those their profile lists as made
  within the links' validity (``Person.tokens_made``).
- every single conditional write (event, profile, token use) also sets a
  random ``write_id``: when botocore retries a call whose answer was lost,
  the retry fails its condition on our own write, and one GetItem tells
  that it landed (transactions need no such help: their retries reuse the
  request token).
- erase a person: delete the profile, every registration and token it lists
  (a profile lists each token until the token's TTL has passed),
  and their sends (one Query per event they registered for); before the
  sends, one PutItem of the erasure mark of each tick holding one of them.
- sends (reminders and notices, reminders.py): planned with the registration's
  status move in the same TransactWriteItems (confirm, promotion, one-click
  register; dropped on cancellation), or in transactions of up to 100 puts
  (fan-out of a notice, rescheduling). An event's or a person's sends: Query
  ``PK = EVENT#<id>``, ``SK begins_with SEND#[<person_id>#]``.
- what is due: Query the sparse index ``due`` with ``due_pk = DUE AND due_at <= now``
  (only pending and claimed sends carry ``due_pk`` and ``due_at``). Claim:
  TransactWriteItems of up to 100 conditional puts, each conditioned on the
  ``due_at`` the dispatcher read (a claim moves ``due_at`` to the claim's lease
  end, so a second claim of the same read fails, and a settled send has none).
  Settle: TransactWriteItems of up to 100 puts. A send whose recipient the
  tick found after claiming it (a profile made before the claim; on a first
  try, while the lease holds: ``reminders._Tick.record``) is put with no
  condition of its own; each such transaction carries one ConditionCheck
  that the tick's erasure mark (``TICK#<tick id>``) does not exist. The rest,
  and every send of a transaction that fails, are put conditioned on
  ``claimed_by``.
  Replanning (``put_sends`` with overwrite) is conditioned on no ``claimed_by``,
  so it never overwrites a claim. What a batch needs: one strongly consistent
  BatchGetItem of its profiles, its events and the registrations of sends
  claimed before (``read_for_sends``).
- keep to SES's rate across ticks: UpdateItem of ``RATE/SES`` per window of
  sends (a batch), moving ``slots_end`` on from the value last seen (or from
  now, when it lies in the past); a tick that lost the race retries from the
  value its failed condition returned. Windows of different ticks never overlap.
- poll the public feed: Query ``PK = FEED AND SK BETWEEN`` the client's
  version and now, newest first, ``Limit 1``: one read, and nothing read at
  all when the client is current (304).
- store feed versions: PutItem of each scheduled version, then PutItem of the
  current one, condition its key does not exist. Old versions go by TTL.

The table also carries a sparse global secondary index ``due`` (``due_pk``,
``due_at``) for sends that are due, and TTL on ``expires_at`` (epoch
seconds) for data that must go after its time.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Collection, Sequence

from . import times
from . import codec
from .errors import Conflict, Gone, NotFound, PartialWrite, Unavailable
from .feed_snapshots import FeedVersion
from .models import AuditEntry, ConfirmToken, Event, Person, Registration, Send, StaffToken

log = logging.getLogger(__name__)

DUE_INDEX = "due"
DUE_PARTITION = "DUE"
TRANSACTION_MAX = 100
TRANSACTION_ROUNDS = 3  # a cancelled transaction's survivors are tried together this often, then alone
TTL_ATTRIBUTE = "expires_at"
ERASURE_MARK_KEEP = timedelta(days=1)  # far longer than any tick lives (its lease, 5 minutes)
SLOTS_AHEAD_MAX = 600.0  # seconds: a reserved end further ahead than this is taken as broken, not waited for
SLOTS_WINDOW_MIN = 1.0   # seconds: a window is never shorter, so a fast rate does not cost a write per send
SLOTS_TRIES = 8          # reservations tried against other ticks' before giving up for this tick
AUDIT_RETENTION = timedelta(days=730)
# A confirm token's item is kept this long past the link's expiry (its TTL), so an old link answers 410, not 404.
TOKEN_KEPT_AFTER_EXPIRY = timedelta(days=30)
# A feed version is superseded within days; the newest one being cleared after
# this long unchanged only means the next poll renders it again.
FEED_VERSION_RETENTION = timedelta(days=400)


EXPIRY_TRIES = 4  # a move whose registration's expiry was raised meanwhile is written again with it, this often
CONFLICT_TRIES = 4      # a plain write meeting a transaction on its item: tries, 25, 50, 100 ms apart
CONFLICT_PAUSE = 0.025


class EventChanged(Conflict):
    """A move worked out from the event as read (``event_seen``) met the event changed since: read it again."""


def _later_expiry(written: datetime | None, stored: datetime | None) -> datetime | None:
    """The expiry to write over ``stored``: never an earlier one (compared as TTL compares, in whole seconds)."""
    if written is None or stored is None or _epoch(stored) <= _epoch(written):
        return written
    return stored


def _raised(registration: Registration, sends: Sequence[Send],
            expiry: datetime | None) -> tuple[Registration, list[Send]]:
    """The registration with ``expiry`` (never lowered), and its sends expiring no sooner than it."""
    if expiry is None or registration.expires_at == expiry:
        return registration, list(sends)
    registration = replace(registration, expires_at=expiry)
    return registration, [replace(s, expires_at=expiry) if s.expires_at is not None and s.expires_at < expiry else s
                          for s in sends]


class Repository(ABC):
    """What the service needs from storage. Both implementations pass ``tests/test_storage.py``."""

    # events
    @abstractmethod
    def create_event(self, event: Event) -> None:
        """Store a new event; raise Conflict if its id is taken."""

    @abstractmethod
    def get_event(self, event_id: str) -> Event | None:
        """Return the event or None."""

    @abstractmethod
    def list_events(self) -> list[Event]:
        """Return every event, drafts and cancelled included, soonest first."""

    @abstractmethod
    def update_event(self, event: Event, *, previous: Event) -> None:
        """Replace ``previous`` with ``event``; raise Conflict if it changed since it was read."""

    @abstractmethod
    def seat_offered(self, event_id: str, freed_at: datetime) -> None:
        """Clear the event's freed-seat mark, if it is still ``freed_at`` (no seat was freed since)."""

    # staff
    @abstractmethod
    def add_staff_token(self, token: StaffToken) -> None:
        """Store a new staff token's hash under its member's name."""

    @abstractmethod
    def get_staff_token(self, token_hash: str) -> StaffToken | None:
        """Return the token with that hash, revoked or not, or None."""

    @abstractmethod
    def revoke_staff_tokens(self, name: str, at: datetime) -> int:
        """Revoke every live token of ``name``; return how many were revoked."""

    # audit
    @abstractmethod
    def add_audit(self, entry: AuditEntry) -> None:
        """Record one staff action."""

    @abstractmethod
    def list_audit(self, limit: int = 100) -> list[AuditEntry]:
        """Return the most recent staff actions, newest first."""

    # people and registrations
    @abstractmethod
    def suppression(self, digest: str) -> str | None:
        """Why the address with this keyed hash (bounces.address_hash) gets no more mail ("bounce", "complaint"), or None."""

    @abstractmethod
    def suppress(self, digest: str, reason: str) -> None:
        """Record that the address with this keyed hash gets no more mail, and why."""

    @abstractmethod
    def get_person(self, person_id: str) -> Person | None:
        """Return the person or None."""

    @abstractmethod
    def save_person(self, person: Person, *, previous: Person | None) -> None:
        """Write a profile; raise Conflict if it changed since ``previous`` was read (or exists, when None).

        Its expiry is never lowered: the later of ``person``'s and ``previous``'s is written.
        """

    @abstractmethod
    def get_registrations(self, person_id: str, event_ids: list[str]) -> dict[str, Registration]:
        """Return the person's registrations for those events, by event id."""

    @abstractmethod
    def read_for_sends(self, person_ids: Sequence[str], event_ids: Sequence[str],
                       registrations: Sequence[tuple[str, str]] = ()) -> "SendReads":
        """What a batch of sends needs, read as it is now (strongly consistent): the people, the events,
        and the (event id, person id) registrations asked for; those that exist, by id or by key."""

    @abstractmethod
    def list_registrations(self, event_id: str) -> list[Registration]:
        """Return every registration for the event, oldest first."""

    @abstractmethod
    def save_subscription(self, person: Person, *, previous: Person | None,
                          registrations: list[Registration], token: ConfirmToken | None) -> None:
        """Write a submission at once; raise Conflict if the profile moved or a registration is kept (confirmed, waiting, interested)."""

    @abstractmethod
    def move_registration(self, registration: Registration, *, expect: tuple[str, ...],
                          seat_change: int = 0, capacity: int | None = None,
                          put_sends: Sequence[Send] = (), drop_sends: Sequence[Send] = (),
                          event_seen: Event | None = None) -> bool:
        """Replace a registration whose status is one of ``expect``, moving the event's seat count by ``seat_change``.

        ``put_sends`` are written and ``drop_sends`` deleted in the same
        transaction, so a status and the mails it calls for never part.
        Return False, writing nothing, when a seat is asked for and none is
        left; raise Conflict when the registration is no longer in ``expect``,
        or when a tick holds one of ``drop_sends`` (it is being sent: deleted,
        it would leave no record; a moment later it is settled).

        The registration's expiry is never lowered: when the stored one is
        later (a postponement raised it meanwhile), it is kept, and
        ``put_sends`` expire no sooner than it. With ``event_seen`` (the event
        the move was worked out from), raise EventChanged, writing nothing,
        if the event has changed since it was read.
        """

    @abstractmethod
    def get_confirm_token(self, token_hash: str) -> ConfirmToken | None:
        """Return the confirm token with that hash, or None."""

    @abstractmethod
    def get_confirm_tokens(self, token_hashes: Sequence[str]) -> dict[str, ConfirmToken]:
        """Return the confirm tokens with those hashes that exist, by hash (read as ``get_confirm_token`` reads)."""

    @abstractmethod
    def use_confirm_token(self, token_hash: str, now: datetime, *, seen: datetime | None = None) -> None:
        """Mark a token used; raise Gone if it was used already (other than at ``seen``), is done, or has expired.

        ``seen``: the use read before, for a confirm taken up again; only one of
        two presses that read it can take it.
        """

    @abstractmethod
    def finish_confirm_token(self, token_hash: str, now: datetime) -> None:
        """Mark a used token's confirm finished (``done_at``); a token gone meanwhile (erased) is left gone."""

    @abstractmethod
    def erase_person(self, person: Person) -> None:
        """Delete the profile and every registration, token (``Person.all_token_hashes``) and send it lists.

        Conflict if the profile changed since ``person`` was read (a submission
        saved meanwhile lists more): read it again and erase that.
        """

    @abstractmethod
    def get_people(self, person_ids: Sequence[str]) -> dict[str, Person]:
        """Return the people with those ids that exist, by id."""

    # sends (reminders.py)
    @abstractmethod
    def put_sends(self, sends: Sequence[Send], *, overwrite: bool) -> int:
        """Write sends; return how many were written.

        With ``overwrite`` a send replaces one with the same key unless that one
        is claimed; without, a send whose key exists is left as it is (so a
        fan-out run twice mails once).
        """

    @abstractmethod
    def delete_sends(self, sends: Sequence[Send]) -> list[bool]:
        """Delete these sends (by key) unless a tick holds them (claimed): it sends and records them. Return which went."""

    @abstractmethod
    def list_sends(self, event_id: str, person_id: str | None = None) -> list[Send]:
        """Return the event's sends, or one person's sends for it."""

    def due_sends(self, now: datetime, limit: int) -> list[Send]:
        """Return up to ``limit`` pending or claimed sends whose ``due_at`` has come, earliest first."""
        return self.due_page(now, limit)[0]

    @abstractmethod
    def due_page(self, now: datetime, limit: int) -> tuple[list[Send], bool]:
        """``due_sends``, and whether more may be due beyond them (False: that was all, as of ``now``)."""

    @abstractmethod
    def claim_sends(self, sends: Sequence[Send], *, by: str, lease_until: datetime) -> list[Send]:
        """Claim sends as read from ``due_sends``; return those this claim won (others were taken meanwhile)."""

    @abstractmethod
    def settle_sends(self, sends: Sequence[Send], *, by: str, found: Collection[str] = ()) -> int:
        """Record the outcome of sends claimed by ``by`` (their new state); return how many were recorded.

        A send erased meanwhile is not written back. ``found``: people whose
        profiles the tick read after claiming their sends, made before the
        claim, while its lease holds; an erasure of one of them comes after
        the claim, so it sees the claim and marks the tick (``erase_person``),
        and their sends are written without asking whether ``by`` still holds
        them unless the tick is marked. Every other send is written only if
        ``by`` still holds it.
        """

    @abstractmethod
    def reserve_send_slots(self, count: int, rate: float, now: float, *, last: "SlotWindow | None" = None,
                           resume: float | None = None) -> "SlotWindow":
        """Reserve a window for ``count`` sends at ``rate`` a second, shared by every tick; windows never overlap.

        The window starts at ``now``, or where the windows reserved before it
        end; it lasts ``count``/``rate`` seconds, and at least SLOTS_WINDOW_MIN.
        When the caller's ``last`` window is still the latest, its unused
        slots from ``resume`` on are taken back into the new one.
        """

    # feeds
    @abstractmethod
    def latest_feed_version(self, feed: str, *, after: int | None, upto: int) -> FeedVersion | None:
        """Return the newest version of ``feed`` numbered above ``after`` (if given) and at most ``upto``, or None."""

    @abstractmethod
    def put_feed_versions(self, versions: list[FeedVersion]) -> bool:
        """Store a current version and the scheduled ones after it; False if the current one's number is taken."""


def _person_kept(person: Person, previous: Person | None) -> Person:
    """``person`` written over ``previous`` (as stored: the write is conditioned on it), never with an earlier expiry."""
    expiry = _later_expiry(person.expires_at, previous.expires_at if previous is not None else None)
    return person if expiry == person.expires_at else replace(person, expires_at=expiry)


def _sort_events(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.starts_at, e.id))


class InMemoryRepository(Repository):
    """A fake for service tests: the same contract, kept in dictionaries."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._slots_end: str | None = None
        self.events: dict[str, Event] = {}
        self.staff_tokens: dict[str, StaffToken] = {}
        self.audit: list[AuditEntry] = []
        self.people: dict[str, Person] = {}
        self.registrations: dict[tuple[str, str], Registration] = {}
        self.tokens: dict[str, ConfirmToken] = {}
        self.sends: dict[tuple[str, str], Send] = {}
        self.feed_versions: dict[tuple[str, int], FeedVersion] = {}
        self.suppressions: dict[str, str] = {}
        self.erasure_marks: set[str] = set()  # ticks that held an erased person's sends (TICK#<id> in DynamoDB)

    def create_event(self, event: Event) -> None:
        with self._lock:
            if event.id in self.events:
                raise Conflict(f"id: an event with id {event.id!r} exists already")
            self.events[event.id] = event

    def get_event(self, event_id: str) -> Event | None:
        return self.events.get(event_id)

    def list_events(self) -> list[Event]:
        return _sort_events(list(self.events.values()))

    def update_event(self, event: Event, *, previous: Event) -> None:
        with self._lock:
            current = self.events.get(event.id)
            if current is None:
                raise NotFound(f"event {event.id!r} does not exist")
            if current.updated_at != previous.updated_at:
                raise Conflict("event: it was changed meanwhile; read it again and retry")
            self.events[event.id] = replace(event, seats_taken=current.seats_taken, seat_freed_at=current.seat_freed_at)

    def seat_offered(self, event_id: str, freed_at: datetime) -> None:
        with self._lock:
            current = self.events.get(event_id)
            if current is not None and current.seat_freed_at == freed_at:
                self.events[event_id] = replace(current, seat_freed_at=None)

    def add_staff_token(self, token: StaffToken) -> None:
        with self._lock:
            self.staff_tokens[token.token_hash] = token

    def get_staff_token(self, token_hash: str) -> StaffToken | None:
        return self.staff_tokens.get(token_hash)

    def revoke_staff_tokens(self, name: str, at: datetime) -> int:
        with self._lock:
            live = [t for t in self.staff_tokens.values() if t.name == name and t.revoked_at is None]
            for token in live:
                self.staff_tokens[token.token_hash] = replace(token, revoked_at=at)
            return len(live)

    def add_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self.audit.append(entry)

    def list_audit(self, limit: int = 100) -> list[AuditEntry]:
        return sorted(self.audit, key=lambda e: e.at, reverse=True)[:limit]

    def suppression(self, digest: str) -> str | None:
        return self.suppressions.get(digest)

    def suppress(self, digest: str, reason: str) -> None:
        with self._lock:
            self.suppressions[digest] = reason

    def get_person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def _check_person(self, person: Person, previous: Person | None) -> None:
        current = self.people.get(person.id)
        if (current is None) != (previous is None) or (current is not None and current.updated_at != previous.updated_at):
            raise Conflict("person: changed meanwhile; try again")

    def save_person(self, person: Person, *, previous: Person | None) -> None:
        with self._lock:
            self._check_person(person, previous)
            self.people[person.id] = _person_kept(person, previous)

    def get_registrations(self, person_id: str, event_ids: list[str]) -> dict[str, Registration]:
        return {e: self.registrations[(e, person_id)] for e in event_ids if (e, person_id) in self.registrations}

    def list_registrations(self, event_id: str) -> list[Registration]:
        regs = [r for (e, _), r in self.registrations.items() if e == event_id]
        return sorted(regs, key=lambda r: (r.registered_at, r.person_id))

    def save_subscription(self, person: Person, *, previous: Person | None,
                          registrations: list[Registration], token: ConfirmToken | None) -> None:
        with self._lock:
            self._check_person(person, previous)
            for reg in registrations:
                current = self.registrations.get((reg.event_id, reg.person_id))
                if current is not None and current.status not in ("pending", "cancelled"):
                    raise Conflict("registration: changed meanwhile; try again")
            self.people[person.id] = _person_kept(person, previous)
            for reg in registrations:
                self.registrations[(reg.event_id, reg.person_id)] = reg
            if token is not None:
                self.tokens[token.token_hash] = token

    def move_registration(self, registration: Registration, *, expect: tuple[str, ...],
                          seat_change: int = 0, capacity: int | None = None,
                          put_sends: Sequence[Send] = (), drop_sends: Sequence[Send] = (),
                          event_seen: Event | None = None) -> bool:
        with self._lock:
            key = (registration.event_id, registration.person_id)
            current = self.registrations.get(key)
            if current is None or current.status not in expect:
                raise Conflict("registration: changed meanwhile; try again")
            event = self.events.get(registration.event_id)
            if event_seen is not None and event_seen.updated_at is not None and (
                    event is None or event.updated_at != event_seen.updated_at):
                raise EventChanged("event: it was changed meanwhile; read it again")
            if any(self._held_by_a_tick(send) for send in drop_sends):
                raise Conflict("registration: a mail about it is being sent; try again")
            registration, put_sends = _raised(registration, put_sends,
                                              _later_expiry(registration.expires_at, current.expires_at))
            if seat_change:
                if event is None:
                    raise NotFound(f"event_id: no event {registration.event_id!r}")
                taken = event.seats_taken + seat_change
                if seat_change > 0 and capacity is not None and taken > capacity:
                    return False
                self.events[event.id] = replace(event, seats_taken=max(taken, 0),
                                                seat_freed_at=registration.updated_at if seat_change < 0 else event.seat_freed_at)
            self.registrations[key] = registration
            for send in drop_sends:
                self.sends.pop((send.event_id, send.key), None)
            for send in put_sends:
                self.sends[(send.event_id, send.key)] = send
            return True

    def get_confirm_token(self, token_hash: str) -> ConfirmToken | None:
        return self.tokens.get(token_hash)

    def get_confirm_tokens(self, token_hashes: Sequence[str]) -> dict[str, ConfirmToken]:
        return {h: self.tokens[h] for h in dict.fromkeys(token_hashes) if h in self.tokens}

    def use_confirm_token(self, token_hash: str, now: datetime, *, seen: datetime | None = None) -> None:
        with self._lock:
            token = self.tokens.get(token_hash)
            if token is None or token.used_at != seen or token.done_at is not None or token.expires_at <= now:
                raise Gone("token: this link has expired or was used already")
            self.tokens[token_hash] = replace(token, used_at=now)

    def finish_confirm_token(self, token_hash: str, now: datetime) -> None:
        with self._lock:
            token = self.tokens.get(token_hash)
            if token is not None:
                self.tokens[token_hash] = replace(token, done_at=now)

    def erase_person(self, person: Person) -> None:
        with self._lock:
            current = self.people.get(person.id)
            if current is not None and current.updated_at != person.updated_at:
                raise Conflict("person: changed meanwhile; read it again")
            self.people.pop(person.id, None)
            for event_id in person.event_ids:
                self.registrations.pop((event_id, person.id), None)
            for token_hash in person.all_token_hashes:
                self.tokens.pop(token_hash, None)
            for key in [k for k, send in self.sends.items() if send.person_id == person.id]:
                if self.sends[key].claimed_by:
                    self.erasure_marks.add(self.sends[key].claimed_by)
                del self.sends[key]

    def get_people(self, person_ids: Sequence[str]) -> dict[str, Person]:
        return {p: self.people[p] for p in person_ids if p in self.people}

    def read_for_sends(self, person_ids: Sequence[str], event_ids: Sequence[str],
                       registrations: Sequence[tuple[str, str]] = ()) -> SendReads:
        with self._lock:
            return SendReads(people={p: self.people[p] for p in person_ids if p in self.people},
                             events={e: self.events[e] for e in event_ids if e in self.events},
                             registrations={k: self.registrations[k] for k in registrations if k in self.registrations})

    def put_sends(self, sends: Sequence[Send], *, overwrite: bool) -> int:
        written = 0
        with self._lock:
            for send in sends:
                current = self.sends.get((send.event_id, send.key))
                if current is not None and (not overwrite or current.state == "claimed"):
                    continue
                self.sends[(send.event_id, send.key)] = send
                written += 1
        return written

    def delete_sends(self, sends: Sequence[Send]) -> list[bool]:
        with self._lock:
            gone = [not self._held_by_a_tick(send) for send in sends]
            for send, deleted in zip(sends, gone):
                if deleted:
                    self.sends.pop((send.event_id, send.key), None)
            return gone

    def _held_by(self, send: Send, tick: str) -> bool:
        current = self.sends.get((send.event_id, send.key))
        return current is not None and current.claimed_by == tick

    def _held_by_a_tick(self, send: Send) -> bool:
        current = self.sends.get((send.event_id, send.key))
        return current is not None and current.state == "claimed"

    def list_sends(self, event_id: str, person_id: str | None = None) -> list[Send]:
        return sorted((s for (e, _), s in self.sends.items()
                       if e == event_id and (person_id is None or s.person_id == person_id)), key=lambda s: s.key)

    def due_page(self, now: datetime, limit: int) -> tuple[list[Send], bool]:
        with self._lock:
            due = [s for s in self.sends.values() if s.state in ("pending", "claimed") and s.next_at <= now]
        return sorted(due, key=lambda s: s.next_at)[:limit], len(due) > limit

    def claim_sends(self, sends: Sequence[Send], *, by: str, lease_until: datetime) -> list[Send]:
        won = []
        with self._lock:
            for seen in sends:
                current = self.sends.get((seen.event_id, seen.key))
                if current is None or current.state not in ("pending", "claimed") or current.next_at != seen.next_at:
                    continue
                claimed = replace(current, state="claimed", claimed_by=by, due_at=lease_until, attempts=current.attempts + 1)
                self.sends[(seen.event_id, seen.key)] = claimed
                won.append(claimed)
        return won

    def settle_sends(self, sends: Sequence[Send], *, by: str, found: Collection[str] = ()) -> int:
        with self._lock:
            # As DynamoDB does it: all at once, unless the tick is marked or a send not found was erased.
            held = [self._held_by(send, by) for send in sends]
            free = any(s.person_id in found for s in sends) and by not in self.erasure_marks \
                and all(h for s, h in zip(sends, held) if s.person_id not in found)
            written = [send for send, holds in zip(sends, held) if free or holds]
            for send in written:
                self.sends[(send.event_id, send.key)] = replace(send, claimed_by=None)
            return len(written)

    def reserve_send_slots(self, count: int, rate: float, now: float, *, last: SlotWindow | None = None,
                           resume: float | None = None) -> SlotWindow:
        with self._lock:
            stored = self._slots_end
            start = _window_start(now, stored, last, resume)
            window = _window(start, count, rate)
            self._slots_end = window.stored
            return window

    def latest_feed_version(self, feed: str, *, after: int | None, upto: int) -> FeedVersion | None:
        candidates = [v for (name, number), v in self.feed_versions.items()
                      if name == feed and (after is None or number > after) and number <= upto]
        return max(candidates, key=lambda v: v.version, default=None)

    def put_feed_versions(self, versions: list[FeedVersion]) -> bool:
        current, *scheduled = versions
        with self._lock:
            for version in scheduled:
                self.feed_versions[(version.feed, version.version)] = version
            if (current.feed, current.version) in self.feed_versions:
                return False
            self.feed_versions[(current.feed, current.version)] = current
            return True


# ------------------------------------------------------------------ DynamoDB


def S(value: str) -> dict[str, str]:
    return {"S": value}


def N(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _epoch_text(seconds: float) -> str:
    return f"{seconds:.6f}"


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


def _window_start(now: float, stored: str | None, last: SlotWindow | None, resume: float | None) -> float:
    """Where a new window starts, given the end on record (``stored``) and the caller's own last window."""
    if stored is None:
        return now
    end = float(stored)
    if end <= now or end > now + SLOTS_AHEAD_MAX:
        return now
    if last is not None and last.stored == stored:  # still the latest: its unused slots are ours to take back
        return max(now, min(resume if resume is not None else end, end))
    return end


def _window(start: float, count: int, rate: float) -> SlotWindow:
    stored = _epoch_text(math.ceil((start + max(count / rate, SLOTS_WINDOW_MIN)) * 1_000_000) / 1_000_000)
    return SlotWindow(start=start, stored=stored)


class DynamoDBRepository(Repository):
    """The repository on one DynamoDB table, through the low-level client."""

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

    # --- plumbing

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(CONFLICT_TRIES):
            try:
                return getattr(self.client, operation)(TableName=self.table, **kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "TransactionConflictException" and attempt + 1 < CONFLICT_TRIES:
                    # A write to an item a transaction is writing at that moment
                    # (staff change an event while a confirm takes a seat): the
                    # transaction takes milliseconds. botocore does not retry it.
                    time.sleep(CONFLICT_PAUSE * 2 ** attempt * (1 + secrets.randbelow(100) / 100))
                    continue
                if code in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
                    raise
                if code in {"ResourceNotFoundException", "ProvisionedThroughputExceededException",
                            "ThrottlingException", "RequestLimitExceeded", "InternalServerError",
                            "ServiceUnavailable", "TransactionConflictException"}:
                    raise Unavailable(f"storage: {code}") from exc
                raise
            except BotoCoreError as exc:
                raise Unavailable(f"storage: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._call("query", **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _is_condition_failure(exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return code == "ConditionalCheckFailedException"

    # --- events

    @staticmethod
    def _event_key(event_id: str) -> dict[str, Any]:
        return {"PK": S("EVENTS"), "SK": S(f"EVENT#{event_id}")}

    @classmethod
    def _event_item(cls, event: Event) -> dict[str, Any]:
        return {
            **cls._event_key(event.id),
            "body": S(json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":"))),
            "updated_at": S(times.to_utc_iso(event.updated_at or times.now())),
        }

    @staticmethod
    def _event_from_item(item: dict[str, Any]) -> Event:
        freed = item.get("seat_freed_at", {}).get("S")
        return Event.from_record(json.loads(item["body"]["S"]), seats_taken=int(item.get("seats_taken", {"N": "0"})["N"]),
                                 seat_freed_at=times.from_utc_iso(freed) if freed else None)

    def create_event(self, event: Event) -> None:
        from botocore.exceptions import ClientError

        item = self._event_item(event)
        item["seats_taken"] = N(event.seats_taken)
        item["write_id"] = S(attempt := secrets.token_hex(8))
        try:
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(item, attempt):
                raise Conflict(f"id: an event with id {event.id!r} exists already") from exc

    def get_event(self, event_id: str) -> Event | None:
        reply = self._call("get_item", Key=self._event_key(event_id), ConsistentRead=True)
        item = reply.get("Item")
        return self._event_from_item(item) if item else None

    def list_events(self) -> list[Event]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": S("EVENTS"), ":prefix": S("EVENT#")},
        )
        return _sort_events([self._event_from_item(item) for item in items])

    def update_event(self, event: Event, *, previous: Event) -> None:
        from botocore.exceptions import ClientError

        item = self._event_item(event)
        try:
            self._call(
                "update_item",
                Key={"PK": item["PK"], "SK": item["SK"]},
                UpdateExpression="SET body = :body, updated_at = :new, write_id = :attempt",
                ConditionExpression="updated_at = :old",
                ExpressionAttributeValues={
                    ":body": item["body"],
                    ":new": item["updated_at"],
                    ":old": S(times.to_utc_iso(previous.updated_at or times.now())),
                    ":attempt": S(attempt := secrets.token_hex(8)),
                },
            )
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(item, attempt):
                raise Conflict("event: it was changed meanwhile; read it again and retry") from exc

    def seat_offered(self, event_id: str, freed_at: datetime) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("update_item", Key=self._event_key(event_id),
                       UpdateExpression="REMOVE seat_freed_at", ConditionExpression="seat_freed_at = :seen",
                       ExpressionAttributeValues={":seen": S(times.to_utc_iso(freed_at))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise  # a seat freed since keeps its mark

    def _landed(self, item: dict[str, Any], attempt: str) -> bool:
        """Whether a conditional write that failed was in fact ours, landed on an earlier try.

        botocore retries a call whose answer was lost; the retry then fails
        its condition on our own write. Each write carries a random
        ``write_id``, so it recognises itself and no one else's.
        """
        stored = self._call("get_item", Key={"PK": item["PK"], "SK": item["SK"]}, ConsistentRead=True).get("Item", {})
        return stored.get("write_id", {}).get("S") == attempt

    # --- staff

    def add_staff_token(self, token: StaffToken) -> None:
        # Through _transact: a missing table (before bootstrap, a wrong
        # TABLE_NAME) or no connection is Unavailable, not a raw botocore error.
        self._transact([
            {"Put": {"TableName": self.table, "Item": {
                "PK": S(f"STAFFTOKEN#{token.token_hash}"), "SK": S("TOKEN"),
                "name": S(token.name), "created_at": S(times.to_utc_iso(token.created_at)),
            }, "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Update": {"TableName": self.table,
                        "Key": {"PK": S(f"STAFF#{token.name}"), "SK": S("STAFF")},
                        "UpdateExpression": "ADD token_hashes :h",
                        "ExpressionAttributeValues": {":h": {"SS": [token.token_hash]}}}},
        ])

    def get_staff_token(self, token_hash: str) -> StaffToken | None:
        reply = self._call("get_item", Key={"PK": S(f"STAFFTOKEN#{token_hash}"), "SK": S("TOKEN")})
        item = reply.get("Item")
        if not item:
            return None
        revoked = item.get("revoked_at", {}).get("S")
        return StaffToken(
            name=item["name"]["S"], token_hash=token_hash,
            created_at=times.from_utc_iso(item["created_at"]["S"]),
            revoked_at=times.from_utc_iso(revoked) if revoked else None,
        )

    def revoke_staff_tokens(self, name: str, at: datetime) -> int:
        reply = self._call("get_item", Key={"PK": S(f"STAFF#{name}"), "SK": S("STAFF")}, ConsistentRead=True)
        hashes = reply.get("Item", {}).get("token_hashes", {}).get("SS", [])
        live = [h for h in hashes if (t := self.get_staff_token(h)) is not None and t.revoked_at is None]
        for start in range(0, len(live), 100):
            self._transact([
                {"Update": {"TableName": self.table,
                            "Key": {"PK": S(f"STAFFTOKEN#{h}"), "SK": S("TOKEN")},
                            "UpdateExpression": "SET revoked_at = :at",
                            "ExpressionAttributeValues": {":at": S(times.to_utc_iso(at))}}}
                for h in live[start:start + 100]
            ])
        return len(live)

    # --- audit

    def add_audit(self, entry: AuditEntry) -> None:
        self._call("put_item", Item={
            "PK": S("AUDIT"),
            "SK": S(f"{times.to_utc_iso(entry.at)}#{secrets.token_hex(4)}"),
            "actor": S(entry.actor), "action": S(entry.action), "target": S(entry.target),
            "details": S(json.dumps(entry.details, ensure_ascii=False)),
            TTL_ATTRIBUTE: N(_epoch(entry.at + AUDIT_RETENTION)),
        })

    def list_audit(self, limit: int = 100) -> list[AuditEntry]:
        reply = self._call("query", KeyConditionExpression="PK = :pk",
                           ExpressionAttributeValues={":pk": S("AUDIT")},
                           ScanIndexForward=False, Limit=limit)
        return [
            AuditEntry(actor=i["actor"]["S"], action=i["action"]["S"], target=i["target"]["S"],
                       at=times.from_utc_iso(i["SK"]["S"].split("#", 1)[0]),
                       details=json.loads(i["details"]["S"]))
            for i in reply.get("Items", [])
        ]


    # --- people and registrations

    @staticmethod
    def _body(obj: Any) -> dict[str, str]:
        return S(json.dumps(codec.to_record(obj), ensure_ascii=False, separators=(",", ":")))

    def _person_item(self, person: Person) -> dict[str, Any]:
        item = {**self._person_key(person.id), "body": self._body(person),
                "updated_at": S(times.to_utc_iso(person.updated_at))}
        if person.expires_at is not None:
            item[TTL_ATTRIBUTE] = N(_epoch(person.expires_at))
        return item

    def _person_put(self, person: Person, previous: Person | None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": self._person_item(_person_kept(person, previous))}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "updated_at = :old"
            put["ExpressionAttributeValues"] = {":old": S(times.to_utc_iso(previous.updated_at))}
        return put

    @staticmethod
    def _person_key(person_id: str) -> dict[str, Any]:
        return {"PK": S(f"PERSON#{person_id}"), "SK": S("PROFILE")}

    @staticmethod
    def _registration_key(event_id: str, person_id: str) -> dict[str, Any]:
        return {"PK": S(f"EVENT#{event_id}"), "SK": S(f"REG#{person_id}")}

    def _registration_item(self, reg: Registration) -> dict[str, Any]:
        item = {**self._registration_key(reg.event_id, reg.person_id), "body": self._body(reg), "status": S(reg.status)}
        if reg.expires_at is not None:
            item[TTL_ATTRIBUTE] = N(_epoch(reg.expires_at))
        return item

    @staticmethod
    def _registration_from_item(item: dict[str, Any]) -> Registration:
        return codec.from_record(Registration, json.loads(item["body"]["S"]))

    def _transact(self, items: list[dict[str, Any]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise
            raise Unavailable(f"storage: {exc.response.get('Error', {}).get('Code')}") from exc
        except BotoCoreError as exc:  # a timeout or a dropped connection: the caller may retry
            raise Unavailable(f"storage: {type(exc).__name__}") from exc

    @staticmethod
    def _cancellation_reasons(exc: Exception) -> list[dict[str, Any]]:
        return getattr(exc, "response", {}).get("CancellationReasons") or []

    @classmethod
    def _cancellation_codes(cls, exc: Exception) -> list[str]:
        return [r.get("Code", "None") for r in cls._cancellation_reasons(exc)]

    @staticmethod
    def _suppression_key(digest: str) -> dict[str, Any]:
        return {"PK": S(f"SUPPRESSION#{digest}"), "SK": S("SUPPRESSION")}

    def suppression(self, digest: str) -> str | None:
        item = self._call("get_item", Key=self._suppression_key(digest), ConsistentRead=True).get("Item")
        return item["reason"]["S"] if item else None

    def suppress(self, digest: str, reason: str) -> None:
        self._call("put_item", Item={**self._suppression_key(digest), "reason": S(reason),
                                     "at": S(times.to_utc_iso(times.now()))})

    def get_person(self, person_id: str) -> Person | None:
        reply = self._call("get_item", Key=self._person_key(person_id), ConsistentRead=True)
        item = reply.get("Item")
        return codec.from_record(Person, json.loads(item["body"]["S"])) if item else None

    def save_person(self, person: Person, *, previous: Person | None) -> None:
        from botocore.exceptions import ClientError

        put = self._person_put(person, previous)
        put.pop("TableName")
        put["Item"]["write_id"] = S(attempt := secrets.token_hex(8))
        try:
            self._call("put_item", **put)
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(put["Item"], attempt):
                raise Conflict("person: changed meanwhile; try again") from exc

    def get_registrations(self, person_id: str, event_ids: list[str]) -> dict[str, Registration]:
        keys = [self._registration_key(e, person_id) for e in dict.fromkeys(event_ids)]
        regs = (self._registration_from_item(item) for item in self._batch_get(keys, ConsistentRead=True))
        return {reg.event_id: reg for reg in regs}

    def _batch_get(self, keys: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        """The items at ``keys``, 100 to a BatchGetItem, unprocessed keys asked again; ``options`` per request."""
        from botocore.exceptions import BotoCoreError, ClientError

        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request = {self.table: {"Keys": keys[start:start + 100], **options}}
            while request:
                try:
                    reply = self.client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise Unavailable(f"storage: {type(exc).__name__}") from exc
                items += reply.get("Responses", {}).get(self.table, [])
                request = reply.get("UnprocessedKeys") or {}
        return items

    def list_registrations(self, event_id: str) -> list[Registration]:
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": S(f"EVENT#{event_id}"), ":prefix": S("REG#")},
            ConsistentRead=True,
        )
        regs = [self._registration_from_item(item) for item in items]
        return sorted(regs, key=lambda r: (r.registered_at, r.person_id))

    def save_subscription(self, person: Person, *, previous: Person | None,
                          registrations: list[Registration], token: ConfirmToken | None) -> None:
        from botocore.exceptions import ClientError

        items: list[dict[str, Any]] = [{"Put": self._person_put(person, previous)}]
        for reg in registrations:
            items.append({"Put": {
                "TableName": self.table,
                "Item": self._registration_item(reg),
                "ConditionExpression": "attribute_not_exists(PK) OR #s IN (:pending, :cancelled)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":pending": S("pending"), ":cancelled": S("cancelled")},
            }})
        if token is not None:
            items.append({"Put": {"TableName": self.table, "Item": self._token_item(token),
                                  "ConditionExpression": "attribute_not_exists(PK)"}})
        try:
            self._transact(items)
        except ClientError as exc:
            raise Conflict("subscription: changed meanwhile; try again") from exc

    def move_registration(self, registration: Registration, *, expect: tuple[str, ...],
                          seat_change: int = 0, capacity: int | None = None,
                          put_sends: Sequence[Send] = (), drop_sends: Sequence[Send] = (),
                          event_seen: Event | None = None) -> bool:
        from botocore.exceptions import ClientError

        seen = times.to_utc_iso(event_seen.updated_at) if event_seen is not None and event_seen.updated_at else None
        for _ in range(EXPIRY_TRIES):
            items = self._move_items(registration, expect, seat_change, capacity, put_sends, drop_sends, seen)
            try:
                self._transact(items)
                return True
            except ClientError as exc:
                reasons = self._cancellation_reasons(exc)
                codes = [r.get("Code", "None") for r in reasons]
                failed = [code == "ConditionalCheckFailed" for code in codes] + [False] * (2 - len(codes))
                stored = reasons[0].get("Item") if failed[0] else None
                if failed[0] and (stored is None or stored.get("status", {}).get("S") not in expect):
                    raise Conflict("registration: changed meanwhile; try again") from exc
                event_item = len(items) > 1 and "Update" in items[1]  # sends are only put and deleted
                if failed[1] and event_item and seen is not None and \
                        reasons[1].get("Item", {}).get("updated_at", {}).get("S") != seen:
                    raise EventChanged("event: it was changed meanwhile; read it again") from exc
                if failed[0]:
                    # The status holds, the stored expiry is later (a postponement raised it meanwhile):
                    # write it again with that one.
                    registration, put_sends = _raised(registration, put_sends, _later_expiry(
                        registration.expires_at, self._stored_expiry(stored)))
                    continue
                if failed[1] and event_item and seat_change > 0:
                    return False
                if "TransactionConflict" in codes:
                    raise Conflict("registration: changed meanwhile; try again") from exc
                raise Conflict("registration: could not be changed; try again") from exc
        raise Conflict("registration: its expiry kept moving; try again")

    def _move_items(self, registration: Registration, expect: tuple[str, ...], seat_change: int,
                    capacity: int | None, put_sends: Sequence[Send], drop_sends: Sequence[Send],
                    seen: str | None) -> list[dict[str, Any]]:
        """The transaction of ``move_registration``: the registration, the event (seat count, or only
        its ``updated_at`` checked), the sends dropped and put."""
        names = {"#s": "status"}
        values = {f":s{i}": S(status) for i, status in enumerate(expect)}
        condition = f"#s IN ({', '.join(values)})"
        item = self._registration_item(registration)
        if TTL_ATTRIBUTE in item:  # never lower the stored expiry: a later one is returned, and written again
            condition += " AND (attribute_not_exists(#x) OR #x <= :x)"
            names["#x"], values[":x"] = TTL_ATTRIBUTE, item[TTL_ATTRIBUTE]
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }}]
        update: dict[str, Any] | None = None
        if seat_change:
            update = {
                "TableName": self.table,
                "Key": self._event_key(registration.event_id),
                "UpdateExpression": "ADD seats_taken :change",
                "ExpressionAttributeValues": {":change": N(seat_change)},
            }
            if seat_change > 0 and capacity is not None:
                update["ConditionExpression"] = "seats_taken < :capacity"
                update["ExpressionAttributeValues"][":capacity"] = N(capacity - seat_change + 1)
            elif seat_change < 0:
                update["ConditionExpression"] = "seats_taken >= :needed"
                update["ExpressionAttributeValues"][":needed"] = N(-seat_change)
                # The mark that the people waiting are owed the seat, until promote_waiting clears it.
                update["UpdateExpression"] += " SET seat_freed_at = :freed"
                update["ExpressionAttributeValues"][":freed"] = S(times.to_utc_iso(registration.updated_at))
            else:
                update["ConditionExpression"] = "attribute_exists(PK)"
        elif seen is not None:
            # No seat moves, but the move was worked out from the event as read: an update that
            # changes nothing carries the condition (a ConditionCheck would need another IAM action).
            update = {"TableName": self.table, "Key": self._event_key(registration.event_id),
                      "UpdateExpression": "SET updated_at = :seen", "ExpressionAttributeValues": {}}
        if update is not None:
            if seen is not None:
                update["ConditionExpression"] = " AND ".join(
                    c for c in (update.get("ConditionExpression"), "updated_at = :seen") if c)
                update["ExpressionAttributeValues"][":seen"] = S(seen)
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            items.append({"Update": update})
        putting = {send.key for send in put_sends}
        items += [self._unclaimed_delete(send) for send in drop_sends if send.key not in putting]
        items += [{"Put": {"TableName": self.table, "Item": self._send_item(send)}} for send in put_sends]
        return items

    @staticmethod
    def _stored_expiry(item: dict[str, Any]) -> datetime | None:
        """The expiry of a stored registration item: the later of its body's and its TTL attribute's."""
        found = [DynamoDBRepository._registration_from_item(item).expires_at if "body" in item else None]
        if TTL_ATTRIBUTE in item:
            found.append(datetime.fromtimestamp(int(item[TTL_ATTRIBUTE]["N"]), tz=times.UTC))
        return max((e for e in found if e is not None), default=None)

    def _token_item(self, token: ConfirmToken) -> dict[str, Any]:
        return {
            "PK": S(f"TOKEN#{token.token_hash}"), "SK": S("TOKEN"),
            "body": self._body(token),
            "valid_until": S(times.to_utc_iso(token.expires_at)),
            # Kept a while past expiry so an old link answers 410, not 404.
            TTL_ATTRIBUTE: N(_epoch(token.expires_at + TOKEN_KEPT_AFTER_EXPIRY)),
        }

    @staticmethod
    def _token_key(token_hash: str) -> dict[str, Any]:
        return {"PK": S(f"TOKEN#{token_hash}"), "SK": S("TOKEN")}

    @staticmethod
    def _token_from_item(item: dict[str, Any]) -> ConfirmToken:
        token = codec.from_record(ConfirmToken, json.loads(item["body"]["S"]))
        used, done = item.get("used_at", {}).get("S"), item.get("done_at", {}).get("S")
        return replace(token, used_at=times.from_utc_iso(used) if used else None,
                       done_at=times.from_utc_iso(done) if done else None)

    def get_confirm_token(self, token_hash: str) -> ConfirmToken | None:
        reply = self._call("get_item", Key=self._token_key(token_hash), ConsistentRead=True)
        item = reply.get("Item")
        return self._token_from_item(item) if item else None

    def get_confirm_tokens(self, token_hashes: Sequence[str]) -> dict[str, ConfirmToken]:
        """One strongly consistent BatchGetItem (100 keys a request) for a person's links, not a GetItem each."""
        keys = [self._token_key(h) for h in dict.fromkeys(token_hashes)]
        found = (self._token_from_item(item) for item in self._batch_get(
            keys, ConsistentRead=True, ProjectionExpression="body, used_at, done_at"))
        return {token.token_hash: token for token in found}

    def finish_confirm_token(self, token_hash: str, now: datetime) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("update_item", Key={"PK": S(f"TOKEN#{token_hash}"), "SK": S("TOKEN")},
                       UpdateExpression="SET done_at = :now", ConditionExpression="attribute_exists(PK)",
                       ExpressionAttributeValues={":now": S(times.to_utc_iso(now))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise

    def use_confirm_token(self, token_hash: str, now: datetime, *, seen: datetime | None = None) -> None:
        from botocore.exceptions import ClientError

        key = {"PK": S(f"TOKEN#{token_hash}"), "SK": S("TOKEN")}
        attempt = secrets.token_hex(8)
        values = {":now": S(times.to_utc_iso(now)), ":attempt": S(attempt)}
        if seen is None:
            used = "attribute_not_exists(used_at)"
        else:
            used, values[":seen"] = "used_at = :seen AND attribute_not_exists(done_at)", S(times.to_utc_iso(seen))
        try:
            self._call(
                "update_item",
                Key=key,
                UpdateExpression="SET used_at = :now, write_id = :attempt",
                ConditionExpression=f"attribute_exists(PK) AND {used} AND valid_until > :now",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            if not self._landed(key, attempt):
                raise Gone("token: this link has expired or was used already") from exc

    def erase_person(self, person: Person) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # The profile first, conditioned on the version read: a submission
        # saved since then lists a registration or a link this erasure would
        # otherwise leave behind (Conflict: read it again). Gone already is fine.
        try:
            self._call("delete_item", Key=self._person_key(person.id),
                       ConditionExpression="attribute_not_exists(PK) OR updated_at = :seen",
                       ExpressionAttributeValues={":seen": S(times.to_utc_iso(person.updated_at))})
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise
            raise Conflict("person: changed meanwhile; read it again") from exc
        keys = [self._registration_key(e, person.id) for e in sorted(person.event_ids)]
        keys += [self._token_key(h) for h in sorted(person.all_token_hashes)]
        sends = [send for event_id in sorted(person.event_ids) for send in self.list_sends(event_id, person.id)]
        keys += [self._send_key(send) for send in sends]
        # A tick holding one of these sends may write it back as settled
        # without a condition (settle_sends): marked first, it writes each as
        # the holder instead, and finds it gone.
        expires = N(_epoch(times.now() + ERASURE_MARK_KEEP))
        for tick in sorted({send.claimed_by for send in sends if send.claimed_by}):
            self._call("put_item", Item={**self._erasure_mark_key(tick), TTL_ATTRIBUTE: expires})
        for start in range(0, len(keys), 25):
            request = {self.table: [{"DeleteRequest": {"Key": k}} for k in keys[start:start + 25]]}
            while request:
                try:
                    reply = self.client.batch_write_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise Unavailable(f"storage: {type(exc).__name__}") from exc
                request = reply.get("UnprocessedItems") or {}
    # --- feeds

    @staticmethod
    def _feed_sk(feed: str, version: int) -> str:
        return f"{feed}#V#{version:012d}"

    def latest_feed_version(self, feed: str, *, after: int | None, upto: int) -> FeedVersion | None:
        low = 0 if after is None else after + 1
        if low > upto:
            return None
        reply = self._call(
            "query",
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={":pk": S("FEED"), ":low": S(self._feed_sk(feed, low)),
                                       ":high": S(self._feed_sk(feed, upto))},
            ScanIndexForward=False, Limit=1,
        )
        items = reply.get("Items", [])
        if not items:
            return None
        import gzip

        item = items[0]
        return FeedVersion(
            feed=feed, version=int(item["SK"]["S"].rsplit("#", 1)[1]),
            body=gzip.decompress(item["body"]["B"]), etag=item["etag"]["S"],
            built_at=times.from_utc_iso(item["built_at"]["S"]),
        )

    def _feed_item(self, version: FeedVersion) -> dict[str, Any]:
        import gzip

        return {
            "PK": S("FEED"), "SK": S(self._feed_sk(version.feed, version.version)),
            "body": {"B": gzip.compress(version.body, compresslevel=6, mtime=0)},
            "etag": S(version.etag), "built_at": S(times.to_utc_iso(version.built_at)),
            TTL_ATTRIBUTE: N(version.version + int(FEED_VERSION_RETENTION.total_seconds())),
        }

    def put_feed_versions(self, versions: list[FeedVersion]) -> bool:
        from botocore.exceptions import ClientError

        current, *scheduled = versions
        # Scheduled versions first: a current version is never visible
        # without the ones that must follow it.
        for version in scheduled:
            self._call("put_item", Item=self._feed_item(version))
        try:
            self._call("put_item", Item=self._feed_item(current), ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if self._is_condition_failure(exc):
                return False
            raise
        return True


    def read_for_sends(self, person_ids: Sequence[str], event_ids: Sequence[str],
                       registrations: Sequence[tuple[str, str]] = ()) -> SendReads:
        """One BatchGetItem (100 keys a request), strongly consistent: the tick reads a batch's recipients,
        its events and the registrations it must check in the call it made for the recipients alone."""
        keys = [self._person_key(p) for p in dict.fromkeys(person_ids)]
        keys += [self._event_key(e) for e in dict.fromkeys(event_ids)]
        keys += [self._registration_key(e, p) for e, p in dict.fromkeys(registrations)]
        reads = SendReads(people={}, events={}, registrations={})
        # Only what the three records are made of: every other attribute
        # returned would be parsed by botocore, 100 items a batch.
        projection = "PK, body, seats_taken, seat_freed_at"
        for item in self._batch_get(keys, ConsistentRead=True, ProjectionExpression=projection):
            kind = item["PK"]["S"]
            if kind == "EVENTS":
                event = self._event_from_item(item)
                reads.events[event.id] = event
            elif kind.startswith("PERSON#"):
                person = codec.from_record(Person, json.loads(item["body"]["S"]))
                reads.people[person.id] = person
            else:
                reg = self._registration_from_item(item)
                reads.registrations[(reg.event_id, reg.person_id)] = reg
        return reads

    def get_people(self, person_ids: Sequence[str]) -> dict[str, Person]:
        keys = [self._person_key(p) for p in dict.fromkeys(person_ids)]
        people = (codec.from_record(Person, json.loads(item["body"]["S"]))
                  for item in self._batch_get(keys, ProjectionExpression="body"))
        return {person.id: person for person in people}

    # --- sends

    @staticmethod
    def _send_key_of(event_id: str, key: str) -> dict[str, Any]:
        return {"PK": S(f"EVENT#{event_id}"), "SK": S(key)}

    def _send_key(self, send: Send) -> dict[str, Any]:
        return self._send_key_of(send.event_id, send.key)

    def _send_item(self, send: Send) -> dict[str, Any]:
        # Few attributes: what conditions and the index need stands alone, the
        # rest is one JSON body (as for every other item). A settled send has
        # no ``due_at`` at all, so a claim's ``due_at = :seen`` fails on it.
        body: dict[str, Any] = {"event_id": send.event_id, "person_id": send.person_id, "kind": send.kind,
                                "detail": send.detail, "due": times.to_utc_iso(send.due),
                                "cutoff": times.to_utc_iso(send.cutoff), "state": send.state, "attempts": send.attempts}
        for name in ("message_id", "reason"):
            if getattr(send, name) is not None:
                body[name] = getattr(send, name)
        if send.settled_at is not None:
            body["settled_at"] = times.to_utc_iso(send.settled_at)
        if send.details:
            body["details"] = send.details
        expires = _epoch(send.expires_at) if send.expires_at is not None else None
        if expires is not None:  # also in the body: the due index's reads leave out the TTL attribute
            body["expires_at"] = expires
        due_at = times.to_utc_iso(send.next_at) if send.state in ("pending", "claimed") else None
        if due_at is not None:  # also in the body: the due index's reads take the body alone
            body["due_at"] = due_at
        item: dict[str, Any] = {**self._send_key(send),
                                "body": S(json.dumps(body, ensure_ascii=False, separators=(",", ":")))}
        if due_at is not None:
            item["due_pk"] = S(DUE_PARTITION)
            item["due_at"] = S(due_at)
        if send.claimed_by is not None:
            item["claimed_by"] = S(send.claimed_by)
        if expires is not None:
            item[TTL_ATTRIBUTE] = N(expires)
        return item

    @staticmethod
    def _send_from_item(item: dict[str, Any]) -> Send:
        body = json.loads(item["body"]["S"])
        settled = body.get("settled_at")
        due_at = body.get("due_at") or item.get("due_at", {}).get("S")
        return Send(
            event_id=body["event_id"], person_id=body["person_id"], kind=body["kind"], detail=body["detail"],
            due=times.from_utc_iso(body["due"]), cutoff=times.from_utc_iso(body["cutoff"]), state=body["state"],
            due_at=times.from_utc_iso(due_at) if due_at else None,
            attempts=body["attempts"], claimed_by=item["claimed_by"]["S"] if "claimed_by" in item else None,
            message_id=body.get("message_id"), reason=body.get("reason"),
            settled_at=times.from_utc_iso(settled) if settled else None, details=body.get("details", {}),
            expires_at=datetime.fromtimestamp(body["expires_at"], tz=times.UTC) if "expires_at" in body else None,
        )

    def _write_each(self, operations: list[dict[str, Any]]) -> list[bool]:
        """Apply conditional writes in transactions of up to 100; return which of them held.

        A transaction fails whole when one condition fails (another dispatcher
        took that send, say). Its cancellation reasons tell which: those are
        out, and the rest go again as one transaction (a few rounds, as
        dispatchers racing over one page take sends from under each other),
        then one by one if they still do not get through together.
        """
        done: dict[int, bool] = {}
        for start in range(0, len(operations), TRANSACTION_MAX):
            left = list(range(start, min(start + TRANSACTION_MAX, len(operations))))
            for _ in range(TRANSACTION_ROUNDS):
                if not left:
                    break
                codes = self._try_transaction([operations[i] for i in left])
                if codes is None:
                    done.update((i, True) for i in left)
                    left = []
                    break
                if len(codes) != len(left) or not set(codes) <= {"None", "ConditionalCheckFailed", "TransactionConflict"}:
                    break  # no reasons, or another kind of failure: each one alone says what it is
                done.update((i, False) for i, code in zip(left, codes) if code == "ConditionalCheckFailed")
                left = [i for i, code in zip(left, codes) if code != "ConditionalCheckFailed"]
            for i in left:
                try:
                    done[i] = self._write_one(operations[i])
                except Unavailable as exc:
                    raise PartialWrite(str(exc), [done.get(j) for j in range(len(operations))]) from exc
        return [done[i] for i in range(len(operations))]

    def _try_transaction(self, chunk: list[dict[str, Any]]) -> list[str] | None:
        """Write ``chunk`` as one transaction: None if it went through, else a reason code per item."""
        from botocore.exceptions import ClientError

        try:
            self._transact(chunk)
            return None
        except ClientError as exc:
            return self._cancellation_codes(exc) or ["unknown"] * len(chunk)

    def _write_one(self, operation: dict[str, Any]) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        (kind, request), = operation.items()
        method = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}[kind]
        try:
            getattr(self.client, method)(**request)
            return True
        except ClientError as exc:
            if not self._is_condition_failure(exc):
                raise Unavailable(f"storage: {exc.response.get('Error', {}).get('Code')}") from exc
            return False
        except BotoCoreError as exc:
            raise Unavailable(f"storage: {type(exc).__name__}") from exc

    def put_sends(self, sends: Sequence[Send], *, overwrite: bool) -> int:
        operations = []
        for send in sends:
            put: dict[str, Any] = {"TableName": self.table, "Item": self._send_item(send)}
            if overwrite:
                put["ConditionExpression"] = "attribute_not_exists(claimed_by)"  # never over a claim
            else:
                put["ConditionExpression"] = "attribute_not_exists(PK)"
            operations.append({"Put": put})
        return sum(self._write_each(operations))

    def delete_sends(self, sends: Sequence[Send]) -> list[bool]:
        return self._write_each([self._unclaimed_delete(send) for send in sends])

    def _unclaimed_delete(self, send: Send) -> dict[str, Any]:
        """A send's deletion, never while a tick holds it (it would go out with no record)."""
        return {"Delete": {"TableName": self.table, "Key": self._send_key(send),
                           "ConditionExpression": "attribute_not_exists(claimed_by)"}}

    def list_sends(self, event_id: str, person_id: str | None = None) -> list[Send]:
        prefix = f"SEND#{person_id}#" if person_id else "SEND#"
        items = self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": S(f"EVENT#{event_id}"), ":prefix": S(prefix)},
            ConsistentRead=True,
        )
        return [self._send_from_item(item) for item in items]

    def due_page(self, now: datetime, limit: int) -> tuple[list[Send], bool]:
        kwargs: dict[str, Any] = {
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_pk = :pk AND due_at <= :now",
            "ExpressionAttributeValues": {":pk": S(DUE_PARTITION), ":now": S(times.to_utc_iso(now))},
            # The body alone: it holds the key's parts and ``due_at`` too (all a
            # claim writes back whole, but ``claimed_by``, which its state tells).
            "ProjectionExpression": "body",
            "Limit": limit,
        }
        found: list[Send] = []
        while True:
            page = self._call("query", **kwargs)
            found += [self._send_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found, False
            if len(found) >= limit:
                return found[:limit], True
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(found)

    def claim_sends(self, sends: Sequence[Send], *, by: str, lease_until: datetime) -> list[Send]:
        # Whole-item puts rather than updates: the dispatcher holds the whole
        # item (the index projects ALL), and the condition on the ``due_at`` it
        # read fails if anything moved the send meanwhile.
        claimed = [replace(send, state="claimed", claimed_by=by, due_at=lease_until, attempts=send.attempts + 1)
                   for send in sends]
        operations = [{"Put": {
            "TableName": self.table, "Item": self._send_item(claim),
            "ConditionExpression": "due_at = :seen",  # only pending and claimed sends have one
            "ExpressionAttributeValues": {":seen": S(times.to_utc_iso(seen.next_at))},
        }} for seen, claim in zip(sends, claimed)]
        try:
            won = self._write_each(operations)
        except PartialWrite as exc:
            # The table failed partway through claims written one by one: the
            # ones that landed go out (the tick meets the failure again at its
            # next request and puts back what it has not sent); one whose
            # answer was lost may be ours, and is recorded "interrupted" later.
            log.warning("claims stopped partway: %s", exc)
            won = [held is True for held in exc.held]
        return [claim for claim, ok in zip(claimed, won) if ok]

    def settle_sends(self, sends: Sequence[Send], *, by: str, found: Collection[str] = ()) -> int:
        """Each send that is still ours written as settled: without a condition of its own where it may be.

        A send whose recipient the tick found after claiming it cannot have
        been erased unseen: the erasure deletes the profile before it lists
        the sends, so it finds the claim, and marks this tick before it
        deletes them (``erase_person``). Those puts go without a condition,
        with one ConditionCheck a transaction that the mark is absent. Any
        other send (its recipient was not read, or was gone) is put
        conditioned on ``claimed_by``; and if a transaction fails (the mark is
        there, or such a send was erased), every send in it is written again
        that way, so nothing deleted comes back.
        """
        if not any(send.person_id in found for send in sends):
            return sum(self._write_each([self._settle(send, by, held=True) for send in sends]))
        mark = {"ConditionCheck": {"TableName": self.table, "Key": self._erasure_mark_key(by),
                                   "ConditionExpression": "attribute_not_exists(PK)"}}
        settled = 0
        for start in range(0, len(sends), TRANSACTION_MAX - 1):
            chunk = sends[start:start + TRANSACTION_MAX - 1]
            if self._try_transaction([mark, *(self._settle(s, by, held=s.person_id not in found) for s in chunk)]) is None:
                settled += len(chunk)
            else:
                settled += sum(self._write_each([self._settle(send, by, held=True) for send in chunk]))
        return settled

    def _settle(self, send: Send, by: str, *, held: bool) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": self._send_item(replace(send, claimed_by=None))}
        if held:
            put["ConditionExpression"] = "claimed_by = :me"
            put["ExpressionAttributeValues"] = {":me": S(by)}
        return {"Put": put}

    @staticmethod
    def _erasure_mark_key(tick: str) -> dict[str, Any]:
        return {"PK": S(f"TICK#{tick}"), "SK": S("ERASED")}

    def reserve_send_slots(self, count: int, rate: float, now: float, *, last: SlotWindow | None = None,
                           resume: float | None = None) -> SlotWindow:
        """One UpdateItem, conditioned on the end it expects: its own last window's, or none in the future.

        A tick that lost the race to another gets the current end back from
        its failed condition and tries again from there.
        """
        from botocore.exceptions import ClientError

        expected = last.stored if last is not None else None
        for _ in range(SLOTS_TRIES):
            window = _window(_window_start(now, expected, last, resume), count, rate)
            condition = "attribute_not_exists(slots_end) OR slots_end <= :now OR slots_end > :far"
            values = {":end": N(window.stored), ":now": N(_epoch_text(now)),
                      ":far": N(_epoch_text(now + SLOTS_AHEAD_MAX))}
            if expected is not None:
                condition += " OR slots_end = :seen"
                values[":seen"] = {"N": expected}
            try:
                self._call("update_item", Key={"PK": S("RATE"), "SK": S("SES")}, UpdateExpression="SET slots_end = :end",
                           ConditionExpression=condition, ExpressionAttributeValues=values,
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except ClientError as exc:
                if not self._is_condition_failure(exc):
                    raise
                expected = exc.response.get("Item", {}).get("slots_end", {}).get("N")
                last = None  # not ours any more: start after it
                continue
            return window
        raise Unavailable("storage: the send slots are contended")


# ------------------------------------------------------------ construction


def table_definition(table_name: str) -> dict[str, Any]:
    """The table's CreateTable arguments; infra/ describes the same table for AWS."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
            {"AttributeName": "due_pk", "AttributeType": "S"},
            {"AttributeName": "due_at", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [{
            "IndexName": DUE_INDEX,
            "KeySchema": [
                {"AttributeName": "due_pk", "KeyType": "HASH"},
                {"AttributeName": "due_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }],
    }


def create_table(client: Any, table_name: str) -> bool:
    """Create the table and switch on TTL if it is missing; return whether it was created."""
    try:
        client.describe_table(TableName=table_name)
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    client.create_table(**table_definition(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    return True

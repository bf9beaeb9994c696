"""Test doubles: the in-memory repository (same contract as DynamoDB) and the recording mailer.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Collection, Sequence

from chalicelib.adapters.dynamodb.keys import _window, _window_start
from chalicelib.errors import AllowanceUsedUp, Conflict, EventChanged, Gone, NotFound, RegistrationsPlaced
from chalicelib.model.allowance import Allowance
from chalicelib.model.console import ConsoleSession, SignInLink, StaffMember
from chalicelib.model.event import Event, _sort_events, count_changes
from chalicelib import times
from chalicelib.model.expiry import _later_expiry, _person_kept, _raised, token_item_expiry
from chalicelib.model.feed import FeedVersion
from chalicelib.model.mail import Mail
from chalicelib.model.person import AuditEntry, ConfirmToken, MailSent, Person, Registration, StaffToken
from chalicelib.model.send import Send, SendReads, SlotWindow
from chalicelib.ports import Mailer, Repository
from chalicelib.render.mime import build_mime


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
        self.mails: list[MailSent] = []
        self.feed_versions: dict[tuple[str, int], FeedVersion] = {}
        self.suppressions: dict[str, str] = {}
        self.erasure_marks: set[str] = set()  # ticks that held an erased person's sends (TICK#<id> in DynamoDB)
        self.staff_members: dict[str, StaffMember] = {}
        self.sign_in_links: dict[str, SignInLink] = {}
        self.console_sessions: dict[str, ConsoleSession] = {}
        self.allowances: dict[tuple[str, str, str], tuple[int, datetime]] = {}  # (scope, key, window): (used, ends)

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
            self.events[event.id] = replace(event, seats_taken=current.seats_taken, seat_freed_at=current.seat_freed_at,
                                            waiting_count=current.waiting_count,
                                            interested_count=current.interested_count)

    def set_event_counts(self, event_id: str, counts: dict[str, int]) -> None:
        with self._lock:
            if event_id in self.events:
                self.events[event_id] = replace(self.events[event_id], **counts)

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

    def list_staff_tokens(self) -> list[StaffToken]:
        return sorted(self.staff_tokens.values(), key=lambda t: (t.created_at, t.name, t.token_hash))

    def record_staff_token_use(self, token_hash: str, at: datetime, *, unless_since: datetime) -> None:
        with self._lock:
            token = self.staff_tokens.get(token_hash)
            if token is not None and (token.last_used_at is None or token.last_used_at < unless_since):
                self.staff_tokens[token_hash] = replace(token, last_used_at=at)

    def revoke_staff_tokens(self, name: str, at: datetime) -> int:
        with self._lock:
            live = [t for t in self.staff_tokens.values() if t.name == name and t.revoked_at is None]
            for token in live:
                self.staff_tokens[token.token_hash] = replace(token, revoked_at=at)
            return len(live)

    def add_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self.audit.append(entry)

    def list_audit(self, limit: int = 100, *, actor: str | None = None, target: str | None = None) -> list[AuditEntry]:
        entries = [e for e in self.audit if (actor is None or e.actor == actor) and (target is None or e.target == target)]
        return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]

    def add_staff_member(self, member: StaffMember) -> None:
        with self._lock:
            if member.email in self.staff_members:
                raise Conflict(f"email: {member.email} is a staff member already")
            self.staff_members[member.email] = member

    def get_staff_member(self, email: str) -> StaffMember | None:
        return self.staff_members.get(email)

    def list_staff_members(self) -> list[StaffMember]:
        return [self.staff_members[e] for e in sorted(self.staff_members)]

    def remove_staff_member(self, email: str) -> bool:
        with self._lock:
            return self.staff_members.pop(email, None) is not None

    def add_sign_in_link(self, link: SignInLink, *, member: StaffMember, links_made: tuple[datetime, ...]) -> None:
        with self._lock:
            current = self.staff_members.get(member.email)
            if current is None or current != member or link.token_hash in self.sign_in_links:
                raise Conflict("staff member: changed meanwhile; try again")
            self.staff_members[member.email] = replace(member, links_made=links_made)
            self.sign_in_links[link.token_hash] = link

    def get_sign_in_link(self, token_hash: str) -> SignInLink | None:
        return self.sign_in_links.get(token_hash)

    def use_sign_in_link(self, token_hash: str, now: datetime) -> SignInLink:
        with self._lock:
            link = self.sign_in_links.get(token_hash)
            if link is None or not link.usable(now):
                raise Gone("token: this sign-in link has expired or was used already")
            used = self.sign_in_links[token_hash] = replace(link, used_at=now)
            return used

    def add_console_session(self, session: ConsoleSession) -> None:
        with self._lock:
            if session.token_hash in self.console_sessions:
                raise Conflict("session: exists")
            self.console_sessions[session.token_hash] = session

    def get_console_session(self, token_hash: str) -> tuple[ConsoleSession | None, StaffMember | None]:
        session = self.console_sessions.get(token_hash)
        return session, (self.staff_members.get(session.email) if session else None)

    def touch_console_session(self, session: ConsoleSession, now: datetime) -> None:
        with self._lock:
            if session.token_hash in self.console_sessions:
                self.console_sessions[session.token_hash] = replace(session, last_seen_at=now)

    def end_console_session(self, token_hash: str) -> None:
        with self._lock:
            self.console_sessions.pop(token_hash, None)

    def take_allowances(self, allowances: Sequence[Allowance], now: datetime) -> Allowance | None:
        with self._lock:
            keys = [(a.scope, a.key, a.window_id(now)) for a in allowances]
            for allowance, key in zip(allowances, keys):
                if self.allowances.get(key, (0, now))[0] >= allowance.limit:
                    return allowance
            for allowance, key in zip(allowances, keys):
                self.allowances[key] = (self.allowances.get(key, (0, now))[0] + 1, allowance.ends(now))
            return None

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
                          registrations: list[Registration], token: ConfirmToken | None,
                          allowances: Sequence[Allowance] = (), now: datetime | None = None) -> None:
        with self._lock:
            self._check_person(person, previous)
            for reg in registrations:
                current = self.registrations.get((reg.event_id, reg.person_id))
                if current is not None and current.status not in ("pending", "cancelled"):
                    raise Conflict("registration: changed meanwhile; try again")
            used_up = self.take_allowances(allowances, now or times.now())  # all or none, under the same lock
            if used_up is not None:
                raise AllowanceUsedUp(used_up)
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
            counts = count_changes(expect[0] if len(expect) == 1 else None, registration.status)
            if seat_change and event is not None and seat_change > 0 and capacity is not None \
                    and event.seats_taken + seat_change > capacity:
                return False
            if counts:
                if event is None:
                    raise Conflict("registration: could not be changed; try again")
                event = self.events[event.id] = replace(event, **{
                    name: max(getattr(event, name) + change, 0) for name, change in counts.items()})
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

    def _live_item(self, token_hash: str) -> ConfirmToken | None:
        """As DynamoDB's adapter reads it: an item past its TTL is gone."""
        token = self.tokens.get(token_hash)
        return token if token is not None and token_item_expiry(token) > times.now() else None

    def get_confirm_token(self, token_hash: str) -> ConfirmToken | None:
        return self._live_item(token_hash)

    def get_confirm_tokens(self, token_hashes: Sequence[str]) -> dict[str, ConfirmToken]:
        found = {h: self._live_item(h) for h in dict.fromkeys(token_hashes)}
        return {h: t for h, t in found.items() if t is not None}

    def use_confirm_token(self, token_hash: str, now: datetime, *, seen: datetime | None = None) -> None:
        with self._lock:
            token = self.tokens.get(token_hash)
            if token is None or token.used_at != seen or token.done_at is not None or token.expires_at <= now:
                raise Gone("token: this link has expired or was used already")
            self.tokens[token_hash] = replace(token, used_at=now)

    def finish_confirm_token(self, token_hash: str, now: datetime, *, kept_until: datetime | None = None) -> None:
        with self._lock:
            token = self.tokens.get(token_hash)
            if token is not None:
                self.tokens[token_hash] = replace(token, done_at=now, kept_until=kept_until or token.kept_until)

    def erase_person(self, person: Person) -> int:
        held = 0
        with self._lock:
            current = self.people.get(person.id)
            if current is not None and current.updated_at != person.updated_at:
                raise Conflict("person: changed meanwhile; read it again")
            self.people.pop(person.id, None)
            placed = sorted(e for e in person.event_ids
                            if self.registrations.get((e, person.id)) is not None
                            and self.registrations[(e, person.id)].status != "cancelled")
            for event_id in person.event_ids:
                if event_id not in placed:
                    self.registrations.pop((event_id, person.id), None)
            if placed:
                raise RegistrationsPlaced(placed)
            for token_hash in person.all_token_hashes:
                self.tokens.pop(token_hash, None)
            self.mails = [m for m in self.mails if m.person_id != person.id]
            for key in [k for k, send in self.sends.items() if send.person_id == person.id]:
                if self.sends[key].claimed_by:
                    self.erasure_marks.add(self.sends[key].claimed_by)
                    held += 1
                del self.sends[key]
        return held

    def record_mail(self, mail: MailSent, *, first: bool = False) -> bool:
        with self._lock:
            if mail.person_id not in self.people:
                return False
            self.keep_mails(mail.person_id, mail.kept_until)
            self.mails.append(mail)
            return True

    def keep_mails(self, person_id: str, until: datetime) -> None:
        with self._lock:
            self.mails = [replace(m, kept_until=max(m.kept_until, until)) if m.person_id == person_id else m
                          for m in self.mails if m.kept_until > times.now()]

    def list_mails(self, person_id: str) -> list[MailSent]:
        # As DynamoDB's adapter reads them: one past its time is gone.
        return sorted((m for m in self.mails if m.person_id == person_id and m.kept_until > times.now()),
                      key=lambda m: m.sent_at)

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


class RecordingMailer(Mailer):
    """Keeps what would be sent, for tests; built MIME included, so header rules are exercised."""

    def __init__(self, sender: str = "smartregionoffice@vlaanderen.be"):
        self.sender = sender
        self.sent: list[tuple[Mail, bytes]] = []
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> str:
        raw = build_mime(mail, self.sender)
        with self._lock:
            self.sent.append((mail, raw))
            return f"recorded-{len(self.sent)}"

    def to(self, email: str) -> list[Mail]:
        return [m for m, _ in self.sent if m.to_email == email]

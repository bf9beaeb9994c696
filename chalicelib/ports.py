"""The interfaces the services depend on: the Repository (the table's access patterns) and the Mailer.

The DynamoDB implementation is in ``adapters/dynamodb``; the in-memory one used by
the tests is in ``tests/fakes.py``. Both pass the same contract tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Collection, Sequence

from chalicelib.model.allowance import Allowance
from chalicelib.model.console import ConsoleSession, SignInLink, StaffMember
from chalicelib.model.event import Event
from chalicelib.model.feed import FeedVersion
from chalicelib.model.mail import Mail
from chalicelib.model.person import AuditEntry, ConfirmToken, MailSent, Person, Registration, StaffToken
from chalicelib.model.send import Send, SendReads, SlotWindow


class Repository(ABC):
    """What the service needs from storage. Both implementations pass ``tests/contract/test_repository_contract.py``."""

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
    def set_event_counts(self, event_id: str, counts: dict[str, int]) -> None:
        """Set the event's ``waiting_count`` and ``interested_count`` (``cli recount-events``: counted anew)."""

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
    def list_staff_tokens(self) -> list[StaffToken]:
        """Every staff token stored (live, revoked or expired), oldest first: an operator's command, a Scan."""

    @abstractmethod
    def record_staff_token_use(self, token_hash: str, at: datetime, *, unless_since: datetime) -> None:
        """Set the token's ``last_used_at`` to ``at``, unless it is ``unless_since`` or later (one write an hour)."""

    @abstractmethod
    def revoke_staff_tokens(self, name: str, at: datetime) -> int:
        """Revoke every live token of ``name``; return how many were revoked."""

    # the console: staff members, sign-in links, sessions
    @abstractmethod
    def add_staff_member(self, member: StaffMember) -> None:
        """Store a new staff member; raise Conflict if one with that address exists."""

    @abstractmethod
    def get_staff_member(self, email: str) -> StaffMember | None:
        """Return the staff member with that (normalised) address, or None."""

    @abstractmethod
    def list_staff_members(self) -> list[StaffMember]:
        """Return every staff member, by address."""

    @abstractmethod
    def remove_staff_member(self, email: str) -> bool:
        """Delete the staff member; return whether there was one. Their sessions stop working at once."""

    @abstractmethod
    def add_sign_in_link(self, link: SignInLink, *, member: StaffMember, links_made: tuple[datetime, ...]) -> None:
        """Store a sign-in link and the member's new ``links_made``; Conflict if the member changed since read."""

    @abstractmethod
    def get_sign_in_link(self, token_hash: str) -> SignInLink | None:
        """Return the sign-in link with that hash, or None."""

    @abstractmethod
    def use_sign_in_link(self, token_hash: str, now: datetime) -> SignInLink:
        """Mark the link used and return it; raise Gone if it is unknown, used already or expired."""

    @abstractmethod
    def add_console_session(self, session: ConsoleSession) -> None:
        """Store a new session (by its hash), expiring at its end."""

    @abstractmethod
    def get_console_session(self, token_hash: str) -> tuple[ConsoleSession | None, StaffMember | None]:
        """The session with that hash and its staff member, read together (one request); None where absent."""

    @abstractmethod
    def touch_console_session(self, session: ConsoleSession, now: datetime) -> None:
        """Record a use of the session at ``now`` (its idle timeout starts again)."""

    @abstractmethod
    def end_console_session(self, token_hash: str) -> None:
        """Delete the session (sign-out); nothing if it is gone already."""

    # audit
    @abstractmethod
    def add_audit(self, entry: AuditEntry) -> None:
        """Record one staff action."""

    @abstractmethod
    def list_audit(self, limit: int = 100, *, actor: str | None = None, target: str | None = None) -> list[AuditEntry]:
        """Return the most recent staff actions, newest first; only those of ``actor`` and on ``target`` if given."""

    # allowances (confirmation mails per mailbox, per client, in all)
    @abstractmethod
    def take_allowances(self, allowances: Sequence[Allowance], now: datetime) -> Allowance | None:
        """Count one against each of ``allowances`` in its window as of ``now``, all or none.

        Return None when each had room (each counted), else the first found used up (nothing counted).
        A window's count is kept until the window ends (TTL).
        """

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
                          registrations: list[Registration], token: ConfirmToken | None,
                          allowances: Sequence[Allowance] = (), now: datetime | None = None) -> None:
        """Write a submission at once; raise Conflict if the profile moved or a registration is kept (confirmed, waiting, interested).

        ``allowances``: the confirmation-mail counts its mail takes, counted in the same write as of ``now``;
        one used up raises AllowanceUsedUp (a Conflict) and nothing is written.
        """

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
    def finish_confirm_token(self, token_hash: str, now: datetime, *, kept_until: datetime | None = None) -> None:
        """Mark a used token's confirm finished (``done_at``); a token gone meanwhile (erased) is left gone.

        ``kept_until``: its item's new time (TTL), now that the confirmed profile lasts longer.
        """

    @abstractmethod
    def erase_person(self, person: Person) -> int:
        """Delete the profile and every registration, token (``Person.all_token_hashes``) and send it lists.

        Their recorded mails (``record_mail``) go with them.

        Return how many of the sends a tick held (claimed): their mail may be on its way, and still arrive.

        Conflict if the profile changed since ``person`` was read (a submission
        saved meanwhile lists more): read it again and erase that.
        RegistrationsPlaced if a registration is no longer cancelled (placed
        since the caller cancelled it): the profile is deleted, those stand,
        nothing else is; the caller cancels them and calls again.
        """

    @abstractmethod
    def record_mail(self, mail: MailSent, *, first: bool = False) -> bool:
        """Keep the record of a mail a request sent, while its person's profile exists, and their earlier
        records as long as it (``keep_mails``; ``first``: the request made the profile, so there are none);
        False when the profile does not exist (erased meanwhile): nothing is written."""

    @abstractmethod
    def keep_mails(self, person_id: str, until: datetime) -> None:
        """Keep the person's recorded mails until ``until`` at least (their profile's expiry, raised); a record
        past its time stays gone."""

    @abstractmethod
    def list_mails(self, person_id: str) -> list[MailSent]:
        """The person's recorded mails (``record_mail``) whose time has not passed, oldest first."""

    @abstractmethod
    def get_people(self, person_ids: Sequence[str]) -> dict[str, Person]:
        """Return the people with those ids that exist, by id."""

    # sends (services/tick.py)
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


class Mailer:
    """Sends one Mail; returns the provider's message id."""

    def send(self, mail: Mail) -> str:  # pragma: no cover - interface
        raise NotImplementedError

"""Mail the service sends on its own: reminders and notices, each exactly once, on time, within SES's rate.

Every such mail is a *send* item (``model/send.Send``, key layout in adapters/dynamodb/)
that waits in the sparse ``due`` index until its time:

- a **reminder** per offset of the event (``P1D``, ``PT1H``) for each confirmed
  registration, planned in the same transaction as the move to confirmed;
- a **change notice** (time, place or join link changed) to each confirmed
  registrant, with the updated .ics;
- a **cancellation notice** to everyone registered, waiting or interested,
  with a ``METHOD:CANCEL`` .ics;
- a **registration-open** mail to each interested person, with a one-click link;
- a **seat given** mail to each person promoted from the waiting list, planned
  in the same transaction as the promotion.

``send_due`` is one tick (the every-minute schedule and ``cli send-due``): it
reads what is due from the index, claims it with conditional writes (in
transactions of up to 100), sends through SES one mail per recipient within
the configured rate, and settles the outcomes in transactions of up to 100.

Exactly once: a claim is conditioned on the ``due_at`` the dispatcher read and
moves ``due_at`` to the end of the claim's lease, so of two dispatchers that
read the same send only one claim holds. A claim whose lease ran out without
being settled (its dispatcher died between claiming and recording) is never
resent: whether SES took it is unknown, and the rule is "once or not at all".
It is recorded as skipped ("interrupted").

Nothing stale: a send has a cut-off (``cutoff``): for a reminder, its grace
after it was due (a quarter of the offset, between 5 minutes and 6 hours) and
never after the event starts. Past it, the send is skipped with its reason.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Collection

from chalicelib import config, times
from chalicelib.errors import MailRejected, MailThrottled, MailUncertain, Unavailable
from chalicelib.model.event import Event
from chalicelib.model.mail import Attachment, Mail
from chalicelib.model.person import Person
from chalicelib.model.send import STANDINGS, Send, audience_kept, grace, standings
from chalicelib.ports import Mailer, Repository
from chalicelib.render import mails
from chalicelib.render.ical import invitation
from chalicelib.render.mails import _Shape
from chalicelib.services import planning

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)          # longer than any tick (Lambda stops it at 75 s)
CLOCK_MARGIN = timedelta(minutes=1)   # far more than two Lambdas' clocks differ, and than a settle takes
INTERRUPTED = "interrupted: claimed by a tick that stopped; not resent"
RETRY_FIRST = timedelta(minutes=1)    # then 2, 4, 8 ... minutes, until the cut-off
RETRY_MAX = timedelta(minutes=30)
MAX_ATTEMPTS = 8                      # claims of one send before it is recorded as failed
TRIES_PER_TICK = 3                    # SES throttling: tries within one tick, with backoff
BACKOFF_FIRST = 0.2                   # seconds; doubles each try
SETTLE_TRIES = 4                      # recording a batch, when the table fails for a moment
BATCH = 100                           # one claim or settle transaction
BATCH_SECONDS = 5.0                   # and at most so many seconds of sending: its recipients are read when it starts
PAGE = 990                            # sends read per Query of the due index: ten whole batches of 99 (READ_KEYS)
REQUEST_SHARE = 0.1                   # of SES_MAX_SEND_RATE, kept for the mails requests send (tick_rate)
TIME_BUDGET = 50.0                    # seconds a tick may run (of a 75 s Lambda)


UNREAD = object()  # a registration the tick did not read (see _checks_registration)
READ_KEYS = 100    # one BatchGetItem: the people, events and registrations a batch needs


def _checks_registration(send: Send, *, claimed: bool) -> bool:
    """Whether the tick reads the send's registration: a notice always (due the moment it is planned, a tick
    may claim it before the planning checked the registration), a reminder when claimed before (put back)."""
    if send.kind == "message":  # a registration cannot leave an audience closed under moves, so only then unread
        return not audience_kept(standings(send)) or send.attempts > (1 if claimed else 0)
    return send.kind in STANDINGS and (send.kind != "reminder" or send.attempts > (1 if claimed else 0))


@functools.lru_cache(maxsize=64)
def _offset(text: str) -> timedelta:
    """A reminder's offset (``P1D``), parsed once: the tick asks for it per mail."""
    return times.parse_duration(text, "reminders")


# ------------------------------------------------------------------- rate


class SendSlots:
    """At most ``rate`` sends a second, across every tick at once: each send takes its own slot of 1/rate s.

    Slots come in windows reserved on one record that every tick shares
    (``Repository.reserve_send_slots``, one conditional write per window,
    about one per batch), so the windows of two ticks never overlap; within
    its windows a tick sends one mail per slot, at the slot's start, so no two
    mails of any ticks go out less than 1/rate s apart. A tick that falls
    behind loses the slots already past rather than catching up in a burst.
    ``wall`` is the shared time (epoch seconds), ``clock`` the tick's own for
    its deadline; both and ``sleep`` are injectable, so tests run without
    waiting.
    """

    TOLERANCE = 1e-6  # seconds: epoch times carry about a tenth of that in rounding

    def __init__(self, reserve: Callable[..., Any], rate: float, *, wall: Callable[[], float],
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.reserve, self.rate, self.wall, self.clock, self.sleep = reserve, rate, wall, clock, sleep
        self.window: Any = None
        self.index = self.size = 0  # the next slot of the window, and how many it holds
        self.remaining = 1
        self.windows = 0

    def want(self, count: int) -> None:
        """The number of sends about to go out: the next window is sized for them."""
        self.remaining = max(1, count)

    def slot(self, index: int) -> float:
        return self.window.start + index / self.rate

    def acquire(self, deadline: float | None = None) -> bool:
        """Wait for this tick's next slot; False (taking nothing) if that would pass ``deadline`` (``clock`` time)."""
        while True:
            now = self.wall()
            if self.window is not None and now > self.slot(self.index) + self.TOLERANCE:
                # Behind: a send goes at the start of a slot, and the slots past are lost.
                self.index = math.ceil((now - self.window.start - self.TOLERANCE) * self.rate)
            if self.index >= self.size:
                if deadline is not None and self.clock() >= deadline:
                    return False
                resume = self.slot(self.index) if self.window is not None else None
                self.window = self.reserve(max(1, self.remaining), self.rate, now, last=self.window, resume=resume)
                self.index, self.size = 0, int((self.window.end - self.window.start) * self.rate + self.TOLERANCE)
                self.windows += 1
                continue
            wait = self.slot(self.index) - now
            if deadline is not None and self.clock() + max(wait, 0.0) > deadline:
                return False
            if wait > self.TOLERANCE:
                self.sleep(wait)
            self.index += 1
            self.remaining = max(1, self.remaining - 1)
            return True


# ------------------------------------------------------------------- tick


@dataclass
class TickResult:
    """What one tick did. ``due`` is what it found due; ``stale`` and ``skipped`` are recorded, not sent."""

    due: int = 0
    claimed: int = 0
    sent: int = 0
    stale: int = 0
    skipped: int = 0
    failed: int = 0
    throttled: int = 0     # SES throttling answers (each try counts)
    retry_later: int = 0   # released for a later tick
    taken: int = 0         # claimed by another dispatcher first
    stopped_early: bool = False
    reasons: dict[str, int] = field(default_factory=dict)

    def note(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


class _Deadline(Exception):
    """Raised inside a tick when the next send would pass its time budget."""


@dataclass
class _Tick:
    repo: Repository
    mailer: Mailer
    base_url: str
    key: bytes
    now: datetime
    slots: SendSlots
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    deadline: float
    started: float
    me: str
    result: TickResult
    queue: list[Send] = field(default_factory=list)
    drained: bool = False  # the last page held all that was due when it was read
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def current(self) -> datetime:
        """The tick's "now" moved on by the time it has run."""
        return self.now + timedelta(seconds=max(self.clock() - self.started, 0.0))

    # --- one send

    def settle(self, send: Send, state: str, reason: str | None = None, message_id: str | None = None) -> Send:
        at = self.current()
        if state == "sent":
            self.result.sent += 1
        elif reason and reason.startswith("stale"):
            self.result.stale += 1
        elif state == "skipped":
            self.result.skipped += 1
        elif state == "failed":
            self.result.failed += 1
        if reason:
            self.result.note(reason)
        # ``settled_at`` is the tick's moment; ``sent_at`` when the mail really went out (``send-due --now`` runs a
        # tick as of another moment, which is not when the person got it).
        sent_at = times.now() if state == "sent" else None
        return replace(send, state=state, reason=reason, message_id=message_id, settled_at=at, due_at=send.due,
                       sent_at=sent_at)

    def later(self, send: Send, at: datetime, reason: str, *, due: datetime | None = None,
              cutoff: datetime | None = None) -> Send:
        self.result.retry_later += 1
        return replace(send, state="pending", due_at=at, reason=reason, due=due or send.due,
                       cutoff=cutoff or send.cutoff)

    def check(self, send: Send, event: Event | None, person: Person | None, was_claimed: bool,
              registration: Any = None) -> Send | None:
        """Return the settled send if it must not go out now, or None if it should.

        ``registration`` is the person's registration for the event, read with
        the batch, or ``UNREAD`` (a first claim: planning and cancelling keep
        such a send in step with its registration).
        """
        now = self.current()
        if was_claimed:
            return self.settle(send, "skipped", INTERRUPTED)
        if event is None:
            return self.settle(send, "skipped", "event gone")
        if send.kind not in ("cancel", "message") and event.status != "published":
            return self.settle(send, "skipped", f"event {event.status}")
        if send.kind == "cancel" and event.status != "cancelled":
            return self.settle(send, "skipped", "event not cancelled")
        if send.kind == "reminder":
            offset = _offset(send.detail)
            due = event.starts_at - offset
            if due > now + timedelta(minutes=1):
                # The event moved later and this send missed the rescheduling.
                return self.later(send, due, "moved with the event", due=due,
                                  cutoff=min(due + grace(offset), event.starts_at))
        if send.kind == "open" and event.registration_not_open_yet(now):
            return self.later(send, event.registration_opens_at, "registration opens later",
                              due=event.registration_opens_at)
        stale = self.stale(send, event, now)
        if stale:
            return self.settle(send, "skipped", stale)
        if person is None:
            return self.settle(send, "skipped", "person erased")
        if not person.receives_mail:
            return self.settle(send, "skipped", f"mail stopped ({person.mail_stopped_reason or 'unknown'})")
        if registration is not UNREAD and (registration is None or registration.status not in standings(send)):
            return self.settle(send, "skipped", f"registration {registration.status if registration else 'gone'}")
        if send.kind == "open" and not event.is_registration_open(now):
            return self.settle(send, "skipped", "registration closed")
        return None

    @staticmethod
    def stale(send: Send, event: Event, now: datetime) -> str | None:
        if send.kind in ("reminder", "change", "open", "seat") and now >= event.starts_at:
            return "stale: the event has started"
        cutoff = send.cutoff
        if send.kind == "reminder":
            # Its grace as of the event's time now, not as planned: an event
            # moved earlier while a tick held the reminder (put back after
            # throttling) would otherwise get "starts in 1 day" hours before.
            offset = _offset(send.detail)
            cutoff = min(cutoff, event.starts_at - offset + grace(offset))
        if now > cutoff:
            return "stale: past its grace"
        return None

    def deliver(self, send: Send, event: Event, person: Person) -> Send:
        """Send one mail within the rate, retrying throttling with backoff; return the settled send."""
        try:
            mail = self.build(send, event, person)
        except Exception as exc:  # noqa: BLE001 - a mail that cannot be built is recorded, never retried forever
            log.exception("building a %s mail failed", send.kind)
            return self.settle(send, "failed", f"could not build the mail ({type(exc).__name__})")
        for attempt in range(TRIES_PER_TICK):
            if not self.slots.acquire(self.deadline):
                raise _Deadline()
            stale = self.stale(send, event, self.current())
            if stale:  # the wait for a slot (or a backoff) took it past its time
                return self.settle(send, "skipped", stale)
            try:
                message_id = self.mailer.send(mail)
            except MailThrottled as exc:
                self.result.throttled += 1
                pause = BACKOFF_FIRST * 2 ** attempt
                if attempt + 1 < TRIES_PER_TICK and self.clock() + pause < self.deadline:
                    self.sleep(pause)
                    continue
                return self._retry(send, f"throttled ({exc})")
            except MailRejected as exc:
                return self.settle(send, "failed", f"rejected by SES ({exc})")
            except MailUncertain as exc:
                # SES may have taken it: once or not at all, so it is not sent again.
                return self.settle(send, "failed", f"uncertain: SES did not answer ({exc}); not resent")
            return self.settle(send, "sent", message_id=message_id)
        return self._retry(send, "throttled")

    def _retry(self, send: Send, reason: str) -> Send:
        if send.attempts >= MAX_ATTEMPTS:
            return self.settle(send, "failed", f"gave up after {send.attempts} attempts: {reason}")
        wait = min(RETRY_FIRST * 2 ** (send.attempts - 1), RETRY_MAX)
        return self.later(send, self.current() + wait, reason)

    # --- mails

    def cached(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def build(self, send: Send, event: Event, person: Person) -> Mail:
        """The mail for one send: rendered once per kind of mail, then filled in for each person.

        All recipients of one reminder or notice get the same text but for
        their name and links. The first of each kind is rendered in full and
        also as a ``_Shape`` (rendered with placeholders); the shape is used
        for the rest only if filling it in reproduced that first mail exactly.
        An invitation (REQUEST or CANCEL) names its recipient as ATTENDEE: it is
        made once per event and filled in for each person (``ical.Invitation``).
        """

        links = mails.person_links(person, self.base_url, self.key)
        attachments = self.attachments(send, event, person.language, person.email, person.name)
        key = ("shape", send.kind, send.detail, person.language, event.id, event.sequence, event.updated_at,
               json.dumps(send.details, sort_keys=True, default=str) if send.details else "")
        shape = self._cache.get(key)
        if shape is None:
            mail = self.render(send, event, person.language, person.email, person.name, links, attachments)
            shape = _Shape.make(lambda name, placeholders: self.render(send, event, person.language, person.email,
                                                                       name, placeholders, ()))
            filled = replace(shape.fill(person.email, person.name, links), attachments=attachments)
            self._cache[key] = shape = shape if filled == mail else False
            return mail
        if shape is False:
            return self.render(send, event, person.language, person.email, person.name, links, attachments)
        return replace(shape.fill(person.email, person.name, links), attachments=attachments)

    def attachments(self, send: Send, event: Event, lang: str, email: str, name: str) -> tuple[Attachment, ...]:
        """The invitation a send carries (``mails.send_method``), made once per event and stamped as of the tick."""
        method = mails.send_method(send)
        if method is None:
            return ()
        made = self.cached(("invite", event.id, event.sequence, event.updated_at, lang, method),
                           lambda: invitation(event, lang=lang, base_url=self.base_url, method=method, stamp=self.now))
        return (mails.invitation_attachment(made, email, name, lang=lang),)

    def render(self, send: Send, event: Event, lang: str, email: str, name: str, links: Any,
               attachments: tuple[Attachment, ...] | None = None) -> Mail:
        calendar = self.cached(("links", event.id, event.sequence, event.updated_at, lang),
                               lambda: mails.add_links(event, lang, self.base_url))
        if attachments is None:
            attachments = self.attachments(send, event, lang, email, name)
        return mails.render_send(send, event, lang, email=email, name=name, links=links, calendar_links=calendar,
                                 attachments=attachments)

    # --- one batch

    def next_due(self, limit: int) -> list[Send]:
        """The next sends, at most ``limit``, from a page read once per PAGE: one Query serves ten claims.

        A send taken by another dispatcher since the page was read fails its
        claim (the claim is conditioned on what was read) and is dropped. A
        batch holds no more sends than the one read of what they need
        (``read_for_sends``: people, events, registrations to check) can
        take in one request.
        """
        if not self.queue and not self.drained:
            self.queue, more = self.repo.due_page(self.current(), PAGE)
            self.drained = not more  # what falls due meanwhile is the next tick's
        keys: set[tuple[str, ...]] = set()
        taken = 0
        for send in self.queue[:limit]:
            wanted = {("person", send.person_id), ("event", send.event_id)}
            if _checks_registration(send, claimed=False):
                wanted.add(("registration", send.event_id, send.person_id))
            if taken and len(keys | wanted) > READ_KEYS:
                break
            keys |= wanted
            taken += 1
        due, self.queue = self.queue[:taken], self.queue[taken:]
        return due

    def run_batch(self, limit: int) -> int:
        due = self.next_due(limit)
        if not due:
            return 0
        self.result.due += len(due)
        lease_until = self.current() + LEASE
        claiming_at = times.now()  # by the clock profiles are stamped with: one made after the claim is younger
        claimed = self.repo.claim_sends(due, by=self.me, lease_until=lease_until)
        self.result.claimed += len(claimed)
        self.result.taken += len(due) - len(claimed)
        was_claimed = {(s.event_id, s.key) for s in due if s.state == "claimed"}
        settled: list[Send] = []
        found: set[str] = set()  # people there since before the claim: their settles need no condition each
        try:
            # Read for each batch, as they are now: an event changed or
            # cancelled, a person who stopped mail or was erased, a
            # registration cancelled while a tick held its reminder (put back
            # after throttling) must not be mailed as they were.
            reads = self.repo.read_for_sends(
                [s.person_id for s in claimed], [s.event_id for s in claimed],
                [(s.event_id, s.person_id) for s in claimed if _checks_registration(s, claimed=True)])
            # A profile made after the claim may be the person's again, filled
            # in anew after an erasure that deleted the send unclaimed: not found.
            found = {person_id for person_id, person in reads.people.items()
                     if person.created_at <= claiming_at - CLOCK_MARGIN}
            self.slots.want(len(claimed))
            for send in claimed:
                event, person = reads.events.get(send.event_id), reads.people.get(send.person_id)
                registration: Any = UNREAD
                if _checks_registration(send, claimed=True):
                    registration = reads.registrations.get((send.event_id, send.person_id))
                outcome = self.check(send, event, person, (send.event_id, send.key) in was_claimed, registration)
                settled.append(outcome if outcome is not None else self.deliver(send, event, person))
        except (_Deadline, Unavailable) as exc:
            # Out of time, or the table failed us (a read, the send slots): what
            # was not handed to SES goes back as it was, for the next tick,
            # rather than waiting out its lease to be skipped as interrupted.
            if isinstance(exc, Unavailable):
                log.warning("tick stopped: %s", exc)
            self.result.stopped_early = True
            done = {(s.event_id, s.key) for s in settled}
            for send in (s for s in claimed if (s.event_id, s.key) not in done):
                if (send.event_id, send.key) in was_claimed:
                    # Its last holder may have handed it to SES: put back, it
                    # would look new to the next tick, and go out again.
                    settled.append(self.settle(send, "skipped", INTERRUPTED))
                else:
                    settled.append(replace(send, state="pending", due_at=send.due if send.due > self.now else self.now))
        finally:
            self.record(settled, found, lease_until)
        return len(due)

    def record(self, settled: list[Send], found: Collection[str] = (), lease_until: datetime | None = None) -> None:
        """Settle the batch, trying again a moment later if the table fails.

        Left claimed, its mails would be recorded "interrupted" once their
        lease ran out: the sent as not sent, and the put back never sent.
        The sends of ``found`` people are written without a condition each
        (``settle_sends``) on a first try only, and only while the lease
        holds: a try after a failure may come after the first one landed
        unanswered, and the sends were taken by another tick or erased
        unmarked since; nor may a claim whose lease ran out (a tick acting as
        of an earlier moment, ``send-due --now``) overwrite another's.
        """
        for attempt in range(SETTLE_TRIES):
            holds = lease_until is not None and lease_until - times.now() > CLOCK_MARGIN
            try:
                self.repo.settle_sends(settled, by=self.me, found=found if attempt == 0 and holds else ())
                return
            except Unavailable:
                if attempt + 1 == SETTLE_TRIES:
                    raise
                log.warning("recording a batch failed; trying again")
                self.sleep(BACKOFF_FIRST * 2 ** attempt)


def send_due(repo: Repository, mailer: Mailer, *, base_url: str, key: bytes, now: datetime | None = None,
             rate: float = 14.0, time_budget: float = TIME_BUDGET, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep, wall: Callable[[], float] | None = None,
             batch: int = BATCH) -> TickResult:
    """Send what is due as of ``now``, at most ``rate`` a second with every other tick, within ``time_budget`` s.

    ``now`` is the moment the tick acts as of (``send-due --now``); the rate
    is kept in real time: ``wall`` (epoch seconds), by default the system
    clock as moved on by ``clock``.
    """
    started = clock()
    if wall is None:
        epoch = time.time()
        wall = lambda: epoch + (clock() - started)  # noqa: E731
    tick = _Tick(repo=repo, mailer=mailer, base_url=base_url, key=key, now=now or times.now(),
                 slots=SendSlots(repo.reserve_send_slots, rate, wall=wall, clock=clock, sleep=sleep),
                 clock=clock, sleep=sleep,
                 deadline=started + time_budget, started=started, me=secrets.token_hex(8), result=TickResult())
    idle_rounds = 0
    while not tick.result.stopped_early:
        room = int((tick.deadline - clock()) * rate) + 1
        if room <= 0 or clock() >= tick.deadline:
            tick.result.stopped_early = tick.result.stopped_early or clock() >= tick.deadline
            break
        before = tick.result.claimed
        if tick.run_batch(min(batch, room, max(1, int(rate * BATCH_SECONDS)))) == 0:
            break
        idle_rounds = idle_rounds + 1 if tick.result.claimed == before else 0
        if idle_rounds >= 3:
            break  # what is due is being taken by other dispatchers; let them
    return tick.result


def tick_rate(account_rate: float) -> float:
    """The share of the SES account's rate the ticks take: the rest is left for the mails requests send at once.

    A confirmation request or a confirmation goes out while the person
    waits for the page, outside the ticks' send slots; with the whole rate
    taken by a long run of reminders, SES would throttle it and the person
    would be asked to try again. A tenth of the rate (at least one mail a
    second) is kept for them, and never more than half.
    """
    return max(account_rate - max(1.0, account_rate * REQUEST_SHARE), account_rate / 2)


def _plan_unplanned(repo: Repository, now: datetime, settings: config.Settings) -> None:
    """First, the mails of any staff change whose planning failed in its request (subscriptions.plan_unplanned)."""

    try:
        planning.plan_unplanned(repo, now, settings=settings)
    except Exception:  # noqa: BLE001 - whatever went wrong there, what is due still goes out
        log.exception("planning the mails of unplanned changes failed")

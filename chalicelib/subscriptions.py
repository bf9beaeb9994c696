"""Subscribe, confirm, manage: double opt-in, seats and the waiting list, erase, export.

A person is known by a keyed hash of their address (``tokens.person_id_for``).
The form never tells whether an address was known: every valid submission
gets the same answer, and what differs goes by mail to the address itself.

Seats are taken when a person confirms, not when they submit: an unconfirmed
address holds nothing. A full event puts the person on its waiting list in
the order they confirmed; a freed seat goes to the first on it at once.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from . import bounces, i18n, models, reminders, times, tokens
from .errors import (
    AwaitingConfirmation, Conflict, Gone, InvalidInput, InvalidInputs, LinkUsed, NotFound, TooManyRequests, Unavailable,
)
from .mail import Attachment, Mail, MailError, Mailer, render
from .models import (
    ID_PATTERN, KEPT_STATUSES, LANGUAGES, ConfirmToken, Event, Person, Registration,
)
from .storage import TOKEN_KEPT_AFTER_EXPIRY, EventChanged, Repository

log = logging.getLogger(__name__)

CONFIRM_VALIDITY = timedelta(hours=48)
# How long a profile lists a confirm link (``Person.tokens_made``), so that an erasure deletes its item: the
# link's validity, the item's life after it (its TTL), and a week for DynamoDB's TTL, which deletes an item
# "within a few days" of its time. At most ``confirmation_mails_per_day`` links a day: some 240 hashes.
TOKEN_LISTED_FOR = CONFIRM_VALIDITY + TOKEN_KEPT_AFTER_EXPIRY + timedelta(days=7)
STOPPED_MAILS_PER_DAY = 1  # confirmation mails a day to someone who stopped all mail, since the stop
UNCONFIRMED_RETENTION = timedelta(days=7)
NAME_MAX = 200
ORGANISATION_MAX = 200
QUESTION_MAX = 2_000
EMAIL_MAX = 254
EVENT_IDS_MAX = 20
TRUE_WORDS = {"true", "on", "yes", "1", "ja"}
RETRIES = 3
RESUME_AFTER = timedelta(minutes=2)  # a used confirm link left unfinished works again after this: longer than a request runs
IN_PROGRESS_WAIT, IN_PROGRESS_POLL = 5.0, 0.25  # seconds a second press waits for the first to finish, and how often it looks
_sleep = time.sleep


# ----------------------------------------------------------------- input


@dataclass(frozen=True)
class SubscriptionRequest:
    """A validated form or JSON submission."""

    email: str
    name: str
    organisation: str
    event_ids: tuple[str, ...]
    question: str
    language: str
    honeypot: bool = False


def normalise_email(value: Any) -> str:
    """Return the address in normal form, or raise InvalidInput("email", ...)."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("email", "is required")
    if len(value) > EMAIL_MAX:
        raise InvalidInput("email", f"must be at most {EMAIL_MAX} characters")
    try:
        # SES takes ASCII addresses only: a domain in other letters is sent
        # as its punycode (xn--) form, a name part in them is refused.
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput("email", f"is not a valid address ({exc})") from exc
    return result.ascii_email or result.normalized


def _one_line_text(value: Any, field: str, limit: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
    models.text_as_unicode(value, field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(field, "is required")
    if any(ord(c) < 32 or "\x7f" <= c <= "\x9f" or c in "\u2028\u2029" for c in value):
        raise InvalidInput(field, "must be on one line, without control characters")
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters (got {len(value)})")
    return value


def _question(value: Any) -> str:
    if value is None:
        return ""
    # As an event's description: line breaks become "\n", other control characters are dropped.
    return models.checked_text(value, "question", QUESTION_MAX, False, multiline=True)


def _event_ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInput("event_ids", "must be a list of event ids, like [\"webinar-2027-01-14\"]")
    if not isinstance(value, list) or not value:
        raise InvalidInput("event_ids", "choose at least one event")
    if len(value) > EVENT_IDS_MAX:
        raise InvalidInput("event_ids", f"at most {EVENT_IDS_MAX} events at once")
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not ID_PATTERN.match(item):
            raise InvalidInput("event_ids", f"{str(item)[:80]!r} is not an event id")
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _consent(value: Any) -> bool:
    if value is True:
        return True
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS


def parse_subscription(data: Any) -> SubscriptionRequest:
    """Validate a submission; raise InvalidInputs listing every problem with its field."""
    if not isinstance(data, dict):
        raise InvalidInputs([InvalidInput("body", "must be a JSON object")])
    problems: list[InvalidInput] = []
    values: dict[str, Any] = {}
    checks = {
        "email": lambda: normalise_email(data.get("email")),
        "name": lambda: _one_line_text(data.get("name"), "name", NAME_MAX, True),
        "organisation": lambda: _one_line_text(data.get("organisation"), "organisation", ORGANISATION_MAX, False),
        "event_ids": lambda: _event_ids(data.get("event_ids")),
        "question": lambda: _question(data.get("question")),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except InvalidInput as problem:
            problems.append(problem)
    language = data.get("language") or "nl"
    if language not in LANGUAGES:
        problems.append(InvalidInput("language", "must be nl or en"))
    if not _consent(data.get("consent")):
        problems.append(InvalidInput("consent", "is required: agree to the privacy notice to subscribe"))
    if problems:
        raise InvalidInputs(problems)
    honeypot = data.get("website")
    return SubscriptionRequest(
        language=language, honeypot=bool(isinstance(honeypot, str) and honeypot.strip()), **values,
    )


# --------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Links:
    """A person's lasting links, derived from their id."""

    manage: str
    unsubscribe: str
    feed: str
    webcal: str


def person_links(person: Person | str, base_url: str, key: bytes | None = None) -> Links:
    """Return the manage, unsubscribe and personal feed links of a person (``key``: the signing key, if at hand).

    ``person``: the profile, whose link salt the links carry; or a person id alone, for a profile without
    one (made before salts).
    """
    key = key or tokens.signing_key()
    person_id, salt = (person, "") if isinstance(person, str) else (person.id, person.link_salt)

    def token(purpose: str) -> str:
        return tokens.person_token(purpose, person_id, key, salt)

    feed_path = f"/feeds/{token('feed')}.ics"
    return Links(
        manage=f"{base_url}/manage/{token('manage')}",
        unsubscribe=f"{base_url}/unsubscribe/{token('unsubscribe')}",
        feed=base_url + feed_path,
        webcal=_webcal_base(base_url) + feed_path,
    )


@functools.lru_cache(maxsize=8)
def _webcal_base(base_url: str) -> str:
    """The webcal:// form of the base URL, to which a feed's path is added (the tick makes one per mail)."""
    from .feeds import webcal_url

    return webcal_url(base_url)


class ErasedPersonLink(NotFound):
    """A genuine person link (its HMAC holds) whose person no longer exists: erased, or expired with their data.

    Told apart from a forged or mistyped link (plain NotFound): its page says the
    data is erased and there is nothing more to do, not "check the link".
    """


def person_for_token(repo: Repository, purpose: str, token: str) -> Person:
    """Return the person a link token stands for; NotFound when it is not genuine, ErasedPersonLink when the
    person is gone.

    A genuine link whose salt is not the profile's was made for an earlier profile of the address, erased
    since (the address was subscribed again): NotFound, as a link we do not know; it must not reach the new
    profile, and saying "erased" would tell its holder the address was subscribed again.
    """
    read = tokens.read_person_token(purpose, token, tokens.signing_key())
    if not read:
        raise NotFound("token: this link is not valid (any more)")
    person_id, salt = read
    person = repo.get_person(person_id)
    if person is None:
        raise ErasedPersonLink("token: the data of this link's person is erased")
    if not tokens.same_salt(salt, person.link_salt):
        raise NotFound("token: this link is not valid (any more)")
    return person


def _retention_until(event: Event, now: datetime) -> datetime:
    from . import config

    days = config.load().registration_retention_days
    return max(event.ends_at, now) + timedelta(days=days)


def _events_by_id(repo: Repository) -> dict[str, Event]:
    return {e.id: e for e in repo.list_events()}


def _can_register(event: Event, now: datetime) -> bool:
    """Whether the form accepts this event: open now, or published and opening later."""
    if event.status != "published" or now >= event.starts_at:
        return False
    if event.registration_closes_at is not None and now >= event.registration_closes_at:
        return False
    return True


# -------------------------------------------------------------- subscribe


class MailLimitReached(TooManyRequests):
    """No confirmation mail went out: the address has had its share of them for the hour or the day.

    ``period``: "hour" or "day", the limit that holds longest; ``retry_after``:
    whole seconds until a mail would go out again. Only what proves the
    address (a mailed link held: the resend buttons) may be told this; the
    form answers every address alike.
    """

    def __init__(self, period: str, wait: timedelta):
        super().__init__(f"email: the confirmation mails of this {period} are used up; try again later")
        self.period = period
        self.retry_after = max(1, math.ceil(wait.total_seconds()))


def _mail_limit(mails: Any, now: datetime, *, per_hour: int, per_day: int,
                stopped_at: datetime | None = None) -> MailLimitReached | None:
    """The limit a confirmation mail now would break (None: within all), with how long it holds.

    ``mails``: the address's confirmation mails (``Person.confirm_mails``). Every one of the last hour and day
    counts against ``per_hour`` and ``per_day``; with ``stopped_at`` (the person stopped all mail then), those
    since the stop also count against ``STOPPED_MAILS_PER_DAY``. The stop adds a limit, never lifts one: a
    stop after the day's mails, or stops and resumes in turn, let no more through. The longest wait wins.
    """
    day = sorted(t for t in mails if t > now - timedelta(days=1))
    hour = [t for t in day if t > now - timedelta(hours=1)]
    limits = [(day, per_day, timedelta(days=1), "day"), (hour, per_hour, timedelta(hours=1), "hour")]
    if stopped_at is not None:
        limits.append(([t for t in day if t > stopped_at], STOPPED_MAILS_PER_DAY, timedelta(days=1), "day"))
    waits = [(counted[len(counted) - allowed] + period - now, name)
             for counted, allowed, period, name in limits if len(counted) >= allowed]
    if not waits:
        return None
    wait, period = max(waits)
    return MailLimitReached(period, wait)


@dataclass(frozen=True)
class Submitted:
    """What a submission mailed (``_submit``): ``mailed``, whether a mail went out (a confirm link, or "already
    registered"); ``limit``, set when none went only because the address's confirmation mails are used up."""

    mailed: bool
    limit: MailLimitReached | None = None


def subscribe(repo: Repository, mailer: Mailer, data: Any, *, base_url: str, now: datetime | None = None) -> None:
    """Take a submission and mail the address a confirmation link; the answer never depends on the address."""
    _submit(repo, mailer, data, base_url=base_url, now=now)


def _submit(repo: Repository, mailer: Mailer, data: Any, *, base_url: str, now: datetime | None = None,
            existing_only: bool = False) -> Submitted:
    """``subscribe``, saying what it mailed: for the resend buttons, whose holder proved the address, not the form.

    ``existing_only`` (the resend buttons): only for a person who exists. One gone meanwhile (an erasure
    between the button's read and this one, or this write) raises ErasedPersonLink; no profile is made again,
    nothing is mailed.
    """
    from . import config

    now = now or times.now()
    request = parse_subscription(data)
    events = _events_by_id(repo)
    for event_id in request.event_ids:
        event = events.get(event_id)
        if event is None or event.status not in ("published", "cancelled"):
            raise InvalidInputs([InvalidInput("event_ids", f"there is no event {event_id!r}")])
        if not _can_register(event, now):
            raise InvalidInputs([InvalidInput("event_ids", f"registration for {event.title_in(request.language)!r} is closed")])
    if request.honeypot:
        return Submitted(False)  # a bot filled the hidden field: same answer, nothing kept, nothing sent

    key = tokens.signing_key()
    person_id = tokens.person_id_for(request.email.lower(), key)
    settings = config.load()
    for attempt in range(RETRIES):
        person = repo.get_person(person_id)
        if person is None and existing_only:
            raise ErasedPersonLink("token: the data of this link's person is erased")
        existing = repo.get_registrations(person_id, list(request.event_ids))
        kept = [existing[e] for e in request.event_ids if e in existing and existing[e].status in KEPT_STATUSES]
        fresh_ids = [e for e in request.event_ids if e not in existing or existing[e].status not in KEPT_STATUSES]
        # At most so many confirmation mails an hour and a day, and to someone who stopped all mail one a day
        # since the stop besides: the form must not become a way to flood someone's mailbox from the office's
        # address.
        recent = tuple(t for t in (person.confirm_mails if person else ()) if t > now - timedelta(days=1))
        stopped_at = person.mail_stopped_at if person is not None and \
            person.mail_stopped_reason == "unsubscribed" else None
        limit = _mail_limit(recent, now, per_hour=settings.confirmation_mails_per_hour,
                            per_day=settings.confirmation_mails_per_day, stopped_at=stopped_at)
        within = limit is None
        # An address that bounced or complained is never mailed again, even
        # once its person has expired or been erased: SES keeps the
        # suppression by the address's hash (bounces.py).
        suppressed = repo.suppression(bounces.address_hash(request.email)) if person is None else None
        may_mail = within and suppressed is None and (
            person is None or person.mail_stopped_reason in (None, "unsubscribed"))
        token_value, token_hash = tokens.new_token()
        token = None
        if fresh_ids and may_mail:
            token = ConfirmToken(token_hash=token_hash, person_id=person_id, event_ids=tuple(fresh_ids),
                                 created_at=now, expires_at=now + CONFIRM_VALIDITY, name=request.name,
                                 organisation=request.organisation, language=request.language,
                                 question=request.question)
        registrations = [
            Registration(
                event_id=e, person_id=person_id, email=request.email, name=request.name,
                organisation=request.organisation, language=request.language, status="pending",
                question=request.question, registered_at=existing[e].registered_at if e in existing else now,
                updated_at=now, expires_at=now + UNCONFIRMED_RETENTION,
            )
            for e in fresh_ids
        ]
        updated = _person_after_submission(person, request, person_id, now, registrations, token, may_mail, recent)
        if suppressed is not None:
            updated = replace(updated, mail_stopped_at=now, mail_stopped_reason=suppressed)
        try:
            repo.save_subscription(updated, previous=person, registrations=registrations, token=token)
            break
        except Conflict:
            if attempt == RETRIES - 1:
                raise
    else:  # pragma: no cover - the loop breaks or raises
        return Submitted(False)

    if not may_mail:
        # Not mailed because of the limit alone (not a bounce, a complaint or a stop by staff): say which.
        blocked = suppressed is not None or (person is not None and
                                             person.mail_stopped_reason not in (None, "unsubscribed"))
        return Submitted(False, None if blocked else limit)
    lang = request.language
    links = person_links(updated, base_url)
    # The name typed into the form is not the address owner's word until they
    # confirm: it is not put in the greeting or the To: header, which would
    # let anyone send a text of their choice from the office's address.
    if token is not None:
        _send(mailer, "confirm_request", lang, to_email=request.email, to_name="", links=links,
              name="", confirm_url=f"{base_url}/confirm/{token_value}",
              events=[events[e] for e in fresh_ids], already=[(events[r.event_id], r.status) for r in kept],
              valid_hours=int(CONFIRM_VALIDITY.total_seconds() // 3600))
    elif kept:
        known = person.name if person is not None else ""  # the name they confirmed
        _send(mailer, "already_registered", lang, to_email=request.email, to_name=known, links=links,
              name=known, registrations=[(events[r.event_id], r.status) for r in kept])
    else:  # pragma: no cover - every event chosen is either fresh or kept
        return Submitted(False)
    return Submitted(True)


def _person_after_submission(person: Person | None, request: SubscriptionRequest, person_id: str, now: datetime,
                             registrations: list[Registration], token: ConfirmToken | None,
                             may_mail: bool, recent: tuple[datetime, ...]) -> Person:
    mails = recent + ((now,) if may_mail else ())
    new_events = frozenset(r.event_id for r in registrations)
    made = _tokens_listed(person, token, now)
    if person is None:
        return Person(
            id=person_id, email=request.email, name=request.name, organisation=request.organisation,
            language=request.language, created_at=now, updated_at=now, confirm_mails=mails,
            event_ids=new_events, tokens_made=made, expires_at=now + UNCONFIRMED_RETENTION,
            link_salt=tokens.new_link_salt(),
        )
    # Name and language of a known person change only when they confirm:
    # anyone can type someone else's address into the form.
    return replace(
        person, updated_at=max(now, person.updated_at + timedelta(microseconds=1)), confirm_mails=mails,
        event_ids=person.event_ids | new_events, token_hashes=frozenset(), tokens_made=made,
        expires_at=max(person.expires_at or now, now + UNCONFIRMED_RETENTION),
    )


def _tokens_listed(person: Person | None, token: ConfirmToken | None, now: datetime) -> tuple[tuple[str, str], ...]:
    """The profile's ``tokens_made`` after a submission: its links whose item may still be stored, and the new one.

    A link is dropped once its item's TTL has passed (``TOKEN_LISTED_FOR``): the profile stays small whoever
    keeps typing the address into the form, and an erasure still deletes every link that may be stored. Links
    listed before their times were kept (``Person.token_hashes``) are taken as made now: they are kept as long.
    """
    since = times.to_utc_iso(now - TOKEN_LISTED_FOR)
    listed = [(made, token_hash) for made, token_hash in (person.tokens_made if person else ()) if made > since]
    if person is not None:
        listed += [(times.to_utc_iso(now), token_hash) for token_hash in sorted(person.token_hashes)]
    if token is not None:
        listed.append((times.to_utc_iso(token.created_at), token.token_hash))
    return tuple(sorted(set(listed)))


# ---------------------------------------------------------------- confirm


@dataclass(frozen=True)
class ConfirmView:
    """What the confirm page shows before the button is pressed."""

    language: str
    name: str
    events: list[Event]


@dataclass(frozen=True)
class Outcome:
    """What became of one registration: confirmed, waitlisted, interested, closed, cancelled (the event, by staff,
    before the confirm) or already (kept as it was).

    ``kept`` is the status an "already" one has (confirmed, waitlisted or
    interested): only a confirmed one is shown as registered, with its join link.
    """

    event: Event
    status: str
    kept: str = ""

    @property
    def standing(self) -> str:
        """Where the person stands now: the status, or for "already" the status kept."""
        return self.kept if self.status == "already" else self.status


@dataclass(frozen=True)
class ConfirmResult:
    language: str
    name: str
    outcomes: list[Outcome]
    manage_url: str


def _live_token(repo: Repository, token: str, now: datetime, *, wait: bool = False) -> ConfirmToken:
    """The stored link, in time, and not used; or used by a confirm that never finished (a 503, say).

    A confirm spends the link first, places the registrations, mails, and
    marks the link done. Pressed again once done, it says so (``LinkUsed``).
    Pressed again while another request is using it (a double click), it
    waits a moment for that one to finish (with ``wait``); still unfinished,
    it is a 503 ("try again in a few minutes"). Once no request of the first
    use can still be running (``RESUME_AFTER``), an unfinished link works
    again, so a confirm that failed partway never leaves its registrations
    pending behind a spent link.
    """
    if not tokens.looks_like_token(token):
        raise NotFound("token: unknown link")
    token_hash = tokens.token_hash(token)
    stored = repo.get_confirm_token(token_hash)
    waited = 0.0
    while True:
        if stored is None:
            raise NotFound("token: unknown link")
        if stored.expires_at <= now:
            raise Gone("token: this link has expired; ask for a new mail")
        if stored.done_at is not None or (stored.used_at is not None and not stored.name):
            # (A link used before links carried their submission was never marked done: done, too.)
            raise LinkUsed("token: this link was used already; ask for a new mail", person_id=stored.person_id)
        if stored.used_at is None or stored.used_at <= now - RESUME_AFTER:
            return stored
        if not wait or waited >= IN_PROGRESS_WAIT:
            raise Unavailable("token: a confirm with this link is under way, or failed a moment ago; try again "
                              "in a few minutes")
        _sleep(IN_PROGRESS_POLL)
        waited += IN_PROGRESS_POLL
        stored = repo.get_confirm_token(token_hash)


def _spend(repo: Repository, token: str, now: datetime) -> ConfirmToken:
    """Take the link for this confirm: mark it used (again, for a resume), or meet the press that took it first."""
    for _ in range(RETRIES):
        stored = _live_token(repo, token, now, wait=True)
        try:
            repo.use_confirm_token(stored.token_hash, now, seen=stored.used_at)
            return stored
        except Gone:
            continue  # another press took it between our read and our write: look again (and wait for it)
    raise Unavailable("token: a confirm with this link is under way; try again in a few minutes")


def _submission(stored: ConfirmToken, regs: dict[str, Registration]) -> dict[str, str]:
    """What the link was mailed for: the name, organisation, language and question submitted with it."""
    if stored.name:
        return {"name": stored.name, "organisation": stored.organisation, "language": stored.language,
                "question": stored.question}
    latest = max(regs.values(), key=lambda r: r.updated_at, default=None)  # a link made before tokens carried it
    return {} if latest is None else {"name": latest.name, "organisation": latest.organisation,
                                      "language": latest.language, "question": latest.question}


def inspect_confirm_token(repo: Repository, token: str, *, now: datetime | None = None) -> ConfirmView:
    """Check a confirm link without using it (a GET must change nothing)."""
    now = now or times.now()
    stored = _live_token(repo, token, now)
    person = repo.get_person(stored.person_id)
    if person is None:
        raise Gone("token: this link is no longer valid")
    events = _events_by_id(repo)
    submitted = _submission(stored, repo.get_registrations(stored.person_id, list(stored.event_ids)))
    return ConfirmView(language=submitted.get("language", person.language), name=submitted.get("name", person.name),
                       events=[events[e] for e in stored.event_ids if e in events])


def confirm(repo: Repository, mailer: Mailer, token: str, *, base_url: str, now: datetime | None = None) -> ConfirmResult:
    """Use a confirm link: take seats (or waiting-list places), and mail the events with their .ics."""
    now = now or times.now()
    stored = _spend(repo, token, now)
    person = repo.get_person(stored.person_id)
    if person is None:
        raise Gone("token: this link is no longer valid")
    events = _events_by_id(repo)
    regs = repo.get_registrations(person.id, list(stored.event_ids))
    submitted = _submission(stored, regs)
    person = _confirm_person(repo, person, submitted, now, events, regs)

    outcomes = []
    for event_id in stored.event_ids:
        event, reg = events.get(event_id), regs.get(event_id)
        if event is None or reg is None:
            continue
        if event.status != "published":
            # Cancelled meanwhile: no invitation for it, and the person is told it is cancelled, not merely closed.
            outcomes.append(Outcome(event, "cancelled" if event.status == "cancelled" else "closed"))
            continue
        if reg.status != "pending":
            kept = reg.status in KEPT_STATUSES
            outcomes.append(Outcome(event, "already", reg.status) if kept else Outcome(event, "closed"))
            continue
        status, kept, event = _place_again(repo, event, replace(reg, **submitted), now, details=submitted)
        if status == "already":
            outcomes.append(Outcome(event, status, kept))
            continue
        if status == "waitlisted":
            # A seat freed while we were putting them on the list must not
            # stay empty: fill free seats from the list, in order.
            promoted = promote_waiting(repo, event.id, now=now, quiet_for=person.id)
            if person.id in promoted:
                status = "confirmed"
        outcomes.append(Outcome(event, status))
    # An event read again because staff moved it meanwhile (a postponement the
    # profile was saved before): the profile is kept as long as its registration.
    person = _keep_person_until(repo, person, [o.event for o in outcomes if o.status in KEPT_STATUSES], now) or person
    links = person_links(person, base_url)
    _mail_outcomes(mailer, person, outcomes, links, base_url)
    try:
        repo.finish_confirm_token(stored.token_hash, now)
    except Unavailable:
        # All is done and mailed; only the mark failed. A press again after
        # RESUME_AFTER runs the confirm once more, which finds everything kept.
        log.warning("a confirm link could not be marked done")
    return ConfirmResult(language=person.language, name=person.name, outcomes=outcomes, manage_url=links.manage)


def _place_again(repo: Repository, event: Event, reg: Registration, now: datetime, *,
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
            return place(repo, event, reg, now, expect=(reg.status,)), "", event
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


def _change_person(repo: Repository, person: Person, change: Callable[[Person], dict[str, Any] | None],
                   now: datetime, *, gone_ok: bool = False) -> Person | None:
    """Save the profile with ``change(person)`` (None: nothing to change), read again when it changed meanwhile.

    A profile gone meanwhile (erased) raises ErasedPersonLink (a manage page's button pressed while an
    erasure ran shows "your data is erased"), or with ``gone_ok`` is left gone (None).
    """
    for attempt in range(RETRIES):
        changes = change(person)
        if changes is None:
            return person
        updated = replace(person, **changes, updated_at=max(now, person.updated_at + timedelta(microseconds=1)))
        try:
            repo.save_person(updated, previous=person)
            return updated
        except Conflict:
            fresh = repo.get_person(person.id)
            if fresh is None:
                if gone_ok:
                    return None
                raise ErasedPersonLink("token: the data of this link's person is erased") from None
            if attempt == RETRIES - 1:
                raise
            person = fresh
    raise AssertionError("unreachable")  # pragma: no cover


def _confirm_person(repo: Repository, person: Person, submitted: dict[str, str], now: datetime,
                    events: dict[str, Event], regs: dict[str, Registration]) -> Person:
    def confirmed(person: Person) -> dict[str, Any]:
        expiry = max([person.expires_at or now] + [_retention_until(events[e], now) for e in regs if e in events])
        changes: dict[str, Any] = {"confirmed_at": person.confirmed_at or now, "expires_at": expiry}
        if submitted:
            changes.update(name=submitted["name"], organisation=submitted["organisation"],
                           language=submitted["language"])
        if person.mail_stopped_reason == "unsubscribed":
            changes.update(mail_stopped_at=None, mail_stopped_reason=None)  # they asked for mail again
        return changes

    updated = _change_person(repo, person, confirmed, now)
    assert updated is not None
    return updated


def _keep_person_until(repo: Repository, person: Person, events: list[Event], now: datetime) -> Person | None:
    """Raise the profile's expiry to the retention of ``events`` (never lower it); no write if it is there already."""
    until = max((_retention_until(e, now) for e in events), default=None)
    if until is None:
        return person
    return _change_person(repo, person, lambda p: None if (p.expires_at or until) >= until else {"expires_at": until},
                          now, gone_ok=True)


def place(repo: Repository, event: Event, reg: Registration, now: datetime, expect: tuple[str, ...] = ("pending",)) -> str:
    """Give a registration its place: a seat, the waiting list, or interest until registration opens.

    Every move is conditioned on ``event`` being as read (EventChanged otherwise, nothing written):
    the expiry and the reminders written come from it. The storage never lowers the expiry stored.
    """
    expiry = _retention_until(event, now)
    if not _can_register(event, now):
        return "closed"
    # The mails a status calls for are planned in the same transaction as the
    # status itself (reminders.py): nothing is lost between the two.
    if event.registration_not_open_yet(now):
        interested = replace(reg, status="interested", updated_at=now, expires_at=expiry)
        repo.move_registration(interested, expect=expect, put_sends=[reminders.open_send(event, interested, now)],
                               event_seen=event)
        return "interested"
    no_longer_interested = [reminders.open_send(event, reg, now)]
    seated = replace(reg, status="confirmed", confirmed_at=now, updated_at=now, expires_at=expiry)
    # A seat freed and not yet offered (Event.seat_freed_at) is owed to the
    # people waiting: a newcomer queues behind them, and the promotion that
    # follows gives the seats out in order.
    owed = event.capacity is not None and event.seat_freed_at is not None
    if not owed and repo.move_registration(seated, expect=expect, seat_change=1, capacity=event.capacity,
                                           put_sends=reminders.reminder_sends(event, seated, now),
                                           drop_sends=no_longer_interested, event_seen=event):
        return "confirmed"
    waiting = replace(reg, status="waitlisted", waitlisted_at=now, updated_at=now, expires_at=expiry)
    repo.move_registration(waiting, expect=expect, drop_sends=no_longer_interested, event_seen=event)
    return "waitlisted"


def resend_confirmation(repo: Repository, mailer: Mailer, token: str, *, base_url: str, now: datetime | None = None) -> None:
    """For an expired or used link: mail a new one for the same events (same limits as the form).

    MailLimitReached when the limits let no mail go: the link proves its holder
    was mailed at that address, so the page may say so (the form may not).
    """
    now = now or times.now()
    if not tokens.looks_like_token(token):
        raise NotFound("token: unknown link")
    stored = repo.get_confirm_token(tokens.token_hash(token))
    person = repo.get_person(stored.person_id) if stored else None
    if stored is None or person is None:
        raise NotFound("token: unknown link")
    submitted = _submission(stored, repo.get_registrations(person.id, list(stored.event_ids))) or {
        "name": person.name, "organisation": person.organisation, "language": person.language, "question": ""}
    result = _submit(repo, mailer, {"email": person.email, **submitted, "event_ids": list(stored.event_ids),
                                    "consent": True}, base_url=base_url, now=now, existing_only=True)
    if result.limit is not None:
        raise result.limit


# ----------------------------------------------------------------- mails


def build_mail(template: str, lang: str, *, to_email: str, to_name: str, links: Links,
               attachments: tuple[Attachment, ...] = (), **context: Any) -> Mail:
    """Render ``mail/<template>`` (subject, text, HTML) in ``lang`` into one Mail to one person."""
    subject = i18n.render(f"mail/{template}_subject.txt", lang, **context).strip()
    text, html = render(template, lang, links=links, **context)
    return Mail(to_email=to_email, to_name=to_name, subject=subject, text=text, html=html,
                unsubscribe_url=links.unsubscribe, kind=template, attachments=attachments)


def _send(mailer: Mailer, template: str, lang: str, *, to_email: str, to_name: str, links: Links,
          attachments: tuple[Attachment, ...] = (), required: bool = True, **context: Any) -> str | None:
    """Send one mail now. If SES fails: a ``required`` mail (what the person waits for) makes the request a 503
    to try again; any other is logged and let go, as what it reports is already done and shown."""
    try:
        return mailer.send(build_mail(template, lang, to_email=to_email, to_name=to_name, links=links,
                                      attachments=attachments, **context))
    except MailError as exc:
        if required:
            raise Unavailable(f"mail: {type(exc).__name__}") from exc
        log.warning("a %s mail could not be sent: %s", template, type(exc).__name__)
        return None


def calendar_attachment(events: list[Event], lang: str, base_url: str, method: str = "PUBLISH",
                        filename: str | None = None) -> Attachment:
    """The .ics for a mail: with the join link for confirmed people (PUBLISH); a cancellation, to all, without.

    Events to add, not a calendar to subscribe to: no calendar name (feeds.build_calendar).
    """
    from .feeds import build_calendar

    data = build_calendar(events, lang=lang, base_url=base_url, include_join_link=method != "CANCEL", method=method,
                          feed=False)
    return Attachment(filename=filename or ("invite.ics" if method != "CANCEL" else "cancelled.ics"),
                      content_type=f"text/calendar; method={method}; charset=utf-8", data=data)


def invite_attachments(events: list[Event], lang: str, base_url: str) -> tuple[Attachment, ...]:
    """One invite per event: Outlook imports only the first event of a file with several, or opens it as a calendar.

    One event: ``invite.ics``; several: ``invite-<event id>.ics`` each.
    """
    if len(events) == 1:
        return (calendar_attachment(events, lang, base_url),)
    return tuple(calendar_attachment([e], lang, base_url, filename=f"invite-{e.id}.ics") for e in events)


def add_links(event: Event, lang: str, base_url: str) -> dict[str, str]:
    from .feeds import add_to_calendar_links

    return add_to_calendar_links(event, lang=lang, base_url=base_url)


def _mail_outcomes(mailer: Mailer, person: Person, outcomes: list[Outcome], links: Links, base_url: str) -> None:
    if not person.receives_mail or not outcomes:
        return
    lang = person.language
    confirmed = [o.event for o in outcomes if o.standing == "confirmed"]  # the join link for these alone
    attachments = invite_attachments(confirmed, lang, base_url)
    _send(mailer, "confirmed", lang, to_email=person.email, to_name=person.name, links=links,
          attachments=attachments, required=False, name=person.name, outcomes=outcomes,
          calendar_links={e.id: add_links(e, lang, base_url) for e in confirmed})


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

    @property
    def unconfirmed_ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self.unconfirmed)


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


def _person_view(repo: Repository, person: Person, *, base_url: str, now: datetime,
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
    return ManageView(person=person, registrations=rows, links=person_links(person, base_url),
                      waiting=waiting, interested=awaiting("interested"), unconfirmed=unconfirmed,
                      places={e: p for e, p in places.items() if p})


def _waiting_order(reg: Registration) -> tuple[datetime, str]:
    """The order in which people waiting get a free seat (``_promote``)."""
    return (reg.waitlisted_at or reg.registered_at, reg.person_id)


def _place_in_line(repo: Repository, event_id: str, reg: Registration) -> int | None:
    """The person's place on the event's waiting list (1: the next free seat is theirs); one Query of the event."""
    if reg.status != "waitlisted":
        return None
    mine = _waiting_order(reg)
    return 1 + sum(1 for r in repo.list_registrations(event_id)
                   if r.status == "waitlisted" and r.person_id != reg.person_id and _waiting_order(r) < mine)


def manage_view(repo: Repository, token: str, *, base_url: str, now: datetime | None = None) -> ManageView:
    """Return the person's registrations, soonest first, with their links.

    A pending one is shown waiting for its confirmation while a link mailed for
    it still works; after that, while its record lasts and the event takes
    registrations, as ``unconfirmed`` (a new mail or a cancel is the way on);
    otherwise as nothing.
    """
    now = now or times.now()
    return _person_view(repo, person_for_token(repo, "manage", token), base_url=base_url, now=now)


def resend_from_manage(repo: Repository, mailer: Mailer, token: str, *, base_url: str,
                       now: datetime | None = None) -> bool:
    """The manage page's "send me a new confirmation email": a fresh confirm link for the ``unconfirmed`` events.

    The manage link proves the address, so the mail goes to the person's
    stored address, through the form's own path (``_submit``) and its limits;
    each link carries what was typed for its registrations (one mail per
    submission, as the form mailed them), and the confirm page shows the name
    before anything is applied. Return whether a mail went out (False: nothing
    waits for a new link, or mail to the address is stopped by a bounce, a
    complaint or staff); MailLimitReached when the limits held it back.
    """
    now = now or times.now()
    person = person_for_token(repo, "manage", token)
    if person.mail_stopped_reason not in (None, "unsubscribed"):
        return False
    view = _person_view(repo, person, base_url=base_url, now=now)
    submissions: dict[tuple[str, str, str, str], list[str]] = {}
    for event, reg in sorted(view.registrations, key=lambda row: row[1].updated_at):
        if event.id in view.unconfirmed_ids:
            # The profile's language: the person may have chosen it on this page since the form.
            key = (reg.name or person.name, reg.organisation, person.language, reg.question)
            submissions.setdefault(key, []).append(event.id)
    mailed = False
    for (name, organisation, language, question), event_ids in submissions.items():
        result = _submit(repo, mailer, {"email": person.email, "name": name, "organisation": organisation,
                                        "language": language, "question": question, "event_ids": event_ids,
                                        "consent": True}, base_url=base_url, now=now, existing_only=True)
        if result.limit is not None:
            if mailed:
                break  # one mail went out: the page says so; the rest waits for the next press
            raise result.limit
        mailed = mailed or result.mailed
    return mailed


def unsubscribe_view(repo: Repository, token: str, *, base_url: str, now: datetime | None = None) -> ManageView:
    """The person of an unsubscribe link, with what stopping mail would silence (the button page's warning).

    Only ``waiting`` and ``interested`` are for the page: the view's manage links
    are not to be shown from an unsubscribe link, which works for that one purpose.
    """
    now = now or times.now()
    return _person_view(repo, person_for_token(repo, "unsubscribe", token), base_url=base_url, now=now,
                        pending=False)


def resume_mail(repo: Repository, token: str, *, now: datetime | None = None) -> Person:
    """The manage page's "receive our emails again": lift a stop the person made themselves.

    A stop by a bounce or a complaint stays (mail to that address fails or was
    reported as unwanted; SES keeps the suppression by the address's hash), as
    does a suppression recorded for the address. Lifting the stop clears
    ``mail_stopped_at``, so the form's confirmation mails keep to the usual
    limits alone (``_mail_limit``), without the one a day since the stop.
    """
    now = now or times.now()
    person = person_for_token(repo, "manage", token)
    if person.mail_stopped_reason != "unsubscribed":
        return person  # not stopped, or stopped by a bounce or complaint: nothing this button may change
    if repo.suppression(bounces.address_hash(person.email)) is not None:
        return person

    def resumed(person: Person) -> dict[str, Any] | None:
        if person.mail_stopped_reason != "unsubscribed":
            return None  # a bounce or complaint meanwhile: it stays
        return {"mail_stopped_at": None, "mail_stopped_reason": None}

    return _change_person(repo, person, resumed, now) or person


def set_mail_language(repo: Repository, token: str, language: Any, *, now: datetime | None = None) -> Person:
    """The manage page's "language of our emails": the profile's language, which every later mail is written in
    (the tick reads ``Person.language``). Registrations keep the language they were submitted in."""
    now = now or times.now()
    if language not in LANGUAGES:
        raise InvalidInput("language", "must be nl or en")
    person = person_for_token(repo, "manage", token)
    return _change_person(repo, person, lambda p: None if p.language == language else {"language": language},
                          now) or person


def _own_registration(repo: Repository, token: str, event_id: str) -> tuple[Person, Event, Registration]:
    """The person of a manage link, the event and their registration for it; NotFound if they have none."""
    person = person_for_token(repo, "manage", token)
    event = _events_by_id(repo).get(event_id)
    reg = repo.get_registrations(person.id, [event_id]).get(event_id) if event else None
    if event is None or reg is None:
        raise NotFound("event_id: you have no registration for this event")
    return person, event, reg


def cancel_registration(repo: Repository, token: str, event_id: str, *, now: datetime | None = None) -> Event:
    """Cancel one registration; a freed seat goes to the first person waiting."""
    now = now or times.now()
    person, event, reg = _own_registration(repo, token, event_id)
    for attempt in range(RETRIES):
        if reg.status == "cancelled":
            return event  # a second click, or a reload: cancelled already, and the page says so
        try:
            _cancel(repo, event, reg, now)
            return event
        except Conflict:  # moved meanwhile (a double click's other request, a promotion): read it again
            fresh = repo.get_registrations(reg.person_id, [event.id]).get(event.id)
            if fresh is None or attempt == RETRIES - 1:
                raise
            reg = fresh
    raise AssertionError("unreachable")  # pragma: no cover


def _cancel(repo: Repository, event: Event, reg: Registration, now: datetime) -> None:
    cancelled = replace(reg, status="cancelled", cancelled_at=now, updated_at=now)
    unsent = reminders.sends_to_drop(repo, event.id, reg.person_id)
    if reg.status == "confirmed":
        repo.move_registration(cancelled, expect=("confirmed",), seat_change=-1, drop_sends=unsent)
    else:
        repo.move_registration(cancelled, expect=(reg.status,), drop_sends=unsent)
    # A staff change may have planned a send for this registration between the
    # read above and the move (it checks the registration after its write and
    # found it still standing): written first, read after, on both sides.
    dropped = {(u.event_id, u.key) for u in unsent}
    late = [s for s in reminders.sends_to_drop(repo, event.id, reg.person_id) if (s.event_id, s.key) not in dropped]
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
        sends = reminders.reminder_sends(event, seated, now)
        if reg.person_id != quiet_for:
            sends.append(reminders.seat_send(event, seated, now))
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


def register_from_link(repo: Repository, mailer: Mailer, token: str, event_id: str, *,
                       base_url: str, now: datetime | None = None) -> Outcome:
    """Register an interested person with one click, now that registration is open."""
    now = now or times.now()
    person, event, reg = _own_registration(repo, token, event_id)
    if reg.status in ("confirmed", "waitlisted"):
        return Outcome(event, "already", reg.status)
    if reg.status == "pending":
        # Anyone can type an address in the form: what was typed (name, question) is applied only by the
        # confirm link mailed for it, never by this link.
        raise AwaitingConfirmation("event_id: this registration waits for its confirmation: open the link in the "
                                   "email we sent")
    if not event.is_registration_open(now):
        return Outcome(event, "interested" if event.registration_not_open_yet(now) else "closed")
    status, kept, event = _place_again(repo, event, reg, now, done=("confirmed", "waitlisted"))
    if status == "already":
        return Outcome(event, "already", kept)  # the first click's request placed it, and mails it
    if status == "waitlisted" and person.id in promote_waiting(repo, event.id, now=now, quiet_for=person.id):
        status = "confirmed"  # a seat was free, owed to the people waiting first: they were ahead, and it was theirs
    outcome = Outcome(event, status)
    _mail_outcomes(mailer, person, [outcome], person_links(person, base_url), base_url)
    return outcome


def stop_all_mail(repo: Repository, person: Person, reason: str, *, now: datetime | None = None) -> None:
    """Send this person nothing more (unsubscribe, bounce or complaint); registrations stay."""
    now = now or times.now()

    def stopped(person: Person) -> dict[str, Any] | None:
        if person.mail_stopped_at is not None and person.mail_stopped_reason == reason:
            return None
        if reason == "unsubscribed" and person.mail_stopped_reason in ("bounce", "complaint"):
            return None  # an unsubscribe must not turn a bounce or complaint into a stop that confirming lifts
        return {"mail_stopped_at": now, "mail_stopped_reason": reason}

    _change_person(repo, person, stopped, now)


def unsubscribe(repo: Repository, token: str, *, purpose: str = "unsubscribe", now: datetime | None = None) -> None:
    """RFC 8058 one-click (or the manage page's button): stop all mail to the person."""
    stop_all_mail(repo, person_for_token(repo, purpose, token), "unsubscribed", now=now)


def erase(repo: Repository, person: Person, *, now: datetime | None = None) -> None:
    """Erase a person everywhere; their seats go to the people waiting."""
    now = now or times.now()
    regs = repo.get_registrations(person.id, sorted(person.event_ids))
    freed = []
    for event_id, reg in regs.items():
        # Each registration is cancelled first, conditioned on the status
        # read (a seat given back if it held one): one promoted or confirmed
        # meanwhile is read again, so its seat is never deleted still counted.
        for attempt in range(RETRIES):
            if reg.status == "cancelled":
                break
            try:
                repo.move_registration(replace(reg, status="cancelled", cancelled_at=now, updated_at=now),
                                       expect=(reg.status,), seat_change=-1 if reg.status == "confirmed" else 0)
            except Conflict:
                fresh = repo.get_registrations(person.id, [event_id]).get(event_id)
                if fresh is None:
                    break
                if attempt == RETRIES - 1:
                    raise
                reg = fresh
                continue
            if reg.status == "confirmed":
                freed.append(event_id)
            break
    for attempt in range(RETRIES):
        current = repo.get_person(person.id) or person
        try:
            repo.erase_person(current)
            break
        except Conflict:
            if attempt == RETRIES - 1:
                raise
    for event_id in freed:
        promote_waiting(repo, event_id, now=now)


def erase_by_token(repo: Repository, token: str, *, now: datetime | None = None) -> None:
    """The manage page's "erase my data"."""
    erase(repo, person_for_token(repo, "manage", token), now=now)


def find_person(repo: Repository, email: Any) -> Person:
    """Return the person with this address, for staff; NotFound otherwise."""
    address = normalise_email(email)
    person = repo.get_person(tokens.person_id_for(address.lower(), tokens.signing_key()))
    if person is None:
        raise NotFound("email: no data is held on this address")
    return person


# ------------------------------------------------------------------ staff


def after_event_change(repo: Repository, change: Any, *, now: datetime | None = None) -> None:
    """What a staff change means for registrants: notices and rescheduled reminders, more seats for the people waiting.

    The mails themselves go out from the next tick (reminders.send_due), each
    claimed once.
    """
    now = now or times.now()
    before, after = change.before, change.after
    if after.ends_at > before.ends_at and after.status != "cancelled":
        keep_until_after(repo, after, now)  # first: the reminders planned next take the registrations' expiry
    reminders.on_event_change(repo, before, after, list(change.material), now)
    if after.capacity is not None and (before.capacity is None or after.capacity > before.capacity) or \
            (before.capacity is not None and after.capacity is None):
        promote_waiting(repo, after.id, now=now)
    if after.unplanned is not None:
        try:
            repo.update_event(replace(after, unplanned=None), previous=after)  # all planned
        except Conflict:
            pass  # changed again meanwhile: the later change plans from the same "before", this one included


def keep_until_after(repo: Repository, event: Event, now: datetime) -> int:
    """An event that moved later keeps its registrants as confirming it now would: until its new end plus retention.

    Registrations (confirmed, waiting or interested) and their profiles are
    kept until a set time after the event's end (``_retention_until``),
    fixed when they were confirmed. A postponement past that time would let
    DynamoDB's TTL delete them, and their reminders, before the event. Each
    is raised, never lowered; a registration or profile changed meanwhile is
    read again. Pending registrations keep their own short expiry. Safe to
    run twice; return how many registrations were raised.
    """
    until = _retention_until(event, now)
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
        _change_person(repo, person, lambda p: None if (p.expires_at or until) >= until else {"expires_at": until},
                       now, gone_ok=True)
    return raised


def plan_unplanned(repo: Repository, now: datetime, *, settle_for: timedelta = timedelta(minutes=1)) -> int:
    """Plan what failed to be planned (the tick, each minute); return how many events it took up.

    The mails of a staff change (``Event.unplanned``), and a freed seat not
    yet offered to the people waiting (``Event.seat_freed_at``). One younger
    than ``settle_for`` is left to the request that made it.
    """
    from . import events

    done = 0
    for event in repo.list_events():
        try:
            if event.unplanned is not None and not (event.updated_at and event.updated_at > now - settle_for):
                after_event_change(repo, events.unplanned_change(event), now=now)
                done += 1
            elif event.seat_freed_at is not None and event.seat_freed_at <= now - settle_for:
                promote_waiting(repo, event.id, now=now)  # a seat freed, and its promotion failed
                done += 1
        except (Conflict, Unavailable) as exc:
            log.warning("planning the mails of a change to %s failed again: %s", event.id, type(exc).__name__)
    return done


REGISTRATION_COLUMNS = ("name", "email", "organisation", "status", "question", "registered_at")


def registrations_for_staff(repo: Repository, event: Event) -> list[dict[str, Any]]:
    """Every registration of an event, oldest first, as staff read it."""
    rows = []
    for reg in repo.list_registrations(event.id):
        rows.append({
            "name": reg.name, "email": reg.email, "organisation": reg.organisation, "status": reg.status,
            "question": reg.question, "language": reg.language,
            "registered_at": times.format_instant(reg.registered_at, event.timezone),
            "confirmed_at": times.format_instant(reg.confirmed_at, event.timezone),
            "waitlisted_at": times.format_instant(reg.waitlisted_at, event.timezone),
        })
    return rows


def counts(repo: Repository, event: Event) -> dict[str, int]:
    """How many registrations of each status an event has."""
    result = {"confirmed": 0, "pending": 0, "waitlisted": 0, "interested": 0, "cancelled": 0}
    for reg in repo.list_registrations(event.id):
        result[reg.status] = result.get(reg.status, 0) + 1
    return result


def _neutralise(cell: Any) -> str:
    text = "" if cell is None else str(cell)
    # A spreadsheet runs a cell starting with = + - @ (or a tab/CR) as a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def registrations_csv(rows: list[dict[str, Any]], *, excel: bool = False) -> str:
    """CSV of registrations (RFC 4180: commas, UTF-8), with cells that could run as formulas neutralised.

    ``excel``: for Excel as staff in Belgium open it. Excel with Dutch
    (Belgium) or French (Belgium) settings splits on ";", its list
    separator, and reads a file as UTF-8 only after a byte order mark:
    without them a double-clicked export puts each row in one cell and shows
    "Zoë" as "ZoÃ«". Programs reading CSV expect neither.
    """
    buffer = io.StringIO()
    if excel:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n")
    writer.writerow(REGISTRATION_COLUMNS)
    for row in rows:
        writer.writerow([_neutralise(row[c]) for c in REGISTRATION_COLUMNS])
    return buffer.getvalue()


def export_person(repo: Repository, person: Person) -> dict[str, Any]:
    """Every piece of data held on a person (right of access)."""
    events = _events_by_id(repo)
    regs = repo.get_registrations(person.id, sorted(person.event_ids))
    return {
        "email": person.email, "name": person.name, "organisation": person.organisation,
        "language": person.language,
        "created_at": times.format_instant(person.created_at),
        "confirmed_at": times.format_instant(person.confirmed_at),
        "mail_stopped_at": times.format_instant(person.mail_stopped_at),
        "mail_stopped_reason": person.mail_stopped_reason,
        "confirmation_mails_last_day": len(person.confirm_mails),
        "kept_until": times.format_instant(person.expires_at),
        "registrations": [
            {"event_id": r.event_id,
             "event_title": events[r.event_id].title_in(person.language) if r.event_id in events else None,
             "status": r.status, "name": r.name, "organisation": r.organisation, "question": r.question,
             "language": r.language, "registered_at": times.format_instant(r.registered_at),
             "confirmed_at": times.format_instant(r.confirmed_at),
             "waitlisted_at": times.format_instant(r.waitlisted_at),
             "cancelled_at": times.format_instant(r.cancelled_at),
             "kept_until": times.format_instant(r.expires_at)}
            for r in sorted(regs.values(), key=lambda r: r.registered_at)
        ],
        # The mails the service sends on its own, planned or sent, and the confirm links made.
        "mails": [
            {"event_id": m.event_id, "kind": m.kind, "detail": m.detail, "state": m.state,
             "due": times.format_instant(m.due), "settled_at": times.format_instant(m.settled_at),
             "reason": m.reason, "ses_message_id": m.message_id}
            for event_id in sorted(person.event_ids) for m in repo.list_sends(event_id, person.id)
        ],
        "confirm_links": [
            {"event_ids": list(t.event_ids), "created_at": times.format_instant(t.created_at),
             "valid_until": times.format_instant(t.expires_at), "used_at": times.format_instant(t.used_at)}
            for t in _confirm_tokens(repo, person)
        ],
    }


def _confirm_tokens(repo: Repository, person: Person) -> list[ConfirmToken]:
    found = repo.get_confirm_tokens(sorted(person.all_token_hashes))
    return sorted(found.values(), key=lambda t: (t.created_at, t.token_hash))


def read_personal_feed(repo: Repository, token: str, *, base_url: str, if_none_match: str | None = None,
                       if_modified_since: str | None = None):
    """The person's confirmed events as iCalendar, join links included; 304 when unchanged."""
    from .feed_snapshots import FeedReply, not_modified
    from .feeds import build_calendar, feed_etag

    person = person_for_token(repo, "feed", token)
    events = _events_by_id(repo)
    regs = repo.get_registrations(person.id, sorted(person.event_ids))
    mine = sorted((events[e] for e, r in regs.items() if e in events and r.status == "confirmed"
                   and events[e].status in ("published", "cancelled")), key=lambda e: (e.starts_at, e.id))
    body = build_calendar(mine, lang=person.language, base_url=base_url, include_join_link=True,
                          name="Smart Region Office")
    etag = feed_etag(body)
    changed = max([e.updated_at or e.created_at for e in mine] + [r.updated_at for r in regs.values()],
                  default=person.created_at)
    if not_modified(etag, changed, if_none_match, if_modified_since):
        return FeedReply(304, None, etag, changed)
    return FeedReply(200, body, etag, changed)

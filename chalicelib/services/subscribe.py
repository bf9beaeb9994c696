"""Subscribe, confirm, manage: double opt-in, seats and the waiting list, erase, export.

A person is known by a keyed hash of their address (``tokens.person_id_for``).
The form never tells whether an address was known: every valid submission
gets the same answer, and what differs goes by mail to the address itself.

Seats are taken when a person confirms, not when they submit: an unconfirmed
address holds nothing. A full event puts the person on its waiting list in
the order they confirmed; a freed seat goes to the first on it at once.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import config, logs, times, tokens
from chalicelib.errors import (
    AllowanceUsedUp,
    Conflict,
    ErasedPersonLink,
    Gone,
    InvalidInput,
    InvalidInputs,
    LinkUsed,
    MailLimitReached,
    NotFound,
    Unavailable,
)
from chalicelib.input.subscription import SubscriptionRequest, mailbox, parse_subscription
from chalicelib.model.allowance import Allowance
from chalicelib.model.event import Event, _can_register
from chalicelib.model.expiry import CONFIRM_VALIDITY, TOKEN_LISTED_FOR, token_kept_until
from chalicelib.model.person import KEPT_STATUSES, ConfirmToken, Person, Registration
from chalicelib.ports import Mailer, Repository
from chalicelib.render.mails import person_links
from chalicelib.services.mailing import Outcome, _keep_mails, _mail_outcomes, _record_mail, _send
from chalicelib.services.people import (
    RETRIES,
    UNCONFIRMED_RETENTION,
    _change_person,
    _events_by_id,
    _keep_person_until,
    _retention_until,
    person_for_token,
)
from chalicelib.services.seats import _place_again, promote_waiting
from chalicelib.services.views import _person_view

log = logging.getLogger(__name__)
STOPPED_MAILS_PER_DAY = 1  # confirmation mails a day to someone who stopped all mail, since the stop
RESUME_AFTER = timedelta(minutes=2)  # a used confirm link left unfinished works again after this: longer than a request runs
IN_PROGRESS_WAIT, IN_PROGRESS_POLL = 5.0, 0.25  # seconds a second press waits for the first to finish, and how often it looks
# Concurrent submissions for one address meet on its profile: each tries this often, a short random pause
# apart, and one that still loses is answered as any other (another submission for the address went in).
SUBMIT_TRIES, SUBMIT_PAUSE = 8, 0.02
_sleep = time.sleep
_monotonic = time.monotonic


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


def subscribe(repo: Repository, mailer: Mailer, data: Any, *, base_url: str, key: bytes, settings: config.Settings,
              now: datetime | None = None, client: str | None = None) -> None:
    """Take a submission and mail the address a confirmation link; the answer never depends on the address.

    ``client``: the source IP of the request (API Gateway's), for the limit per client; it is kept only as a
    keyed hash, for the hour it counts in.

    A valid submission returns no sooner than ``settings.form_answer_floor_ms`` after it began, mailed or
    not: an address that gets no mail (stopped, suppressed, over a limit) answers as late as one mailed
    through SES, so the answer's timing says nothing about who is known. Invalid input is answered at
    once: it depends on what was typed, not on the address.
    """
    deadline = _monotonic() + settings.form_answer_floor_ms / 1000
    try:
        _submit(repo, mailer, data, base_url=base_url, key=key, settings=settings, now=now, client=client)
    except Conflict:
        # Every try met another submission for the same address, saved meanwhile: that one went in (and
        # mailed, within the limits). Answered as any other valid submission: the answer says nothing.
        log.warning("a submission lost every try to others for the same address")
    left = deadline - _monotonic()
    if left > 0:
        _sleep(left)


def _allowances(request: SubscriptionRequest, key: bytes, settings: config.Settings, *, proven: bool,
                client: str | None) -> list[Allowance]:
    """The counts a confirmation mail to ``request.email`` uses up, besides the person's own (``_mail_limit``).

    Per mailbox (the address without its +tag, case-folded), so sub-addresses do not multiply the limits; per
    client, so one client cannot spray mailboxes; and the whole service's hourly ceiling. A resend through a
    mailed link (``proven``) counts apart, per mailbox: what anyone types into the form cannot use it up,
    so the owner of an address can always get a new link (docs/people.md).
    """
    box = tokens.keyed_hash("mailbox", mailbox(request.email), key)
    scope = "mailbox-link" if proven else "mailbox"
    counts = [Allowance(scope, box, "hour", settings.confirmation_mails_per_hour),
              Allowance(scope, box, "day", settings.confirmation_mails_per_day)]
    if client and not proven:
        counts.append(Allowance("client", tokens.keyed_hash("client", client, key), "hour",
                                settings.confirmation_mails_per_client_per_hour))
    counts.append(Allowance("service", "", "hour", settings.confirmation_mails_ceiling_per_hour))
    return counts


def _held(allowance: Allowance, now: datetime) -> MailLimitReached:
    """The limit an allowance used up, as the resend buttons tell it; logged (and, for the ceiling, alarmed)."""
    logs.confirmation_held(allowance.scope)
    return MailLimitReached(allowance.period, allowance.ends(now) - now)


_UNLIMITED = 1 << 30


def _submit(repo: Repository, mailer: Mailer, data: Any, *, base_url: str, key: bytes, settings: config.Settings,
            now: datetime | None = None, existing_only: bool = False, client: str | None = None) -> Submitted:
    """``subscribe``, saying what it mailed: for the resend buttons, whose holder proved the address, not the form.

    ``existing_only`` (the resend buttons): only for a person who exists. One gone meanwhile (an erasure
    between the button's read and this one, or this write) raises ErasedPersonLink; no profile is made again,
    nothing is mailed. Their mails count apart from the form's (``_allowances``): a stranger's posts do
    not lock the owner out.
    """

    now = now or times.now()
    request = parse_subscription(data)
    events = _events_by_id(repo)
    for event_id in request.event_ids:
        event = events.get(event_id)
        if event is None or event.status not in ("published", "cancelled"):
            raise InvalidInputs([InvalidInput("event_ids", "unknown_event", f"there is no event {event_id!r}",
                                               event_id=event_id)])
        if not _can_register(event, now):
            title = event.title_in(request.language)
            raise InvalidInputs([InvalidInput("event_ids", "not_open", f"registration for {title!r} is closed",
                                               event_id=event_id)])
    if request.honeypot:
        return Submitted(False)  # a bot filled the hidden field: same answer, nothing kept, nothing sent

    person_id = tokens.person_id_for(request.email.lower(), key)
    held: MailLimitReached | None = None
    for attempt in range(SUBMIT_TRIES):
        if attempt:
            _sleep(SUBMIT_PAUSE * attempt * (1 + secrets.randbelow(100) / 100))
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
        # (A resend through a link keeps to the stop's one a day here; its hour and day count apart.)
        limit = _mail_limit(recent, now, stopped_at=stopped_at,
                            per_hour=_UNLIMITED if existing_only else settings.confirmation_mails_per_hour,
                            per_day=_UNLIMITED if existing_only else settings.confirmation_mails_per_day)
        within = limit is None
        # An address that bounced or complained is never mailed again, even
        # once its person has expired or been erased: SES keeps the
        # suppression by the address's hash (bounces.py).
        suppressed = repo.suppression(tokens.address_hash(request.email, key)) if person is None else None
        may_mail = within and suppressed is None and (
            person is None or person.mail_stopped_reason in (None, "unsubscribed"))
        if held is not None:  # a count was used up on an earlier try: saved this time without a mail
            may_mail, limit = False, held
        # The mail's counts (mailbox, client, service) are taken in the write of the submission itself.
        counts = _allowances(request, key, settings, proven=existing_only, client=client) if may_mail else []
        token_value, token_hash = tokens.new_token()
        # The Q&A question is per webinar: never copied to the other events chosen, nor to a day in person.
        asked = {e: request.question_for(e, events[e].kind) for e in fresh_ids}
        token = None
        if fresh_ids and may_mail:
            token = ConfirmToken(token_hash=token_hash, person_id=person_id, event_ids=tuple(fresh_ids),
                                 created_at=now, expires_at=now + CONFIRM_VALIDITY, name=request.name,
                                 organisation=request.organisation, language=request.language,
                                 question="", questions=tuple((e, asked[e]) for e in fresh_ids if asked[e]))
        registrations = [
            Registration(
                event_id=e, person_id=person_id, email=request.email, name=request.name,
                organisation=request.organisation, language=request.language, status="pending",
                question=asked[e], registered_at=existing[e].registered_at if e in existing else now,
                updated_at=now, expires_at=now + UNCONFIRMED_RETENTION,
            )
            for e in fresh_ids
        ]
        updated = _person_after_submission(person, request, person_id, now, registrations, token, may_mail, recent)
        if token is not None:  # what the link holds goes no later than the profile that lists it
            token = replace(token, kept_until=token_kept_until(token, updated.expires_at))
        if suppressed is not None:
            updated = replace(updated, mail_stopped_at=now, mail_stopped_reason=suppressed)
        try:
            repo.save_subscription(updated, previous=person, registrations=registrations, token=token,
                                   allowances=counts, now=now)
            break
        except AllowanceUsedUp as used_up:
            held = _held(used_up.allowance, now)  # nothing was written: again, without a mail
        except Conflict:
            if attempt == SUBMIT_TRIES - 1:
                raise
    else:  # pragma: no cover - the loop breaks or raises
        return Submitted(False)

    raised = person is not None and (person.expires_at or now) < (updated.expires_at or now)
    if not may_mail:
        if raised:
            _keep_mails(repo, updated)  # no mail recorded to keep their earlier ones as long as the profile
        # Not mailed because of the limit alone (not a bounce, a complaint or a stop by staff): say which.
        blocked = suppressed is not None or (person is not None and
                                             person.mail_stopped_reason not in (None, "unsubscribed"))
        return Submitted(False, None if blocked else limit)
    lang = request.language
    links = person_links(updated, base_url, key)
    # The name typed into the form is not the address owner's word until they
    # confirm: it is not put in the greeting or the To: header, which would
    # let anyone send a text of their choice from the office's address.
    if token is not None:
        try:
            message_id = _send(mailer, "confirm_request", lang, to_email=request.email, to_name="", links=links,
                               name="", confirm_url=f"{base_url}/confirm/{token_value}",
                               # Said before the button: an event whose registration is not open yet is one to hear
                               # about, not one to be registered for.
                               events=[events[e] for e in fresh_ids if not events[e].registration_not_open_yet(now)],
                               not_open=[events[e] for e in fresh_ids if events[e].registration_not_open_yet(now)],
                               already=[(events[r.event_id], r.status) for r in kept],
                               valid_hours=int(CONFIRM_VALIDITY.total_seconds() // 3600))
        except Unavailable:
            if raised:
                _keep_mails(repo, updated)  # the 503 page asks them to send the form again; till then, kept
            raise
        _record_mail(repo, updated, "confirm_request", list(token.event_ids), message_id, first=person is None)
    elif kept:
        known = person.name if person is not None else ""  # the name they confirmed
        message_id = _send(mailer, "already_registered", lang, to_email=request.email, to_name=known, links=links,
                           name=known, registrations=[(events[r.event_id], r.status) for r in kept])
        _record_mail(repo, updated, "already_registered", [r.event_id for r in kept], message_id)
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
                "question": stored.question, "questions": dict(stored.questions)}
    latest = max(regs.values(), key=lambda r: r.updated_at, default=None)  # a link made before tokens carried it
    return {} if latest is None else {"name": latest.name, "organisation": latest.organisation,
                                      "language": latest.language, "question": latest.question}


def _for_event(submitted: dict[str, Any], event: Event) -> dict[str, Any]:
    """What a link applies to one registration: the submission, with the question asked for this event (one per
    webinar; an older link's one question goes to its webinars only, never to a day in person)."""
    if not submitted:
        return submitted
    own = submitted.get("questions") or {}
    question = own.get(event.id, "" if own else submitted.get("question", ""))
    return {**{k: v for k, v in submitted.items() if k != "questions"},
            "question": question if event.kind == "webinar" else ""}


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


def confirm(repo: Repository, mailer: Mailer, token: str, *, base_url: str, key: bytes, settings: config.Settings,
            now: datetime | None = None) -> ConfirmResult:
    """Use a confirm link: take seats (or waiting-list places), and mail the events with their .ics."""
    now = now or times.now()
    stored = _spend(repo, token, now)
    person = repo.get_person(stored.person_id)
    if person is None:
        raise Gone("token: this link is no longer valid")
    events = _events_by_id(repo)
    regs = repo.get_registrations(person.id, list(stored.event_ids))
    submitted = _submission(stored, regs)
    person = _confirm_person(repo, person, submitted, now, events, regs, settings)

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
        details = _for_event(submitted, event)
        status, kept, event = _place_again(repo, event, replace(reg, **details), now, settings=settings,
                                           details=details)
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
    person = _keep_person_until(repo, person, [o.event for o in outcomes if o.status in KEPT_STATUSES], now,
                                settings=settings) or person
    links = person_links(person, base_url, key)
    _mail_outcomes(mailer, person, outcomes, links, base_url, now, repo=repo)
    try:
        # The link's item may now last its 30 days for the 410 page: the confirmed profile lasts longer.
        repo.finish_confirm_token(stored.token_hash, now, kept_until=token_kept_until(stored, person.expires_at))
    except Unavailable:
        # All is done and mailed; only the mark failed. A press again after
        # RESUME_AFTER runs the confirm once more, which finds everything kept.
        log.warning("a confirm link could not be marked done")
    return ConfirmResult(language=person.language, name=person.name, outcomes=outcomes, manage_url=links.manage)


def _confirm_person(repo: Repository, person: Person, submitted: dict[str, str], now: datetime,
                    events: dict[str, Event], regs: dict[str, Registration], settings: config.Settings) -> Person:
    def confirmed(person: Person) -> dict[str, Any]:
        expiry = max([person.expires_at or now] +
                     [_retention_until(events[e], now, settings) for e in regs if e in events])
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


def resend_confirmation(repo: Repository, mailer: Mailer, token: str, *, base_url: str, key: bytes,
                        settings: config.Settings, now: datetime | None = None) -> None:
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
                                    "consent": True}, base_url=base_url, key=key, settings=settings, now=now,
                     existing_only=True)
    if result.limit is not None:
        raise result.limit


def resend_from_manage(repo: Repository, mailer: Mailer, token: str, *, base_url: str, key: bytes,
                       settings: config.Settings, now: datetime | None = None) -> bool:
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
    person = person_for_token(repo, "manage", token, key=key)
    if person.mail_stopped_reason not in (None, "unsubscribed"):
        return False
    view = _person_view(repo, person, base_url=base_url, key=key, now=now)
    submissions: dict[tuple[str, str, str, str], list[str]] = {}
    for event, reg in sorted(view.registrations, key=lambda row: row[1].updated_at):
        if event.id in view.unconfirmed_ids:
            # The profile's language: the person may have chosen it on this page since the form.
            typed = (reg.name or person.name, reg.organisation, person.language, reg.question)
            submissions.setdefault(typed, []).append(event.id)
    mailed = False
    for (name, organisation, language, question), event_ids in submissions.items():
        result = _submit(repo, mailer, {"email": person.email, "name": name, "organisation": organisation,
                                        "language": language, "question": question, "event_ids": event_ids,
                                        "consent": True}, base_url=base_url, key=key, settings=settings, now=now,
                         existing_only=True)
        if result.limit is not None:
            if mailed:
                break  # one mail went out: the page says so; the rest waits for the next press
            raise result.limit
        mailed = mailed or result.mailed
    return mailed

"""What a person does through their links: the manage page, cancel, register, language, stop and resume mail, the personal feed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import config, times, tokens
from chalicelib.errors import AwaitingConfirmation, Conflict, InvalidInput, NotFound
from chalicelib.model.event import LANGUAGES, Event
from chalicelib.model.feed import FeedReply
from chalicelib.model.person import Person, Registration
from chalicelib.ports import Mailer, Repository
from chalicelib.render.ical import build_calendar, feed_etag, invitation
from chalicelib.render.mails import person_links
from chalicelib.services.mailing import Outcome, _mail_calendar_removal, _mail_outcomes
from chalicelib.services.people import (RETRIES, UNCONFIRMED_RETENTION, _change_person, _events_by_id,
                                        _keep_person_until, person_for_token)
from chalicelib.services.public_feed import not_modified
from chalicelib.services.seats import _cancel, _place_again, promote_waiting
from chalicelib.services.views import ManageView, _person_view, offered_events


def manage_view(repo: Repository, token: str, *, base_url: str, key: bytes, now: datetime | None = None) -> ManageView:
    """Return the person's registrations, soonest first, with their links.

    A pending one is shown waiting for its confirmation while a link mailed for
    it still works; after that, while its record lasts and the event takes
    registrations, as ``unconfirmed`` (a new mail or a cancel is the way on);
    otherwise as nothing.
    """
    now = now or times.now()
    return _person_view(repo, person_for_token(repo, "manage", token, key=key), base_url=base_url, key=key, now=now)


def unsubscribe_view(repo: Repository, token: str, *, base_url: str, key: bytes,
                     now: datetime | None = None) -> ManageView:
    """The person of an unsubscribe link, with what stopping mail would silence (the button page's warning).

    Only ``waiting`` and ``interested`` are for the page: the view's manage links
    are not to be shown from an unsubscribe link, which works for that one purpose.
    """
    now = now or times.now()
    return _person_view(repo, person_for_token(repo, "unsubscribe", token, key=key), base_url=base_url, key=key,
                        now=now, pending=False)


def resume_mail(repo: Repository, token: str, *, key: bytes, now: datetime | None = None) -> Person:
    """The manage page's "receive our emails again": lift a stop the person made themselves.

    A stop by a bounce or a complaint stays (mail to that address fails or was
    reported as unwanted; SES keeps the suppression by the address's hash), as
    does a suppression recorded for the address. Lifting the stop clears
    ``mail_stopped_at``, so the form's confirmation mails keep to the usual
    limits alone (``_mail_limit``), without the one a day since the stop.
    """
    now = now or times.now()
    person = person_for_token(repo, "manage", token, key=key)
    if person.mail_stopped_reason != "unsubscribed":
        return person  # not stopped, or stopped by a bounce or complaint: nothing this button may change
    if repo.suppression(tokens.address_hash(person.email, key)) is not None:
        return person

    def resumed(person: Person) -> dict[str, Any] | None:
        if person.mail_stopped_reason != "unsubscribed":
            return None  # a bounce or complaint meanwhile: it stays
        return {"mail_stopped_at": None, "mail_stopped_reason": None}

    return _change_person(repo, person, resumed, now) or person


def set_mail_language(repo: Repository, token: str, language: Any, *, key: bytes,
                      now: datetime | None = None) -> Person:
    """The manage page's "language of our emails": the profile's language, which every later mail is written in
    (the tick reads ``Person.language``). Registrations keep the language they were submitted in."""
    now = now or times.now()
    if language not in LANGUAGES:
        raise InvalidInput("language", "not_one_of", "must be nl or en", allowed=LANGUAGES)
    person = person_for_token(repo, "manage", token, key=key)
    return _change_person(repo, person, lambda p: None if p.language == language else {"language": language},
                          now) or person


def _own_registration(repo: Repository, token: str, event_id: str, key: bytes) -> tuple[Person, Event, Registration]:
    """The person of a manage link, the event and their registration for it; NotFound if they have none."""
    person = person_for_token(repo, "manage", token, key=key)
    event = _events_by_id(repo).get(event_id)
    reg = repo.get_registrations(person.id, [event_id]).get(event_id) if event else None
    if event is None or reg is None:
        raise NotFound("event_id: you have no registration for this event")
    return person, event, reg


def cancel_registration(repo: Repository, token: str, event_id: str, *, key: bytes, mailer: Mailer | None = None,
                        base_url: str = "", now: datetime | None = None) -> Event:
    """Cancel one registration; a freed seat goes to the first person waiting.

    Someone who gave up a seat is mailed a short confirmation with a CANCEL
    invitation (``mailer``), so the entry our invitation made leaves their calendar.
    """
    now = now or times.now()
    person, event, reg = _own_registration(repo, token, event_id, key)
    for attempt in range(RETRIES):
        if reg.status == "cancelled":
            return event  # a second click, or a reload: cancelled already, and the page says so
        try:
            _cancel(repo, event, reg, now)
            if mailer is not None and reg.status == "confirmed":
                _mail_calendar_removal(mailer, "registration_cancelled", person, [event],
                                       person_links(person, base_url, key), base_url, now, repo=repo)
            return event
        except Conflict:  # moved meanwhile (a double click's other request, a promotion): read it again
            fresh = repo.get_registrations(reg.person_id, [event.id]).get(event.id)
            if fresh is None or attempt == RETRIES - 1:
                raise
            reg = fresh
    raise AssertionError("unreachable")  # pragma: no cover


def _new_registration(repo: Repository, token: str, event_id: str, key: bytes,
                      now: datetime) -> tuple[Person, Event, Registration]:
    """A registration made by the person of a manage link for an event they have none for (``offered_events``),
    listed on their profile in the same write, for ``register_from_link`` to place at once.

    It is written as "cancelled", the one status that holds no place and counts for nothing: placed from
    there as a cancelled one is when registered again, and a double click's other request, finding it so,
    places the same one (one wins, the other says "already"). Not "pending": that waits for a confirm
    link, and the link itself proves the address; a confirmed person's name is their own word. NotFound when
    the event is not one offered to them.
    """
    for attempt in range(RETRIES):
        person = person_for_token(repo, "manage", token, key=key)
        event = _events_by_id(repo).get(event_id)
        if event is None or event not in offered_events(repo, person, now):
            raise NotFound("event_id: you have no registration for this event")
        reg = Registration(event_id=event.id, person_id=person.id, email=person.email, name=person.name,
                           organisation=person.organisation, language=person.language, status="cancelled",
                           registered_at=now, updated_at=now, expires_at=now + UNCONFIRMED_RETENTION)
        listed = replace(person, event_ids=person.event_ids | {event.id},
                         updated_at=max(now, person.updated_at + timedelta(microseconds=1)),
                         expires_at=max(person.expires_at or now, now + UNCONFIRMED_RETENTION))
        try:
            repo.save_subscription(listed, previous=person, registrations=[reg], token=None, now=now)
            return listed, event, reg
        except Conflict:  # the profile changed meanwhile, or a double click's other request made it first
            found = repo.get_registrations(person.id, [event_id]).get(event_id)
            if found is not None:
                return _own_registration(repo, token, event_id, key)
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def register_from_link(repo: Repository, mailer: Mailer, token: str, event_id: str, *,
                       base_url: str, key: bytes, settings: config.Settings, now: datetime | None = None) -> Outcome:
    """Register with one click: an interested person, now that registration is open; or a confirmed person for
    an event offered on their manage page (``offered_events``)."""
    now = now or times.now()
    try:
        person, event, reg = _own_registration(repo, token, event_id, key)
    except NotFound:
        person, event, reg = _new_registration(repo, token, event_id, key, now)
    if reg.status in ("confirmed", "waitlisted"):
        return Outcome(event, "already", reg.status)
    if reg.status == "pending":
        # Anyone can type an address in the form: what was typed (name, question) is applied only by the
        # confirm link mailed for it, never by this link.
        raise AwaitingConfirmation("event_id: this registration waits for its confirmation: open the link in the "
                                   "email we sent")
    if reg.status == "interested" and not event.is_registration_open(now):
        return Outcome(event, "interested" if event.registration_not_open_yet(now) else "closed")
    # A cancelled one (or one just made) is placed as the form's would be: a seat, the waiting list, interest
    # until registration opens, or closed. It said "we mail you when it opens" and left it cancelled.
    # A double click's other request may have placed it first: as a seat, on the waiting list, or (an event
    # opening later) as interest.
    status, kept, event = _place_again(repo, event, reg, now, settings=settings,
                                       done=("confirmed", "waitlisted", "interested"))
    if status == "already":
        return Outcome(event, "already", kept)  # the first click's request placed it, and mails it
    if status == "closed":
        return Outcome(event, "closed")  # nothing written: nothing to mail, no profile to keep longer
    if status == "waitlisted" and person.id in promote_waiting(repo, event.id, now=now, quiet_for=person.id):
        status = "confirmed"  # a seat was free, owed to the people waiting first: they were ahead, and it was theirs
    outcome = Outcome(event, status)
    # A new registration's seat keeps the profile as long as it (a confirm does the same).
    person = _keep_person_until(repo, person, [event], now, settings=settings) or person
    _mail_outcomes(mailer, person, [outcome], person_links(person, base_url, key), base_url, now, repo=repo)
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


def unsubscribe(repo: Repository, token: str, *, key: bytes, purpose: str = "unsubscribe",
                now: datetime | None = None) -> None:
    """RFC 8058 one-click (or the manage page's button): stop all mail to the person."""
    stop_all_mail(repo, person_for_token(repo, purpose, token, key=key), "unsubscribed", now=now)


def read_personal_feed(repo: Repository, token: str, *, base_url: str, key: bytes, if_none_match: str | None = None,
                       if_modified_since: str | None = None):
    """The person's confirmed events as iCalendar, join links included; 304 when unchanged."""

    person = person_for_token(repo, "feed", token, key=key)
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


def seat_invitation(repo: Repository, token: str, event_id: str, *, base_url: str, key: bytes,
                    now: datetime | None = None) -> bytes:
    """The invitation of an event the person of a manage link has a seat for (iMIP REQUEST, the join link, the
    person as ATTENDEE), as their confirmation carried it: the manage page offers it, for a lost mail.

    NotFound unless they have a seat for a published event that has not ended.
    """
    now = now or times.now()
    person, event, reg = _own_registration(repo, token, event_id, key)
    if reg.status != "confirmed" or event.status != "published" or event.ends_at <= now:
        raise NotFound("event_id: you have no seat for this event")
    made = invitation(event, lang=person.language, base_url=base_url, method="REQUEST", stamp=now)
    return made.for_attendee(person.email, person.name)

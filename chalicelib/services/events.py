"""Events: create, change, publish, cancel, and what the public may see.

Every staff change is recorded in the audit log with the staff member's name.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.input.event import build_event, checked_text
from chalicelib.model.event import Event, EventChange, _marked, material_changes, slugify, unplanned_change
from chalicelib.model.person import AuditEntry
from chalicelib.ports import Repository
from chalicelib.services.public_feed import refresh_public_feeds


def _audit(repo: Repository, actor: str, action: str, event: Event, now: datetime, **details: Any) -> None:
    repo.add_audit(AuditEntry(actor=actor, action=action, target=f"event:{event.id}", at=now, details=details))


def create_event(repo: Repository, data: Any, *, actor: str, base_url: str, now: datetime | None = None) -> Event:
    """Validate and store a new event; 409 when its id is taken or, without an id, when it exists already."""
    now = now or times.now()
    event = build_event(data, existing=None, now=now)
    explicit_id = isinstance(data, dict) and data.get("id") is not None  # null, as absent: a slug of the title
    if not explicit_id:
        _refuse_a_repeat(event, repo.list_events())
    try:
        repo.create_event(event)
    except Conflict:
        if explicit_id:
            raise
        # The id was made from the title: a second event with the same title
        # gets its date added rather than a confusing 409. Two copies of one
        # request sent at once both pass the check above; the one that finds
        # the id taken by its twin answers 409 as a repeat, not a second event.
        _refuse_a_repeat(event, _stored(repo, event.id))
        stem = slugify(event.title["nl"], 69) or "event"
        dated = replace(event, id=f"{stem}-{event.starts_at.astimezone(times.stored_zone(event.timezone)):%Y-%m-%d}")
        try:
            repo.create_event(dated)
        except Conflict:
            _refuse_a_repeat(dated, _stored(repo, dated.id))
            raise
        event = dated
    _audit(repo, actor, "event.create", event, now, status=event.status)
    refresh_public_feeds(repo, now, base_url=base_url)
    return event


def _stored(repo: Repository, event_id: str) -> list[Event]:
    """The event stored under ``event_id``, as a list of none or one."""
    event = repo.get_event(event_id)
    return [event] if event is not None else []


def _refuse_a_repeat(event: Event, others: list[Event]) -> None:
    """409 when one of ``others`` is this event again: a create without id, sent again after its answer was
    lost, names the event it made rather than making a second one.

    The same kind, Dutch title, start and end make a repeat (an in-person day
    and its webinar at the same time are two events). Cancelled events do
    not count: staff are told to create a new one instead. One Query (the
    list of events), only for a create without an id.
    """
    for other in others:
        if other.status != "cancelled" and (other.kind, other.starts_at, other.ends_at) == \
                (event.kind, event.starts_at, event.ends_at) and other.title.get("nl") == event.title.get("nl"):
            raise Conflict(f"id: an event with this kind, title (nl) and time exists already: {other.id!r}; "
                           "send an id to create another one")


def get_event(repo: Repository, event_id: str) -> Event:
    """Return any event (staff view) or raise NotFound."""
    event = repo.get_event(event_id) if isinstance(event_id, str) and len(event_id) <= 100 else None
    if event is None:
        raise NotFound(f"event_id: no event {event_id!r}")
    return event


def change_event(repo: Repository, event_id: str, data: Any, *, actor: str, base_url: str,
                 now: datetime | None = None) -> EventChange:
    """Apply a PATCH; a change of time, place or join link raises the sequence."""
    now = now or times.now()
    before = get_event(repo, event_id)
    if not isinstance(data, dict):
        raise InvalidInput("body", "wrong_type", "must be a JSON object", expected="object")
    after = build_event(data, existing=before, now=now)
    material = material_changes(before, after)
    if after != before:
        after = _marked(before, after)
        repo.update_event(after, previous=before)
        _audit(repo, actor, "event.change", after, now, fields=sorted(k for k in data if isinstance(k, str)),
               material=material, sequence=after.sequence, changes=_changes(before, after))
    # Also after a change that changed nothing: repeating a request heals a
    # feed whose refresh failed (refresh_public_feeds stores nothing if the
    # bytes are the same), and the mails of a change whose planning failed.
    refresh_public_feeds(repo, now, base_url=base_url)
    # The one place where registrants hear of a change: with ``material``
    # non-empty (time, place or join link), confirmed registrants are mailed
    # by the notices of services/tick.py (issue #5) from this EventChange.
    return unplanned_change(after)


# Kept apart from what staff change: bookkeeping the audit need not repeat.
_NOT_AUDITED = ("updated_at", "sequence", "unplanned", "created_at")


def _changes(before: Event, after: Event) -> dict[str, dict[str, Any]]:
    """What a change changed, field by field, as stored: ``{field: {"before": ..., "after": ...}}``."""
    old, new = before.to_record(), after.to_record()
    return {name: {"before": old.get(name), "after": new[name]} for name in sorted(new)
            if name not in _NOT_AUDITED and old.get(name) != new[name]}


def publish_event(repo: Repository, event_id: str, *, actor: str, base_url: str,
                  now: datetime | None = None) -> EventChange:
    """Publish a draft (a no-op when it is published already)."""
    return change_event(repo, event_id, {"status": "published"}, actor=actor, base_url=base_url, now=now)


def cancel_event(repo: Repository, event_id: str, *, actor: str, base_url: str,
                 now: datetime | None = None, message: Any = None) -> EventChange:
    """Cancel an event: it stays visible as cancelled, and its sequence rises.

    ``message``: what staff write to the people registered (``{"nl", "en"}``, either may be empty), which the
    cancellation mail carries.
    """
    now = now or times.now()
    note = cancellation_message(message)
    before = get_event(repo, event_id)
    if before.status == "cancelled":
        refresh_public_feeds(repo, now, base_url=base_url)
        return unplanned_change(before)  # a repeated request: the notices, if their planning failed
    if before.status == "draft":
        # Cancelled events are public for 30 days; a draft never was, and has no one to tell.
        raise Conflict("status: a draft was never published, so there is nothing to cancel; leave it a draft")
    after = _marked(before, replace(before, status="cancelled", cancelled_at=now, updated_at=now,
                                    sequence=before.sequence + 1, cancellation_message=note))
    repo.update_event(after, previous=before)
    _audit(repo, actor, "event.cancel", after, now, previous_status=before.status, message=bool(note),
           changes=_changes(before, after))
    refresh_public_feeds(repo, now, base_url=base_url)
    return unplanned_change(after)


CANCELLATION_MESSAGE_MAX = 2000


def cancellation_message(value: Any) -> dict[str, str] | None:
    """A cancellation's message to the people registered: texts in Dutch and English, each optional; None if
    both are empty. InvalidInput (``message.nl``, ``message.en``) for text that cannot be sent."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"nl", "en"}:
        raise InvalidInput("message", "wrong_type", "must be an object with nl and en texts", expected="object")
    texts = {lang: checked_text(value.get(lang), f"message.{lang}", CANCELLATION_MESSAGE_MAX, False, multiline=True)
             for lang in ("nl", "en")}
    texts = {lang: text for lang, text in texts.items() if text}
    return texts or None


def list_upcoming(repo: Repository, now: datetime | None = None) -> list[Event]:
    """Return published events that have not ended, soonest first."""
    now = now or times.now()
    return [e for e in repo.list_events() if e.is_upcoming(now)]


def front_page_events(repo: Repository, now: datetime | None = None) -> tuple[list[Event], list[Event]]:
    """The front page's events, from one read: the upcoming ones, and those cancelled that had not yet taken
    place (someone looking for one finds it marked cancelled, not gone)."""
    now = now or times.now()
    every = repo.list_events()
    return ([e for e in every if e.is_upcoming(now)],
            [e for e in every if e.status == "cancelled" and e.starts_at > now])


def get_public_event(repo: Repository, event_id: str) -> Event:
    """Return a published or cancelled event; drafts and unknown ids are NotFound alike."""
    event = get_event(repo, event_id)
    if event.status not in ("published", "cancelled"):
        raise NotFound(f"event_id: no event {event_id!r}")
    return event

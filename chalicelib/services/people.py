"""Reading a person from a link and changing their profile with retries.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable

from chalicelib import config, tokens
from chalicelib.errors import Conflict, ErasedPersonLink, NotFound
from chalicelib.model.event import Event
from chalicelib.model.person import Person
from chalicelib.ports import Repository

UNCONFIRMED_RETENTION = timedelta(days=7)
RETRIES = 3


def person_for_token(repo: Repository, purpose: str, token: str, *, key: bytes) -> Person:
    """Return the person a link token stands for; NotFound when it is not genuine, ErasedPersonLink when the
    person is gone.

    A genuine link whose salt is not the profile's was made for an earlier profile of the address, erased
    since (the address was subscribed again): NotFound, as a link we do not know; it must not reach the new
    profile, and saying "erased" would tell its holder the address was subscribed again.
    """
    read = tokens.read_person_token(purpose, token, key)
    if not read:
        raise NotFound("token: this link is not valid (any more)")
    person_id, salt = read
    person = repo.get_person(person_id)
    if person is None:
        raise ErasedPersonLink("token: the data of this link's person is erased")
    if not tokens.same_salt(salt, person.link_salt):
        raise NotFound("token: this link is not valid (any more)")
    return person


def _retention_until(event: Event, now: datetime, settings: config.Settings) -> datetime:

    days = settings.registration_retention_days
    return max(event.ends_at, now) + timedelta(days=days)


def _events_by_id(repo: Repository) -> dict[str, Event]:
    return {e.id: e for e in repo.list_events()}


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


def _keep_person_until(repo: Repository, person: Person, events: list[Event], now: datetime, *,
                       settings: config.Settings) -> Person | None:
    """Raise the profile's expiry to the retention of ``events`` (never lower it); no write if it is there already."""
    until = max((_retention_until(e, now, settings) for e in events), default=None)
    if until is None:
        return person
    return _change_person(repo, person, lambda p: None if (p.expires_at or until) >= until else {"expires_at": until},
                          now, gone_ok=True)

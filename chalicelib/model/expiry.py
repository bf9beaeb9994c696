"""Retention rules shared by both repositories: how long items live after their event or link.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Sequence

from chalicelib.model.person import ConfirmToken, Person, Registration
from chalicelib.model.send import Send

AUDIT_RETENTION = timedelta(days=730)
# A confirm token's item is kept this long past the link's expiry (its TTL), so an old link answers 410, not 404.
TOKEN_KEPT_AFTER_EXPIRY = timedelta(days=30)
# A feed version is superseded within days; the newest one being cleared after
# this long unchanged only means the next poll renders it again.
FEED_VERSION_RETENTION = timedelta(days=400)


EXPIRY_TRIES = 4  # a move whose registration's expiry was raised meanwhile is written again with it, this often


def _later_expiry(written: datetime | None, stored: datetime | None) -> datetime | None:
    """The expiry to write over ``stored``: never an earlier one (compared as TTL compares, in whole seconds)."""
    if written is None or stored is None or int(stored.timestamp()) <= int(written.timestamp()):
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


def _person_kept(person: Person, previous: Person | None) -> Person:
    """``person`` written over ``previous`` (as stored: the write is conditioned on it), never with an earlier expiry."""
    expiry = _later_expiry(person.expires_at, previous.expires_at if previous is not None else None)
    return person if expiry == person.expires_at else replace(person, expires_at=expiry)

CONFIRM_VALIDITY = timedelta(hours=48)
# How long a profile lists a confirm link (``Person.tokens_made``), so that an erasure deletes its item: the
# link's validity, the item's life after it (its TTL), and a week for DynamoDB's TTL, which deletes an item
# "within a few days" of its time. At most ``confirmation_mails_per_day`` links a day: some 240 hashes.
TOKEN_LISTED_FOR = CONFIRM_VALIDITY + TOKEN_KEPT_AFTER_EXPIRY + timedelta(days=7)


def token_kept_until(token: ConfirmToken, profile_expiry: datetime | None) -> datetime:
    """When a confirm link's item goes: a while past the link's expiry (an old link answers 410, not 404), but
    never after its profile's expiry (``profile_expiry``), which is never lowered: nothing the link holds
    (the name, organisation and question typed) outlives the profile, where access and erasure find it."""
    kept = token.expires_at + TOKEN_KEPT_AFTER_EXPIRY
    return kept if profile_expiry is None else min(kept, profile_expiry)


def token_item_expiry(token: ConfirmToken) -> datetime:
    """The TTL of a confirm link's item (``ConfirmToken.kept_until``, or the default for older links)."""
    return token.kept_until or token.expires_at + TOKEN_KEPT_AFTER_EXPIRY

"""People, registrations, confirm links, staff tokens and audit entries (plain data and their pure rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import times


STAFF_TOKEN_DAYS = 90  # a staff token's life unless its creation says otherwise
STAFF_TOKEN_DAYS_MAX = 730
STAFF_TOKEN_USE_RECORDED_EVERY = 3600  # seconds: "last used" is written at most this often (an hour's precision)


@dataclass(frozen=True)
class StaffToken:
    """A staff member's token as stored: only its hash, never the token itself.

    ``valid_until``: when it stops working (None: a token made before tokens expired, which lives
    ``STAFF_TOKEN_DAYS`` from its creation); ``last_used_at``: the last request it let in, to the hour.
    """

    name: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    valid_until: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def expires_at(self) -> datetime:
        return self.valid_until or self.created_at + timedelta(days=STAFF_TOKEN_DAYS)

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``live``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "live"


@dataclass(frozen=True)
class AuditEntry:
    """One staff action: who, what, when."""

    actor: str
    action: str
    target: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "at": times.format_instant(self.at, times.DEFAULT_ZONE),
            "details": self.details,
        }


@dataclass(frozen=True)
class MailSent:
    """A mail a request sent to a person at once, as their access report lists it.

    The tick's mails (reminders, notices, messages) are sends (``model/send.py``), which keep their own
    record. These are the rest: the confirmation request, "you are already registered", the confirmation (of a
    confirm link, or of a one-click register from the manage page) and the short mail after cancelling a seat.
    Written once SES took the mail (``message_id``); kept until ``kept_until``, the profile's expiry when it
    went out (a profile's expiry is never lowered), and deleted with the profile by an erasure.
    """

    person_id: str
    kind: str  # the mail's template: confirm_request, already_registered, confirmed, registration_cancelled
    event_ids: tuple[str, ...]
    sent_at: datetime
    message_id: str
    kept_until: datetime


# ------------------------------------------------------------ subscribers

REGISTRATION_STATUSES = ("pending", "confirmed", "waitlisted", "interested", "cancelled")
# A registration in one of these states is never put back to pending by a
# new submission of the form.
KEPT_STATUSES = ("confirmed", "waitlisted", "interested")


@dataclass(frozen=True)
class Person:
    """Someone who subscribed: the profile kept under a keyed hash of their address."""

    id: str
    email: str
    name: str
    organisation: str
    language: str
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    mail_stopped_at: datetime | None = None
    mail_stopped_reason: str | None = None
    confirm_mails: tuple[datetime, ...] = ()
    event_ids: frozenset[str] = frozenset()
    # Confirm links made before their times were kept (a profile written before ``tokens_made``): time unknown.
    # A submission moves them into ``tokens_made``, as made then; none is added here any more.
    token_hashes: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    # (made at, UTC as ``times.to_utc_iso``; hash) of each confirm link whose item may still be stored, oldest
    # first: a submission drops those past the item's TTL (``model/expiry.TOKEN_LISTED_FOR``).
    tokens_made: tuple[tuple[str, str], ...] = ()
    # Random, set when the profile is made: part of the HMAC of the person's links, so links of an erased
    # profile do not work for a new one of the same address. "" for profiles made before it (their links as before).
    link_salt: str = ""

    @property
    def receives_mail(self) -> bool:
        return self.mail_stopped_at is None

    @property
    def all_token_hashes(self) -> frozenset[str]:
        """Every confirm link of this person whose item may still be stored: what an erasure deletes."""
        return self.token_hashes | {token_hash for _, token_hash in self.tokens_made}

    def token_hashes_since(self, since: datetime) -> list[str]:
        """The confirm links made after ``since``, and those whose time is unknown (which may be), sorted."""
        after = times.to_utc_iso(since)
        return sorted(self.token_hashes | {token_hash for made, token_hash in self.tokens_made if made > after})


@dataclass(frozen=True)
class Registration:
    """One person's place (or wish) for one event."""

    event_id: str
    person_id: str
    email: str
    name: str
    organisation: str
    language: str
    status: str
    registered_at: datetime
    updated_at: datetime
    question: str = ""
    confirmed_at: datetime | None = None
    waitlisted_at: datetime | None = None
    cancelled_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ConfirmToken:
    """A double opt-in token as stored: its hash, whose it is, for which events, until when.

    It carries the submission it was mailed for (name, organisation, language,
    question): confirming applies those, whatever was submitted for the same
    address since (anyone can type someone's address into the form).
    ``used_at``: when a confirm began with it; ``done_at``: when one finished.
    """

    token_hash: str
    person_id: str
    event_ids: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    name: str = ""
    organisation: str = ""
    language: str = ""
    question: str = ""
    done_at: datetime | None = None
    # The question for each event, when they differ (one per webinar); ``question`` for an older link.
    questions: tuple[tuple[str, str], ...] = ()
    # When its item goes (TTL); None: ``expires_at`` + ``model/expiry.TOKEN_KEPT_AFTER_EXPIRY``. Never after
    # its profile's expiry, as it was when the link was made: it holds a name, an organisation, a question.
    kept_until: datetime | None = None


def _waiting_order(reg: Registration) -> tuple[datetime, str]:
    """The order in which people waiting get a free seat (``_promote``)."""
    return (reg.waitlisted_at or reg.registered_at, reg.person_id)

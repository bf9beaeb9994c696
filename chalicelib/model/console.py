"""The staff console's records: staff members, sign-in links and sessions (plain data and their pure rules).

Nothing secret is kept as it is: a sign-in link and a session are stored by
the SHA-256 of their token (``tokens.token_hash``); the token itself lives
only in the mail and in the browser's cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

LINK_VALID = timedelta(minutes=15)          # a sign-in link works this long after it was mailed
LINKS_PER_HOUR = 5                          # at most this many sign-in links a staff member an hour
SESSION_IDLE = timedelta(hours=8)           # a session unused this long has ended
SESSION_MAX = timedelta(hours=12)           # and none lasts longer than this, used or not
SESSION_TOUCH = timedelta(minutes=5)        # a session's last use is written at most this often
EMAIL_MAX = 254
NAME_MAX = 200


@dataclass(frozen=True)
class StaffMember:
    """Someone who may sign in to the console; ``admin``: may add and remove staff members there."""

    email: str
    name: str
    admin: bool
    added_at: datetime
    # When each sign-in link of the last hour was made (``LINKS_PER_HOUR``), oldest first.
    links_made: tuple[datetime, ...] = ()

    def links_in_last_hour(self, now: datetime) -> tuple[datetime, ...]:
        return tuple(t for t in self.links_made if t > now - timedelta(hours=1))


@dataclass(frozen=True)
class SignInLink:
    """A mailed sign-in link as stored: the hash of its token, whose it is, until when, and when it was used."""

    token_hash: str
    email: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: the hash of its cookie's token, the member, when it began and was last used."""

    token_hash: str
    email: str
    created_at: datetime
    last_seen_at: datetime

    def ends_at(self) -> datetime:
        """When it ends if not used again: 8 hours after its last use, and never past 12 hours after it began."""
        return min(self.last_seen_at + SESSION_IDLE, self.created_at + SESSION_MAX)

    def live(self, now: datetime) -> bool:
        return self.created_at <= now < self.ends_at()

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= SESSION_TOUCH


@dataclass(frozen=True)
class SignedIn:
    """Who a request's session belongs to: the session and its member (read together)."""

    session: ConsoleSession
    member: StaffMember
    csrf: str

    @property
    def actor(self) -> str:
        """How the audit log names this staff member: their address."""
        return self.member.email

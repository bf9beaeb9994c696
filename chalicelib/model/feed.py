"""Public-feed versions and the answer to a feed poll (plain data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib import times


@dataclass(frozen=True)
class FeedVersion:
    """One rendering of a stored feed: its bytes, number (epoch seconds) and ETag."""

    feed: str
    version: int
    body: bytes
    etag: str
    built_at: datetime

    @property
    def last_modified(self) -> datetime:
        return datetime.fromtimestamp(self.version, times.UTC)


@dataclass(frozen=True)
class FeedReply:
    """What a poll gets: 200 with a body, or 304 with none."""

    status: int
    body: bytes | None
    etag: str | None
    last_modified: datetime | None

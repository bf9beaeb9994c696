"""Allowances: how many confirmation mails may go in a clock hour or a UTC day, per mailbox, per client and in all.

An ``Allowance`` names one count (its scope and key) and its limit in one window. Counting one against a
set of them is all or nothing (``Repository.take_allowances``): a mail that one limit holds back uses
up no other. Each window's count is kept until the window ends (TTL), so a client's hashed address is
kept for at most the hour it counts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# The scopes counted: a mailbox (an address without its +tag, case-folded), a mailbox asked through a link
# that proves it (a resend: not used up by what anyone types into the form), a client (the source IP), and
# the whole service (its hourly ceiling, which raises an alarm when reached).
SCOPES = ("mailbox", "mailbox-link", "client", "service")


@dataclass(frozen=True)
class Allowance:
    """One count and its limit in the current ``period`` (``hour`` or ``day``): ``key`` is a keyed hash, or ""."""

    scope: str
    key: str
    period: str
    limit: int

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The clock hour or UTC day ``now`` falls in: its start and end."""
        utc = now.astimezone(timezone.utc)
        start = utc.replace(minute=0, second=0, microsecond=0)
        if self.period == "day":
            start = start.replace(hour=0)
        return start, start + PERIODS[self.period]

    def window_id(self, now: datetime) -> str:
        """The window's name: ``hour#2026-11-25T12`` or ``day#2026-11-25``."""
        start, _ = self.window(now)
        return f"{self.period}#{start:%Y-%m-%dT%H}" if self.period == "hour" else f"{self.period}#{start:%Y-%m-%d}"

    def ends(self, now: datetime) -> datetime:
        return self.window(now)[1]

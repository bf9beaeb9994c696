"""The every-minute tick: send what is due, then log one line with its counts.

EventBridge invokes ``app.tick`` once a minute in AWS. The line it logs is
also the CloudWatch metrics MailsDue, MailsSent, MailsStale, MailsFailed and
MailsThrottled (see ``logs.tick``).

Issue 5 (reminders) fills in ``_send_due``; until then a tick finds nothing
due. The logging and its shape stay here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from . import logs, times


@dataclass
class TickCounts:
    """What one tick did: found due, sent, dropped as stale, failed, held back by the send rate."""

    due: int = 0
    sent: int = 0
    stale: int = 0
    failed: int = 0
    throttled: int = 0


def _send_due(now: datetime) -> TickCounts:
    # Placeholder until issue 5: reminders.send_due(repo, mailer, now) goes here.
    return TickCounts()


def run_tick(now: datetime | None = None) -> TickCounts:
    """Run one tick as of ``now`` and log its counts."""
    started = time.perf_counter()
    try:
        counts = _send_due(now or times.now())
    except Exception as exc:
        # Still one line per tick, naming the error's type only (its text may hold data).
        logs.emit({"log": "tick", "error": type(exc).__name__,
                   "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        raise
    logs.tick(asdict(counts), duration_ms=(time.perf_counter() - started) * 1000)
    return counts

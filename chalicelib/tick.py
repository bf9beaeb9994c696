"""The every-minute tick: send what is due, then log one line with its counts.

EventBridge invokes ``app.tick`` once a minute in AWS. The line it logs is
also the CloudWatch metrics MailsDue, MailsSent, MailsStale, MailsFailed and
MailsThrottled (see ``logs.tick``).

``_send_due`` is ``reminders.send_due`` with the stage's settings (the same
code as ``cli send-due``); the logging and its shape stay here.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from . import logs, times


LOGGED = ("due", "sent", "stale", "failed", "throttled")


def _send_due(now: datetime, **options: Any):
    from . import reminders

    return reminders.send_due_now(now, **options)


def run_tick(now: datetime | None = None, *, time_budget: float | None = None, repo: Any = None,
             mailer: Any = None):
    """Run one tick as of ``now``, log its counts, and return its ``reminders.TickResult``.

    ``time_budget`` (seconds) stops it before Lambda would; ``repo`` and
    ``mailer`` are the app's, built once per process (the stage's otherwise).
    """
    started = time.perf_counter()
    options = {name: value for name, value in
               (("time_budget", time_budget), ("repo", repo), ("mailer", mailer)) if value is not None}
    try:
        counts = _send_due(now or times.now(), **options)
    except Exception as exc:
        # Still one line per tick, naming the error's type only (its text may hold data).
        logs.emit({"log": "tick", "error": type(exc).__name__,
                   "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        raise
    logs.tick({name: getattr(counts, name) for name in LOGGED}, duration_ms=(time.perf_counter() - started) * 1000)
    return counts

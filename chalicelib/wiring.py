"""The composition root: the only place the adapters (DynamoDB, SES, the link key) and settings are built.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chalicelib import config, logs, times
from chalicelib.adapters import aws

pass
pass
from chalicelib.adapters.dynamodb import DynamoDBRepository
from chalicelib.adapters.ses import SesMailer
from chalicelib.ports import Mailer, Repository
from chalicelib.services.tick import TIME_BUDGET, TickResult, _plan_unplanned, send_due, tick_rate

LOGGED = ("due", "sent", "stale", "failed", "throttled")


def _send_due(now: datetime, **options: Any):

    return send_due_now(now, **options)


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


def send_due_now(now: datetime | None = None, time_budget: float = TIME_BUDGET, *,
                 repo: Repository | None = None, mailer: Mailer | None = None) -> TickResult:
    """One tick with the stage's settings: DynamoDB, SES and SES_MAX_SEND_RATE (or the given repo and mailer)."""

    settings = config.load()
    repo = repo or DynamoDBRepository(aws.client("dynamodb"), settings.table_name)
    mailer = mailer or SesMailer(aws.client("ses"), settings.sender_email, settings.ses_configuration_set)
    _plan_unplanned(repo, now or times.now())
    return send_due(repo, mailer, base_url=settings.base_url, now=now, rate=tick_rate(settings.ses_max_send_rate),
                    time_budget=time_budget)

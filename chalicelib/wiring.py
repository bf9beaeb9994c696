"""The composition root: the only place the adapters (DynamoDB, SES, the link key) and settings are built.

The HTTP edge, the scheduled handlers and the operators' command line get
their repository and mailer here, built once per process on first use
(``get_repo``, ``get_mailer``); tests put their own in with ``set_repo`` and
``set_mailer``. Settings are read per call (``get_settings``): a stage's
environment is only there while a request runs under ``chalice local``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chalicelib import config, logs, times
from chalicelib.ports import Mailer, Repository
from chalicelib.services.tick import TIME_BUDGET, TickResult, _plan_unplanned, send_due, tick_rate

_repo: Repository | None = None
_mailer: Mailer | None = None


def get_settings() -> config.Settings:
    """The settings of this stage, read now."""
    return config.load()


def get_keys() -> bytes:
    """The link key that signs person links and person ids (TOKEN_KEY, or SSM read once per process)."""
    from chalicelib.adapters import keys

    return keys.signing_key()


def new_repo(settings: config.Settings | None = None) -> Repository:
    """A DynamoDB repository on the stage's table (boto3 is imported here, not at cold start)."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamodb import DynamoDBRepository

    return DynamoDBRepository(aws.client("dynamodb"), (settings or config.load()).table_name)


def new_mailer(settings: config.Settings | None = None) -> Mailer:
    """An SES mailer with the stage's sender and configuration set."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.ses import SesMailer

    current = settings or config.load()
    return SesMailer(aws.client("ses"), current.sender_email, current.ses_configuration_set)


def get_repo() -> Repository:
    """The repository, built once per process on first use."""
    global _repo
    if _repo is None:
        _repo = new_repo()
    return _repo


def set_repo(repo: Repository | None) -> None:
    """Use ``repo`` from now on (tests); None builds the stage's again on next use."""
    global _repo
    _repo = repo


def get_mailer() -> Mailer:
    """The mailer (SES), built once per process on first use."""
    global _mailer
    if _mailer is None:
        _mailer = new_mailer()
    return _mailer


def set_mailer(mailer: Mailer | None) -> None:
    """Use ``mailer`` from now on (tests); None builds the stage's again on next use."""
    global _mailer
    _mailer = mailer


# ------------------------------------------------------------------ the tick

LOGGED = ("due", "sent", "stale", "failed", "throttled")


def _send_due(now: datetime, **options: Any) -> TickResult:
    return send_due_now(now, **options)


def run_tick(now: datetime | None = None, *, time_budget: float | None = None, repo: Any = None,
             mailer: Any = None) -> TickResult:
    """Run one tick as of ``now``, log its counts, and return its ``TickResult``.

    EventBridge invokes ``http/handlers.tick`` once a minute in AWS. The line
    logged is also the CloudWatch metrics MailsDue, MailsSent, MailsStale,
    MailsFailed and MailsThrottled (see ``logs.tick``). ``time_budget``
    (seconds) stops it before Lambda would; ``repo`` and ``mailer`` are the
    app's, built once per process (the stage's otherwise).
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
    """One tick with the stage's settings: DynamoDB, SES and SES_MAX_SEND_RATE (or the given repo and mailer).

    The same code runs as ``cli send-due`` and as the scheduled tick.
    """
    settings = get_settings()
    repo = repo or new_repo(settings)
    mailer = mailer or new_mailer(settings)
    _plan_unplanned(repo, now or times.now(), settings)
    return send_due(repo, mailer, base_url=settings.base_url, key=get_keys(), now=now,
                    rate=tick_rate(settings.ses_max_send_rate), time_budget=time_budget)

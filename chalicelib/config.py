"""Settings, read from the environment when asked for, never at import.

Chalice sets a stage's environment variables only while a request runs (in
the test client and ``chalice local``), so every value is looked up lazily.
Outside Chalice (the command line, tests) the ``local`` stage of
``.chalice/config.json`` fills in whatever the environment does not set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"

DEFAULTS = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "TABLE_NAME": "sro-events-local",
    "SENDER_EMAIL": "smartregionoffice@vlaanderen.be",
    "BASE_URL": "http://127.0.0.1:8000",
    "STAGE": "local",
    "REGISTRATION_RETENTION_DAYS": "180",
    "CONFIRMATION_MAILS_PER_HOUR": "3",
    "CONFIRMATION_MAILS_PER_DAY": "6",
    # Confirmation mails one client (a source IP) may cause in a clock hour, and the whole service: reaching
    # the ceiling holds every further one back until the hour ends, and raises an alarm.
    "CONFIRMATION_MAILS_PER_CLIENT_PER_HOUR": "20",
    "CONFIRMATION_MAILS_CEILING_PER_HOUR": "600",
    # The form's answer comes no sooner than this many milliseconds after the post: a mailed address and one
    # not mailed (stopped, suppressed, over a limit) take the same time. Above SES's usual answer time.
    "FORM_ANSWER_FLOOR_MS": "400",
    "SES_MAX_SEND_RATE": "14",
    "SES_CONFIGURATION_SET": "",
    "TOKEN_KEY_PARAMETER": "/sro-events/local/token-key",
    # Seconds an AWS call may take to answer. Raised only for the load test,
    # whose one-request-at-a-time emulator queues 200 callers.
    "AWS_READ_TIMEOUT": "10",
}


def _stage_file_values(stage: str) -> dict[str, str]:
    try:
        data = json.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    stage_cfg = data.get("stages", {}).get(stage, {})
    values = dict(data.get("environment_variables", {}))
    values.update(stage_cfg.get("environment_variables", {}))
    return values


def get(name: str) -> str:
    """Return one setting: the environment first, then the stage's config file, then a default."""
    if name in os.environ and os.environ[name] != "":
        return os.environ[name]
    stage = os.environ.get("STAGE") or "local"
    file_values = _stage_file_values(stage)
    if name in file_values:
        return file_values[name]
    return DEFAULTS.get(name, "")


@dataclass(frozen=True)
class Settings:
    """A snapshot of the settings one request or command works with."""

    stage: str
    region: str
    table_name: str
    sender_email: str
    base_url: str
    endpoint_url: str | None
    registration_retention_days: int
    confirmation_mails_per_hour: int
    confirmation_mails_per_day: int
    ses_max_send_rate: float
    ses_configuration_set: str
    confirmation_mails_per_client_per_hour: int = 20
    confirmation_mails_ceiling_per_hour: int = 600
    form_answer_floor_ms: int = 400

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


def load() -> Settings:
    """Read the settings as they are now."""
    return Settings(
        stage=get("STAGE"),
        # The environment's region, by either of AWS's names, before the default.
        region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or get("AWS_DEFAULT_REGION"),
        table_name=get("TABLE_NAME"),
        sender_email=get("SENDER_EMAIL"),
        base_url=get("BASE_URL").rstrip("/"),
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        registration_retention_days=int(get("REGISTRATION_RETENTION_DAYS")),
        confirmation_mails_per_hour=int(get("CONFIRMATION_MAILS_PER_HOUR")),
        confirmation_mails_per_day=int(get("CONFIRMATION_MAILS_PER_DAY")),
        confirmation_mails_per_client_per_hour=int(get("CONFIRMATION_MAILS_PER_CLIENT_PER_HOUR")),
        confirmation_mails_ceiling_per_hour=int(get("CONFIRMATION_MAILS_CEILING_PER_HOUR")),
        form_answer_floor_ms=int(get("FORM_ANSWER_FLOOR_MS")),
        ses_max_send_rate=float(get("SES_MAX_SEND_RATE")),
        ses_configuration_set=get("SES_CONFIGURATION_SET"),
    )

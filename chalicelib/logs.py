"""Structured log lines and CloudWatch metrics: one JSON object per line on stdout.

Lambda sends stdout to CloudWatch Logs, and CloudWatch turns lines in
Embedded Metric Format (EMF, the ``_aws`` key) into metrics by itself: no
``cloudwatch:PutMetricData`` in the policy and no extra call on a request.

What goes in: route templates (``/confirm/{token}``, never the path),
methods, statuses, durations, request ids and counts. What never goes in:
an address, a name, a token, a query string or a raw path.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Mapping

from chalicelib import config

NAMESPACE = "SroEvents"

# The tick's counts, in the order they are logged; each becomes a metric.
TICK_COUNTS = ("due", "sent", "stale", "failed", "throttled")
TICK_METRICS = {
    "due": "MailsDue", "sent": "MailsSent", "stale": "MailsStale",
    "failed": "MailsFailed", "throttled": "MailsThrottled",
}


def emit(record: Mapping[str, Any]) -> None:
    """Write one record as one line of JSON on stdout."""
    sys.stdout.write(json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def _stage() -> str:

    return config.get("STAGE")


def emf(metrics: Mapping[str, int | float], *, unit: str = "Count", **properties: Any) -> dict[str, Any]:
    """Return an EMF record of ``metrics`` with the dimension Stage, plus ``properties`` as plain fields."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stage"]],
                "Metrics": [{"Name": name, "Unit": unit} for name in metrics],
            }],
        },
        "Stage": _stage(),
        **properties,
        **metrics,
    }


def request(*, method: str, route: str | None, status: int, duration_ms: float, request_id: str | None) -> None:
    """Log one HTTP request: its route template, never its path."""
    emit({
        "log": "request", "method": method, "route": route, "status": status,
        "duration_ms": round(duration_ms, 1), "request_id": request_id,
    })


def tick(counts: Mapping[str, int], *, duration_ms: float) -> None:
    """Log one tick's counts, as a line that is also their metrics."""
    values = {name: int(counts.get(name, 0)) for name in TICK_COUNTS}
    metrics = {TICK_METRICS[name]: value for name, value in values.items()}
    emit(emf(metrics, log="tick", duration_ms=round(duration_ms, 1), **values))


def mail(kind: str, *, sent: int = 0, failed: int = 0) -> None:
    """Count mail sent or failed outside the tick (confirmations, for instance)."""
    emit(emf({"MailsSent": sent, "MailsFailed": failed}, log="mail", kind=kind))


def confirmation_held(scope: str) -> None:
    """Count a confirmation mail an allowance held back (``model/allowance.SCOPES``); never whose.

    ``ConfirmationCeilingReached`` is 1 when the whole service's hourly ceiling held it: the stack's alarm.
    """
    emit(emf({"ConfirmationsHeld": 1, "ConfirmationCeilingReached": int(scope == "service")},
             log="confirmation_held", scope=scope))

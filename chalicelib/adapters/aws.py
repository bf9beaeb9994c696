"""AWS clients, made once per process and only when first needed.

boto3 costs about 100 ms to import: nothing here is imported at module load,
so a cold start that never talks to AWS does not pay for it.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import config

_clients: dict[tuple[str, str, str | None, bool], Any] = {}
_lock = threading.Lock()

# botocore retries a call whose answer timed out. A send through SES is not
# idempotent: a retry after a lost answer mails the person twice. The SES
# client makes one attempt; the mailer tells what SES surely refused (retried
# by the tick) from what it may have taken (never resent).
RETRIES = {"ses": {"mode": "standard", "total_max_attempts": 1}}

# botocore checks each request against the service's model before it sends
# it: for DynamoDB, a claim or settle of 99 sends is some 2,500 checks of
# pure CPU, a few percent of a tick. DynamoDB clients skip it (botocore's
# documented switch for speed) unless AWS_VALIDATE_REQUESTS=1: the test suite
# sets it, so every request the suite makes is checked, and a request that
# passes the check is sent the same without it. DynamoDB checks each request
# again itself.
UNCHECKED = {"dynamodb"}


def client(service: str) -> Any:
    """Return a cached low-level client for ``service`` with the current settings."""
    settings = config.load()
    checked = service not in UNCHECKED or config.get("AWS_VALIDATE_REQUESTS") == "1"
    key = (service, settings.region, settings.endpoint_url, checked)
    with _lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            _clients[key] = boto3.session.Session().client(
                service,
                region_name=settings.region,
                endpoint_url=settings.endpoint_url,
                config=Config(
                    connect_timeout=3,
                    read_timeout=float(config.get("AWS_READ_TIMEOUT") or 10),
                    retries=RETRIES.get(service, {"mode": "standard", "max_attempts": 3}),  # 3 retries
                    max_pool_connections=50,
                    parameter_validation=checked,
                ),
            )
        return _clients[key]


def reset() -> None:
    """Forget every client (tests that switch endpoints call this)."""
    with _lock:
        _clients.clear()

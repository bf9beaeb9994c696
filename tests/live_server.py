"""A live copy of the service for the browser and outbox tests.

``live_server`` (session scope) is ``scripts/local_service.running_service``
(moto's server and ``chalice local`` on free ports of 127.0.0.1, bootstrapped
and seeded, stopped at the end) with what these tests read: the mail sent so
far (``outbox()``, ``mails_to()``, ``wait_for_mail()``). It is registered in
``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from chalicelib.adapters import outbox as outbox_module

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local_service import Service, running_service  # noqa: E402


class LiveServer:
    """The running service, and the mail it has sent."""

    def __init__(self, service: Service):
        self.service = service
        self.url = service.url
        self.moto_url = service.moto_url
        self.env = service.env
        self.logs = service.logs

    def cli(self, *args: str) -> str:
        """Run ``python -m chalicelib.cli ARGS`` against this server; return its stdout."""
        return self.service.cli(*args)

    def outbox(self) -> list[outbox_module.OutboxMail]:
        """Every mail sent so far, newest first."""
        return outbox_module.read(self.moto_url)

    def mails_to(self, address: str) -> list[outbox_module.OutboxMail]:
        """The mails sent to ``address``, newest first."""
        return [m for m in self.outbox() if any(address.lower() in r.lower() for r in m.recipients)]

    def wait_for_mail(self, address: str, count: int = 1, timeout: float = 10) -> list[outbox_module.OutboxMail]:
        """The mails to ``address`` once there are at least ``count`` of them (sending is synchronous; this
        only guards against a slow server)."""
        deadline = time.monotonic() + timeout
        while True:
            mails = self.mails_to(address)
            if len(mails) >= count or time.monotonic() > deadline:
                return mails
            time.sleep(0.1)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    """The whole service on free local ports, for the test session."""
    with running_service(logs=tmp_path_factory.mktemp("live-server")) as service:
        yield LiveServer(service)

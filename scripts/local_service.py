"""A throwaway copy of the whole service on free ports, for fuzzing and load tests.

``running_service()`` starts moto's server, creates the table, sender
identity and signing key (``cli bootstrap``), adds the office's events
(``cli seed``), issues a staff token, starts ``chalice local`` (multi-threaded:
chalice's ThreadedHTTPServer, with a listen backlog of 1024 instead of 5),
yields a ``Service``, and stops both on exit.

With ``atomic=True`` (the default) moto is the one ``make run`` uses
(scripts/moto_local.py): one DynamoDB request at a time, so each is atomic as
it is in AWS (moto's usual threaded server is not), with bounded memory and
outbox. Each run has its own state:
fuzzing cancels and erases things other tests rely on. Standard library
only, on top of scripts/run_local.py's helpers.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_local  # noqa: E402

REPO = run_local.REPO
HOST = run_local.HOST


@dataclass
class Service:
    url: str
    moto_url: str
    env: dict[str, str]
    staff_token: str
    logs: Path

    def cli(self, *args: str) -> str:
        """Run ``python -m chalicelib.cli ARGS`` against this service; return its stdout."""
        import subprocess

        result = subprocess.run([sys.executable, "-m", "chalicelib.cli", *args], cwd=REPO, env=self.env,
                                capture_output=True, text=True, timeout=120, check=True)
        return result.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_service(*, atomic: bool = True, logs: Path | None = None, read_timeout: float = 10) -> Iterator[Service]:
    """Run moto and chalice local on free ports until the block ends.

    ``read_timeout``: seconds the app waits for an AWS answer (the load test
    raises it: its 200 callers queue for the one-at-a-time emulator).
    """
    moto_port, port = free_port(), free_port()
    env = run_local.settings()
    env.update(AWS_ENDPOINT_URL=f"http://{HOST}:{moto_port}", MOTO_PORT=str(moto_port), PORT=str(port),
               BASE_URL=f"http://{HOST}:{port}", AWS_READ_TIMEOUT=str(read_timeout),
               # Every caller of chalice local is 127.0.0.1: the load test's 200 people would be one client.
               CONFIRMATION_MAILS_PER_CLIENT_PER_HOUR="100000", CONFIRMATION_MAILS_CEILING_PER_HOUR="100000",
               # The load test reads every mail of its 200 people from the bounded outbox.
               LOCAL_OUTBOX_LIMIT="5000")
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "TOKEN_KEY", "TABLE_NAME"):
        env.pop(name, None)
    logs = logs or Path(tempfile.mkdtemp(prefix="sro-service-"))
    logs.mkdir(parents=True, exist_ok=True)
    children = []
    try:
        moto = (run_local.moto_command(HOST, moto_port) if atomic
                else [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)])
        with open(logs / "moto.log", "ab") as out:
            children.append(run_local.spawn(moto, env, stdout=out, stderr=out))
        run_local.wait_for(f"{env['AWS_ENDPOINT_URL']}/moto-api/", children[-1], timeout=30)
        service = Service(url=f"http://{HOST}:{port}", moto_url=env["AWS_ENDPOINT_URL"], env=env,
                          staff_token="", logs=logs)
        service.cli("bootstrap")
        service.cli("seed")
        service.staff_token = service.cli("staff-token", "create", "robust").strip().splitlines()[-1].strip()
        # chalice local as make run starts it: a listen backlog for a crowd, no personal data in its log
        # (scripts/chalice_local.py).
        with open(logs / "chalice.log", "ab") as out:
            children.append(run_local.spawn(run_local.chalice_command(HOST, port), env, stdout=out, stderr=out))
        run_local.wait_for(f"{service.url}/openapi.json", children[-1], timeout=60)
        yield service
    finally:
        for child in reversed(children):
            run_local.stop(child)

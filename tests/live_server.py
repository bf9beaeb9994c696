"""A live copy of the service for browser, fuzzing and load tests.

``live_server`` (session scope) starts moto's server and ``chalice local`` on
free ports of 127.0.0.1, runs ``chalicelib.cli bootstrap`` and ``seed``
against them, and yields a ``LiveServer``: its base ``url``, moto's
``moto_url``, the environment to run commands with (``cli()``), and the mail
sent so far (``outbox()``). Both processes are stopped at the end.

Use it from any test module: it is registered in ``tests/conftest.py``
(``pytest_plugins``). Standard library only, besides chalicelib.outbox.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chalicelib import outbox as outbox_module

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _environment(moto_port: int, port: int) -> dict[str, str]:
    """Always moto, never a real account; links in mail point at this server."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_LAMBDA_FUNCTION_NAME")}
    env.update(
        AWS_ENDPOINT_URL=f"http://{HOST}:{moto_port}",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        STAGE="local",
        BASE_URL=f"http://{HOST}:{port}",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_for(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: its process exited with code {proc.returncode}; see {log}:\n"
                               + log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s; see {log}")
        time.sleep(0.1)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even if it is killed without cleanup (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the child's process group, SIGKILL what is left after 5 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(5)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@dataclass
class LiveServer:
    """The running service: where it is and how to look inside."""

    url: str
    moto_url: str
    env: dict[str, str]
    logs: Path
    _processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run ``python -m chalicelib.cli ARGS`` against this server; return its stdout."""
        result = subprocess.run([sys.executable, "-m", "chalicelib.cli", *args], cwd=REPO, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"chalicelib.cli {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result.stdout

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

    def stop(self) -> None:
        for proc in reversed(self._processes):
            _stop(proc)
        self._processes.clear()


def start_live_server(logs: Path) -> LiveServer:
    """Start moto and chalice local, bootstrap and seed; the caller must ``stop()`` it."""
    moto_port, port = free_port(), free_port()
    env = _environment(moto_port, port)
    logs.mkdir(parents=True, exist_ok=True)
    server = LiveServer(url=f"http://{HOST}:{port}", moto_url=env["AWS_ENDPOINT_URL"], env=env, logs=logs)
    try:
        moto_log = logs / "moto.log"
        with open(moto_log, "wb") as out:
            server._processes.append(subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent))
        _wait_for(f"{server.moto_url}/moto-api/", server._processes[-1], 30, moto_log)
        server.cli("bootstrap")
        server.cli("seed")
        chalice_log = logs / "chalice.log"
        with open(chalice_log, "wb") as out:
            server._processes.append(subprocess.Popen(
                [str(VENV_BIN / "chalice"), "local", "--stage", "local", "--no-autoreload",
                 "--host", HOST, "--port", str(port)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent))
        _wait_for(f"{server.url}/privacy", server._processes[-1], 60, chalice_log)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    """The whole service on free local ports, for the test session."""
    server = start_live_server(tmp_path_factory.mktemp("live-server"))
    try:
        yield server
    finally:
        server.stop()

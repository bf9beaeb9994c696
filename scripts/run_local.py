"""`make run`: the whole service on this machine, until Ctrl-C.

1. moto's server on 127.0.0.1:$MOTO_PORT (default 5005) stands in for
   DynamoDB, SES, SNS and SSM; its log goes to .local/moto.log. It is
   scripts/moto_local.py, as in the live tests: one DynamoDB request at a
   time (atomic, as in AWS), bounded memory, a bounded outbox.
2. `python -m chalicelib.cli bootstrap`, `seed`, `staff-token create
   local-admin` (the token is printed), `staff add` of a local staff member
   (admin) and a one-click sign-in URL for the console (printed).
3. `chalice local` on 127.0.0.1:$PORT (default 8000), through
   scripts/chalice_local.py: its access log shows no token or address.
4. The reminder loop: `python -m chalicelib.cli send-due` every
   $REMINDER_INTERVAL seconds (default 60), as EventBridge does in AWS.

Ctrl-C or SIGTERM stops everything it started and exits 0. Standard library
only; run it with the venv's python (`make run` does).
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


class Stop(Exception):
    """Raised by the SIGTERM handler, like KeyboardInterrupt for SIGINT."""


def on_sigterm(signum, frame):
    raise Stop()


def log(message: str) -> None:
    print(f"[run_local] {message}", flush=True)


def settings() -> dict[str, str]:
    """The environment for every child: always moto, never real AWS."""
    moto_port = int(os.environ.get("MOTO_PORT", "5005"))
    port = int(os.environ.get("PORT", "8000"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")}
    env.update(
        AWS_ENDPOINT_URL=f"http://{HOST}:{moto_port}",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        STAGE="local",
        MOTO_PORT=str(moto_port),
        PORT=str(port),
        # Not in the local stage of .chalice/config.json (chalice local would
        # override it): links in mail follow the port the site runs on.
        BASE_URL=f"http://{HOST}:{port}",
        PYTHONUNBUFFERED="1",
    )
    return env


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _die_with_parent() -> None:
    """In the child: get SIGTERM when this process dies, even if killed without cleanup (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    """Start a long-running child in its own process group (killed as a whole), dying with us."""
    return subprocess.Popen(args, cwd=REPO, env=env, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)


def moto_command(host: str, port: int | str) -> list[str]:
    """moto's server as make run and the live tests run it (scripts/moto_local.py)."""
    return [sys.executable, str(REPO / "scripts" / "moto_local.py"), host, str(port)]


def chalice_command(host: str, port: int | str) -> list[str]:
    """chalice local as make run and the live tests run it (scripts/chalice_local.py)."""
    return [sys.executable, str(REPO / "scripts" / "chalice_local.py"), "local", "--stage", "local",
            "--no-autoreload", "--host", host, "--port", str(port)]


def start_moto(env: dict[str, str]) -> subprocess.Popen:
    logfile = REPO / ".local" / "moto.log"
    logfile.parent.mkdir(exist_ok=True)
    with open(logfile, "ab") as out:
        proc = spawn(moto_command(HOST, env["MOTO_PORT"]), env, stdout=out, stderr=subprocess.STDOUT)
    log(f"moto server starting (pid {proc.pid}), log: {logfile.relative_to(REPO)}")
    return proc


def start_chalice(env: dict[str, str]) -> subprocess.Popen:
    proc = spawn(chalice_command(HOST, env["PORT"]), env)
    log(f"chalice local starting (pid {proc.pid})")
    return proc


def wait_for(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Return once `url` answers with any HTTP status; fail if proc dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: its process exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, if not with 2xx
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def run_cli(env: dict[str, str], *args: str, timeout: float = 120, quiet: bool = False) -> str:
    """Run `python -m chalicelib.cli ARGS`; return its stdout (printed too, unless ``quiet``); raise if it fails."""
    result = subprocess.run([sys.executable, "-m", "chalicelib.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True, timeout=timeout)
    if result.stdout and not quiet:
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
    if result.returncode != 0:
        raise RuntimeError(f"chalicelib.cli {' '.join(args)} exited with code {result.returncode}")
    return result.stdout


def reminder_loop(env: dict[str, str], children: list[subprocess.Popen], interval: float) -> None:
    """Tick `send-due` every `interval` seconds until stopped or a child dies."""
    while True:
        try:
            run_cli(env, "send-due", timeout=max(interval - 1, 5))
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            log(f"reminder tick failed: {exc}")
        next_tick = time.monotonic() + interval
        while time.monotonic() < next_tick:
            for proc in children:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} (pid {proc.pid}) exited with code {proc.returncode}")
            time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after 5 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


LOCAL_STAFF = ("staff@example.be", "Local Staff")


def console_link(env: dict[str, str]) -> str:
    """Put the local staff member on the console's list (if absent) and return a sign-in URL for them."""
    email, name = LOCAL_STAFF
    listed = run_cli(env, "staff", "list", quiet=True)
    if not any(line.split("\t")[0] == email for line in listed.splitlines()):
        run_cli(env, "staff", "add", email, name, "--admin")
    return run_cli(env, "staff", "sign-in-link", email, quiet=True).strip().splitlines()[-1]


# What a command of chalicelib.cli needs to reach this service: moto, the stage, and the site's address,
# from which every link in a mail is built (without BASE_URL, send-due mails links to port 8000).
CLI_ENV = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "STAGE", "BASE_URL")


def cli_command(env: dict[str, str], *args: str) -> str:
    """A complete command line to run ``python -m chalicelib.cli ARGS`` against this service, to copy and paste."""
    import shlex

    assignments = " ".join(f"{name}={shlex.quote(env[name])}" for name in CLI_ENV)
    return f"{assignments} .venv/bin/python -m chalicelib.cli {' '.join(shlex.quote(a) for a in args)}".rstrip()


def banner(env: dict[str, str], token: str, sign_in: str) -> None:
    site = f"http://{HOST}:{env['PORT']}"
    print(f"""
======================================================================
 Smart Region Office event service, running locally
   site:        {site}/
   console:     {sign_in}
     (one click signs in {LOCAL_STAFF[0]}; the link works once, for 15 minutes;
      later: {site}/console/sign-in, and the link arrives in the outbox)
   moto (AWS):  {env['AWS_ENDPOINT_URL']}/moto-api/
   staff token: {token}
     export TOKEN={token}
     curl -H "Authorization: Bearer $TOKEN" {site}/staff/events
   mail sent (moto's SES outbox): {site}/outbox, or in another shell:
     {cli_command(env, "outbox")}
   reminders: send-due every {env['REMINDER_INTERVAL']} s; to run one tick as of another moment:
     {cli_command(env, "send-due", "--now", "2027-06-02T09:00")}
 Everything lives in memory: Ctrl-C (or a restart) loses every event, person
 and mail, and the next run prints a new staff token, so links in earlier
 local mails stop working.
 Ctrl-C stops everything.
======================================================================
""", flush=True)


def main() -> int:
    env = settings()
    env.setdefault("REMINDER_INTERVAL", "60")
    interval = float(env["REMINDER_INTERVAL"])
    signal.signal(signal.SIGTERM, on_sigterm)
    children: list[subprocess.Popen] = []
    code = 0
    try:
        for name in ("MOTO_PORT", "PORT"):
            if port_in_use(int(env[name])):
                raise RuntimeError(f"port {env[name]} on {HOST} is already in use; set {name}=...")
        children.append(start_moto(env))
        wait_for(f"{env['AWS_ENDPOINT_URL']}/moto-api/", children[-1], timeout=30)
        log("moto server is up")
        run_cli(env, "bootstrap")
        run_cli(env, "seed")
        lines = [l for l in run_cli(env, "staff-token", "create", "local-admin").splitlines() if l.strip()]
        if not lines:
            raise RuntimeError("staff-token create printed no token")
        token = lines[-1].strip()
        children.append(start_chalice(env))
        wait_for(f"http://{HOST}:{env['PORT']}/", children[-1], timeout=60)
        banner(env, token, console_link(env))
        reminder_loop(env, children, interval)
    except (KeyboardInterrupt, Stop):
        log("stopping")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        log(f"error: {exc}")
        code = 1
    finally:
        # No second Ctrl-C may cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for proc in reversed(children):
            stop(proc)
        log("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())

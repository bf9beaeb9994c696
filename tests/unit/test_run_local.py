"""`make run`: what it installs, starts and prints (scripts/run_local.py, moto_local.py, chalice_local.py)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import chalice_local  # noqa: E402
import run_local  # noqa: E402


def _requirements(name: str) -> dict[str, str]:
    """The pinned names of a requirements file (not following -r), lower case, without extras."""
    pins = {}
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name_part, _, version = line.partition("==")
        pins[re.sub(r"\[.*\]", "", name_part).strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_the_printed_send_due_command_carries_everything_it_needs_the_site_address_included(monkeypatch, capsys):
    """With PORT=8101, a send-due run with the printed command must mail links to port 8101, not 8000."""
    monkeypatch.setenv("PORT", "8101")
    monkeypatch.setenv("MOTO_PORT", "5107")
    env = run_local.settings()
    env["REMINDER_INTERVAL"] = "60"
    run_local.banner(env, "TOKEN123", "http://127.0.0.1:8000/console/sign-in/a-link")
    printed = capsys.readouterr().out
    [line] = [l for l in printed.splitlines() if "send-due" in l and "chalicelib.cli" in l]
    words = shlex.split(line.strip())
    assignments = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    assert assignments["BASE_URL"] == "http://127.0.0.1:8101"
    assert assignments["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5107"
    assert assignments["STAGE"] == "local"
    assert {"AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(assignments)
    assert words[len(assignments):len(assignments) + 4] == [".venv/bin/python", "-m", "chalicelib.cli", "send-due"]
    assert "--now" in words
    # The outbox command is complete too.
    [outbox] = [l for l in printed.splitlines() if l.strip().endswith("chalicelib.cli outbox")]
    assert "BASE_URL=http://127.0.0.1:8101" in outbox


def test_the_banner_says_that_local_data_lives_in_memory(monkeypatch, capsys):
    env = run_local.settings()
    env["REMINDER_INTERVAL"] = "60"
    run_local.banner(env, "TOKEN123", "http://127.0.0.1:8000/console/sign-in/a-link")
    printed = capsys.readouterr().out
    assert "in memory" in printed and "new staff token" in printed


def test_make_run_starts_the_atomic_bounded_moto_and_the_quiet_chalice_local_the_live_tests_use():
    """The test suite's one-request-at-a-time moto is correct; make run's plain threaded one oversold seats."""
    moto = run_local.moto_command("127.0.0.1", 5005)
    assert moto[1:] == [str(REPO / "scripts" / "moto_local.py"), "127.0.0.1", "5005"]
    chalice = run_local.chalice_command("127.0.0.1", 8000)
    assert chalice[1] == str(REPO / "scripts" / "chalice_local.py") and chalice[2] == "local"
    source = (REPO / "scripts" / "run_local.py").read_text(encoding="utf-8")
    assert "moto.server" not in source and '"local", "--stage"' in source
    service = (REPO / "scripts" / "local_service.py").read_text(encoding="utf-8")
    assert "run_local.moto_command(" in service and "run_local.chalice_command(" in service


def test_make_run_installs_what_the_service_and_moto_need_and_no_test_tool():
    run = _requirements("requirements-run.txt")
    dev = _requirements("requirements-dev.txt")
    for tool in ("pytest", "pytest-xdist", "hypothesis", "playwright", "schemathesis", "cfn-lint", "sympy",
                 "networkx", "pydantic"):
        assert tool not in run, tool
    for needed in ("chalice", "boto3", "botocore", "moto", "flask", "werkzeug"):
        assert needed in run, needed
    # requirements-dev.txt builds on it, pinning nothing twice (moto: the same version, with more extras).
    dev_lines = (REPO / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert "-r requirements-run.txt" in dev_lines
    assert not (set(run) & set(dev)) - {"moto"}, set(run) & set(dev)
    assert dev.get("moto", run["moto"]) == run["moto"]
    runtime = (REPO / "requirements-run.txt").read_text(encoding="utf-8").splitlines()
    assert "-r requirements.txt" in runtime
    # The Makefile's run target installs requirements-run.txt alone, behind its own stamp.
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    [run_rule] = [l for l in makefile.splitlines() if l.startswith("run:")]
    assert "venv" not in run_rule.split(":", 1)[1].split() and ".installed-run" in makefile
    assert re.search(r"pip install (-q )?-r requirements-run\.txt", makefile)


@pytest.mark.parametrize("line,shown", [
    ("GET /manage/AbCdEf0123456789_-xyz HTTP/1.1", "GET /manage/{token} HTTP/1.1"),
    ("POST /manage/AbCdEf0123456789_-xyz/events/webinar-2027-01-14/cancel HTTP/1.1",
     "POST /manage/{token}/events/webinar-2027-01-14/cancel HTTP/1.1"),
    ("GET /confirm/tok3nTok3n?lang=en HTTP/1.1", "GET /confirm/{token}?lang=en HTTP/1.1"),
    ("GET /unsubscribe/x HTTP/1.1", "GET /unsubscribe/{token} HTTP/1.1"),
    ("GET /feeds/AbCdEf0123456789.ics HTTP/1.1", "GET /feeds/{token}.ics HTTP/1.1"),
    ("GET /staff/subscribers?email=an%40example.be HTTP/1.1", "GET /staff/subscribers?… HTTP/1.1"),
    ("GET /staff/subscribers/an@example.be HTTP/1.1", "GET /staff/subscribers/{token} HTTP/1.1"),
    ("GET /staff/sign-in/Zq9XkLm2Pw8RtY5vNb3H HTTP/1.1", "GET /staff/sign-in/{token} HTTP/1.1"),
    ("GET /console/sign-in/abc HTTP/1.1", "GET /console/sign-in/{token} HTTP/1.1"),
    ("GET /console/events/webinar-2027-01-14/edit HTTP/1.1", "GET /console/events/webinar-2027-01-14/edit HTTP/1.1"),
    ("GET /?lang=nl&event=webinar-2027-01-14 HTTP/1.1", "GET /?lang=nl&… HTTP/1.1"),
    ("GET /events/smart-region-dag-2027 HTTP/1.1", "GET /events/smart-region-dag-2027 HTTP/1.1"),
    ("GET /static/site.css?v=0123abcd HTTP/1.1", "GET /static/site.css?… HTTP/1.1"),
])
def test_chalice_locals_access_log_shows_no_token_and_no_address(line, shown):
    assert chalice_local.redacted_request_line(line) == shown


def test_chalice_locals_request_handler_logs_the_redacted_line(capsys):
    """The handler chalice local really uses prints the redacted line, and its error lines quote no request."""
    from chalice import local

    chalice_local.install()
    handler = local.ChaliceRequestHandler.__new__(local.ChaliceRequestHandler)
    handler.requestline = "GET /manage/SeCrEtToKeN0123456789?email=an%40example.be HTTP/1.1"
    handler.client_address = ("127.0.0.1", 1)
    handler.log_request(200, 10)
    handler.log_error("code %d, message %s", 400, "Bad request syntax ('GET /manage/SeCrEtToKeN0123456789')")
    err = capsys.readouterr().err
    assert "SeCrEtToKeN" not in err and "example.be" not in err
    assert "/manage/{token}" in err

"""The operators' command line, against moto."""

from __future__ import annotations

import pytest

from chalicelib.adapters import aws
from chalicelib import config
from chalicelib.ops import cli
from chalicelib.services import staff
from tests.conftest import TABLE


@pytest.fixture
def cli_env(aws_mock, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("TOKEN_KEY", raising=False)
    return monkeypatch


def test_bootstrap_is_idempotent_and_creates_the_signing_key(cli_env, capsys):
    assert cli.main(["bootstrap"]) == 0
    assert cli.main(["bootstrap"]) == 0
    out = capsys.readouterr().out
    assert "table sro-events-test: created" in out and "table sro-events-test: exists" in out
    assert "token-key: created" in out and "token-key: exists" in out


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_bootstrap_refuses_a_deployed_stage_and_touches_nothing(cli_env, capsys, stage):
    """In AWS the stack owns the table: one made by bootstrap would make the next deploy fail on its name."""
    from chalicelib.ops import cli
    from chalicelib.services import staff

    cli_env.setenv("STAGE", stage)
    cli_env.delenv("AWS_ENDPOINT_URL", raising=False)
    assert cli.main(["bootstrap"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: bootstrap is for the local emulator") and f"'{stage}'" in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("ssm").describe_parameters()["Parameters"] == []


@pytest.mark.parametrize("stage,endpoint,refused", [
    ("local", None, False),                      # the tests' in-process moto
    ("local", "http://127.0.0.1:5005", False),   # make run
    ("dev", "http://127.0.0.1:5005", False),     # a deployed stage's settings against an emulator
    ("dev", None, True),
    ("prod", None, True),
])
def test_bootstrap_runs_only_against_the_local_stage_or_an_emulator(monkeypatch, stage, endpoint, refused):
    import dataclasses

    from chalicelib.ops import cli
    from chalicelib.services import staff

    monkeypatch.setenv("STAGE", stage)
    settings = dataclasses.replace(config.load(), endpoint_url=endpoint)
    assert (cli.bootstrap_refusal(settings) is not None) == refused


def test_seed_adds_the_offices_events_once(cli_env, capsys):
    cli.main(["bootstrap"])
    cli.main(["seed"])
    cli.main(["seed"])
    out = capsys.readouterr().out
    assert "seeded: webinar-2027-01-14, webinar-2027-02-25, smart-region-dag-2027" in out
    assert "seeded: nothing new" in out
    repo = cli._repo()
    day = repo.get_event("smart-region-dag-2027")
    assert day.location.address == "Havenlaan 88, 1000 Brussel"
    assert day.status == "published" and not day.is_registration_open(day.created_at)
    assert len(repo.list_events()) == 3


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_seed_on_a_deployed_stage_adds_drafts_marked_as_samples_that_the_public_never_sees(cli_env, capsys, stage):
    """Made-up dates, capacity 400 and meet.example.org links must never reach the public of dev or prod."""
    from chalicelib.services import events

    cli.main(["bootstrap"])
    cli_env.setenv("STAGE", stage)
    cli_env.setenv("TABLE_NAME", TABLE)
    assert cli.main(["seed"]) == 0
    out = capsys.readouterr().out
    assert "drafts" in out and "publish" in out
    repo = cli._repo()
    stored = repo.list_events()
    assert len(stored) == 3
    assert {e.status for e in stored} == {"draft"}
    for event in stored:
        assert event.title["nl"].startswith("[Voorbeeld] ") and event.title["en"].startswith("[Sample] ")
        assert event.description["nl"].startswith("VOORBEELD") and event.description["en"].startswith("SAMPLE")
    upcoming, cancelled = events.front_page_events(repo)
    assert upcoming == [] and cancelled == []
    assert cli.main(["seed"]) == 0 and "nothing new" in capsys.readouterr().out


def test_staff_token_is_printed_alone_on_the_last_line_and_can_be_revoked(cli_env, capsys):
    cli.main(["bootstrap"])
    assert cli.main(["staff-token", "create", "an"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    repo = cli._repo()
    assert staff.verify_authorization(repo, f"Bearer {token}") == "an"
    assert cli.main(["staff-token", "revoke", "an"]) == 0
    assert cli.main(["staff-token", "revoke", "an"]) == 1


def test_bad_staff_name_is_refused(cli_env, capsys):
    cli.main(["bootstrap"])
    assert cli.main(["staff-token", "create", "has spaces"]) == 2
    assert "name:" in capsys.readouterr().err


@pytest.mark.parametrize("env,region", [
    ({"AWS_DEFAULT_REGION": "eu-central-1", "AWS_REGION": "us-east-1"}, "eu-central-1"),
    ({"AWS_REGION": "eu-central-1"}, "eu-central-1"),  # an operator who set AWS's other name only
    ({}, "eu-west-1"),
])
def test_the_region_is_the_environments_by_either_name_before_the_default(monkeypatch, env, region):
    from chalicelib.ops import cli
    from chalicelib.services import staff

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STAGE", "dev")  # a stage whose file names no region
    assert config.load().region == region


@pytest.mark.parametrize("argv", [["staff-token", "create", "an"], ["staff-token", "revoke", "an"], ["send-due"]])
def test_a_missing_table_is_one_error_line_not_a_traceback(cli_env, capsys, caplog, argv):
    cli_env.setenv("TABLE_NAME", "no-such-table")  # before bootstrap, or a wrong TABLE_NAME
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: storage: ResourceNotFoundException"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    # Nor a stack trace logged before it (logging without a handler writes to stderr).
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []

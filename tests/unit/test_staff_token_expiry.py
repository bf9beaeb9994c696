"""Staff tokens expire (issue 21, item 9): 90 days unless said at creation; `staff-token list` shows each.

Before, a staff token worked until someone revoked it, and nobody could see which tokens existed, since
when, or whether they were still used.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.errors import InvalidInput, Unauthorized
from chalicelib.model.person import StaffToken
from chalicelib.ops import cli
from chalicelib.services import staff
from tests.conftest import PINNED_NOW, TABLE


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_staff_token_works_90_days_unless_its_creation_says_otherwise(repo, clock):
    default = staff.issue_token(repo, "an")
    short = staff.issue_token(repo, "bo", days=7)
    clock.set(PINNED_NOW + timedelta(days=7) - timedelta(seconds=1))
    assert staff.verify_authorization(repo, bearer(short)) == "bo"
    clock.set(PINNED_NOW + timedelta(days=7))
    with pytest.raises(Unauthorized, match="expired"):
        staff.verify_authorization(repo, bearer(short))
    clock.set(PINNED_NOW + timedelta(days=90) - timedelta(seconds=1))
    assert staff.verify_authorization(repo, bearer(default)) == "an"
    clock.set(PINNED_NOW + timedelta(days=90))
    with pytest.raises(Unauthorized, match="expired"):
        staff.verify_authorization(repo, bearer(default))


@pytest.mark.parametrize("days", [0, -1, 731, True, "30"])
def test_a_tokens_life_must_be_1_to_730_days(memory_repo, days):
    with pytest.raises(InvalidInput) as caught:
        staff.issue_token(memory_repo, "an", days=days)
    assert caught.value.field == "days"


def test_a_token_made_before_tokens_expired_lives_90_days_from_its_making(repo, clock):
    from chalicelib import tokens

    token, digest = tokens.new_token()
    repo.add_staff_token(StaffToken(name="old", token_hash=digest, created_at=PINNED_NOW - timedelta(days=89)))
    assert staff.verify_authorization(repo, bearer(token)) == "old"
    clock.set(PINNED_NOW + timedelta(days=1))
    with pytest.raises(Unauthorized):
        staff.verify_authorization(repo, bearer(token))


def test_an_expired_token_gets_401_over_http(client, dynamodb_repo, clock):
    token = staff.issue_token(dynamodb_repo, "an", days=1)
    assert client.http.get("/staff/events", headers={"Authorization": bearer(token)}).status_code == 200
    clock.set(PINNED_NOW + timedelta(days=1))
    assert client.http.get("/staff/events", headers={"Authorization": bearer(token)}).status_code == 401


def test_each_request_notes_its_tokens_last_use_at_most_once_an_hour(client, dynamodb_repo, clock):
    from chalicelib import tokens

    token = staff.issue_token(dynamodb_repo, "an")
    digest = tokens.token_hash(token)
    assert dynamodb_repo.get_staff_token(digest).last_used_at is None
    client.http.get("/staff/events", headers={"Authorization": bearer(token)})
    assert dynamodb_repo.get_staff_token(digest).last_used_at == PINNED_NOW
    clock.set(PINNED_NOW + timedelta(minutes=30))
    client.http.get("/staff/events/nope", headers={"Authorization": bearer(token)})  # a 404 is a use too
    assert dynamodb_repo.get_staff_token(digest).last_used_at == PINNED_NOW  # within the hour: not written
    clock.set(PINNED_NOW + timedelta(hours=2))
    client.http.get("/staff/audit", headers={"Authorization": bearer(token)})
    assert dynamodb_repo.get_staff_token(digest).last_used_at == PINNED_NOW + timedelta(hours=2)


@pytest.fixture
def cli_env(aws_mock, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("TOKEN_KEY", raising=False)
    cli.main(["bootstrap"])
    return monkeypatch


def test_staff_token_list_shows_made_last_used_and_expires_never_the_token(cli_env, capsys, clock):
    assert cli.main(["staff-token", "create", "an"]) == 0
    an = capsys.readouterr().out.strip().splitlines()[-1]
    clock.set(PINNED_NOW + timedelta(hours=1))
    assert cli.main(["staff-token", "create", "bo", "--days", "30"]) == 0
    bo = capsys.readouterr().out.strip().splitlines()[-1]
    repo = cli._repo()
    staff.record_use(repo, bearer(an), PINNED_NOW + timedelta(hours=3))
    assert cli.main(["staff-token", "revoke", "bo"]) == 0
    capsys.readouterr()
    clock.set(PINNED_NOW + timedelta(days=1))
    assert cli.main(["staff-token", "list"]) == 0
    out = capsys.readouterr().out
    header, first, second = out.strip().splitlines()
    assert header.split() == ["id", "name", "made", "last", "used", "expires", "state"]
    assert first.split() == [staff.list_tokens(repo)[0]["id"], "an", "2026-11-25T13:00:00+01:00",
                             "2026-11-25T16:00:00+01:00", "2027-02-23T13:00:00+01:00", "live"]
    assert second.split() == [staff.list_tokens(repo)[1]["id"], "bo", "2026-11-25T14:00:00+01:00", "never",
                              "2026-12-25T14:00:00+01:00", "revoked"]
    assert an not in out and bo not in out


def test_staff_token_create_refuses_a_life_out_of_range(cli_env, capsys):
    assert cli.main(["staff-token", "create", "an", "--days", "1000"]) == 2
    assert "days:" in capsys.readouterr().err

"""The link signing key can be rotated with an overlap (issue 21, item 9).

Before, the key that signs manage, feed and unsubscribe links could not be changed: a new one made every
person, link and suppression unknown. Now the person ids keep the first key for ever, new links are signed
with the newest key, and links signed before a rotation keep working until the old key's overlap ends.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import tokens
from chalicelib.adapters import keys
from chalicelib.errors import NotFound
from chalicelib.ops import cli
from chalicelib.render.mails import person_links
from chalicelib.services import events, people, subscribe
from tests.conftest import PINNED_NOW, SETTINGS, TABLE, webinar_data
from tests.fakes import RecordingMailer
from tests.support.pages import WEBINAR

BASE = "https://events.example.be"
FIRST = "the-first-secret-made-by-bootstrap"


def test_a_link_signed_before_a_rotation_still_reads_and_new_ones_use_the_new_key():
    before = keys.keys_from_parameter(FIRST, PINNED_NOW)
    rotated = keys.rotated_parameter(FIRST, PINNED_NOW, timedelta(days=30))
    after = keys.keys_from_parameter(rotated, PINNED_NOW + timedelta(days=1))
    person_id = tokens.person_id_for("an@example.be", before)
    assert tokens.person_id_for("an@example.be", after) == person_id  # the id key never changes
    assert tokens.address_hash("an@example.be", after) == tokens.address_hash("an@example.be", before)
    old_link = tokens.person_token("manage", person_id, before, "salt1234567")
    new_link = tokens.person_token("manage", person_id, after, "salt1234567")
    assert new_link != old_link
    assert tokens.read_person_token("manage", old_link, after) == (person_id, "salt1234567")
    assert tokens.read_person_token("manage", new_link, after) == (person_id, "salt1234567")
    assert tokens.read_person_token("manage", new_link, before) is None  # a key never seen reads nothing
    retired = keys.keys_from_parameter(rotated, PINNED_NOW + timedelta(days=30))
    assert tokens.read_person_token("manage", old_link, retired) is None  # the overlap has ended
    assert tokens.read_person_token("manage", new_link, retired) == (person_id, "salt1234567")


def test_a_second_rotation_keeps_every_key_still_in_its_overlap_and_drops_the_retired():
    once = keys.rotated_parameter(FIRST, PINNED_NOW, timedelta(days=30))
    twice = keys.rotated_parameter(once, PINNED_NOW + timedelta(days=10), timedelta(days=30))
    roles = [row["role"] for row in keys.describe_parameter(twice, PINNED_NOW + timedelta(days=10))]
    assert roles == ["signs and reads", "reads", "reads"]
    thrice = keys.rotated_parameter(twice, PINNED_NOW + timedelta(days=35), timedelta(days=30))
    assert len(keys.describe_parameter(thrice, PINNED_NOW + timedelta(days=35))) == 3  # the first one dropped
    data = json.loads(thrice)
    assert data["id"] == FIRST and FIRST not in [entry["key"] for entry in data["links"]]  # the id key stays


def test_a_persons_manage_link_works_across_a_rotation(memory_repo, clock):
    before = keys.keys_from_parameter(FIRST, PINNED_NOW)
    events.create_event(memory_repo, webinar_data(), actor="test", base_url=BASE)
    subscribe.subscribe(memory_repo, RecordingMailer(), {"email": "an@example.be", "name": "An",
                                                         "event_ids": [WEBINAR], "consent": True},
                        base_url=BASE, key=before, settings=SETTINGS)
    person = next(iter(memory_repo.people.values()))
    old = person_links(person, BASE, before).manage.rsplit("/", 1)[1]
    after = keys.keys_from_parameter(keys.rotated_parameter(FIRST, PINNED_NOW, timedelta(days=30)), PINNED_NOW)
    assert people.person_for_token(memory_repo, "manage", old, key=after).id == person.id
    new = person_links(person, BASE, after).manage.rsplit("/", 1)[1]
    assert people.person_for_token(memory_repo, "manage", new, key=after).id == person.id
    ended = keys.keys_from_parameter(keys.rotated_parameter(FIRST, PINNED_NOW, timedelta(days=30)),
                                     PINNED_NOW + timedelta(days=31))
    with pytest.raises(NotFound):
        people.person_for_token(memory_repo, "manage", old, key=ended)


@pytest.fixture
def cli_env(aws_mock, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("TOKEN_KEY", raising=False)
    keys._key_cache.clear()
    cli.main(["bootstrap"])
    yield monkeypatch
    keys._key_cache.clear()


def test_cli_link_key_rotate_keeps_ids_and_old_links_and_shows_no_secret(cli_env, capsys):
    before = keys.signing_key()
    person_id = tokens.person_id_for("an@example.be", before)
    old_link = tokens.person_token("feed", person_id, before)
    assert cli.main(["link-key", "rotate", "--overlap-days", "30"]) == 0
    out = capsys.readouterr().out
    assert "links signed before keep working for 30 days" in out
    keys._key_cache.clear()  # a Lambda started afresh
    after = keys.signing_key()
    assert tokens.person_id_for("an@example.be", after) == person_id
    assert after.signing != bytes(before)
    assert tokens.read_person_token("feed", old_link, after) == (person_id, "")
    assert cli.main(["link-key", "show"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert [line.rsplit("  ", 1)[-1] for line in shown] == ["signs and reads", "reads"]
    from chalicelib.adapters import aws

    stored = aws.client("ssm").get_parameter(Name="/sro-events/local/token-key", WithDecryption=True)["Parameter"]
    secrets = [part for part in stored["Value"].split('"') if len(part) > 40]
    assert not any(secret in out + "\n".join(shown) for secret in secrets)


def test_the_default_overlap_covers_the_longest_a_person_may_live(cli_env, capsys):
    assert cli.main(["link-key", "rotate"]) == 0
    days = SETTINGS.registration_retention_days + cli.LINK_KEY_OVERLAP_EXTRA_DAYS
    assert f"keep working for {days} days" in capsys.readouterr().out

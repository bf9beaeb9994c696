"""The repository contract: the same tests against the in-memory fake and DynamoDB (moto)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.errors import Conflict
from chalicelib.models import AuditEntry, StaffToken, build_event
from tests.conftest import PINNED_NOW, day_data, webinar_data


def make_event(**overrides):
    return build_event(webinar_data(**overrides), existing=None, now=PINNED_NOW)


def test_created_event_reads_back_equal(repo):
    event = make_event()
    repo.create_event(event)
    assert repo.get_event(event.id) == event


def test_unknown_event_is_none(repo):
    assert repo.get_event("nope") is None


def test_second_event_with_same_id_is_a_conflict(repo):
    repo.create_event(make_event())
    with pytest.raises(Conflict):
        repo.create_event(make_event(title="Other"))


def test_events_are_listed_soonest_first(repo):
    late = make_event(id="late", starts_at="2027-05-01T10:00:00+02:00", ends_at="2027-05-01T11:00:00+02:00")
    early = make_event(id="early")
    day = build_event(day_data(), existing=None, now=PINNED_NOW)
    for event in (late, day, early):
        repo.create_event(event)
    assert [e.id for e in repo.list_events()] == ["early", "late", "smart-region-dag-2027"]


def test_update_replaces_the_event(repo):
    event = make_event()
    repo.create_event(event)
    changed = build_event({"title": "Nieuw"}, existing=event, now=PINNED_NOW + timedelta(minutes=1))
    repo.update_event(changed, previous=event)
    assert repo.get_event(event.id).title == {"nl": "Nieuw"}


def test_update_from_a_stale_read_is_a_conflict(repo):
    event = make_event()
    repo.create_event(event)
    first = build_event({"title": "Een"}, existing=event, now=PINNED_NOW + timedelta(minutes=1))
    second = build_event({"title": "Twee"}, existing=event, now=PINNED_NOW + timedelta(minutes=2))
    repo.update_event(first, previous=event)
    with pytest.raises(Conflict):
        repo.update_event(second, previous=event)
    assert repo.get_event(event.id).title == {"nl": "Een"}


def test_staff_token_is_found_by_hash_and_revoked_by_name(repo):
    repo.add_staff_token(StaffToken(name="an", token_hash="a" * 64, created_at=PINNED_NOW))
    repo.add_staff_token(StaffToken(name="an", token_hash="b" * 64, created_at=PINNED_NOW))
    repo.add_staff_token(StaffToken(name="bo", token_hash="c" * 64, created_at=PINNED_NOW))
    assert repo.get_staff_token("a" * 64).name == "an"
    assert repo.revoke_staff_tokens("an", PINNED_NOW) == 2
    assert repo.get_staff_token("a" * 64).revoked_at == PINNED_NOW
    assert repo.get_staff_token("b" * 64).revoked_at == PINNED_NOW
    assert repo.get_staff_token("c" * 64).revoked_at is None
    assert repo.revoke_staff_tokens("an", PINNED_NOW) == 0
    assert repo.get_staff_token("d" * 64) is None


def test_audit_lists_newest_first_with_a_limit(repo):
    for minute in range(5):
        repo.add_audit(AuditEntry(actor="an", action=f"a{minute}", target="event:x",
                                  at=PINNED_NOW + timedelta(minutes=minute), details={"n": minute}))
    entries = repo.list_audit(limit=3)
    assert [e.action for e in entries] == ["a4", "a3", "a2"]
    assert entries[0].details == {"n": 4}
    assert entries[0].at == PINNED_NOW + timedelta(minutes=4)


def test_event_listing_is_a_query_never_a_scan(dynamodb_repo):
    calls = []
    dynamodb_repo.client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))
    dynamodb_repo.create_event(make_event())
    dynamodb_repo.list_events()
    assert "Scan" not in calls
    assert calls[-1] == "Query"


def test_seat_count_survives_an_event_change(repo):
    event = replace(make_event(capacity=10), seats_taken=0)
    repo.create_event(event)
    changed = build_event({"title": "Nieuw"}, existing=event, now=PINNED_NOW + timedelta(minutes=1))
    repo.update_event(changed, previous=event)
    assert repo.get_event(event.id).seats_taken == 0

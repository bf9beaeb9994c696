"""The repository contract: the same tests against the in-memory fake and DynamoDB (moto)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.errors import Conflict, RegistrationsPlaced
from chalicelib.input.event import build_event
from chalicelib.model.person import AuditEntry, StaffToken
from tests.conftest import PINNED_NOW, day_data


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


# ------------------------------------------------- people and registrations

from chalicelib.errors import Gone
from tests.support.records import make_event, person, registration, token


def test_a_subscription_reads_back(repo):
    repo.create_event(make_event())
    repo.save_subscription(person(), previous=None, registrations=[registration()], token=token())
    assert repo.get_person("p1") == person()
    assert repo.get_registrations("p1", ["webinar-2027-01-14", "other"]) == {"webinar-2027-01-14": registration()}
    assert repo.list_registrations("webinar-2027-01-14") == [registration()]
    assert repo.get_confirm_token("f" * 64) == token()


def test_a_subscription_never_overwrites_a_confirmed_registration(repo):
    repo.create_event(make_event())
    repo.save_subscription(person(), previous=None, registrations=[registration()], token=None)
    repo.move_registration(registration(status="confirmed"), expect=("pending",), seat_change=1)
    later = person(updated_at=PINNED_NOW + timedelta(seconds=1))
    with pytest.raises(Conflict):
        repo.save_subscription(later, previous=person(), registrations=[registration()], token=None)
    assert repo.get_registrations("p1", ["webinar-2027-01-14"])["webinar-2027-01-14"].status == "confirmed"


def test_a_profile_changed_meanwhile_is_a_conflict(repo):
    repo.save_person(person(), previous=None)
    with pytest.raises(Conflict):
        repo.save_person(person(name="B"), previous=None)
    repo.save_person(person(name="B", updated_at=PINNED_NOW + timedelta(seconds=1)), previous=person())
    with pytest.raises(Conflict):
        repo.save_person(person(name="C"), previous=person())


def test_the_last_seat_goes_once(repo):
    repo.create_event(make_event(capacity=1))
    a, b = registration(person_id="a"), registration(person_id="b")
    repo.save_subscription(person(id="a"), previous=None, registrations=[a], token=None)
    repo.save_subscription(person(id="b"), previous=None, registrations=[b], token=None)
    assert repo.move_registration(replace(a, status="confirmed"), expect=("pending",), seat_change=1, capacity=1)
    assert not repo.move_registration(replace(b, status="confirmed"), expect=("pending",), seat_change=1, capacity=1)
    assert repo.get_registrations("b", ["webinar-2027-01-14"])["webinar-2027-01-14"].status == "pending"
    assert repo.get_event("webinar-2027-01-14").seats_taken == 1


def test_moving_from_an_unexpected_status_is_a_conflict(repo):
    repo.create_event(make_event(capacity=5))
    repo.save_subscription(person(), previous=None, registrations=[registration()], token=None)
    with pytest.raises(Conflict):
        repo.move_registration(registration(status="cancelled"), expect=("confirmed",), seat_change=-1)
    assert repo.get_event("webinar-2027-01-14").seats_taken == 0


def test_a_confirm_token_is_used_once_and_not_after_expiry(repo):
    repo.save_subscription(person(), previous=None, registrations=[], token=token())
    repo.save_subscription(person(id="p2"), previous=None, registrations=[], token=token(token_hash="e" * 64, person_id="p2"))
    repo.use_confirm_token("f" * 64, PINNED_NOW)
    assert repo.get_confirm_token("f" * 64).used_at == PINNED_NOW
    with pytest.raises(Gone):
        repo.use_confirm_token("f" * 64, PINNED_NOW)
    with pytest.raises(Gone):
        repo.use_confirm_token("e" * 64, PINNED_NOW + timedelta(hours=49))
    with pytest.raises(Gone):
        repo.use_confirm_token("0" * 64, PINNED_NOW)


def test_a_confirm_token_keeps_its_submission_and_is_marked_done_once_its_confirm_finished(repo):
    repo.save_subscription(person(), previous=None, registrations=[],
                           token=token(name="An", organisation="Stad Gent", language="en", question="Parking?"))
    stored = repo.get_confirm_token("f" * 64)
    assert (stored.name, stored.organisation, stored.language, stored.question) == ("An", "Stad Gent", "en", "Parking?")
    assert stored.done_at is None
    repo.use_confirm_token("f" * 64, PINNED_NOW)
    repo.finish_confirm_token("f" * 64, PINNED_NOW + timedelta(seconds=1))
    done = repo.get_confirm_token("f" * 64)
    assert (done.used_at, done.done_at) == (PINNED_NOW, PINNED_NOW + timedelta(seconds=1))
    repo.finish_confirm_token("0" * 64, PINNED_NOW)  # a token gone meanwhile (erased) stays gone
    assert repo.get_confirm_token("0" * 64) is None


def test_a_used_token_is_taken_up_again_only_as_it_was_read_and_never_once_done(repo):
    repo.save_subscription(person(), previous=None, registrations=[], token=token(name="An"))
    repo.use_confirm_token("f" * 64, PINNED_NOW)
    later = PINNED_NOW + timedelta(minutes=3)
    with pytest.raises(Gone):  # read as unused: another press took it
        repo.use_confirm_token("f" * 64, later)
    repo.use_confirm_token("f" * 64, later, seen=PINNED_NOW)
    assert repo.get_confirm_token("f" * 64).used_at == later
    with pytest.raises(Gone):  # the same stale read a second time: taken already
        repo.use_confirm_token("f" * 64, later + timedelta(seconds=1), seen=PINNED_NOW)
    repo.finish_confirm_token("f" * 64, later)
    with pytest.raises(Gone):
        repo.use_confirm_token("f" * 64, later + timedelta(minutes=3), seen=later)


def test_erasing_a_person_removes_profile_registrations_and_tokens(repo):
    repo.create_event(make_event())
    repo.save_subscription(person(), previous=None, registrations=[registration(status="cancelled")],
                           token=token())
    repo.erase_person(person())
    assert repo.get_person("p1") is None
    assert repo.get_registrations("p1", ["webinar-2027-01-14"]) == {}
    assert repo.get_confirm_token("f" * 64) is None


def test_an_erasure_leaves_a_registration_placed_since_it_was_cancelled_for_the_caller_to_cancel(repo):
    """Deleted standing, its seat would stay counted for good: it is left, and said, until it is cancelled."""
    repo.create_event(make_event())
    repo.save_subscription(person(), previous=None, registrations=[registration(status="pending")], token=token())
    with pytest.raises(RegistrationsPlaced) as placed:
        repo.erase_person(person())
    assert placed.value.event_ids == ["webinar-2027-01-14"]
    assert repo.get_person("p1") is None  # no registration can be added to it any more
    [standing] = repo.get_registrations("p1", ["webinar-2027-01-14"]).values()
    repo.move_registration(replace(standing, status="cancelled"), expect=("pending",))
    repo.erase_person(person())
    assert repo.get_registrations("p1", ["webinar-2027-01-14"]) == {}
    assert repo.get_confirm_token("f" * 64) is None


# ------------------------------------------- botocore retries of landed writes


@pytest.fixture
def lost_answers(dynamodb_repo, monkeypatch):
    """Every write lands, its answer is lost, and botocore sends the same request again."""
    client = dynamodb_repo.client

    def twice(operation):
        original = getattr(client, operation)

        def send_again(**kwargs):
            original(**kwargs)
            return original(**kwargs)
        monkeypatch.setattr(client, operation, send_again)

    for operation in ("put_item", "update_item"):
        twice(operation)
    return dynamodb_repo


def test_retried_event_create_is_not_a_conflict(lost_answers):
    lost_answers.create_event(make_event())
    assert lost_answers.get_event("webinar-2027-01-14") == make_event()


def test_retried_event_change_is_not_a_conflict(dynamodb_repo, lost_answers):
    event = make_event()
    dynamodb_repo.create_event(event)
    changed = build_event({"title": "Nieuw"}, existing=event, now=PINNED_NOW + timedelta(minutes=1))
    lost_answers.update_event(changed, previous=event)
    assert lost_answers.get_event(event.id).title == {"nl": "Nieuw"}


def test_retried_profile_write_is_not_a_conflict(lost_answers):
    lost_answers.save_person(person(), previous=None)
    assert lost_answers.get_person("p1") == person()


def test_retried_token_use_is_not_gone_but_a_second_use_is(dynamodb_repo, lost_answers):
    dynamodb_repo.save_subscription(person(), previous=None, registrations=[], token=token())
    lost_answers.use_confirm_token("f" * 64, PINNED_NOW)
    with pytest.raises(Gone):
        lost_answers.use_confirm_token("f" * 64, PINNED_NOW)


# ------------------------------------------------------ the console's counts


def test_the_event_counts_waiting_and_interested_as_registrations_move(repo):
    """Kept on the event item (the console lists every event with its counts from one Query)."""
    repo.create_event(make_event(capacity=1))
    a, b, c = (registration(person_id=p) for p in "abc")
    for reg in (a, b, c):
        repo.save_subscription(person(id=reg.person_id), previous=None, registrations=[reg], token=None)

    def counts():
        event = repo.get_event("webinar-2027-01-14")
        return event.seats_taken, event.waiting_count, event.interested_count

    assert repo.move_registration(replace(a, status="confirmed"), expect=("pending",), seat_change=1, capacity=1)
    repo.move_registration(replace(b, status="waitlisted"), expect=("pending",))
    repo.move_registration(replace(c, status="interested"), expect=("pending",))
    assert counts() == (1, 1, 1)
    repo.move_registration(replace(a, status="cancelled"), expect=("confirmed",), seat_change=-1)
    assert repo.move_registration(replace(b, status="confirmed"), expect=("waitlisted",), seat_change=1, capacity=1)
    assert counts() == (1, 0, 1)
    repo.move_registration(replace(c, status="interested", question="raised"), expect=("interested",))
    assert counts() == (1, 0, 1)  # the same status again moves nothing
    repo.move_registration(replace(c, status="cancelled"), expect=("interested",))
    assert counts() == (1, 0, 0)
    assert [e.waiting_count for e in repo.list_events()] == [0]


def test_a_change_of_the_event_keeps_its_counts(repo):
    event = make_event()
    repo.create_event(event)
    repo.save_subscription(person(), previous=None, registrations=[registration()], token=None)
    repo.move_registration(registration(status="waitlisted"), expect=("pending",))
    changed = build_event({"title": "Nieuw"}, existing=repo.get_event(event.id), now=PINNED_NOW + timedelta(minutes=1))
    repo.update_event(changed, previous=repo.get_event(event.id))
    assert repo.get_event(event.id).waiting_count == 1


def test_the_audit_log_filters_by_actor_and_target(repo):
    for n, (actor, target) in enumerate([("an", "event:a"), ("bo", "event:a"), ("an", "event:b")]):
        repo.add_audit(AuditEntry(actor=actor, action="x", target=target, at=PINNED_NOW + timedelta(seconds=n)))
    assert [(e.actor, e.target) for e in repo.list_audit(10, actor="an")] == [("an", "event:b"), ("an", "event:a")]
    assert [e.actor for e in repo.list_audit(10, target="event:a")] == ["bo", "an"]
    assert [e.actor for e in repo.list_audit(1, actor="an", target="event:a")] == ["an"]


def test_recount_sets_the_counts_from_the_registrations(repo):
    from chalicelib.services.console_events import recount

    repo.create_event(make_event())
    for p, status in (("a", "waitlisted"), ("b", "waitlisted"), ("c", "interested")):
        reg = registration(person_id=p)
        repo.save_subscription(person(id=p), previous=None, registrations=[reg], token=None)
        repo.move_registration(replace(reg, status=status), expect=("pending",))
    repo.set_event_counts("webinar-2027-01-14", {"waiting_count": 0, "interested_count": 0})  # as before counts
    assert recount(repo) == {"webinar-2027-01-14": {"waiting_count": 2, "interested_count": 1}}
    event = repo.get_event("webinar-2027-01-14")
    assert (event.waiting_count, event.interested_count) == (2, 1)

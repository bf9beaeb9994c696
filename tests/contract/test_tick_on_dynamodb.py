"""Sends on DynamoDB (moto): the claim contract on both repositories, SES's MessageId, and dispatchers racing."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters import keys as link_keys
from chalicelib.ops import cli
from chalicelib.services import events
from chalicelib.services import tick
from chalicelib import tokens
from chalicelib.adapters.ses import SesMailer
from tests.fakes import RecordingMailer
from chalicelib.model.person import Person, Registration
from chalicelib.model.send import Send
from tests.conftest import KEY, PINNED_NOW, SETTINGS, aws_error, table_faults, webinar_data
from tests.support.sending import BASE, WEBINAR, WEBINAR_START, register
from tests.moto_scaling import patched


SENDER = "smartregionoffice@vlaanderen.be"


def _send(person_id: str, detail: str = "PT1H") -> Send:
    due = WEBINAR_START - timedelta(hours=1)
    return Send(event_id=WEBINAR, person_id=person_id, kind="reminder", detail=detail, due=due,
                cutoff=due + timedelta(minutes=15))


def test_send_slot_windows_never_overlap_and_a_latest_window_takes_back_its_tail(repo):
    t = 1_790_000_000.0
    first = repo.reserve_send_slots(10, 10, t)
    assert (first.start, first.end) == (t, t + 1)
    other = repo.reserve_send_slots(20, 10, t + 0.1)  # another tick: after the first
    assert (other.start, other.end) == (t + 1, t + 3)
    again = repo.reserve_send_slots(5, 10, t + 0.2, last=first, resume=t + 0.3)  # no longer the latest
    assert again.start == t + 3
    tail = repo.reserve_send_slots(5, 10, t + 0.2, last=again, resume=t + 3.2)  # still the latest: from its unused slot
    assert tail.start == pytest.approx(t + 3.2) and tail.end == pytest.approx(t + 4.2)
    assert repo.reserve_send_slots(1, 10, t + 60).start == t + 60  # the record lies in the past: from now
    assert repo.reserve_send_slots(1, 1 / 7200, t + 61).start == t + 61  # a window of two hours...
    assert repo.reserve_send_slots(1, 10, t + 62).start == t + 62  # ...is taken as broken, not waited for


def test_a_due_page_says_whether_more_may_be_due(repo):
    repo.put_sends([_send(f"p{i}") for i in range(5)], overwrite=True)
    at = WEBINAR_START - timedelta(hours=1)
    first, more = repo.due_page(at, 3)
    assert [s.person_id for s in first] == ["p0", "p1", "p2"] and more
    everything, more = repo.due_page(at, 6)
    assert [s.person_id for s in everything] == [f"p{i}" for i in range(5)] and not more
    assert repo.due_page(at - timedelta(seconds=1), 6) == ([], False)


def test_of_two_claims_on_the_same_read_only_one_holds(repo):
    repo.put_sends([_send("p1"), _send("p2")], overwrite=True)
    at = WEBINAR_START - timedelta(hours=1)
    seen = repo.due_sends(at, 10)
    assert [s.person_id for s in seen] == ["p1", "p2"]
    first = repo.claim_sends(seen, by="a", lease_until=at + tick.LEASE)
    second = repo.claim_sends(seen, by="b", lease_until=at + tick.LEASE)
    assert [s.person_id for s in first] == ["p1", "p2"] and second == []
    assert repo.due_sends(at, 10) == []  # leased
    assert repo.settle_sends([*first], by="b") == 0  # only the holder settles
    sent = [s.__class__(**{**s.__dict__, "state": "sent", "message_id": "m-1"}) for s in first]
    assert repo.settle_sends(sent, by="a") == 2
    assert repo.due_sends(at + timedelta(days=1), 10) == []
    assert {(s.state, s.message_id) for s in repo.list_sends(WEBINAR)} == {("sent", "m-1")}


def test_a_claim_of_which_some_were_taken_meanwhile_takes_the_rest_in_one_more_transaction(dynamodb_repo):
    repo = dynamodb_repo
    repo.put_sends([_send(f"p{i}") for i in range(10)], overwrite=True)
    at = WEBINAR_START - timedelta(hours=1)
    seen = repo.due_sends(at, 10)
    taken = repo.claim_sends(seen[2:5], by="other", lease_until=at + tick.LEASE)
    assert len(taken) == 3
    calls = Counter()
    repo.client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
    mine = repo.claim_sends(seen, by="me", lease_until=at + tick.LEASE)
    assert sorted(s.person_id for s in mine) == ["p0", "p1", "p5", "p6", "p7", "p8", "p9"]
    assert calls == {"TransactWriteItems": 2}  # not one write per send
    assert {s.person_id: s.claimed_by for s in repo.list_sends(WEBINAR)} == {
        f"p{i}": "other" if 2 <= i < 5 else "me" for i in range(10)}


@pytest.mark.parametrize("reasons, expected_calls", [
    # Two sends were in another transaction at that moment: the ten go again together.
    ([{"Code": "None"}] * 8 + [{"Code": "TransactionConflict"}] * 2, {"TransactWriteItems": 2}),
    # A cancellation that says nothing of its items: each is written alone, and says for itself.
    ([], {"TransactWriteItems": 1, "PutItem": 10}),
])
def test_a_cancelled_claim_goes_again_together_when_its_reasons_allow_and_alone_when_not(dynamodb_repo, reasons,
                                                                                          expected_calls):
    repo = dynamodb_repo
    repo.put_sends([_send(f"p{i}") for i in range(10)], overwrite=True)
    at = WEBINAR_START - timedelta(hours=1)
    seen = repo.due_sends(at, 10)

    def cancel_the_first_transaction(operation, n):
        if operation == "TransactWriteItems" and n == 1:
            return aws_error(operation, "TransactionCanceledException", CancellationReasons=reasons)
        return None

    with table_faults(repo, cancel_the_first_transaction) as calls:
        mine = repo.claim_sends(seen, by="me", lease_until=at + tick.LEASE)
    assert len(mine) == 10 and calls == expected_calls
    assert {s.claimed_by for s in repo.list_sends(WEBINAR)} == {"me"}


def test_the_due_page_reads_only_the_body_and_finds_the_index_key_in_it(dynamodb_repo):
    repo = dynamodb_repo
    repo.put_sends([_send("p1")], overwrite=True)
    at = WEBINAR_START - timedelta(hours=1)
    [claimed] = repo.claim_sends(repo.due_sends(at, 10), by="a", lease_until=at + timedelta(minutes=5))
    requests = []
    repo.client.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: requests.append(params))
    [seen] = repo.due_sends(at + timedelta(minutes=5), 10)
    assert requests[0]["ProjectionExpression"] == "body"
    assert (seen.state, seen.due_at, seen.claimed_by) == ("claimed", at + timedelta(minutes=5), None)
    [again] = repo.claim_sends([seen], by="b", lease_until=at + timedelta(minutes=10))  # its lease ran out
    assert again.attempts == 2 and repo.claim_sends([seen], by="c", lease_until=at + timedelta(minutes=10)) == []


def test_a_notice_written_twice_exists_once_and_neither_overwrite_nor_delete_touches_a_claimed_send(repo):
    notice = Send(event_id=WEBINAR, person_id="p1", kind="change", detail="1", due=PINNED_NOW,
                  cutoff=WEBINAR_START, details={"material": ["starts_at"]})
    assert repo.put_sends([notice], overwrite=False) == 1
    assert repo.put_sends([notice, _send("p2")], overwrite=False) == 1
    [claimed] = repo.claim_sends([s for s in repo.due_sends(PINNED_NOW, 10) if s.person_id == "p1"],
                                 by="a", lease_until=PINNED_NOW + tick.LEASE)
    assert repo.put_sends([notice], overwrite=True) == 0
    # A tick is sending it: deleted now, the mail would go out with no record.
    assert repo.delete_sends([claimed, _send("p2")]) == [False, True]
    assert [(s.person_id, s.state) for s in repo.list_sends(WEBINAR)] == [("p1", "claimed")]
    assert repo.settle_sends([replace(claimed, state="sent", message_id="m-1")], by="a") == 1
    assert repo.delete_sends([claimed]) == [True] and repo.list_sends(WEBINAR) == []


def test_reminder_through_ses_records_its_message_id(dynamodb_repo, mailer, clock):
    import boto3

    ses = boto3.client("ses", region_name="eu-west-1")
    ses.verify_email_identity(EmailAddress=SENDER)
    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(dynamodb_repo, mailer, "an@example.be", [WEBINAR])
    result = tick.send_due(dynamodb_repo, SesMailer(ses, SENDER), base_url=BASE,
                                now=WEBINAR_START - timedelta(minutes=59), key=KEY)
    assert result.sent == 1
    [send] = dynamodb_repo.list_sends(WEBINAR)
    assert send.state == "sent" and send.message_id and send.settled_at is not None
    assert dynamodb_repo.due_sends(WEBINAR_START, 10) == []


@pytest.fixture
def fast_transactions():
    with patched():
        yield


def test_four_dispatchers_over_a_thousand_registrations_mail_each_person_once(atomic_requests, fast_transactions):  # noqa: F811
    repo = atomic_requests
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    key = link_keys.signing_key()
    sends = []
    for i in range(1000):
        address = f"p{i}@example.be"
        person = Person(id=tokens.person_id_for(address, key), email=address, name=f"P {i}", organisation="",
                        language="nl" if i % 2 else "en", created_at=PINNED_NOW, updated_at=PINNED_NOW,
                        event_ids=frozenset({WEBINAR}))
        repo.client.put_item(TableName=repo.table, Item=repo._person_item(person))
        sends.append(_send(person.id))
    assert repo.put_sends(sends, overwrite=True) == 1000
    mailer = RecordingMailer()
    at = WEBINAR_START - timedelta(minutes=59)
    start = threading.Barrier(4)

    def dispatcher(_):
        start.wait()
        return tick.send_due(repo, mailer, base_url=BASE, now=at, rate=1e6, batch=50, key=KEY)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(dispatcher, range(4)))
    # What a dispatcher gave up to the others, a later tick finds.
    results.append(tick.send_due(repo, mailer, base_url=BASE, now=at + timedelta(minutes=1), rate=1e6, key=KEY))
    per_person = Counter(m.to_email for m, _ in mailer.sent)
    assert len(per_person) == 1000 and set(per_person.values()) == {1}
    assert sum(r.sent for r in results) == 1000
    assert sum(1 for r in results[:4] if r.sent) >= 2  # they did share the work
    assert Counter(s.state for s in repo.list_sends(WEBINAR)) == {"sent": 1000}


def test_send_due_command_runs_one_tick_as_of_the_given_moment(aws_mock, monkeypatch, capsys, clock):
    import json

    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import tick
    from chalicelib import tokens
    from chalicelib.adapters.dynamodb import DynamoDBRepository
    from tests.conftest import TABLE

    monkeypatch.setenv("TABLE_NAME", TABLE)
    assert cli.main(["bootstrap"]) == 0
    repo = DynamoDBRepository(aws.client("dynamodb"), TABLE)
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(repo, RecordingMailer(), "an@example.be", [WEBINAR])
    capsys.readouterr()
    assert cli.main(["send-due", "--now", "2027-01-14T09:01:00"]) == 0  # Brussels time: 59 minutes before
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["due"], result["sent"]) == (1, 1)
    assert cli.main(["send-due", "--now", "2027-01-14T09:02:00+01:00"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["due"] == 0
    [send] = repo.list_sends(WEBINAR)
    assert send.state == "sent" and send.message_id


def test_claims_that_the_table_stops_partway_keep_what_landed_and_leave_the_rest_due(dynamodb_repo):
    repo = dynamodb_repo
    repo.put_sends([_send(f"p{i}") for i in range(5)], overwrite=True)
    at = WEBINAR_START - timedelta(hours=1)
    seen = repo.due_sends(at, 10)

    def the_table_fails_at_the_third_put(operation, n):
        if operation == "TransactWriteItems":  # a cancellation that says nothing: one write each
            return aws_error(operation, "TransactionCanceledException")
        if operation == "PutItem" and n >= 3:
            return aws_error(operation, "InternalServerError")
        return None

    with table_faults(repo, the_table_fails_at_the_third_put):
        mine = repo.claim_sends(seen, by="me", lease_until=at + tick.LEASE)
    assert [s.person_id for s in mine] == [s.person_id for s in seen[:2]]  # these go out and are settled
    assert sorted(s.person_id for s in repo.due_sends(at, 10)) == sorted(s.person_id for s in seen[2:])


def test_a_move_refused_for_a_send_being_sent_changes_no_seat_count(repo, clock):
    from chalicelib.errors import Conflict

    events.create_event(repo, webinar_data(capacity=5), actor="test", base_url=SETTINGS.base_url)
    open_send = Send(event_id=WEBINAR, person_id="p1", kind="open", detail="", due=PINNED_NOW, cutoff=WEBINAR_START)
    interested = Registration(event_id=WEBINAR, person_id="p1", email="p1@example.be", name="P", organisation="",
                              language="nl", status="interested", registered_at=PINNED_NOW, updated_at=PINNED_NOW)
    repo.save_subscription(Person(id="p1", email="p1@example.be", name="P", organisation="", language="nl",
                                  created_at=PINNED_NOW, updated_at=PINNED_NOW, event_ids=frozenset({WEBINAR})),
                           previous=None, registrations=[replace(interested, status="pending")], token=None)
    repo.move_registration(interested, expect=("pending",), put_sends=[open_send])
    repo.claim_sends(repo.due_sends(PINNED_NOW, 10), by="a tick", lease_until=PINNED_NOW + tick.LEASE)
    seated = replace(interested, status="confirmed", confirmed_at=PINNED_NOW)
    with pytest.raises(Conflict):  # the "registration is open" mail is being sent: try again in a moment
        repo.move_registration(seated, expect=("interested",), seat_change=1, capacity=5, drop_sends=[open_send])
    assert repo.get_event(WEBINAR).seats_taken == 0
    assert repo.get_registrations("p1", [WEBINAR])[WEBINAR].status == "interested"


def test_the_ses_notice_handler_touches_only_suppressions_and_profiles(dynamodb_repo, monkeypatch):
    # Its role (.chalice/policy-ses-notifications-*.json): GetItem and PutItem on SUPPRESSION# and PERSON# keys.
    import json

    from chalicelib import wiring
    from chalicelib.http import handlers
    from tests.support.sending import ses_notice

    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(dynamodb_repo, RecordingMailer(), "an@example.be", [WEBINAR])
    monkeypatch.setattr(wiring, "_repo", dynamodb_repo)
    calls = []
    dynamodb_repo.client.meta.events.register(
        "before-parameter-build.dynamodb.*",
        lambda model, params, **_: calls.append((model.name, (params.get("Key") or params.get("Item"))["PK"]["S"])))

    class Notice:
        message = json.dumps(ses_notice("Complaint", "an@example.be"))

    handlers.ses_notifications.func(Notice())
    assert dynamodb_repo.get_person(tokens.person_id_for("an@example.be", link_keys.signing_key())).mail_stopped_reason \
        == "complaint"
    assert {name for name, _ in calls} == {"GetItem", "PutItem"}
    assert all(pk.startswith(("SUPPRESSION#", "PERSON#")) for _, pk in calls)

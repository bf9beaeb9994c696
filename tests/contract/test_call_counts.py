"""How many AWS calls a subscribe and a confirm cost: a constant, whatever the number of events chosen."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from chalicelib.adapters import aws
from chalicelib.services import events
from chalicelib.services import subscribe
from chalicelib.adapters.ses import SesMailer
from tests.conftest import KEY, SETTINGS, day_data, webinar_data

BASE = "https://events.example.be"
IDS = ["webinar-2027-01-14", "webinar-b", "webinar-c"]


@pytest.fixture
def counted(dynamodb_repo):
    from chalicelib.services import subscribe

    ses = aws.client("ses")
    ses.verify_email_identity(EmailAddress="smartregionoffice@vlaanderen.be")
    for event_id in IDS:
        events.create_event(dynamodb_repo, webinar_data(id=event_id), actor="test", base_url=SETTINGS.base_url)
    events.create_event(dynamodb_repo, day_data(capacity=10), actor="test", base_url=SETTINGS.base_url)
    calls: Counter = Counter()
    for client in (dynamodb_repo.client, ses):
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
    return dynamodb_repo, SesMailer(ses, "smartregionoffice@vlaanderen.be"), calls


def subscribe_and_confirm(repo, mailer, calls, address, event_ids):
    calls.clear()
    subscribe.subscribe(repo, mailer, {"email": address, "name": "An", "consent": True,
                                           "event_ids": event_ids}, base_url=BASE, key=KEY, settings=SETTINGS)
    subscribe_calls = Counter(calls)
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    raw = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages[-1].raw_data
    token = re.search(r"/confirm/([\w-]+)", raw.replace("=\r\n", "").replace("=\n", "")).group(1)
    calls.clear()
    subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    return subscribe_calls, Counter(calls)


def test_a_subscribe_costs_eight_calls_for_a_new_or_a_known_address_whatever_the_number_of_events(counted):
    repo, mailer, calls = counted
    one, _ = subscribe_and_confirm(repo, mailer, calls, "one@example.be", IDS[:1])
    three, _ = subscribe_and_confirm(repo, mailer, calls, "three@example.be", IDS)
    # A new address: the person, then the suppression list (an address that bounced is never mailed again).
    # One transaction: the submission, with the limits' counts (mailbox, client, service) taken in it. Once
    # SES took the mail, its record for the access report: a PutItem, then a GetItem that the profile is
    # still there (an erasure at that moment deletes the record).
    expected = {"Query": 1, "GetItem": 3, "BatchGetItem": 1, "TransactWriteItems": 1, "PutItem": 1,
                "SendRawEmail": 1}
    assert one == three == expected, (one, three)
    # A known one: no suppression list read, but the records of their earlier mails are (a Query), to keep them
    # as long as the profile.
    again, _ = subscribe_and_confirm(repo, mailer, calls, "one@example.be", ["smart-region-dag-2027"])
    assert again == {**expected, "GetItem": 2, "Query": 2}, again


def test_a_confirm_costs_thirteen_calls_and_one_transaction_per_event(counted):
    repo, mailer, calls = counted
    _, one = subscribe_and_confirm(repo, mailer, calls, "one@example.be", IDS[:1])
    _, three = subscribe_and_confirm(repo, mailer, calls, "three@example.be", IDS)
    # UpdateItem twice: the token used, then marked done. The confirmation's record (the access report): a
    # Query of the earlier records, an UpdateItem keeping the request's as long as the now confirmed profile,
    # a PutItem and a GetItem of the profile. Plain writes: moto copies every table for each transaction.
    fixed = {"GetItem": 3, "UpdateItem": 3, "PutItem": 2, "Query": 2, "BatchGetItem": 1, "SendRawEmail": 1}
    assert one == Counter(fixed) + Counter({"TransactWriteItems": 1}), one
    assert three == Counter(fixed) + Counter({"TransactWriteItems": 3}), three


def test_a_staff_message_costs_at_most_1_05_aws_calls_per_mail_sent(counted):
    """Issue 18's budget, as reminders keep it: the claims, the one read of recipients and settles per batch."""
    from datetime import timedelta

    from chalicelib import tokens
    from chalicelib.services import messages
    from chalicelib.services import tick as tick_module
    from tests.conftest import PINNED_NOW
    from tests.support.records import person, registration

    repo, mailer, calls = counted
    people = 297  # three batches of 99: the claim, the one read of recipients and event, the settle, a rate slot
    for i in range(people):
        address = f"p{i}@example.be"
        someone = person(id=tokens.person_id_for(address, KEY), email=address, name=f"P {i}",
                         event_ids=frozenset({IDS[0]}), token_hashes=frozenset())
        repo.save_subscription(someone, previous=None, token=None, registrations=[registration(
            event_id=IDS[0], person_id=someone.id, email=address, name=f"P {i}", status="confirmed")])
    planned = messages.write_to_people(repo, IDS[0], {
        "audience": ["confirmed"], "subject": {"nl": "Onderwerp", "en": "Subject"},
        "text": {"nl": "Tekst", "en": "Text"}}, actor="test", now=PINNED_NOW)
    assert planned["recipients"] == people
    calls.clear()
    # The tick's own clock stands still but for its waits: the send slots it reserves (one write a window) then
    # depend on the plan, not on how busy the machine is (a slow run crossed more windows, and wrote more).
    moment = [1_900_000_000.0]
    clock = lambda: moment[0]  # noqa: E731
    sleep = lambda seconds: moment.__setitem__(0, moment[0] + seconds)  # noqa: E731
    result = tick_module.send_due(repo, mailer, base_url=BASE, key=KEY, now=PINNED_NOW + timedelta(minutes=2),
                                  rate=1e9, time_budget=600, clock=clock, sleep=sleep, wall=clock)
    assert result.sent == people
    assert calls["SendRawEmail"] == people
    assert sum(calls.values()) / people <= 1.05, calls

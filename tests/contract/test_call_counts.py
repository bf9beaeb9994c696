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


def test_a_subscribe_costs_six_calls_for_a_new_address_five_for_a_known_one_whatever_the_number_of_events(counted):
    repo, mailer, calls = counted
    one, _ = subscribe_and_confirm(repo, mailer, calls, "one@example.be", IDS[:1])
    three, _ = subscribe_and_confirm(repo, mailer, calls, "three@example.be", IDS)
    # A new address: the person, then the suppression list (an address that bounced is never mailed again).
    expected = {"Query": 1, "GetItem": 2, "BatchGetItem": 1, "TransactWriteItems": 1, "SendRawEmail": 1}
    assert one == three == expected
    again, _ = subscribe_and_confirm(repo, mailer, calls, "one@example.be", ["smart-region-dag-2027"])
    assert again == {**expected, "GetItem": 1}


def test_a_confirm_costs_eight_calls_and_one_transaction_per_event(counted):
    repo, mailer, calls = counted
    _, one = subscribe_and_confirm(repo, mailer, calls, "one@example.be", IDS[:1])
    _, three = subscribe_and_confirm(repo, mailer, calls, "three@example.be", IDS)
    # UpdateItem twice: the token used, then marked done.
    fixed = {"GetItem": 2, "UpdateItem": 2, "PutItem": 1, "Query": 1, "BatchGetItem": 1, "SendRawEmail": 1}
    assert one == Counter(fixed) + Counter({"TransactWriteItems": 1})
    assert three == Counter(fixed) + Counter({"TransactWriteItems": 3})

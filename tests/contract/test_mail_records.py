"""The records of the mails a request sent (the access report) on DynamoDB: many at once, and a conflict."""

from __future__ import annotations

from datetime import timedelta

from botocore.exceptions import ClientError

from chalicelib.model.person import MailSent
from chalicelib.services import events, privacy, subscribe
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.support.sending import BASE, register

WEBINAR = "webinar-2027-01-14"


def record(person, n: int, kept_until) -> MailSent:
    return MailSent(person.id, "confirmed", (WEBINAR,), PINNED_NOW + timedelta(seconds=n), f"m{n}", kept_until)


def test_recording_a_mail_raises_every_earlier_record_to_the_profiles_expiry_past_one_transactions_100_items(
        dynamodb_repo, mailer, clock):
    repo = dynamodb_repo
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", [WEBINAR])
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    for n in range(230):
        assert repo.record_mail(record(person, n, PINNED_NOW + timedelta(days=1)), first=True)
    sizes, real = [], repo.client.transact_write_items

    def counted(**request):
        sizes.append(len(request["TransactItems"]))
        return real(**request)

    repo.client.transact_write_items = counted
    assert repo.record_mail(record(person, 230, person.expires_at))
    assert sizes == [100, 100, 34]  # the profile's check in each; the new record, and the 230 raised
    kept = repo.list_mails(person.id)
    assert len(kept) == 233 and {m.kept_until for m in kept} == {person.expires_at}


def test_a_record_that_meets_another_requests_transaction_is_tried_again_not_lost(dynamodb_repo, mailer, clock,
                                                                                  monkeypatch):
    repo = dynamodb_repo
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", [WEBINAR])
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    real, met = repo.client.transact_write_items, []

    def conflict_once(**request):
        if not met and any(item.get("Put", {}).get("Item", {}).get("SK", {}).get("S", "").startswith("MAIL#")
                           for item in request["TransactItems"]):
            met.append(True)
            reasons = [{"Code": "None"}] * (len(request["TransactItems"]) - 1) + [{"Code": "TransactionConflict"}]
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": reasons}, "TransactWriteItems")
        return real(**request)

    monkeypatch.setattr(repo.client, "transact_write_items", conflict_once)
    clock.set(PINNED_NOW + timedelta(hours=1))
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR],
                                       "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)
    assert met and [m.kind for m in repo.list_mails(person.id)] == ["confirm_request", "confirmed",
                                                                    "already_registered"]

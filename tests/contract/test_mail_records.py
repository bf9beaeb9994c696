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


def test_recording_a_mail_raises_every_earlier_record_to_the_profiles_expiry(dynamodb_repo, mailer, clock):
    repo = dynamodb_repo
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", [WEBINAR])
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    for n in range(130):
        assert repo.record_mail(record(person, n, PINNED_NOW + timedelta(days=1)), first=True)
    assert repo.record_mail(record(person, 130, person.expires_at))
    kept = repo.list_mails(person.id)
    assert len(kept) == 133 and {m.kept_until for m in kept} == {person.expires_at}


def test_a_record_that_meets_another_requests_transaction_is_tried_again_not_lost(dynamodb_repo, mailer, clock,
                                                                                  monkeypatch):
    repo = dynamodb_repo
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", [WEBINAR])
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    real, met = repo.client.put_item, []

    def conflict_once(**request):
        if not met and request["Item"]["SK"]["S"].startswith("MAIL#"):
            met.append(True)
            raise ClientError({"Error": {"Code": "TransactionConflictException", "Message": "conflict"}}, "PutItem")
        return real(**request)

    monkeypatch.setattr(repo.client, "put_item", conflict_once)
    clock.set(PINNED_NOW + timedelta(hours=1))
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR],
                                       "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)
    assert met and [m.kind for m in repo.list_mails(person.id)] == ["confirm_request", "confirmed",
                                                                    "already_registered"]

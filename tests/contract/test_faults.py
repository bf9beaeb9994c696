"""Faults at the storage layer become 503 with Retry-After, never a 500."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from chalicelib.services import events
from chalicelib.services import subscribe
from chalicelib import errors, wiring
from chalicelib.errors import Unavailable
from tests.conftest import KEY, SETTINGS, day_data

BASE = "http://127.0.0.1:8000"


def pending_confirm_token(repo, mailer) -> str:
    events.create_event(repo, day_data(capacity=10), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "consent": True,
                                           "event_ids": ["smart-region-dag-2027"]}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    [mail] = [m for m, _ in mailer.sent if m.kind == "confirm_request"]
    return re.search(r"/confirm/([\w-]+)", mail.text).group(1)


@pytest.mark.parametrize("fault", [
    ReadTimeoutError(endpoint_url="http://127.0.0.1:5005/"),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:5005/"),
])
def test_a_transaction_that_times_out_is_unavailable_not_a_crash(dynamodb_repo, mailer, monkeypatch, fault):
    # Found by the load test: 200 people confirming at once made moto slow, a
    # TransactWriteItems timed out, and ReadTimeoutError escaped as a 500.
    token = pending_confirm_token(dynamodb_repo, mailer)

    def times_out(**kwargs):
        raise fault

    monkeypatch.setattr(dynamodb_repo.client, "transact_write_items", times_out)
    with pytest.raises(Unavailable):
        subscribe.confirm(dynamodb_repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


def test_confirm_button_answers_503_with_retry_after_when_a_transaction_times_out(client, dynamodb_repo, mailer,
                                                                                  monkeypatch):
    token = pending_confirm_token(dynamodb_repo, mailer)

    def times_out(**kwargs):
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:5005/")

    monkeypatch.setattr(dynamodb_repo.client, "transact_write_items", times_out)
    response = client.http.post(f"/confirm/{token}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                                body=b"")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert response.headers["Content-Type"].startswith("text/html")


class SesDown:
    """A mailer whose every send fails as ``error`` does; it counts the tries."""

    def __init__(self, error):
        self.error, self.tries = error, 0

    def send(self, mail):
        self.tries += 1
        raise self.error


@pytest.mark.parametrize("error", ["MailThrottled", "MailUncertain", "MailRejected"])
def test_mail_that_cannot_go_out_at_subscribe_is_a_503_and_the_subscription_is_kept(client, app_module, dynamodb_repo,
                                                                                   mailer, error):
    from chalicelib.services import events
    from chalicelib.services import subscribe
    from tests.support.pages import post_form

    events.create_event(dynamodb_repo, day_data(capacity=10), actor="test", base_url=SETTINGS.base_url)
    wiring.set_mailer(down := SesDown(getattr(errors, error)("Throttling")))
    response = post_form(client, event_ids=["smart-region-dag-2027"])
    assert response.status_code == 503 and response.headers["Retry-After"] == "60" and down.tries == 1
    wiring.set_mailer(mailer)  # SES is back: the same form again gets the mail
    assert post_form(client, event_ids=["smart-region-dag-2027"]).status_code == 303  # to the check-your-mail page
    assert [m.kind for m in mailer.to("an@example.be")] == ["confirm_request"]


def test_a_confirmation_stands_when_only_its_mail_fails(client, app_module, dynamodb_repo, mailer):
    from chalicelib.errors import MailThrottled

    token = pending_confirm_token(dynamodb_repo, mailer)
    wiring.set_mailer(SesDown(MailThrottled("Throttling")))
    response = client.http.post(f"/confirm/{token}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                                body=b"")
    assert response.status_code == 200
    [reg] = dynamodb_repo.list_registrations("smart-region-dag-2027")
    assert reg.status == "confirmed"

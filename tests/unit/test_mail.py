"""Mail goes out raw through SES (moto), one message per recipient, with its headers and .ics intact."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.ses import SesMailer
from chalicelib.errors import MailRejected
from chalicelib.model.mail import Attachment, Mail
from tests.conftest import MALFORMED_REQUESTS

SENDER = "smartregionoffice@vlaanderen.be"


def sample_mail(**overrides):
    data = dict(to_email="an@example.be", to_name="An Peeters", subject="Uw inschrijving – Smart Region Dag",
                text="Hallo An", html="<p>Hallo An</p>", unsubscribe_url="https://events.example.be/unsubscribe/tok",
                attachments=(Attachment("invite.ics", "text/calendar; method=REQUEST; charset=utf-8",
                                        b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"),))
    data.update(overrides)
    return Mail(**data)


def sent_messages():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages


def test_mail_goes_out_raw_with_headers_and_calendar(aws_mock):
    ses = aws.client("ses")
    ses.verify_email_identity(EmailAddress=SENDER)
    message_id = SesMailer(ses, SENDER).send(sample_mail())
    assert message_id
    [sent] = sent_messages()
    # One recipient: moto lists the Destinations and the To header's address.
    assert {d.rpartition("<")[2].rstrip(">") for d in sent.destinations} == {"an@example.be"}
    parsed = email.message_from_string(sent.raw_data, policy=default_policy)
    assert parsed["List-Unsubscribe"] == "<https://events.example.be/unsubscribe/tok>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Subject"] == "Uw inschrijving – Smart Region Dag"
    assert "Bcc" not in parsed and "Cc" not in parsed
    [calendar] = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_filename() == "invite.ics"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hallo An"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hallo An</p>"


def test_an_unverified_sender_is_a_permanent_failure(aws_mock):
    with pytest.raises(MailRejected):
        SesMailer(aws.client("ses"), "nobody@example.org").send(sample_mail())


class Failing:
    """An SES client whose send fails with ``error``."""

    def __init__(self, error):
        self.error = error

    def send_raw_email(self, **_):
        raise self.error


def test_a_lost_answer_is_uncertain_and_no_connection_is_worth_retrying():
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    from chalicelib.errors import MailThrottled, MailUncertain

    for error in (ReadTimeoutError(endpoint_url="https://email"), ConnectionClosedError(endpoint_url="https://email")):
        with pytest.raises(MailUncertain):
            SesMailer(Failing(error), SENDER).send(sample_mail())
    with pytest.raises(MailThrottled):
        SesMailer(Failing(EndpointConnectionError(endpoint_url="https://email")), SENDER).send(sample_mail())


@pytest.mark.parametrize("service, attempts", [("ses", 1), ("dynamodb", 4)])
def test_botocore_never_resends_a_mail_whose_answer_timed_out(monkeypatch, service, attempts):
    """A retried SendRawEmail after a read timeout could mail someone twice; DynamoDB's retries stay."""
    from botocore.exceptions import ReadTimeoutError

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached: the hook below answers first
    aws.reset()
    client = aws.client(service)
    tries = []

    def time_out(**_):
        tries.append(1)
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:9")

    client.meta.events.register("before-send", time_out)
    call = (lambda: client.send_raw_email(Source=SENDER, Destinations=["an@example.be"], RawMessage={"Data": b"x"})) \
        if service == "ses" else (lambda: client.get_item(TableName="t", Key={"PK": {"S": "x"}}))
    with pytest.raises(ReadTimeoutError):
        call()
    aws.reset()
    assert len(tries) == attempts


def test_dynamodb_requests_are_checked_against_the_model_in_tests_and_not_on_lambda(monkeypatch):
    """Lambda's DynamoDB client skips botocore's check (CPU a tick spends on 99-item transactions); the suite's
    checks every request, so none the app makes can be malformed there and sent unchecked on Lambda."""
    from botocore.exceptions import ParamValidationError

    class Sent(Exception):
        pass

    def stop(**_):
        raise Sent  # the request was built and is about to go: nothing reaches the network

    def outcome(service, call):
        client = aws.client(service)
        client.meta.events.register("before-send", stop)
        try:
            call(client)
        except ParamValidationError:
            return "refused"
        except Sent:
            return "sent"

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    bad_get = lambda c: c.get_item(TableName="t", Key={"PK": {"S": 1}})  # noqa: E731 - a number for a string
    bad_mail = lambda c: c.send_raw_email(RawMessage={"Data": 1})  # noqa: E731 - a number for bytes
    aws.reset()
    assert (outcome("dynamodb", bad_get), outcome("ses", bad_mail)) == ("refused", "refused")
    assert [r.split(":")[0] for r in MALFORMED_REQUESTS] == ["GetItem", "SendRawEmail"]  # noted: such a test fails
    monkeypatch.delenv("AWS_VALIDATE_REQUESTS")
    aws.reset()
    assert (outcome("dynamodb", bad_get), outcome("ses", bad_mail)) == ("sent", "refused")  # SES: one call a mail
    aws.reset()
    del MALFORMED_REQUESTS[:]  # made on purpose here

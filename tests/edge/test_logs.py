"""Logs and metrics: one JSON line per request and per tick, and never personal data in them."""

from __future__ import annotations

import json

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.adapters import aws
from chalicelib import logs
from chalicelib.services import bounces
from chalicelib import tokens
from chalicelib import wiring
from tests.fakes import InMemoryRepository
from tests.conftest import KEY

TOKEN = "Zq3x9V0kLw2bYc7Hn1Pd5Tr8Uf4Sg6Je0Ka2Mb9Nc1"
EMAIL = "an.peeters@example.be"
NAME = "An Peeters"


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_each_request_logs_one_line_with_its_route_template(client, capsys):
    client.http.get("/events/webinar-2027-01-14")
    (line,) = [entry for entry in log_lines(capsys) if entry.get("log") == "request"]
    assert line["method"] == "GET"
    assert line["route"] == "/events/{event_id}"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float)
    assert set(line) == {"log", "method", "route", "status", "duration_ms", "request_id"}


def test_a_staff_token_never_reaches_the_log(client, staff_headers, capsys):
    client.http.get("/staff/events", headers=staff_headers)
    output = capsys.readouterr().out
    assert '"route":"/staff/events"' in output
    assert staff_headers["Authorization"].split()[1] not in output


@pytest.fixture
def token_routes_client():
    """An app with the token-bearing routes of API.md, logged by the app's own middleware."""
    from chalicelib.http import middleware

    demo = Chalice(app_name="token-routes")
    demo.register_middleware(middleware.log_request, "http")
    # API Gateway takes a path parameter only as a whole segment, so the feed
    # route is /feeds/{file} and the view strips ".ics" from the token.
    for path in ("/confirm/{token}", "/manage/{token}", "/feeds/{file}", "/unsubscribe/{token}"):
        demo.route(path, methods=["GET", "POST"], name=path)(lambda **params: {"ok": True})
    demo.route("/staff/subscribers", methods=["GET"])(lambda: {"ok": True})
    with Client(demo) as test_client:
        yield test_client


@pytest.mark.parametrize("path, template", [
    (f"/confirm/{TOKEN}", "/confirm/{token}"),
    (f"/manage/{TOKEN}", "/manage/{token}"),
    (f"/feeds/{TOKEN}.ics", "/feeds/{file}"),
    (f"/unsubscribe/{TOKEN}", "/unsubscribe/{token}"),
])
def test_token_paths_are_logged_as_their_template(token_routes_client, capsys, path, template):
    token_routes_client.http.post(path, headers={"Content-Type": "application/json"},
                                  body=json.dumps({"email": EMAIL, "name": NAME}))
    output = capsys.readouterr().out
    assert [e["route"] for e in map(json.loads, output.splitlines())] == [template]
    for secret in (TOKEN, EMAIL, NAME, "example.be"):
        assert secret not in output


def test_query_strings_are_never_logged(token_routes_client, capsys):
    token_routes_client.http.get("/staff/subscribers?email=an.peeters%40example.be")
    output = capsys.readouterr().out
    assert '"route":"/staff/subscribers"' in output
    assert "example.be" not in output and "email" not in output


def test_tick_logs_its_counts_as_embedded_metrics(client, capsys):
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    client.lambda_.invoke("tick", event)
    (line,) = [entry for entry in log_lines(capsys) if entry.get("log") == "tick"]
    assert {k: line[k] for k in logs.TICK_COUNTS} == {"due": 0, "sent": 0, "stale": 0, "failed": 0, "throttled": 0}
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "SroEvents"
    assert directive["Dimensions"] == [["Stage"]] and line["Stage"] == "local"
    assert {m["Name"] for m in directive["Metrics"]} == {"MailsDue", "MailsSent", "MailsStale", "MailsFailed", "MailsThrottled"}
    assert all(name in line for name in ("MailsSent", "MailsFailed"))


def test_a_failing_tick_still_logs_one_line_without_the_error_text(monkeypatch, capsys):
    def broken(now):
        raise RuntimeError(f"could not mail {EMAIL}")

    monkeypatch.setattr(wiring, "_send_due", broken)
    with pytest.raises(RuntimeError):
        wiring.run_tick()
    (line,) = log_lines(capsys)
    assert line["log"] == "tick" and line["error"] == "RuntimeError"
    assert EMAIL not in json.dumps(line)


def test_mail_counts_outside_the_tick_are_metrics_too(capsys):
    logs.mail("confirmation", sent=1)
    (line,) = log_lines(capsys)
    assert line["MailsSent"] == 1 and line["MailsFailed"] == 0 and line["kind"] == "confirmation"
    assert [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["MailsSent", "MailsFailed"]


# ------------------------------------------------------- SES notifications


def ses_event(kind: str, bounce_type: str = "Permanent", address: str = EMAIL) -> dict:
    if kind == "Bounce":
        return {"eventType": "Bounce", "bounce": {"bounceType": bounce_type,
                                                  "bouncedRecipients": [{"emailAddress": address}]}}
    return {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": address}]}}


@pytest.fixture
def local_table(client, dynamodb_repo):
    """The app's table: the SNS handler records suppressions through the app's repository."""
    return dynamodb_repo


def suppressions(repo) -> list[dict]:
    return [i for i in aws.client("dynamodb").scan(TableName=repo.table)["Items"] if i["PK"]["S"].startswith("SUPPRESSION#")]


def deliver(client, message: dict | str) -> None:
    body = message if isinstance(message, str) else json.dumps(message)
    client.lambda_.invoke("ses_notifications", client.events.generate_sns_event(message=body))


@pytest.mark.parametrize("kind", ["Bounce", "Complaint"])
def test_permanent_bounce_or_complaint_suppresses_the_address_by_hash_only(client, local_table, kind):
    deliver(client, ses_event(kind, address=" An.Peeters@Example.be "))
    assert local_table.suppression(tokens.address_hash(EMAIL, KEY)) == kind.lower()
    stored = suppressions(local_table)
    assert stored and "example.be" not in json.dumps(stored).lower()


def test_transient_bounce_suppresses_nothing(client, local_table):
    deliver(client, ses_event("Bounce", bounce_type="Transient"))
    assert local_table.suppression(tokens.address_hash(EMAIL, KEY)) is None


@pytest.mark.parametrize("message", ["not json", "[1, 2]", json.dumps({"eventType": "Delivery"}),
                                     json.dumps({"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                 "bouncedRecipients": [{"emailAddress": 42}]}}),
                                     json.dumps({"eventType": "Bounce", "bounce": "x"}),
                                     json.dumps({"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                 "bouncedRecipients": 5}}),
                                     json.dumps({"notificationType": "Complaint", "complaint": ["x"]})])
def test_other_messages_are_ignored(client, local_table, message):
    deliver(client, message)
    assert suppressions(local_table) == []


def test_suppressions_service_level():
    repo = InMemoryRepository()
    assert bounces.handle_ses_notification(ses_event("Complaint"), repo, key=KEY) == 1
    assert repo.suppression(tokens.address_hash(EMAIL.upper(), KEY)) == "complaint"


def test_a_suppression_is_kept_under_a_keyed_hash_not_a_plain_one():
    import hashlib

    digest = tokens.address_hash(" An.Peeters@Example.be ", KEY)
    assert digest == tokens.address_hash(EMAIL.lower(), KEY)
    assert digest != hashlib.sha256(EMAIL.lower().encode()).hexdigest()  # not testable against a list of addresses

"""Security promises at the HTTP edge: fail closed, no CORS on /staff, no open redirect, no token in logs."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.adapters.dynamodb import DynamoDBRepository
from tests.conftest import day_data, webinar_data

EVIL = "https://evil.example/phish"


def all_routes():
    import app as app_module

    return sorted((path, method) for path, methods in app_module.app.routes.items() for method in methods)


def concrete(path: str, token: str = "x" * 43) -> str:
    return (path.replace("{event_id}", "webinar-2027-01-14").replace("{token}", token)
            .replace("{filename}", f"{token}.ics").replace("{name}", "site.css"))


# ------------------------------------------------------------ fail closed


@pytest.fixture
def unreachable_table(app_module):
    """The app's repository on a DynamoDB endpoint nobody listens on: botocore raises EndpointConnectionError."""
    import boto3
    from botocore.config import Config

    client = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9",
                          config=Config(retries={"max_attempts": 1, "mode": "standard"},
                                        connect_timeout=1, read_timeout=1))
    wiring.set_repo(DynamoDBRepository(client, "sro-events-test"))
    return client


def test_endpoint_connection_error_is_what_an_unreachable_table_raises(unreachable_table):
    from botocore.exceptions import EndpointConnectionError

    with pytest.raises(EndpointConnectionError):
        unreachable_table.get_item(TableName="sro-events-test", Key={"PK": {"S": "x"}, "SK": {"S": "x"}})


def test_staff_authorizer_fails_closed_when_the_table_is_unreachable(client, staff_token, unreachable_table):
    response = client.http.get("/staff/events", headers={"Authorization": f"Bearer {staff_token}"})
    assert response.status_code == 401


def test_staff_authorizer_fails_closed_on_any_botocore_error(client, staff_token, dynamodb_repo, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    def unreachable(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

    monkeypatch.setattr(dynamodb_repo.client, "get_item", unreachable)
    response = client.http.get("/staff/events", headers={"Authorization": f"Bearer {staff_token}"})
    assert response.status_code == 401


def test_public_routes_answer_503_not_500_when_the_table_is_unreachable(client, unreachable_table):
    response = client.http.get("/events")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert json.loads(response.body)["Code"] == "ServiceUnavailableError"


# ------------------------------------------------------------------ CORS


def test_no_route_enables_cors():
    import app as app_module

    assert not app_module.app.api.cors
    for path, methods in app_module.app.routes.items():
        for method, entry in methods.items():
            assert not entry.cors, (method, path)


def test_staff_answers_carry_no_cors_header(client, staff_headers):
    origin = {"Origin": "https://evil.example"}
    answers = [
        client.http.get("/staff/events", headers={**staff_headers, **origin}),
        client.http.post("/staff/events", headers={**staff_headers, **origin}, body=json.dumps(webinar_data())),
        client.http.get("/staff/events", headers=origin),
        client.http.post("/staff/events", headers={**staff_headers, **origin, "Content-Type": "text/plain"}, body=b"x"),
    ]
    for response in answers:
        assert not any(name.lower().startswith("access-control-") for name in response.headers), response.headers


# ---------------------------------------------------------- open redirect


@pytest.mark.parametrize("path,method", all_routes())
def test_no_route_redirects_to_an_address_taken_from_the_request(client, path, method):
    query = "&".join(f"{name}={EVIL}" for name in ("next", "url", "redirect", "redirect_uri", "return_to", "lang"))
    headers = {"Referer": EVIL, "Origin": "https://evil.example", "X-Forwarded-Host": "evil.example",
               "Content-Type": "application/x-www-form-urlencoded"}
    body = f"next={EVIL}&redirect={EVIL}&List-Unsubscribe=One-Click&confirm=yes".encode()
    for content_type in ("application/x-www-form-urlencoded", "application/json"):
        response = client.http.request(method, f"{concrete(path)}?{query}",
                                       headers={**headers, "Content-Type": content_type}, body=body)
        location = response.headers.get("Location", "")
        assert "evil.example" not in location, (method, path, response.status_code, location)
        assert response.status_code < 500


# ------------------------------------------------------------ token leaks


def test_staff_token_never_appears_in_logs(client, staff_headers, staff_token, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(webinar_data()))
    client.http.get("/staff/events", headers=staff_headers)
    client.http.get("/staff/events", headers={"Authorization": f"Bearer {staff_token[:-1]}A"})
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert '"log":"request"' in logged
    assert staff_token not in logged
    assert staff_token[:-1] not in logged


# ------------------------------------------------- bugs found by fuzzing


def test_head_error_answers_carry_no_body(client):
    # Found by schemathesis: HEAD /calendar.ics?lang=null answered 400 with a
    # JSON body, which corrupted the kept-alive connection for the next request.
    response = client.http.request("HEAD", "/calendar.ics?lang=null")
    assert response.status_code == 400
    assert response.body == b""
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("query", ["lang=", "lang=xx&lang=", "lang=en&lang=nl", "lang=nl&lang=nl&lang=fr"])
def test_empty_or_repeated_lang_in_a_feed_url_is_refused(client, query):
    # Found by schemathesis: "?lang=<junk>&lang=" passed as Dutch (only the
    # last value was read, and an empty one fell back to nl).
    response = client.http.get(f"/calendar.ics?{query}")
    assert response.status_code == 400
    assert json.loads(response.body)["Message"].startswith("lang:")


def test_repeating_the_same_lang_is_fine(client):
    assert client.http.get("/calendar.ics?lang=en&lang=en").status_code == 200


# ------------------------------------------- a whole flow, with real tokens

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def mailed_tokens(mailer, address: str) -> dict[str, str]:
    """Every token mailed to ``address``, by kind (confirm, manage, feeds, unsubscribe)."""
    found = {}
    for mail in mailer.to(address):
        for kind, token in re.findall(r"/(confirm|manage|feeds|unsubscribe)/([A-Za-z0-9_-]{32,128})", mail.text):
            found.setdefault(kind, token)
    return found


def whole_flow(client, staff_headers, mailer) -> tuple[dict[str, str], list]:
    """Subscribe, confirm, manage, feed, cancel, stop, unsubscribe, erase; return the tokens and every answer."""
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(webinar_data()))
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(day_data()))
    hostile = {"Referer": EVIL, "X-Forwarded-Host": "evil.example"}
    answers = []

    def go(method, path, body=b"", headers=None):
        # Browsers send a Content-Type only with a body.
        kind = FORM if method == "POST" else {}
        response = client.http.request(method, f"{path}?next={EVIL}", headers={**kind, **hostile, **(headers or {})},
                                       body=body)
        answers.append((method, path, response))
        return response

    go("POST", "/subscriptions", urlencode({"email": "an@example.be", "name": "An", "consent": "on",
                                            "event_ids": ["webinar-2027-01-14", "smart-region-dag-2027"]},
                                           doseq=True).encode())
    go("GET", "/subscriptions/sent")  # where the post leads (303)
    tokens = mailed_tokens(mailer, "an@example.be")
    go("GET", f"/confirm/{tokens['confirm']}")
    go("POST", f"/confirm/{tokens['confirm']}")
    go("POST", f"/confirm/{tokens['confirm']}")  # the double click: 410
    go("POST", f"/confirm/{tokens['confirm']}/resend")
    tokens = {**mailed_tokens(mailer, "an@example.be"), "confirm": tokens["confirm"]}
    go("GET", f"/manage/{tokens['manage']}")
    go("GET", f"/feeds/{tokens['feeds']}.ics")
    go("POST", f"/manage/{tokens['manage']}/events/webinar-2027-01-14/cancel")
    go("POST", f"/manage/{tokens['manage']}/events/webinar-2027-01-14/cancel", b"confirm=yes")
    go("GET", f"/manage/{tokens['manage']}/events/webinar-2027-01-14/register")
    go("POST", f"/manage/{tokens['manage']}/stop")
    go("GET", f"/manage/{tokens['manage']}/stop")  # a POST-only address opened again: 303 to the manage page
    go("GET", f"/unsubscribe/{tokens['unsubscribe']}")
    go("POST", f"/unsubscribe/{tokens['unsubscribe']}", b"List-Unsubscribe=One-Click")
    go("POST", f"/manage/{tokens['manage']}/erase")
    go("POST", f"/manage/{tokens['manage']}/erase", b"confirm=yes")
    go("GET", "/erased")  # where the erase leads (303)
    go("GET", f"/manage/{tokens['manage']}")  # erased: the link is dead
    return tokens, answers


def test_no_token_or_address_appears_in_logs_during_a_whole_flow(client, staff_headers, mailer, capsys, caplog):
    # INFO and above: at DEBUG, botocore itself logs every request body
    # (stored items, raw mail with its links); DEBUG is never on in a stage.
    caplog.set_level(logging.INFO)
    tokens, answers = whole_flow(client, staff_headers, mailer)
    assert set(tokens) == {"confirm", "manage", "feeds", "unsubscribe"}
    assert [r.status_code for _, _, r in answers][:5] == [303, 200, 200, 200, 410]
    assert answers[-1][2].status_code == 404
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert logged.count('"log":"request"') >= len(answers)
    for kind, token in tokens.items():
        assert token not in logged, f"the {kind} token was logged"
    assert "an@example.be" not in logged
    assert "/confirm/{token}" in logged  # the route template is logged, never the path


def test_every_page_of_the_flow_sends_the_security_headers_and_no_redirect_off_site(client, staff_headers, mailer):
    _, answers = whole_flow(client, staff_headers, mailer)
    pages = [(m, p, r) for m, p, r in answers if r.headers.get("Content-Type", "").startswith("text/html")]
    assert len(pages) >= 14
    for method, path, response in pages:
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], (method, path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", (method, path)
        assert response.headers["Referrer-Policy"] == "no-referrer", (method, path)
    for method, path, response in answers:
        assert response.status_code < 500, (method, path)
        assert "evil.example" not in response.headers.get("Location", ""), (method, path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", (method, path)


def test_token_comparisons_are_constant_time():
    import inspect

    from chalicelib.services import staff
    from chalicelib import tokens

    assert "hmac.compare_digest" in inspect.getsource(tokens.same_hash)
    assert "hmac.compare_digest" in inspect.getsource(tokens.read_person_token)
    assert "same_hash" in inspect.getsource(staff.verify_authorization)


@pytest.mark.parametrize("query", ["format=", "format=csv&format=json", "format=&format=csv"])
def test_empty_or_repeated_format_of_registrations_is_refused(client, staff_headers, query):
    # Found by make fuzz: "?format=" answered JSON as if no format was asked for.
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(webinar_data()))
    response = client.http.get(f"/staff/events/webinar-2027-01-14/registrations?{query}", headers=staff_headers)
    assert response.status_code == 400
    assert json.loads(response.body)["Message"].startswith("format:")


@pytest.mark.parametrize("query,status", [("limit=5&limit=500", 400), ("limit=5&limit=5", 200), ("limit=", 400)])
def test_repeated_audit_limits_must_agree(client, staff_headers, query, status):
    assert client.http.get(f"/staff/audit?{query}", headers=staff_headers).status_code == status

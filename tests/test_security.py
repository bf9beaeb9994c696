"""Security promises at the HTTP edge: fail closed, no CORS on /staff, no open redirect, no token in logs."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.storage import DynamoDBRepository
from tests.conftest import webinar_data

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
    app_module.set_repo(DynamoDBRepository(client, "sro-events-test"))
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

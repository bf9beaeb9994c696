"""Staff authentication: every /staff route refuses anyone without a live token."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from chalicelib import wiring
from chalicelib.http import staff_api
from chalicelib.services import staff
from tests.conftest import day_data, webinar_data


def staff_routes():
    import app as app_module

    for path, methods in app_module.app.routes.items():
        if path == "/staff" or path.startswith("/staff/"):
            for method in methods:
                yield path, method


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "webinar-2027-01-14", path)


def test_there_are_staff_routes_to_check():
    assert len(list(staff_routes())) >= 7


@pytest.mark.parametrize("path,method", list(staff_routes()))
def test_every_staff_route_refuses_anonymous_requests(client, path, method):
    response = client.http.request(method, concrete(path), headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 401


@pytest.mark.parametrize("header", [
    "Bearer ",
    "Bearer not-a-token",
    "Basic dXNlcjpwYXNz",
    "Bearer " + "A" * 43,  # well-formed but unknown
    "bearer",
    "Bearer " + "x" * 5000,
])
def test_malformed_or_unknown_tokens_get_401(client, header):
    response = client.http.get("/staff/events", headers={"Authorization": header})
    assert response.status_code == 401


def test_valid_token_gets_in(client, staff_headers):
    assert client.http.get("/staff/events", headers=staff_headers).status_code == 200


def test_revoked_token_gets_401(client, dynamodb_repo):
    token = staff.issue_token(dynamodb_repo, "leaver")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.http.get("/staff/events", headers=headers).status_code == 200
    assert staff.revoke_tokens(dynamodb_repo, "leaver") == 1
    assert client.http.get("/staff/events", headers=headers).status_code == 401


def test_authorizer_cache_lasts_less_than_a_minute():
    import app as app_module

    assert staff_api.staff_authorizer.config.ttl_seconds < 60


def test_only_the_hash_of_a_token_is_stored(dynamodb_repo):
    token = staff.issue_token(dynamodb_repo, "an")
    items = dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"]
    assert token not in json.dumps(items)


def test_staff_changes_are_audited_with_who_what_when(client, staff_headers, clock):
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(webinar_data()))
    clock.set(clock() + timedelta(seconds=1))
    client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers, body=json.dumps({"title": "Nieuw"}))
    clock.set(clock() + timedelta(seconds=1))
    client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers)
    entries = client.http.get("/staff/audit", headers=staff_headers).json_body["entries"]
    assert [e["action"] for e in entries] == ["event.cancel", "event.change", "event.create"]
    assert {e["actor"] for e in entries} == {"tester"}
    assert all(e["target"] == "event:webinar-2027-01-14" for e in entries)
    assert entries[0]["at"] == "2026-11-25T13:00:02+01:00"


def test_the_audit_keeps_before_and_after_for_time_place_join_link_capacity_and_status(client, staff_headers, clock):
    """It said which fields changed, not from what to what."""
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(day_data(online_url="https://meet.example.org/a")))
    change = {"starts_at": "2027-06-03T10:00:00+02:00", "ends_at": "2027-06-03T18:00:00+02:00", "capacity": 300,
              "location": {"name": "Boudewijngebouw", "address": "Koning Albert II-laan 15, 1210 Brussel"},
              "online_url": "https://meet.example.org/b", "title": {"nl": "Smart Region Dag 2027"}}
    clock.set(clock() + timedelta(seconds=1))
    assert client.http.patch("/staff/events/smart-region-dag-2027", headers=staff_headers,
                             body=json.dumps(change)).status_code == 200
    clock.set(clock() + timedelta(seconds=1))
    client.http.post("/staff/events/smart-region-dag-2027/cancel", headers=staff_headers)
    cancel, changed, _ = client.http.get("/staff/audit", headers=staff_headers).json_body["entries"]
    changes = changed["details"]["changes"]
    assert [changes["starts_at"][k][:19] for k in ("before", "after")] == ["2027-06-03T07:00:00", "2027-06-03T08:00:00"]
    assert [changes["ends_at"][k][:19] for k in ("before", "after")] == ["2027-06-03T15:00:00", "2027-06-03T16:00:00"]
    assert changes["capacity"] == {"before": 400, "after": 300}
    assert changes["location"] == {"before": {"name": "Herman Teirlinckgebouw", "address": "Havenlaan 88, 1000 Brussel"},
                                   "after": {"name": "Boudewijngebouw", "address": "Koning Albert II-laan 15, 1210 Brussel"}}
    assert changes["online_url"] == {"before": "https://meet.example.org/a", "after": "https://meet.example.org/b"}
    assert cancel["details"]["changes"]["status"] == {"before": "published", "after": "cancelled"}


def test_table_unreachable_fails_closed(client, staff_token, monkeypatch):
    import app as app_module
    from chalicelib.errors import Unavailable

    def broken(*args, **kwargs):
        raise Unavailable("storage: down")

    monkeypatch.setattr(wiring.get_repo(), "get_staff_token", broken)
    response = client.http.get("/staff/events", headers={"Authorization": f"Bearer {staff_token}"})
    assert response.status_code == 401


def test_the_authorizer_reads_one_staff_token_item_and_nothing_else(dynamodb_repo, staff_token, monkeypatch):
    # Its role (.chalice/policy-authorizer-*.json) allows GetItem on STAFFTOKEN# keys alone.
    import app as app_module
    from chalice.app import AuthRequest

    monkeypatch.setattr(wiring, "_repo", dynamodb_repo)
    calls = []
    dynamodb_repo.client.meta.events.register(
        "before-parameter-build.dynamodb.*", lambda model, params, **_: calls.append((model.name, params.get("Key"))))
    for token in (staff_token, "not-a-token", "A" * 43):
        request = AuthRequest("TOKEN", f"Bearer {token}", "arn:aws:execute-api:eu-west-1:1:api/api/GET/staff/events")
        try:
            staff_api.staff_authorizer.func(request)
        except Exception:  # noqa: BLE001 - a denied token raises Unauthorized: the calls are what count here
            pass
    assert calls and {name for name, _ in calls} == {"GetItem"}
    assert all(key["PK"]["S"].startswith("STAFFTOKEN#") for _, key in calls)


# ------------------------------------------- issue 21, item 8: no staff answer is kept by a cache


@pytest.mark.parametrize("path,method", list(staff_routes()))
def test_every_staff_answer_says_no_store(client, staff_headers, dynamodb_repo, path, method):
    """Join links, addresses and the audit must not stay in a browser's or proxy's cache: every staff answer,
    the errors included, carries Cache-Control: no-store."""
    from chalicelib.services import events

    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url="http://127.0.0.1:8000")
    query = "?email=an@example.be" if path == "/staff/subscribers" else ""
    response = client.http.request(method, concrete(path) + query, headers={**staff_headers, "Accept": "*/*"},
                                   body=b"{}")
    assert response.status_code < 500
    assert response.headers.get("Cache-Control") == "no-store", (path, method, response.status_code)


@pytest.mark.parametrize("path", ["/staff/events", "/staff/events/webinar-2027-01-14",
                                  "/staff/events/webinar-2027-01-14/registrations", "/staff/audit",
                                  "/staff/subscribers?email=an@example.be", "/staff/events/nope"])
def test_staff_gets_that_carry_join_links_or_personal_data_are_not_stored(client, staff_headers, dynamodb_repo, path):
    from chalicelib.services import events

    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url="http://127.0.0.1:8000")
    response = client.http.get(path, headers=staff_headers)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_gateways_own_401_to_staff_is_not_stored_either():
    from pathlib import Path

    template = json.loads((Path(__file__).resolve().parents[2] / "infra" / "template.json").read_text())
    unauthorized = template["Resources"]["UnauthorizedResponse"]["Properties"]["ResponseParameters"]
    assert unauthorized["gatewayresponse.header.Cache-Control"] == "'no-store'"

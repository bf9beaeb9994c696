"""The OpenAPI document: it lists every route the app registers and nothing more, and answers conform to it."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from chalicelib.render import openapi
from tests.conftest import day_data, webinar_data
from tests.openapi_support import check_response


def registered_routes() -> set[tuple[str, str]]:
    import app as app_module

    return {(path, method) for path, methods in app_module.app.routes.items() for method in methods}


def test_document_lists_every_registered_route_and_nothing_more():
    routes = registered_routes()
    described = openapi.operations()
    assert routes - described == set(), "routes without a description in chalicelib/openapi.py"
    assert described - routes == set(), "described in chalicelib/openapi.py but not registered"
    assert ("/calendar.ics", "HEAD") in described


def test_document_is_valid_openapi_with_valid_schemas():
    doc = openapi.document("https://events.example.be")
    validate_spec(doc)
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)


def test_every_operation_documents_415_and_staff_operations_401():
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            assert "415" in operation["responses"], (method, path)
            if path.startswith("/staff/"):
                assert "401" in operation["responses"] and operation["security"], (method, path)
            elif path.startswith("/console") and not path.startswith("/console/sign-in"):
                # the console's session cookie; without it a GET is a 303 to sign in, anything else a 403
                assert "sro_console" in operation["description"] and "security" not in operation, (method, path)
                assert {"303", "403"} <= set(operation["responses"]) and "401" not in operation["responses"]
            else:
                assert "401" not in operation["responses"] and "security" not in operation, (method, path)


def test_openapi_json_is_public_and_names_its_server(client):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    doc = json.loads(response.body)
    assert doc["openapi"].startswith("3.")
    assert doc["servers"][0]["url"].startswith("http")
    assert openapi.operations(doc) == registered_routes()
    check_response("GET", "/openapi.json", response.status_code, response.headers, response.body)


def record(client, method: str, path: str, **kwargs):
    response = client.http.request(method, path, **kwargs)
    check_response(method, path, response.status_code, response.headers, response.body)
    return response


def test_recorded_public_answers_conform(client, staff_headers):
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(day_data(capacity=2)))
    client.http.post("/staff/events", headers=staff_headers, body=json.dumps(webinar_data(status="draft")))
    assert record(client, "GET", "/events").status_code == 200
    assert record(client, "GET", "/events/smart-region-dag-2027").status_code == 200
    assert record(client, "GET", "/events/webinar-2027-01-14").status_code == 404
    assert record(client, "GET", "/events/smart-region-dag-2027/calendar.ics").status_code == 200
    assert record(client, "HEAD", "/calendar.ics").status_code == 200
    assert record(client, "GET", "/calendar.ics?lang=fr").status_code == 400
    assert record(client, "GET", "/feeds/nonsense.ics").status_code == 404
    assert record(client, "GET", "/events", headers={"Content-Type": "text/plain"}).status_code == 415
    subscription = {"email": "an@example.be", "name": "An", "event_ids": ["smart-region-dag-2027"], "consent": True}
    json_post = {"Content-Type": "application/json"}
    form_post = {"Content-Type": "application/x-www-form-urlencoded"}
    assert record(client, "POST", "/subscriptions", headers=json_post, body=json.dumps(subscription)).status_code == 202
    assert record(client, "POST", "/subscriptions", headers=json_post,
                  body=json.dumps({**subscription, "consent": False})).status_code == 400
    assert record(client, "POST", "/subscriptions", headers=form_post,
                  body=b"email=an%40example.be&name=An&event_ids=smart-region-dag-2027&consent=on").status_code == 303
    assert record(client, "GET", "/subscriptions/sent").status_code == 200
    assert record(client, "GET", "/manage/" + "x" * 43 + "/stop").status_code == 303
    assert record(client, "POST", "/subscriptions", headers=form_post, body=b"email=nope").status_code == 400
    assert record(client, "GET", "/").status_code == 200
    assert record(client, "HEAD", "/privacy").status_code == 200
    assert record(client, "GET", "/confirm/" + "x" * 43).status_code == 404
    assert record(client, "POST", "/manage/" + "x" * 43 + "/erase", headers=form_post, body=b"confirm=yes").status_code == 404
    assert record(client, "GET", "/static/site.css").status_code == 200
    assert record(client, "GET", "/static/favicon.svg").status_code == 200  # image/svg+xml, documented
    assert record(client, "GET", "/favicon.ico").status_code == 200
    assert record(client, "GET", "/static/nothing.css").status_code == 404


def test_recorded_staff_answers_conform(client, staff_headers):
    assert record(client, "POST", "/staff/events", headers=staff_headers, body=json.dumps(webinar_data())).status_code == 201
    assert record(client, "POST", "/staff/events", headers=staff_headers, body=json.dumps(webinar_data())).status_code == 409
    assert record(client, "POST", "/staff/events", headers=staff_headers,
                  body=json.dumps(webinar_data(id="other", ends_at="2027-01-14T09:00:00+01:00"))).status_code == 400
    assert record(client, "POST", "/staff/events", headers=staff_headers, body=b"{").status_code == 400
    assert record(client, "POST", "/staff/events", headers=staff_headers, body=b" " * (65 * 1024)).status_code == 413
    assert record(client, "POST", "/staff/events", headers={**staff_headers, "Content-Type": "text/plain"},
                  body=b"x").status_code == 415
    assert record(client, "GET", "/staff/events", headers=staff_headers).status_code == 200
    assert record(client, "GET", "/staff/events/webinar-2027-01-14", headers=staff_headers).status_code == 200
    assert record(client, "PATCH", "/staff/events/webinar-2027-01-14", headers=staff_headers,
                  body=json.dumps({"capacity": 5})).status_code == 200
    assert record(client, "GET", "/staff/events/webinar-2027-01-14/registrations", headers=staff_headers).status_code == 200
    assert record(client, "GET", "/staff/events/webinar-2027-01-14/registrations?format=csv",
                  headers=staff_headers).status_code == 200
    assert record(client, "GET", "/staff/events/webinar-2027-01-14/registrations?format=xml",
                  headers=staff_headers).status_code == 400
    assert record(client, "GET", "/staff/subscribers?email=nobody@example.be", headers=staff_headers).status_code == 404
    assert record(client, "GET", "/staff/subscribers", headers=staff_headers).status_code == 400
    assert record(client, "POST", "/staff/events/webinar-2027-01-14/cancel", headers=staff_headers).status_code == 200
    assert record(client, "POST", "/staff/events/webinar-2027-01-14/publish", headers=staff_headers).status_code == 409
    assert record(client, "GET", "/staff/audit?limit=2", headers=staff_headers).status_code == 200
    assert record(client, "GET", "/staff/audit?limit=0", headers=staff_headers).status_code == 400
    assert record(client, "GET", "/staff/events", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize("path,method", sorted(registered_routes()))
def test_every_answer_says_nosniff_and_no_referrer(client, path, method):
    concrete = path.replace("{event_id}", "no-such-event").replace("{token}", "x" * 43).replace("{filename}", "x.ics")
    concrete = concrete.replace("{name}", "nothing.css")
    response = client.http.request(method, concrete, headers={"Content-Type": "application/json"}, body=b"{}")
    if response.status_code == 401:
        return  # refused by the gateway before the app (API Gateway's own answer)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", (method, path, response.status_code)
    assert response.headers.get("Referrer-Policy") == "no-referrer", (method, path, response.status_code)
    if response.headers.get("Content-Type", "").startswith("text/html"):
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], (method, path)


def test_the_openapi_limits_are_the_models_limits():
    from chalicelib.input import subscription
    from chalicelib.model import event
    from chalicelib.model.person import REGISTRATION_STATUSES
    from chalicelib.render.pages import TRUE_VALUES

    schemas = openapi.document()["components"]["schemas"]
    request, form, out, change = (schemas[name]["properties"] for name in
                                  ("SubscriptionRequest", "SubscriptionForm", "Event", "EventInput"))
    for props in (request, form):
        assert props["name"]["maxLength"] == subscription.NAME_MAX
        assert props["organisation"]["maxLength"] == subscription.ORGANISATION_MAX
        assert props["question"]["maxLength"] == subscription.QUESTION_MAX
        assert props["email"]["maxLength"] == subscription.EMAIL_MAX
        assert props["event_ids"]["maxItems"] == subscription.EVENT_IDS_MAX
        assert props["language"]["enum"] == list(event.LANGUAGES)
    assert form["consent"]["enum"] == list(TRUE_VALUES)
    assert out["title"]["additionalProperties"]["maxLength"] == event.TITLE_MAX
    assert out["description"]["additionalProperties"]["maxLength"] == event.DESCRIPTION_MAX
    assert out["reminders"]["maxItems"] == event.MAX_REMINDERS
    assert out["capacity"]["maximum"] == event.CAPACITY_MAX
    assert out["id"]["pattern"] == event.ID_PATTERN.pattern
    assert out["kind"]["enum"] == change["kind"]["enum"] == list(event.KINDS)
    assert out["status"]["enum"] == list(event.STATUSES)
    assert change["status"]["enum"] == list(event.SETTABLE_STATUSES)
    assert schemas["Registration"]["properties"]["status"]["enum"] == list(REGISTRATION_STATUSES)
    assert set(schemas["Counts"]["properties"]) == set(REGISTRATION_STATUSES)
    assert schemas["LanguageForm"]["properties"]["language"]["enum"] == list(event.LANGUAGES)

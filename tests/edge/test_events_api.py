"""The events API at the HTTP edge: staff create and change, the public reads."""

from __future__ import annotations

import json

import pytest

from tests.conftest import day_data, webinar_data


def post_event(client, headers, data):
    return client.http.post("/staff/events", headers=headers, body=json.dumps(data))


def test_staff_creates_an_event_and_the_public_sees_it(client, staff_headers):
    created = post_event(client, staff_headers, webinar_data())
    assert created.status_code == 201
    assert created.json_body["id"] == "webinar-2027-01-14"
    assert created.json_body["starts_at"] == "2027-01-14T10:00:00+01:00"
    assert created.json_body["online_url"] == "https://meet.example.org/sro"
    listed = client.http.get("/events")
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json_body["events"]] == ["webinar-2027-01-14"]


def test_join_link_never_appears_in_public_json(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    for path in ("/events", "/events/webinar-2027-01-14"):
        response = client.http.get(path)
        assert "meet.example.org" not in response.body.decode()


def test_event_shape_follows_the_contract(client, staff_headers):
    post_event(client, staff_headers, day_data())
    body = client.http.get("/events/smart-region-dag-2027").json_body
    assert body["kind"] == "in_person"
    assert body["status"] == "published"
    assert body["timezone"] == "Europe/Brussels"
    assert body["location"] == {"name": "Herman Teirlinckgebouw", "address": "Havenlaan 88, 1000 Brussel"}
    assert body["online_url"] is None
    assert body["capacity"] == 400 and body["seats_left"] == 400
    assert body["registration_open"] is True
    assert body["reminders"] == ["P1D", "PT1H"]
    assert body["sequence"] == 0
    assert body["url"].endswith("/events/smart-region-dag-2027")
    assert body["ics_url"].endswith("/events/smart-region-dag-2027/calendar.ics")


def test_drafts_are_hidden_from_the_public(client, staff_headers):
    post_event(client, staff_headers, webinar_data(status="draft"))
    assert client.http.get("/events").json_body == {"events": []}
    assert client.http.get("/events/webinar-2027-01-14").status_code == 404
    assert client.http.get("/staff/events/webinar-2027-01-14", headers=staff_headers).status_code == 200


def test_publishing_a_draft_shows_it(client, staff_headers):
    post_event(client, staff_headers, webinar_data(status="draft"))
    published = client.http.post("/staff/events/webinar-2027-01-14/publish", headers=staff_headers)
    assert published.json_body["status"] == "published"
    assert len(client.http.get("/events").json_body["events"]) == 1


def test_id_defaults_to_a_slug_of_the_dutch_title(client, staff_headers):
    data = webinar_data(title="Slimme Regio: één dag")
    del data["id"]
    created = post_event(client, staff_headers, data)
    assert created.status_code == 201
    assert created.json_body["id"] == "slimme-regio-een-dag"
    # The same title at another time: the date is added to the id (the same start is a 409, test_staff_input.py).
    again = post_event(client, staff_headers, {**data, "starts_at": "2027-01-14T14:00:00+01:00",
                                               "ends_at": "2027-01-14T15:00:00+01:00"})
    assert again.status_code == 201
    assert again.json_body["id"] == "slimme-regio-een-dag-2027-01-14"


def test_plain_string_title_is_dutch(client, staff_headers):
    created = post_event(client, staff_headers, webinar_data(title="Alleen Nederlands", description="Tekst"))
    assert created.json_body["title"] == {"nl": "Alleen Nederlands"}
    assert created.json_body["description"] == {"nl": "Tekst"}


def test_change_of_time_raises_sequence(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    changed = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                                body=json.dumps({"starts_at": "2027-01-14T10:30:00", "ends_at": "2027-01-14T11:30:00"}))
    assert changed.status_code == 200
    assert changed.json_body["sequence"] == 1
    assert changed.json_body["starts_at"] == "2027-01-14T10:30:00+01:00"


@pytest.mark.parametrize("change", [
    {"title": {"nl": "Ander", "en": "Other"}},
    {"description": {"nl": "C:\\Nieuw"}},
    {"status": "draft"},
])
def test_every_change_a_calendar_shows_raises_sequence(client, staff_headers, change):
    # Google's subscriptions are reported to keep an event's old text while its SEQUENCE stays the same.
    post_event(client, staff_headers, webinar_data())
    changed = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers, body=json.dumps(change))
    assert changed.status_code == 200 and changed.json_body["sequence"] == 1
    again = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers, body=json.dumps(change))
    assert again.json_body["sequence"] == 1  # the same change again changes nothing


@pytest.mark.parametrize("change", [{"capacity": 500}, {"reminders": ["P2D"]}])
def test_a_change_no_calendar_shows_keeps_sequence(client, staff_headers, change):
    post_event(client, staff_headers, webinar_data())
    changed = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers, body=json.dumps(change))
    assert changed.status_code == 200 and changed.json_body["sequence"] == 0


def test_change_of_join_link_or_place_raises_sequence(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    post_event(client, staff_headers, day_data())
    link = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                             body=json.dumps({"online_url": "https://meet.example.org/other"}))
    place = client.http.patch("/staff/events/smart-region-dag-2027", headers=staff_headers,
                              body=json.dumps({"location": {"name": "Boudewijngebouw", "address": "Boudewijnlaan 30"}}))
    assert link.json_body["sequence"] == 1
    assert place.json_body["sequence"] == 1


def test_cancelled_event_stays_visible_as_cancelled(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    cancelled = client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers)
    assert cancelled.status_code == 200
    assert cancelled.json_body["status"] == "cancelled"
    assert cancelled.json_body["sequence"] == 1
    assert client.http.get("/events/webinar-2027-01-14").json_body["status"] == "cancelled"
    assert client.http.get("/events").json_body["events"] == []


def test_staff_list_includes_drafts_and_cancelled(client, staff_headers):
    post_event(client, staff_headers, webinar_data(status="draft"))
    post_event(client, staff_headers, day_data())
    client.http.post("/staff/events/smart-region-dag-2027/cancel", headers=staff_headers)
    statuses = {e["id"]: e["status"] for e in client.http.get("/staff/events", headers=staff_headers).json_body["events"]}
    assert statuses == {"webinar-2027-01-14": "draft", "smart-region-dag-2027": "cancelled"}


# ------------------------------------------------------------- bad input

BAD_EVENTS = [
    ("end before start", webinar_data(ends_at="2027-01-14T09:00:00+01:00"), "ends_at"),
    ("end equal to start", webinar_data(ends_at="2027-01-14T10:00:00+01:00"), "ends_at"),
    ("a date that does not exist", webinar_data(starts_at="2027-02-30T10:00:00+01:00"), "starts_at"),
    ("a month that does not exist", webinar_data(ends_at="2027-13-01T10:00:00"), "ends_at"),
    ("a time skipped by DST", webinar_data(starts_at="2027-03-28T02:30:00", ends_at="2027-03-28T04:00:00"), "starts_at"),
    ("a date without time", webinar_data(starts_at="2027-01-14"), "starts_at"),
    ("not a date", webinar_data(starts_at="tomorrow"), "starts_at"),
    ("a number for a date", webinar_data(starts_at=20270114), "starts_at"),
    ("missing title", {k: v for k, v in webinar_data().items() if k != "title"}, "title"),
    ("empty Dutch title", webinar_data(title={"nl": " ", "en": "x"}), "title.nl"),
    ("title too long", webinar_data(title="x" * 201), "title.nl"),
    ("description too long", webinar_data(description="x" * 10_001), "description.nl"),
    ("unknown language", webinar_data(title={"nl": "a", "fr": "b"}), "title"),
    ("plain-http join link", webinar_data(online_url="http://meet.example.org/sro"), "online_url"),
    ("join link that is no URL", webinar_data(online_url="javascript:alert(1)"), "online_url"),
    ("in person without location", day_data(location=None), "location"),
    ("location without name", day_data(location={"address": "Havenlaan 88"}), "location.name"),
    ("reminder too soon", webinar_data(reminders=["PT4M"]), "reminders"),
    ("reminder too early", webinar_data(reminders=["P61D"]), "reminders"),
    ("reminder not a duration", webinar_data(reminders=["1 day"]), "reminders"),
    ("reminders not a list", webinar_data(reminders="P1D"), "reminders"),
    ("unknown kind", webinar_data(kind="party"), "kind"),
    ("unknown status", webinar_data(status="live"), "status"),
    ("cancel through create", webinar_data(status="cancelled"), "status"),
    ("negative capacity", webinar_data(capacity=-1), "capacity"),
    ("capacity as text", webinar_data(capacity="400"), "capacity"),
    ("capacity as boolean", webinar_data(capacity=True), "capacity"),
    ("bad id", webinar_data(id="Has Spaces"), "id"),
    ("unknown field", webinar_data(colour="blue"), "colour"),
    ("unknown zone", webinar_data(timezone="Europe/Atlantis"), "timezone"),
    ("registration closing before opening", webinar_data(registration_opens_at="2027-01-02T10:00:00",
                                                          registration_closes_at="2027-01-01T10:00:00"), "registration_closes_at"),
    ("body not an object", ["a list"], "body"),
    ("year one, no offset", webinar_data(starts_at="0001-01-01T00:00"), "starts_at"),
    ("year one in a zone west of UTC", webinar_data(starts_at="0001-01-01T00:00Z", timezone="America/New_York"), "starts_at"),
    ("the last year there is", webinar_data(ends_at="9999-12-31T23:00:00+00:00"), "ends_at"),
    ("a reminder longer than time itself", webinar_data(reminders=["P99999999999999D"]), "reminders"),
]


@pytest.mark.parametrize("case,data,field", BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS])
def test_bad_event_gets_400_naming_the_field(client, staff_headers, case, data, field):
    response = post_event(client, staff_headers, data)
    assert response.status_code == 400, response.body
    assert response.json_body["Code"] == "BadRequestError"
    assert response.json_body["Message"].startswith(f"{field}:"), response.json_body["Message"]


def test_bad_patch_gets_400_and_changes_nothing(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    response = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                                 body=json.dumps({"ends_at": "2027-01-14T09:00:00+01:00"}))
    assert response.status_code == 400
    assert response.json_body["Message"].startswith("ends_at:")
    assert client.http.get("/events/webinar-2027-01-14").json_body["ends_at"] == "2027-01-14T11:00:00+01:00"


def test_malformed_json_gets_400(client, staff_headers):
    response = client.http.post("/staff/events", headers=staff_headers, body='{"title": ')
    assert response.status_code == 400
    assert response.json_body["Message"].startswith("body:")


def test_invalid_utf8_gets_400(client, staff_headers):
    response = client.http.post("/staff/events", headers=staff_headers, body=b'{"title": "\xff"}')
    assert response.status_code == 400
    assert response.json_body["Message"].startswith("body:")


def test_deeply_nested_json_gets_400(client, staff_headers):
    response = client.http.post("/staff/events", headers=staff_headers, body="[" * 50_000)
    assert response.status_code in (400, 413)


def test_wrong_content_type_gets_415(client, staff_headers):
    headers = {**staff_headers, "Content-Type": "text/plain"}
    response = client.http.post("/staff/events", headers=headers, body=json.dumps(webinar_data()))
    assert response.status_code == 415


def test_body_over_64_kib_gets_413(client, staff_headers):
    data = webinar_data(description="x" * (65 * 1024))
    response = post_event(client, staff_headers, data)
    assert response.status_code == 413
    assert response.json_body["Message"].startswith("body:")


def test_unknown_id_gets_404(client, staff_headers):
    assert client.http.get("/events/nope").status_code == 404
    assert client.http.get("/staff/events/nope", headers=staff_headers).status_code == 404
    patch = client.http.patch("/staff/events/nope", headers=staff_headers, body="{}")
    assert patch.status_code == 404
    assert patch.json_body["Message"].startswith("event_id:")
    assert client.http.post("/staff/events/nope/cancel", headers=staff_headers).status_code == 404


def test_duplicate_id_gets_409(client, staff_headers):
    assert post_event(client, staff_headers, webinar_data()).status_code == 201
    again = post_event(client, staff_headers, webinar_data(title="Another"))
    assert again.status_code == 409
    assert again.json_body["Message"].startswith("id:")


def test_cancelled_event_cannot_be_republished(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers)
    response = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                                 body=json.dumps({"status": "published"}))
    assert response.status_code == 409  # a conflict with the event's state, as POST .../publish
    assert response.json_body["Message"].startswith("status:")


def test_two_events_whose_titles_make_no_id_both_get_one_people_can_choose(client, staff_headers):
    first = post_event(client, staff_headers, {k: v for k, v in webinar_data(title={"nl": "???"}).items() if k != "id"})
    second = post_event(client, staff_headers, {k: v for k, v in webinar_data(
        title={"nl": "???"}, starts_at="2027-01-14T14:00:00+01:00", ends_at="2027-01-14T15:00:00+01:00").items() if k != "id"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json_body["id"], second.json_body["id"]) == ("event", "event-2027-01-14")
    assert client.http.get("/events/event-2027-01-14").status_code == 200


def test_a_draft_cannot_be_cancelled_into_public_view(client, staff_headers):
    post_event(client, staff_headers, webinar_data(status="draft"))
    response = client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers)
    assert response.status_code == 409 and response.json_body["Message"].startswith("status:")
    assert client.http.get("/events/webinar-2027-01-14").status_code == 404
    assert b"webinar-2027-01-14" not in client.http.get("/calendar.ics").body
    staff_view = client.http.get("/staff/events/webinar-2027-01-14", headers=staff_headers).json_body
    assert staff_view["status"] == "draft"


def test_an_id_of_null_is_an_id_left_out(client, staff_headers):
    first = post_event(client, staff_headers, webinar_data(id=None, title={"nl": "Dubbel"}))
    second = post_event(client, staff_headers, webinar_data(id=None, title={"nl": "Dubbel"}, starts_at="2027-01-14T14:00:00+01:00",
                                                            ends_at="2027-01-14T15:00:00+01:00"))
    assert (first.status_code, second.status_code) == (201, 201)  # not a 409: null asks for a slug, as absent does
    assert (first.json_body["id"], second.json_body["id"]) == ("dubbel", "dubbel-2027-01-14")

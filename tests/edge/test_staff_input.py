"""What staff send in, at its edges: text that cannot be stored, control characters, partial
changes of translated texts, time zone names, conflicts with an event's state, a create retried
after its answer was lost, the audit of an erasure."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chalicelib.services import events
from chalicelib.services import subscribe
from chalicelib import times
from chalicelib.errors import Conflict, InvalidInput
from chalicelib.input.event import build_event
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data

LONE = "\ud800"  # a lone UTF-16 surrogate: valid in a JSON string, not in UTF-8


def post_event(client, headers, data):
    return client.http.post("/staff/events", headers=headers, body=json.dumps(data))


def patch_event(client, headers, event_id, data):
    return client.http.patch(f"/staff/events/{event_id}", headers=headers, body=json.dumps(data))


def assert_400(response, field):
    assert response.status_code == 400, response.body
    assert response.json_body["Message"].startswith(f"{field}:"), response.json_body["Message"]


# ---------------------------------------------------- 1. lone surrogates

SURROGATE_CASES = [
    (webinar_data(title={"nl": "Webinar " + LONE}), "title.nl"),
    (webinar_data(title={"nl": "Webinar", "en": LONE + "x"}), "title.en"),
    (webinar_data(description={"nl": "a" + LONE}), "description.nl"),
    (webinar_data(description={"nl": "a", "en": "b" + LONE}), "description.en"),
    (day_data(location={"name": "Gebouw" + LONE, "address": "x"}), "location.name"),
    (day_data(location={"name": "Gebouw", "address": LONE}), "location.address"),
    (webinar_data(online_url="https://meet.example.org/" + LONE), "online_url"),
]


@pytest.mark.parametrize("data,field", SURROGATE_CASES, ids=[c[1] for c in SURROGATE_CASES])
def test_a_lone_surrogate_is_refused_by_validation_naming_the_field(data, field):
    with pytest.raises(InvalidInput) as raised:
        build_event(data, existing=None, now=PINNED_NOW)
    assert raised.value.field == field


@pytest.mark.parametrize("data,field", SURROGATE_CASES, ids=[c[1] for c in SURROGATE_CASES])
def test_a_lone_surrogate_gets_400_on_dynamodb_not_500(client, staff_headers, data, field):
    assert_400(post_event(client, staff_headers, data), field)
    assert client.http.get("/staff/events", headers=staff_headers).json_body == {"events": []}


def test_a_lone_surrogate_leaves_the_in_memory_repository_listable(memory_repo):
    with pytest.raises(InvalidInput):
        events.create_event(memory_repo, webinar_data(title={"nl": "x" + LONE}), actor="test",
                            base_url=SETTINGS.base_url)
    events.create_event(memory_repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    with pytest.raises(InvalidInput):
        events.change_event(memory_repo, "smart-region-dag-2027", {"description": LONE}, actor="test",
                            base_url=SETTINGS.base_url)
    [event] = memory_repo.list_events()
    assert json.dumps(event.to_record(), ensure_ascii=False).encode("utf-8")


def test_a_lone_surrogate_in_a_patch_changes_nothing(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    assert_400(patch_event(client, staff_headers, "webinar-2027-01-14", {"title": {"en": LONE}}), "title.en")
    assert client.http.get("/events/webinar-2027-01-14").json_body["title"]["en"] == "Smart Region webinar"


def test_a_lone_surrogate_in_any_json_body_is_400_naming_the_field(client):
    subscription = {"email": "an@example.be", "name": "An " + LONE, "event_ids": ["webinar-2027-01-14"],
                    "consent": True}
    response = client.http.post("/subscriptions", headers={"Content-Type": "application/json"},
                                body=json.dumps(subscription))
    assert_400(response, "name")


# ---------------------------------------------------- 2. control characters


@pytest.mark.parametrize("sent,kept", [
    ("a\x0bb", "a\nb"),          # Word's manual line break
    ("a\x0cb", "a\nb"),          # form feed
    ("a\r\nb\rc", "a\nb\nc"),
    ("a\x85b", "a\nb"),          # NEL, the C1 line break
    ("a\x01b\x1bc\x7fd", "abcd"),
    ("a\x80b\x9bc\x9fd", "abcd"),  # C1
    ("tab\tkept", "tab\tkept"),
])
def test_descriptions_map_line_breaks_to_newline_and_drop_other_control_characters(sent, kept):
    event = build_event(webinar_data(description={"nl": sent, "en": sent}), existing=None, now=PINNED_NOW)
    assert event.description == {"nl": kept, "en": kept}


@pytest.mark.parametrize("text", ["a\x01b", "a\x1bb", "a\x7fb", "a\x9bb", "a\x80b"])
@pytest.mark.parametrize("field", ["title.nl", "title.en", "location.name", "location.address"])
def test_one_line_fields_refuse_control_characters_naming_the_field(client, staff_headers, field, text):
    data = day_data()
    name, lang = field.split(".")
    if name == "title":
        data["title"] = {**data["title"], lang: text}
    else:
        data["location"] = {**data["location"], lang: text}
    assert_400(post_event(client, staff_headers, data), field)


def test_titles_keep_tabs_and_refuse_every_line_break_descriptions_take_vertical_tab_and_form_feed_as_one():
    """A title is one line (issue 21, item 10): a second line would read as something else in a subject."""
    assert build_event(webinar_data(title={"nl": "a\tb"}), existing=None, now=PINNED_NOW).title == {"nl": "a\tb"}
    for title in ("a\x0bc", "a\x0cd", "a\nb", "a\r\nb", "a\rb", "a\x85b"):
        with pytest.raises(InvalidInput) as caught:
            build_event(webinar_data(title={"nl": title}), existing=None, now=PINNED_NOW)
        assert (caught.value.field, caught.value.code) == ("title.nl", "not_one_line")
    event = build_event(webinar_data(description={"nl": "a\tb\x0bc\x0cd"}), existing=None, now=PINNED_NOW)
    assert event.description == {"nl": "a\tb\nc\nd"}


# ---------------------------------------------------- 3. PATCH of translated texts


def test_patching_one_language_keeps_the_other(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    changed = patch_event(client, staff_headers, "webinar-2027-01-14", {"description": {"en": "New text"}})
    assert changed.status_code == 200, changed.body
    assert changed.json_body["description"] == {"nl": "Missie en strategie", "en": "New text"}
    changed = patch_event(client, staff_headers, "webinar-2027-01-14", {"title": {"nl": "Nieuwe titel"}})
    assert changed.json_body["title"] == {"nl": "Nieuwe titel", "en": "Smart Region webinar"}
    # A plain string is the text in Dutch alone, as on create: the old translation would not fit it.
    changed = patch_event(client, staff_headers, "webinar-2027-01-14", {"title": "Alleen NL"})
    assert changed.json_body["title"] == {"nl": "Alleen NL"}


def test_a_language_sent_as_null_is_removed(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    changed = patch_event(client, staff_headers, "webinar-2027-01-14", {"title": {"en": None},
                                                                      "description": {"nl": None}})
    assert changed.status_code == 200, changed.body
    assert changed.json_body["title"] == {"nl": "Webinar Smart Region"}
    assert changed.json_body["description"] == {"en": "Mission and strategy"}


def test_a_merged_text_still_follows_the_rules(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    assert_400(patch_event(client, staff_headers, "webinar-2027-01-14", {"title": {"nl": None}}), "title.nl")
    assert_400(patch_event(client, staff_headers, "webinar-2027-01-14", {"title": {"fr": None}}), "title")
    assert_400(patch_event(client, staff_headers, "webinar-2027-01-14", {"title": {"en": "x" * 201}}), "title.en")
    assert client.http.get("/events/webinar-2027-01-14").json_body["title"] == {
        "nl": "Webinar Smart Region", "en": "Smart Region webinar"}


def test_merging_works_on_the_in_memory_repository_too(memory_repo):
    events.create_event(memory_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    change = events.change_event(memory_repo, "webinar-2027-01-14", {"description": {"en": "Other"}}, actor="test",
                                 base_url=SETTINGS.base_url)
    assert change.after.description == {"nl": "Missie en strategie", "en": "Other"}


# ---------------------------------------------------- 4. time zone names


@pytest.mark.parametrize("name", ["right/Europe/Brussels", "posix/Europe/Brussels", "posixrules", "localtime",
                                  "Factory", "Europe/Atlantis", "", "../etc/passwd"])
def test_only_real_zone_names_are_accepted(client, staff_headers, name):
    with pytest.raises(InvalidInput):
        times.zone(name)
    assert_400(post_event(client, staff_headers, webinar_data(timezone=name)), "timezone")


@pytest.mark.parametrize("name", ["Europe/Brussels", "America/New_York", "UTC", "Asia/Kolkata"])
def test_real_zone_names_still_are(name):
    assert str(times.zone(name)) == name
    assert build_event(webinar_data(timezone=name, starts_at="2027-01-14T10:00", ends_at="2027-01-14T11:00"),
                       existing=None, now=PINNED_NOW).timezone == name



def test_an_event_stored_with_a_zone_refused_since_still_shows_and_changes(client, staff_headers, dynamodb_repo):
    # Checked when it is sent, not on every page: a stored name refused later keeps the site up.
    event = replace(build_event(webinar_data(), existing=None, now=PINNED_NOW), timezone="posix/Europe/Brussels")
    dynamodb_repo.create_event(event)
    assert client.http.get("/?lang=en").status_code == 200
    assert client.http.get(f"/events/{event.id}", headers={"Accept": "text/html"}).status_code == 200
    assert patch_event(client, staff_headers, event.id, {"capacity": 50}).status_code == 200
    assert_400(patch_event(client, staff_headers, event.id, {"timezone": "posixrules"}), "timezone")


# ---------------------------------------------------- 5. conflicts with the event's state


def test_publishing_a_cancelled_event_is_409(client, staff_headers):
    post_event(client, staff_headers, webinar_data())
    client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers)
    response = client.http.post("/staff/events/webinar-2027-01-14/publish", headers=staff_headers)
    assert response.status_code == 409, response.body
    assert response.json_body["Code"] == "ConflictError"
    assert response.json_body["Message"].startswith("status:") and "cancelled" in response.json_body["Message"]
    assert client.http.get("/events/webinar-2027-01-14").json_body["status"] == "cancelled"


def test_capacity_below_the_seats_taken_is_409(client, staff_headers, dynamodb_repo):
    event = build_event(day_data(capacity=10), existing=None, now=PINNED_NOW)
    dynamodb_repo.create_event(replace(event, seats_taken=3))
    response = patch_event(client, staff_headers, event.id, {"capacity": 2})
    assert response.status_code == 409, response.body
    assert response.json_body["Message"].startswith("capacity:") and "3 seats" in response.json_body["Message"]
    assert patch_event(client, staff_headers, event.id, {"capacity": 3}).status_code == 200
    with pytest.raises(Conflict):
        build_event({"capacity": 1}, existing=replace(event, seats_taken=3), now=PINNED_NOW)



def test_unpublishing_an_event_people_are_registered_for_is_409(client, staff_headers, dynamodb_repo):
    event = build_event(day_data(capacity=10), existing=None, now=PINNED_NOW)
    dynamodb_repo.create_event(replace(event, seats_taken=1))
    response = patch_event(client, staff_headers, event.id, {"status": "draft"})
    assert response.status_code == 409, response.body
    assert response.json_body["Message"].startswith("status:") and "cancel the event" in response.json_body["Message"]
    assert client.http.get(f"/events/{event.id}").json_body["status"] == "published"


# ---------------------------------------------------- 6. a create without id, retried


@pytest.mark.parametrize("no_id", ["absent", "null"])
def test_a_create_without_id_retried_is_409_naming_the_event_it_made(client, staff_headers, no_id):
    data = webinar_data(id=None, title={"nl": "Webinar Smart Region"})
    if no_id == "absent":
        del data["id"]
    first = post_event(client, staff_headers, data)
    assert first.status_code == 201
    again = post_event(client, staff_headers, data)
    assert again.status_code == 409, again.body
    assert again.json_body["Message"].startswith("id:") and "'webinar-smart-region'" in again.json_body["Message"]
    assert len(client.http.get("/staff/events", headers=staff_headers).json_body["events"]) == 1


def test_the_same_title_at_another_time_is_another_event(client, staff_headers):
    data = webinar_data(id=None)
    assert post_event(client, staff_headers, data).status_code == 201
    later = post_event(client, staff_headers, {**data, "starts_at": "2027-01-14T14:00:00+01:00",
                                               "ends_at": "2027-01-14T15:00:00+01:00"})
    assert later.status_code == 201 and later.json_body["id"] == "webinar-smart-region-2027-01-14"


def test_a_create_without_id_finds_an_event_made_with_an_explicit_id(memory_repo):
    events.create_event(memory_repo, webinar_data(id="sro-jan"), actor="test", base_url=SETTINGS.base_url)
    with pytest.raises(Conflict) as raised:
        events.create_event(memory_repo, webinar_data(id=None), actor="test", base_url=SETTINGS.base_url)
    assert raised.value.message.startswith("id:") and "'sro-jan'" in raised.value.message
    # An explicit id still creates, as before.
    assert events.create_event(memory_repo, webinar_data(id="sro-jan-2"), actor="test",
                               base_url=SETTINGS.base_url).id == "sro-jan-2"



def test_two_copies_of_a_create_without_id_at_once_make_one_event(memory_repo, monkeypatch):
    # Both copies read the list before either wrote (a client retrying while its first request still runs):
    # the second finds the id taken by its twin and answers 409, not a second event with a dated id.
    listed = memory_repo.list_events()
    monkeypatch.setattr(memory_repo, "list_events", lambda: list(listed))
    first = events.create_event(memory_repo, webinar_data(id=None), actor="test", base_url=SETTINGS.base_url)
    with pytest.raises(Conflict) as raised:
        events.create_event(memory_repo, webinar_data(id=None), actor="test", base_url=SETTINGS.base_url)
    assert f"'{first.id}'" in raised.value.message
    assert [e.id for e in memory_repo.events.values()] == [first.id]


def test_an_in_person_day_and_its_webinar_at_the_same_time_are_two_events(client, staff_headers):
    day = day_data(id=None, title={"nl": "Smart Region Dag"})
    stream = webinar_data(id=None, title={"nl": "Smart Region Dag"}, starts_at=day["starts_at"], ends_at=day["ends_at"])
    assert post_event(client, staff_headers, day).status_code == 201
    second = post_event(client, staff_headers, stream)
    assert second.status_code == 201, second.body
    assert second.json_body["id"] != "smart-region-dag"


# ---------------------------------------------------- 7. the audit of an erasure


def test_an_erasure_of_an_unknown_address_is_audited_as_not_found(client, staff_headers):
    response = client.http.delete("/staff/subscribers?email=nobody@example.be", headers=staff_headers)
    assert response.status_code == 404
    entries = client.http.get("/staff/audit", headers=staff_headers).json_body["entries"]
    [entry] = [e for e in entries if e["action"] == "subscriber.erase"]
    assert entry["details"] == {"found": False} and entry["actor"] == "tester" and entry["target"] == "subscriber"
    assert "nobody@example.be" not in json.dumps(entries)


def test_an_erasure_of_a_known_address_is_audited_as_found(client, staff_headers, dynamodb_repo, mailer):
    from chalicelib.services import events
    from chalicelib import times

    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(dynamodb_repo, mailer, {"email": "an@example.be", "name": "An",
                                                    "event_ids": ["webinar-2027-01-14"], "consent": True},
                            base_url="http://127.0.0.1:8000", key=KEY, settings=SETTINGS)
    assert client.http.delete("/staff/subscribers?email=an@example.be", headers=staff_headers).status_code == 200
    entries = client.http.get("/staff/audit", headers=staff_headers).json_body["entries"]
    [entry] = [e for e in entries if e["action"] == "subscriber.erase"]
    assert entry["details"] == {"found": True}
    assert "an@example.be" not in json.dumps(entries)

"""Bidi and invisible characters, and line breaks in titles (issue 21, item 10).

U+202E and its friends were accepted in names and shown as they are (a name "An\u202eeb.nemarC" shows as
"AnCramen.be"); staff titles could hold line breaks (a second line that reads as something else in a mail
subject or a calendar). Refused where they mislead, dropped where they are only invisible.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.errors import InvalidInput, InvalidInputs
from chalicelib.input.event import checked_text
from chalicelib.input.subscription import parse_subscription
from tests.conftest import webinar_data
from tests.support.pages import WEBINAR, html, post_form

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def submission(**fields) -> dict:
    return {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True, **fields}


@pytest.mark.parametrize("char", BIDI)
@pytest.mark.parametrize("field", ["name", "organisation"])
def test_a_name_or_organisation_with_a_direction_control_is_refused(field, char):
    with pytest.raises(InvalidInputs) as caught:
        parse_subscription(submission(**{field: f"An{char}eb.nemarC"}))
    assert [(p.field, p.code) for p in caught.value.problems] == [(field, "not_one_line")]


def test_invisible_characters_are_dropped_from_a_name():
    request = parse_subscription(submission(name="A\u200bn\u2060 Pee\ufeffters", organisation="\u200bStad"))
    assert (request.name, request.organisation) == ("An Peeters", "Stad")
    assert parse_subscription(submission(name="Zoë 👩\u200d💻")).name == "Zoë 👩\u200d💻"  # a joiner in an emoji stays


def test_direction_controls_are_dropped_from_a_question():
    assert parse_subscription(submission(question="Wat \u202eis dit?\nEn\u2066 dat?")).question == \
        "Wat is dit?\nEn dat?"


def test_the_form_says_which_field_and_keeps_what_was_typed(client, published):
    page = post_form(client, "/subscriptions?lang=en", name="An\u202eeb.nemarC")
    assert page.status_code == 400
    assert "Write this on one line, without special characters." in html(page)
    answer = client.http.post("/subscriptions", headers={"Content-Type": "application/json"},
                              body=json.dumps(submission(name="An\u202eX")))
    assert answer.status_code == 400 and answer.json_body["Message"].startswith("name:")


@pytest.mark.parametrize("title", ["Webinar\nGratis iPad: klik hier", "Webinar\r\nx", "Webinar\u2028x",
                                   "Webinar\u202eX"])
def test_a_staff_title_must_be_one_line_without_direction_controls(client, staff_headers, title):
    for value in (title, {"nl": "Webinar", "en": title}):
        response = client.http.post("/staff/events", headers=staff_headers,
                                    body=json.dumps(webinar_data(title=value)))
        assert response.status_code == 400, response.body
        assert response.json_body["Message"].startswith("title.")


def test_a_place_name_must_be_one_line(client, staff_headers):
    data = webinar_data(kind="in_person", location={"name": "Gebouw\nTweede regel", "address": "Havenlaan 88"})
    response = client.http.post("/staff/events", headers=staff_headers, body=json.dumps(data))
    assert response.status_code == 400 and response.json_body["Message"].startswith("location.name:")


def test_a_description_keeps_its_lines_and_loses_direction_controls(client, staff_headers):
    data = webinar_data(description={"nl": "Eerste\nTweede \u202eregel\u200b", "en": "One"})
    response = client.http.post("/staff/events", headers=staff_headers, body=json.dumps(data))
    assert response.status_code == 201
    assert response.json_body["description"]["nl"] == "Eerste\nTweede regel"


def test_a_staff_text_with_a_direction_control_is_refused_with_its_code():
    with pytest.raises(InvalidInput) as caught:
        checked_text("Smart\u202eRegion", "title.nl", 200, True, one_line=True)
    assert caught.value.code == "control_characters"

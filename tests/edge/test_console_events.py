"""The console's events over HTTP: the list with counts in one Query, create and edit by form (errors beside
their fields, nothing typed lost), preview, publish, copy, cancel with a message the mail carries."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import day_data, webinar_data
from tests.support.console import sign_in
from tests.support.pages import DAY, FORM, WEBINAR, html, publish

NEW = {
    "kind": "webinar", "title_nl": "Maandelijks webinar", "title_en": "Monthly webinar",
    "description_nl": "Over de missie.", "description_en": "", "start_date": "2027-02-11", "start_time": "10:00",
    "end_time": "11:00", "end_date": "", "online_url": "https://meet.example.org/sro", "location_name": "",
    "location_address": "", "capacity": "100", "opens_date": "", "opens_time": "", "reminders": ["P1D", "PT1H"],
}


@pytest.fixture
def staff(client, mailer, dynamodb_repo):
    return sign_in(client, mailer, dynamodb_repo)


def test_create_a_draft_edit_preview_publish(staff, dynamodb_repo, clock):
    created = staff.post("/console/events/new?lang=en", NEW)
    assert created.status_code == 303, html(created)
    event_id = created.headers["Location"].split("/console/events/", 1)[1].split("?")[0]
    assert event_id == "maandelijks-webinar"
    event = dynamodb_repo.get_event(event_id)
    assert event.status == "draft" and event.capacity == 100 and event.title == {"nl": "Maandelijks webinar",
                                                                                 "en": "Monthly webinar"}
    assert event.starts_at.isoformat() == "2027-02-11T09:00:00+00:00"  # 10:00 in Brussels
    assert staff.get(f"/console/events/{event_id}?lang=en").status_code == 200
    form = staff.get(f"/console/events/{event_id}/edit?lang=en")
    assert 'value="2027-02-11"' in html(form) and 'value="10:00"' in html(form)
    changed = staff.post(f"/console/events/{event_id}/edit?lang=en", {**NEW, "title_nl": "Webinar februari"})
    assert changed.status_code == 303
    assert dynamodb_repo.get_event(event_id).title["nl"] == "Webinar februari"
    preview = staff.get(f"/console/events/{event_id}/preview?lang=nl")
    assert preview.status_code == 200 and "Webinar februari" in html(preview)
    assert staff.client.http.get(f"/events/{event_id}", headers={"Accept": "text/html"}).status_code == 404
    assert staff.post(f"/console/events/{event_id}/publish").status_code == 303
    public = staff.client.http.get(f"/events/{event_id}", headers={"Accept": "text/html"})
    assert public.status_code == 200
    # The preview was the public page, under a line saying it is one, with the way back (it had none).
    banner, rest = html(preview).split("<main")[1].split("</div>", 1)
    back = f'href="/console/events/{event_id}?lang=nl"'
    assert "Voorbeeld" in banner and back in banner
    public_main = html(public).split("<main")[1]
    assert back not in public_main and public_main.split("</h1>", 1)[1] == rest.split("</h1>", 1)[1]
    published = html(staff.get(f"/console/events/{event_id}/preview?lang=nl"))  # not "once published" any more
    assert "de openbare pagina van het evenement" in published and "zodra ze gepubliceerd" not in published
    actors = {e.actor for e in dynamodb_repo.list_audit(20) if e.target == f"event:{event_id}"}
    assert actors == {"an.staff@vlaanderen.be"}


def test_errors_are_shown_beside_their_fields_and_nothing_typed_is_lost(staff):
    typed = {**NEW, "title_nl": "", "title_en": "Kept <b>English</b>", "start_time": "", "capacity": "many",
             "online_url": "http://plain.example.org"}
    answer = staff.post("/console/events/new?lang=en", typed)
    page = html(answer)
    assert answer.status_code == 400
    assert 'id="start_time-error"' in page and 'id="capacity-error"' in page
    assert 'value="Kept &lt;b&gt;English&lt;/b&gt;"' in page and 'value="many"' in page
    fixed = staff.post("/console/events/new?lang=en", {**typed, "start_time": "10:00", "capacity": "10"})
    assert fixed.status_code == 400 and 'id="title_nl-error"' in html(fixed)
    fixed = staff.post("/console/events/new?lang=en", {**typed, "start_time": "10:00", "capacity": "10",
                                                          "title_nl": "Titel"})
    assert 'id="online_url-error"' in html(fixed) and "https://" in html(fixed)
    end = staff.post("/console/events/new?lang=en", {**NEW, "end_time": "09:00"})
    assert end.status_code == 400 and "The end must be after the start." in html(end)
    place = staff.post("/console/events/new?lang=en", {**NEW, "kind": "in_person"})
    assert place.status_code == 400 and 'id="location_name-error"' in html(place)
    taken = staff.post("/console/events/new?lang=en", {**NEW, "id": "x"})
    assert taken.status_code == 303
    again = staff.post("/console/events/new?lang=en", {**NEW, "id": "x"})
    assert again.status_code == 400 and 'id="id-error"' in html(again)


def test_copy_to_a_new_date(staff, client, staff_headers, dynamodb_repo):
    publish(client, staff_headers, webinar_data())
    copied = staff.post(f"/console/events/{WEBINAR}/copy", {"start_date": "2027-02-11"})
    assert copied.status_code == 303, html(copied)
    new_id = copied.headers["Location"].split("/console/events/", 1)[1].split("/")[0]
    copy = dynamodb_repo.get_event(new_id)
    original = dynamodb_repo.get_event(WEBINAR)
    assert copy.status == "draft" and copy.title == original.title and copy.online_url == original.online_url
    assert copy.starts_at.isoformat() == "2027-02-11T09:00:00+00:00"
    assert staff.post(f"/console/events/{WEBINAR}/copy", {"start_date": ""}).status_code == 400


def test_cancel_with_a_message_the_mail_carries(staff, client, staff_headers, dynamodb_repo, mailer,
                                                subscribe_and_confirm):
    from chalicelib import wiring

    subscribe_and_confirm("an@example.be")
    answer = staff.post(f"/console/events/{WEBINAR}/cancel", {"message_nl": "Het gaat niet door wegens ziekte.",
                                                              "message_en": "Cancelled because of illness."})
    assert answer.status_code == 303
    assert dynamodb_repo.get_event(WEBINAR).status == "cancelled"
    wiring.send_due_now(None, repo=dynamodb_repo, mailer=mailer)
    [cancelled] = [m for m in mailer.to("an@example.be") if m.kind == "event_cancelled"]
    assert "Het gaat niet door wegens ziekte." in cancelled.text and "ziekte" in cancelled.html


def test_the_list_shows_counts_and_costs_one_query(staff, client, staff_headers, dynamodb_repo):
    publish(client, staff_headers, webinar_data(capacity=1), day_data())
    for n in range(40):
        publish(client, staff_headers, webinar_data(id=f"extra-{n}", status="draft", title={"nl": f"Extra {n}"}))
    calls = []
    dynamodb_repo.client.meta.events.register("before-call.dynamodb.*",
                                              lambda model, **_: calls.append(model.name))
    page = staff.get("/console?lang=en")
    assert page.status_code == 200 and "Extra 39" in html(page)
    assert calls.count("Query") == 1 and "Scan" not in calls
    assert set(calls) <= {"Query", "GetItem"}  # the events; the session and its member


def test_a_change_is_audited_with_what_it_was_before_and_after(staff, published, dynamodb_repo):
    from chalicelib.render import console_forms

    values = console_forms.event_values(dynamodb_repo.get_event(WEBINAR))
    assert staff.post(f"/console/events/{WEBINAR}/edit", {**values, "capacity": "30"}).status_code == 303
    [entry] = [e for e in dynamodb_repo.list_audit(20) if e.action == "event.change"]
    assert entry.actor == "an.staff@vlaanderen.be"
    assert entry.details["changes"] == {"capacity": {"before": None, "after": 30}}


def test_the_event_page_says_the_reminders_in_words_not_as_iso_durations(staff):
    created = staff.post("/console/events/new?lang=en", NEW)
    event_id = created.headers["Location"].split("/console/events/", 1)[1].split("?")[0]
    english = html(staff.get(f"/console/events/{event_id}?lang=en")).split("<main", 1)[1]
    dutch = html(staff.get(f"/console/events/{event_id}?lang=nl")).split("<main", 1)[1]
    assert "P1D" not in english and "PT1H" not in english
    assert "1 day before, 1 hour before" in english
    assert "1 dag vooraf, 1 uur vooraf" in dutch


def test_the_form_a_copy_opens_in_says_it_is_the_copy_saved_as_a_draft(staff, client, staff_headers):
    publish(client, staff_headers, webinar_data())
    copied = staff.post(f"/console/events/{WEBINAR}/copy?lang=en", {"start_date": "2027-02-11"})
    english = html(staff.get(copied.headers["Location"])).split("<main", 1)[1]
    assert 'role="status"' in english
    assert "This is the copy, saved as a draft" in english
    dutch = html(staff.get(copied.headers["Location"].replace("lang=en", "lang=nl"))).split("<main", 1)[1]
    assert "Dit is de kopie, bewaard als ontwerp" in dutch
    plain = html(staff.get(copied.headers["Location"].split("&done=")[0])).split("<main", 1)[1]
    assert "This is the copy" not in plain

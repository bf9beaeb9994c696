"""The console's registrations, messages, people, audit log and staff list over HTTP."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from tests.support.console import STAFF, sign_in
from tests.support.pages import WEBINAR, html, link


@pytest.fixture
def staff(client, mailer, dynamodb_repo):
    return sign_in(client, mailer, dynamodb_repo)


def test_registrations_list_waiting_list_and_exports(staff, subscribe_and_confirm, client, staff_headers, dynamodb_repo):
    client.http.patch(f"/staff/events/{WEBINAR}", headers=staff_headers, body='{"capacity": 1}')
    subscribe_and_confirm("an@example.be", name="An Peeters", question="=Hoe sluiten we aan?")
    subscribe_and_confirm("bo@example.be", name="Bo Janssens")
    subscribe_and_confirm("cas@example.be", name="Cas Claes")
    page = staff.get(f"/console/events/{WEBINAR}/registrations?lang=en")
    text = html(page)
    assert page.status_code == 200 and "An Peeters" in text and "=Hoe sluiten we aan?" in text
    waiting = text.split('id="waiting"')[1]
    assert waiting.index("Bo Janssens") < waiting.index("Cas Claes")
    csv = staff.get(f"/console/events/{WEBINAR}/registrations/export?format=csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "'=Hoe sluiten we aan?" in csv.body.decode()  # the staff API's export: formulas neutralised
    # The Excel download is a real workbook with Dutch headers (issue 20; issue 21, item 2), from a browser's link.
    excel = staff.get(f"/console/events/{WEBINAR}/registrations/export?format=excel&lang=nl",
                      Accept="text/html,application/xhtml+xml,*/*;q=0.8")
    assert excel.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert excel.body.startswith(b"PK") and b"E-mailadres" in __import__("zipfile").ZipFile(
        __import__("io").BytesIO(excel.body)).read("xl/worksheets/sheet1.xml")
    assert staff.get(f"/console/events/{WEBINAR}/registrations/export?format=xml").status_code == 400
    reads = [e for e in dynamodb_repo.list_audit(50) if e.action == "registrations.read"]
    assert {e.actor for e in reads} == {STAFF} and {e.details["format"] for e in reads} >= {"csv", "excel", "console"}
    assert dynamodb_repo.get_event(WEBINAR).waiting_count == 2
    row = html(staff.get("/console?lang=en")).split("Smart Region webinar")[1].split("</tr>")[0]
    assert [cell.split("<")[0] for cell in row.split("<td>")[2:]] == ["1 of 1", "2", "0"]


def test_register_someone_by_phone_who_then_confirms(staff, published, mailer, client, dynamodb_repo):
    from tests.support.pages import FORM

    missing = staff.post(f"/console/events/{WEBINAR}/registrations?lang=en", {"name": "Dirk", "email": "dirk@example.be"})
    assert missing.status_code == 400 and 'id="asked-error"' in html(missing) and 'value="Dirk"' in html(missing)
    done = staff.post(f"/console/events/{WEBINAR}/registrations?lang=en",
                      {"name": "Dirk", "email": "dirk@example.be", "language": "nl", "asked": "yes"})
    assert done.status_code == 303
    assert [r.status for r in dynamodb_repo.list_registrations(WEBINAR)] == ["pending"]  # not without their consent
    confirm = link(mailer.to("dirk@example.be")[-1], "/confirm/")
    assert client.http.post(confirm, headers=FORM, body="").status_code == 200
    assert [r.status for r in dynamodb_repo.list_registrations(WEBINAR)] == ["confirmed"]
    assert any(e.action == "registration.by_phone" and e.actor == STAFF for e in dynamodb_repo.list_audit(20))


def test_write_to_the_people_of_an_event_preview_then_send_once(staff, subscribe_and_confirm, mailer, dynamodb_repo):
    subscribe_and_confirm("an@example.be")
    fields = {"audience": ["confirmed"], "subject_nl": "Praktisch", "subject_en": "Practical",
              "text_nl": "Neem je badge mee.", "text_en": "Bring your badge."}
    empty = staff.post(f"/console/events/{WEBINAR}/messages?lang=en", {**fields, "subject_en": ""})
    assert empty.status_code == 400 and 'id="subject_en-error"' in html(empty) and "Neem je badge mee." in html(empty)
    preview = staff.post(f"/console/events/{WEBINAR}/messages/preview?lang=en", fields)
    assert preview.status_code == 200 and "Neem je badge mee." in html(preview) and "Bring your badge." in html(preview)
    assert dynamodb_repo.list_audit(1)[0].action != "event.message"  # a preview plans nothing
    sent = staff.post(f"/console/events/{WEBINAR}/messages?lang=en", fields)
    assert sent.status_code == 303 and "sent=1" in sent.headers["Location"]
    wiring.send_due_now(None, repo=dynamodb_repo, mailer=mailer)
    from datetime import timedelta
    from chalicelib import times
    wiring.send_due_now(times.now() + timedelta(minutes=2), repo=dynamodb_repo, mailer=mailer)
    wiring.send_due_now(times.now() + timedelta(minutes=3), repo=dynamodb_repo, mailer=mailer)
    messages = [m for m in mailer.to("an@example.be") if m.kind == "staff_message"]
    assert len(messages) == 1 and "Neem je badge mee." in messages[0].text
    [entry] = [e for e in dynamodb_repo.list_audit(20) if e.action == "event.message"]
    assert entry.actor == STAFF


def test_look_up_a_person_and_erase_after_typing_the_address_again(staff, subscribe_and_confirm, dynamodb_repo):
    subscribe_and_confirm("an@example.be", name="An Peeters")
    found = staff.get("/console/people?email=an@example.be&lang=en")
    assert found.status_code == 200 and "An Peeters" in html(found)
    assert staff.get("/console/people?email=nobody@example.be&lang=en").status_code == 404
    wrong = staff.post("/console/people/erase?lang=en", {"email": "an@example.be", "email_again": "bo@example.be"})
    assert wrong.status_code == 400 and 'id="email_again-error"' in html(wrong)
    assert dynamodb_repo.list_registrations(WEBINAR)
    erased = staff.post("/console/people/erase?lang=en", {"email": "an@example.be", "email_again": "AN@example.be "})
    assert erased.status_code == 303
    assert dynamodb_repo.list_registrations(WEBINAR) == []
    assert staff.get("/console/people?email=an@example.be").status_code == 404
    actions = [(e.action, e.actor) for e in dynamodb_repo.list_audit(50) if e.action.startswith("subscriber.")]
    assert ("subscriber.erase", STAFF) in actions and ("subscriber.access", STAFF) in actions


def test_the_audit_log_newest_first_by_event_or_staff_member(staff, published, client, staff_headers, clock):
    from datetime import timedelta

    staff.post(f"/console/events/{WEBINAR}/edit?lang=en", {})  # a form with problems: nothing audited
    clock.set(clock() + timedelta(seconds=1))
    staff.post(f"/console/events/{WEBINAR}/cancel", {"message_nl": ""})
    page = html(staff.get("/console/audit?lang=en"))
    assert page.index("Cancelled the event") < page.index("Created the event")
    mine = html(staff.get(f"/console/audit?actor={STAFF}&lang=en"))
    assert "Cancelled the event" in mine and "Created the event" not in mine  # created by the API token "tester"
    by_event = html(staff.get("/console/audit?event=smart-region-dag-2027&lang=en"))
    assert '<a href="/console/events/smart-region-dag-2027?lang=en">Smart Region Day' in by_event
    assert "Cancelled the event" not in by_event


def test_the_audit_log_reads_as_words_in_brussels_time(staff, published, client, staff_headers, clock):
    """A change shows "field: before → after" in the page's language, instants in Brussels time, never the
    stored dict or its UTC ISO text; an action in words; the event by its title, linked to its page."""
    from datetime import timedelta

    moved = '{"starts_at": "2027-01-14T09:00:00+01:00", "capacity": 40}'
    assert client.http.patch(f"/staff/events/{WEBINAR}", headers=staff_headers, body=moved).status_code == 200
    clock.set(clock() + timedelta(seconds=1))
    page = html(staff.get("/console/audit?lang=en"))
    entry = page.split("Changed the event")[1].split("</li>\n")[0]
    assert "Starts: Thu 14 Jan 2027, 10:00 → Thu 14 Jan 2027, 09:00" in entry
    assert "Seats: – → 40" in entry
    assert f'<a href="/console/events/{WEBINAR}?lang=en">Smart Region webinar</a>' in entry
    assert "{'" not in page and "T09:00:00" not in page and "event.change" not in page
    dutch = html(staff.get("/console/audit?lang=nl"))
    entry = dutch.split("Wijzigde het evenement")[1].split("</li>\n")[0]
    assert "Begint: do 14 jan 2027, 10:00 → do 14 jan 2027, 09:00" in entry
    assert "Webinar Smart Region" in entry and "Wie" in dutch and "Wanneer" in dutch
    staff.get("/console/people?email=nobody@example.be&lang=en")
    looked_up = html(staff.get("/console/audit?lang=en"))
    assert "Looked up a person" in looked_up and "Person found: no" in looked_up
    assert "subscriber.access" not in looked_up and "found: False" not in looked_up


def test_admins_add_and_remove_staff_members(staff, client, mailer, dynamodb_repo):
    added = staff.post("/console/staff?lang=en", {"email": "bo.staff@vlaanderen.be", "name": "Bo"})
    assert added.status_code == 303 and dynamodb_repo.get_staff_member("bo.staff@vlaanderen.be").name == "Bo"
    again = staff.post("/console/staff?lang=en", {"email": "bo.staff@vlaanderen.be", "name": "Bo"})
    assert again.status_code == 400
    bo = sign_in(client, mailer, dynamodb_repo, email="bo.staff@vlaanderen.be")
    assert bo.post("/console/staff?lang=en", {"email": "cas@vlaanderen.be", "name": "Cas"}).status_code == 403
    assert bo.post("/console/staff/remove", {"email": STAFF}).status_code == 403
    assert staff.post("/console/staff/remove", {"email": STAFF}).status_code == 400  # not oneself
    assert staff.post("/console/staff/remove", {"email": "bo.staff@vlaanderen.be"}).status_code == 303
    assert bo.get("/console").status_code == 303
    actions = [e.action for e in dynamodb_repo.list_audit(50) if e.actor == STAFF]
    assert "staff.add" in actions and "staff.remove" in actions


def test_the_language_switch_of_a_page_answering_a_post_leads_to_a_page(staff, published):
    answer = staff.post(f"/console/events/{WEBINAR}/messages/preview?lang=en", {"audience": ["confirmed"]})
    switch = html(answer).split('hreflang="nl"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert switch.startswith(f"/console/events/{WEBINAR}/messages?")
    assert staff.get(switch.replace("&amp;", "&")).status_code == 200


def test_a_message_form_sent_twice_reaches_each_person_once_and_is_audited_once(staff, subscribe_and_confirm, mailer,
                                                                                  dynamodb_repo):
    from datetime import timedelta

    from chalicelib import times
    from tests.support.console import form_value

    subscribe_and_confirm("an@example.be")
    form = html(staff.get(f"/console/events/{WEBINAR}/messages?lang=en"))
    fields = {"audience": ["confirmed"], "subject_nl": "Praktisch", "subject_en": "Practical",
              "text_nl": "Neem je badge mee.", "text_en": "Bring your badge.",
              "message_id": form_value(form, "message_id")}
    preview = html(staff.post(f"/console/events/{WEBINAR}/messages/preview?lang=en", fields))
    assert form_value(preview, "message_id") == fields["message_id"]  # the preview keeps the form's id
    first = staff.post(f"/console/events/{WEBINAR}/messages?lang=en", fields)
    again = staff.post(f"/console/events/{WEBINAR}/messages?lang=en", fields)  # a double click
    assert first.status_code == again.status_code == 303
    assert "sent=1" in first.headers["Location"] and "sent=1" in again.headers["Location"]
    wiring.send_due_now(times.now() + timedelta(minutes=2), repo=dynamodb_repo, mailer=mailer)
    staff.post(f"/console/events/{WEBINAR}/messages?lang=en", fields)  # sent again after it went out
    wiring.send_due_now(times.now() + timedelta(minutes=4), repo=dynamodb_repo, mailer=mailer)
    assert len([m for m in mailer.to("an@example.be") if m.kind == "staff_message"]) == 1
    assert len([e for e in dynamodb_repo.list_audit(50) if e.action == "event.message"]) == 1
    fresh = form_value(html(staff.get(f"/console/events/{WEBINAR}/messages?lang=en")), "message_id")
    assert fresh != fields["message_id"]  # a new form is a new message
    staff.post(f"/console/events/{WEBINAR}/messages?lang=en", {**fields, "message_id": fresh})
    wiring.send_due_now(times.now() + timedelta(minutes=6), repo=dynamodb_repo, mailer=mailer)
    assert len([m for m in mailer.to("an@example.be") if m.kind == "staff_message"]) == 2


def test_an_admin_cannot_remove_themselves_by_typing_their_address_in_capitals(staff, dynamodb_repo):
    answer = staff.post("/console/staff/remove?lang=en", {"email": f"  {STAFF.upper()} "})
    assert answer.status_code == 400
    assert dynamodb_repo.get_staff_member(STAFF) is not None
    assert staff.get("/console?lang=en").status_code == 200  # still signed in


def test_removing_an_address_not_on_the_staff_list_does_not_say_removed(staff, dynamodb_repo):
    answer = staff.post("/console/staff/remove?lang=en", {"email": "nobody@vlaanderen.be"})
    assert answer.status_code == 404 and "done=removed" not in answer.headers.get("Location", "")
    assert not any(e.action == "staff.remove" for e in dynamodb_repo.list_audit(20))


def test_a_persons_mails_are_listed_in_words_with_the_events_title_and_a_readable_time(staff, subscribe_and_confirm):
    """The look-up showed the report's codes (`confirm_request`, `sent`, event ids, ISO times) to staff."""
    subscribe_and_confirm("an@example.be", name="An Peeters")
    page = html(staff.get("/console/people?email=an@example.be&lang=nl"))
    mails = page.split('<ol class="mails">')[1].split("</ol>")[0]
    items = [item.split("</li>")[0] for item in mails.split("<li>")[1:]]
    assert [item.split("</strong>")[0].removeprefix("<strong>") for item in items] == [
        "Vraag om te bevestigen", "Bevestiging", "Herinnering (1 dag vooraf)", "Herinnering (1 uur vooraf)"]
    assert all(": Webinar Smart Region (14 jan). " in item for item in items)  # title and day, not the id
    assert ["Verstuurd, " in item for item in items] == [True, True, False, False]
    assert all("Gepland, " in item for item in items[2:])
    assert "confirm_request" not in mails and WEBINAR not in mails and "T1" not in mails
    english = html(staff.get("/console/people?email=an@example.be&lang=en"))
    assert "<strong>Request to confirm</strong>" in english and "Sent, " in english
    # So are the registrations and the profile's times: "Plaats" (a seat), not `confirmed`, nor ISO text.
    registrations = page.split("<h3>")[1].split("</ul>")[0]
    assert "Webinar Smart Region (14 jan): Plaats (" in registrations and "confirmed" not in registrations
    assert "<dd>Nederlands</dd>" in page  # the language of our emails, not its code
    facts = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert "+01:00" not in facts and "T12:" not in facts and "2026" in facts

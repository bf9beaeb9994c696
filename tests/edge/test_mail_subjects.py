"""Every subject names the event and what happened, in one form (no office name in some only)."""

from __future__ import annotations

from tests.conftest import day_data, webinar_data
from tests.support.pages import FORM, confirm_path, post_form, publish

WEBINAR = "webinar-2027-01-14"
DAY = "smart-region-dag-2027"


def subjects(mailer, email="an@example.be") -> list[str]:
    return [m.subject for m in mailer.to(email)]


def test_the_subjects_of_a_subscription_name_the_events_and_what_happened(client, staff_headers, mailer):
    publish(client, staff_headers, webinar_data(), day_data(capacity=1))
    post_form(client, event_ids=[WEBINAR], language="en")
    assert subjects(mailer)[-1] == "Confirm your registration: Smart Region webinar (14 Jan)"
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    assert subjects(mailer)[-1] == "Registered: Smart Region webinar (14 Jan)"
    post_form(client, event_ids=[WEBINAR], language="en")  # again: nothing was registered
    assert subjects(mailer)[-1] == "You are already registered: Smart Region webinar (14 Jan)"
    # The day is full for Bo: the waiting list, named; both events in one request name both.
    post_form(client, email="cy@example.be", event_ids=[DAY], language="en")
    client.http.post(confirm_path(mailer, "cy@example.be"), headers=FORM, body="")
    post_form(client, email="bo@example.be", event_ids=[WEBINAR, DAY], language="nl")
    assert subjects(mailer, "bo@example.be")[-1] == "Bevestig je inschrijving: Webinar Smart Region (14 jan) en Smart Region Dag (3 jun)"
    client.http.post(confirm_path(mailer, "bo@example.be"), headers=FORM, body="")
    assert subjects(mailer, "bo@example.be")[-1] == \
        "Ingeschreven: Webinar Smart Region (14 jan); Op de wachtlijst: Smart Region Dag (3 jun)"
    post_form(client, email="bo@example.be", event_ids=[DAY], language="nl")
    assert subjects(mailer, "bo@example.be")[-1] == "Niets gewijzigd – Op de wachtlijst: Smart Region Dag (3 jun)"
    every = [m.subject for m, _ in mailer.sent]
    assert not any("Smart Region Office" in s for s in every), every
    assert not any(s.startswith(("About your registration", "Over je inschrijving")) for s in every), every


def test_a_request_for_an_event_not_open_yet_says_so_before_the_button_and_in_its_subject(client, staff_headers, mailer):
    """It listed the event under "asked to register this address for" with "confirm my registration"."""
    publish(client, staff_headers, webinar_data(), day_data(registration_opens_at="2027-03-01T09:00:00+01:00"))
    post_form(client, event_ids=[DAY], language="en")
    mail = mailer.to("an@example.be")[-1]
    assert mail.subject == "Confirm to hear when registration opens: Smart Region Day (3 Jun)"
    assert "asked to register this address for" not in mail.text and "Confirm my registration" not in mail.html
    said, button = mail.text.index("It is not open yet"), mail.text.index("/confirm/")
    assert said < button and "Confirm my address" in mail.html
    page = client.http.get(confirm_path(mailer) + "?lang=en").body.decode()
    assert "wants to hear when registration opens" in page and "Confirm my address" in page
    assert "<h1>Confirm your address</h1>" in page and "Confirm your registration" not in page  # it said both
    assert page.index("Registration is not open yet") < page.index('type="submit"')
    # With an open event beside it, both are said, each in its place, before the button.
    post_form(client, email="bo@example.be", event_ids=[WEBINAR, DAY], language="en")
    mail = mailer.to("bo@example.be")[-1]
    text = mail.text
    assert text.index("asked to register this address for") < text.index("Smart Region webinar") < \
        text.index("Registration is not open yet for the following") < text.index("Smart Region Day") < \
        text.index("/confirm/")


def test_the_waiting_list_and_interested_mails_give_the_link_of_the_event_page_to_share(client, staff_headers, mailer):
    """They said "share the event's page" without its link."""
    publish(client, staff_headers, webinar_data(), day_data(capacity=1),
            day_data(id="later-day", title={"nl": "Later", "en": "Later"}, registration_opens_at="2027-03-01T09:00:00+01:00"))
    post_form(client, email="cy@example.be", event_ids=[DAY], language="en")
    client.http.post(confirm_path(mailer, "cy@example.be"), headers=FORM, body="")
    post_form(client, event_ids=[DAY, "later-day"], language="en")  # the day is full; the other not open
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    mail = mailer.to("an@example.be")[-1]
    assert mail.subject == "On the waiting list: Smart Region Day (3 Jun); Registration not open yet: Later (3 Jun)"
    note = mail.text[mail.text.index("Want to invite a colleague?"):]
    assert "Share the event pages:" in note and "/events/smart-region-dag-2027" in note and "/events/later-day" in note
    assert 'href="http' in mail.html[mail.html.index("Want to invite a colleague?"):]


def test_the_erasure_mail_names_the_events_whose_entries_it_removes(client, staff_headers, mailer):
    publish(client, staff_headers, webinar_data())
    post_form(client, event_ids=[WEBINAR], language="en")
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    assert client.http.delete("/staff/subscribers?email=an@example.be", headers=staff_headers).status_code == 200
    mail = mailer.to("an@example.be")[-1]
    assert mail.kind == "erased" and mail.subject == "Data erased, registration cancelled: Smart Region webinar (14 Jan)"


def test_a_monthly_webinar_keeps_its_title_and_the_subject_tells_its_dates_apart(client, staff_headers, mailer):
    """Two webinars of one title made the same subject: a new user could not tell which mail was which."""
    publish(client, staff_headers, webinar_data(),
            webinar_data(id="webinar-2027-02-25", starts_at="2027-02-25T14:00:00+01:00",
                         ends_at="2027-02-25T15:00:00+01:00"))
    post_form(client, event_ids=[WEBINAR], language="nl")
    post_form(client, email="bo@example.be", event_ids=["webinar-2027-02-25"], language="nl")
    assert subjects(mailer)[-1] == "Bevestig je inschrijving: Webinar Smart Region (14 jan)"
    assert subjects(mailer, "bo@example.be")[-1] == "Bevestig je inschrijving: Webinar Smart Region (25 feb)"

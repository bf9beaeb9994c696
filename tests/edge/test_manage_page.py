"""Journeys through the manage page a reviewer walked as its users, each with the test that shows it is fixed.

1. "Stop all mail" can be undone from the manage page (not by the form, which
   answers "already registered"); a stop by a bounce or complaint says why it
   cannot be.
2. Stopping mail warns a person on a waiting list, or waiting for registration
   to open, that they will not hear; the page stops promising mail it will not
   send.
3. A registered person can change the language of our emails.
4. An event cancelled while its confirmation was pending is shown as cancelled,
   before and after the confirm, and in the mail.
5. The links of an erased person say so; the one-click unsubscribe answers 200.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import KEY, day_data, webinar_data
from tests.support.pages import confirm_as, FORM, WEBINAR, DAY, html, publish, post_form, link, confirm_path, heading


def section(page: str, title: str) -> str:
    """The manage page's section under the <h2> ``title``, up to the next <h2>."""
    match = re.search(r"<h2[^>]*>" + re.escape(title) + r"</h2>(.*?)(?=<h2|</main>)", page, re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def person(repo, email="an@example.be"):
    from chalicelib import config
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import tick

    return privacy.find_person(repo, email, key=KEY)


@pytest.fixture
def manage_path(subscribe_and_confirm):
    return subscribe_and_confirm("an@example.be", [WEBINAR, DAY])


# ------------------------------------------- 1. receive mail again after a stop


def test_stopped_mail_is_received_again_with_a_button_on_the_manage_page(client, manage_path, dynamodb_repo):
    stopped = client.http.post(f"{manage_path}/stop?lang=en", headers=FORM, body="")
    # Post, redirect, get, as the other buttons: a reload of the page shown asks nothing.
    assert stopped.status_code == 303 and stopped.headers["Location"] == f"{manage_path}?lang=en&done=stopped"
    assert not person(dynamodb_repo).receives_mail
    page = html(client.http.get(stopped.headers["Location"]))
    assert "You get no more emails from us. Your registrations stay." in page
    emails = section(page, "Emails")
    assert "register again through the form" not in emails
    assert f'action="{manage_path}/resume?lang=en"' in emails and "Receive our emails again" in emails
    done = client.http.post(f"{manage_path}/resume?lang=en", headers=FORM, body="")
    # Post, redirect, get: a reload of the page shown sends nothing again.
    assert done.status_code == 303 and done.headers["Location"] == f"{manage_path}?lang=en&done=mail"
    assert done.headers["Cache-Control"] == "no-store"
    assert person(dynamodb_repo).receives_mail and person(dynamodb_repo).mail_stopped_reason is None
    page = html(client.http.get(done.headers["Location"]))
    assert "You will receive our emails again." in page
    assert f'action="{manage_path}/stop?lang=en"' in section(page, "Emails")
    # The button's address opened again as a GET leads back to the page, as the other buttons' do.
    again = client.http.get(f"{manage_path}/resume?lang=en")
    assert again.status_code == 303 and again.headers["Location"] == f"{manage_path}?lang=en"


def test_the_dutch_page_no_longer_sends_people_to_the_form(client, manage_path):
    client.http.post(f"{manage_path}/stop", headers=FORM, body="")
    emails = section(html(client.http.get(manage_path + "?lang=nl")), "E-mails")
    assert "schrijf je dan opnieuw in via het formulier" not in emails
    assert "Je krijgt geen e-mails meer van ons. Wil je ze opnieuw krijgen" in emails
    assert "Onze e-mails opnieuw ontvangen" in emails


def test_a_stop_by_the_unsubscribe_link_is_undone_from_the_manage_page(client, manage_path, mailer, dynamodb_repo):
    unsubscribe = link(mailer.to("an@example.be")[-1], "/unsubscribe/")
    assert client.http.post(unsubscribe, headers=FORM, body="List-Unsubscribe=One-Click").status_code == 200
    assert person(dynamodb_repo).mail_stopped_reason == "unsubscribed"
    assert client.http.post(f"{manage_path}/resume", headers=FORM, body="").status_code == 303
    assert person(dynamodb_repo).receives_mail


def test_after_receiving_mail_again_the_form_mails_as_usual(client, manage_path, mailer, staff_headers, clock):
    # While mail is stopped, the form mails one confirmation a day (it must not flood a mailbox that said
    # stop); once the person asked for mail again, the usual limits apply.
    publish(client, staff_headers, webinar_data(id="webinar-2027-02-11", starts_at="2027-02-11T10:00:00+01:00",
                                                ends_at="2027-02-11T11:00:00+01:00"))
    client.http.post(f"{manage_path}/stop", headers=FORM, body="")
    clock.set(clock() + timedelta(minutes=1))
    sent = len(mailer.to("an@example.be"))
    post_form(client, event_ids=["webinar-2027-02-11"])
    post_form(client, event_ids=["webinar-2027-02-11"])
    assert len(mailer.to("an@example.be")) == sent + 1
    clock.set(clock() + timedelta(minutes=1))
    client.http.post(f"{manage_path}/resume", headers=FORM, body="")
    clock.set(clock() + timedelta(minutes=1))
    post_form(client, event_ids=["webinar-2027-02-11"])
    assert len(mailer.to("an@example.be")) == sent + 2


@pytest.mark.parametrize("reason,why", [
    ("bounce", "could not be delivered"),
    ("complaint", "reported as unwanted"),
])
def test_a_stop_by_a_bounce_or_complaint_says_why_and_has_no_button(client, manage_path, dynamodb_repo, reason,
                                                                     why):
    from chalicelib import config
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import tick

    manage_module.stop_all_mail(dynamodb_repo, person(dynamodb_repo), reason)
    emails = section(html(client.http.get(manage_path + "?lang=en")), "Emails")
    assert why in emails and "smartregionoffice@vlaanderen.be" in emails
    assert "/resume" not in emails and "/stop" not in emails
    # A post all the same (an old page, a crafted request) changes nothing.
    assert client.http.post(f"{manage_path}/resume", headers=FORM, body="").status_code == 303
    assert person(dynamodb_repo).mail_stopped_reason == reason


def test_receiving_mail_again_needs_a_genuine_link(client, published):
    response = client.http.post("/manage/" + "x" * 43 + "/resume", headers=FORM, body="")
    assert response.status_code == 404 and "Link not found" in html(client.http.get("/manage/" + "x" * 43 + "?lang=en"))


# ------------------------------------- 2. what stopping mail switches off


@pytest.fixture
def waiting_and_interested(client, staff_headers, mailer):
    """An is on the waiting list of the (full) day, and waits for the webinar's registration to open."""
    publish(client, staff_headers, day_data(capacity=1),
            webinar_data(registration_opens_at="2027-01-01T09:00:00+01:00"))
    confirm_as(client, mailer, "bo@example.be", [DAY])
    return confirm_as(client, mailer, "an@example.be", [DAY, WEBINAR])


def test_the_stop_explanation_warns_about_the_waiting_list_and_registration_opening(client, waiting_and_interested):
    emails = section(html(client.http.get(waiting_and_interested + "?lang=en")), "Emails")
    assert "waiting list" in emails and "seat" in emails and "without knowing" in emails
    assert "registration opens" in emails


def test_no_warning_for_someone_with_only_seats(client, manage_path):
    emails = section(html(client.http.get(manage_path + "?lang=en")), "Emails")
    assert "waiting list" not in emails and "registration opens" not in emails


def test_the_unsubscribe_page_warns_too(client, waiting_and_interested, mailer):
    unsubscribe = link(mailer.to("an@example.be")[-1], "/unsubscribe/")
    page = html(client.http.get(unsubscribe + "?lang=en"))
    assert "waiting list" in page and "without knowing" in page and "registration opens" in page


def test_with_mail_stopped_the_page_promises_no_mail(client, waiting_and_interested):
    path = waiting_and_interested
    assert "We mail you when registration opens" in html(client.http.get(path + "?lang=en"))
    client.http.post(f"{path}/stop", headers=FORM, body="")
    page = html(client.http.get(path + "?lang=en"))
    registrations = re.search(r'<ul class="registrations">(.*?)</ul>', page, re.S).group(1)
    assert "We mail you" not in registrations and "as soon as a seat" not in registrations
    assert "check this page" in registrations
    assert "We mailen je" not in html(client.http.get(path + "?lang=nl"))


def test_the_register_link_promises_no_mail_with_mail_stopped(client, waiting_and_interested, clock):
    path = waiting_and_interested
    client.http.post(f"{path}/stop", headers=FORM, body="")
    clock.set(datetime(2027, 1, 2, 12, 0, tzinfo=timezone.utc))  # the webinar's registration is open
    page = html(client.http.post(f"{path}/events/{WEBINAR}/register?lang=en", headers=FORM, body=""))
    assert heading(page) == "You are registered"
    assert "We have sent you an email" not in page


# ------------------------------------------------ 3. the language of our emails


def test_the_manage_page_changes_the_language_of_our_emails(client, manage_path, dynamodb_repo, mailer):
    from chalicelib import config
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import tick

    page = html(client.http.get(manage_path + "?lang=en"))
    form = section(page, "Language of our emails")
    assert f'action="{manage_path}/language?lang=en"' in form
    assert re.search(r'<input type="radio"[^>]*name="language"[^>]*value="nl"[^>]*checked', form)
    assert re.search(r'<input type="radio"[^>]*name="language"[^>]*value="en"', form)
    assert re.search(r'<label for="[^"]+"[^>]*>English</label>', form)
    done = client.http.post(f"{manage_path}/language?lang=nl", headers=FORM, body="language=en")
    assert done.status_code == 303 and done.headers["Location"] == f"{manage_path}?lang=nl&done=language"
    assert person(dynamodb_repo).language == "en"
    shown = html(client.http.get(done.headers["Location"]))
    assert "Onze e-mails zijn voortaan in het Engels." in shown  # the page keeps its own language
    assert re.search(r'<input type="radio"[^>]*value="en"[^>]*checked', section(shown, "Taal van onze e-mails"))
    # The reminders (the tick reads the profile's language) now come in English.
    sent = len(mailer.sent)
    tick.send_due(dynamodb_repo, mailer, base_url=config.load().base_url,
                       now=datetime(2027, 1, 13, 9, 30, tzinfo=timezone.utc), rate=1e6, key=KEY)
    reminder = [m for m, _ in mailer.sent[sent:] if m.to_email == "an@example.be"]
    assert reminder and reminder[0].subject.startswith("Reminder:")


def test_a_language_we_do_not_write_in_is_refused(client, manage_path, dynamodb_repo):
    for body in ("language=fr", ""):
        response = client.http.post(f"{manage_path}/language?lang=en", headers=FORM, body=body)
        assert response.status_code == 400, body
    assert person(dynamodb_repo).language == "nl"
    again = client.http.get(f"{manage_path}/language?lang=en")
    assert again.status_code == 303 and again.headers["Location"] == f"{manage_path}?lang=en"


# --------------------------------- 4. an event cancelled while the confirm was pending


def test_an_event_cancelled_before_the_confirm_is_shown_cancelled(client, published, mailer, staff_headers):
    post_form(client, event_ids=[WEBINAR, DAY], language="en")
    path = confirm_path(mailer)
    assert client.http.post(f"/staff/events/{DAY}/cancel", headers=staff_headers).status_code == 200
    before = html(client.http.get(path + "?lang=en"))
    day = re.search(r"Smart Region Day.*?</li>", before, re.S).group(0)
    webinar = re.search(r"Smart Region webinar.*?</li>", before, re.S).group(0)
    assert "cancelled" in day and "cancelled" not in webinar
    after = html(client.http.post(path + "?lang=en", headers=FORM, body=""))
    day = re.search(r"Smart Region Day.*?</li>", after, re.S).group(0)
    assert "This event is cancelled." in day and "closed" not in day
    mail = mailer.to("an@example.be")[-1]
    assert "cancelled" in mail.text and "Registration is closed" not in mail.text
    assert "cancelled" in mail.html and "Registration is closed" not in mail.html


def test_a_confirm_for_only_cancelled_events_says_so(client, published, mailer, staff_headers):
    post_form(client, event_ids=[DAY], language="en")
    path = confirm_path(mailer)
    client.http.post(f"/staff/events/{DAY}/cancel", headers=staff_headers)
    before = html(client.http.get(path + "?lang=en"))
    assert "nothing to confirm" in before and f'action="{path}?lang=en"' not in before
    page = html(client.http.post(path + "?lang=en", headers=FORM, body=""))
    assert heading(page) == "Event cancelled"
    assert "closed" not in page.split("<main", 1)[1]
    mail = mailer.to("an@example.be")[-1]
    assert "We are sorry: this event is cancelled." in mail.text


# ----------------------------------------------- 5. links of an erased person


@pytest.fixture
def erased_links(client, manage_path, mailer):
    unsubscribe = link(mailer.to("an@example.be")[-1], "/unsubscribe/")
    assert client.http.post(f"{manage_path}/erase", headers=FORM, body="confirm=yes").status_code == 303
    return manage_path, unsubscribe


def test_an_erased_persons_links_say_their_data_is_erased(client, erased_links):
    manage, unsubscribe = erased_links
    for path in (manage, unsubscribe):
        en = client.http.get(path + "?lang=en")
        assert en.status_code == 404 and en.headers["Content-Type"].startswith("text/html")
        page = html(en)
        assert heading(page) == "Your data is erased" and "nothing more to do" in page
        assert "Link not found" not in page and "copied the whole link" not in page
        nl = html(client.http.get(path + "?lang=nl"))
        assert heading(nl) == "Je gegevens zijn gewist" and "niets meer te doen" in nl


def test_the_one_click_unsubscribe_of_an_erased_person_answers_200(client, erased_links):
    _, unsubscribe = erased_links
    response = client.http.post(unsubscribe, headers=FORM, body="List-Unsubscribe=One-Click")
    assert response.status_code == 200 and "nothing more to do" in html(client.http.post(
        unsubscribe + "?lang=en", headers=FORM, body="List-Unsubscribe=One-Click"))


def test_the_buttons_of_an_erased_persons_old_page_say_so(client, erased_links):
    manage, _ = erased_links
    stop = client.http.post(f"{manage}/stop?lang=en", headers=FORM, body="")
    assert stop.status_code == 200 and "nothing more to do" in html(stop)
    again = client.http.post(f"{manage}/erase?lang=en", headers=FORM, body="confirm=yes")  # a double click
    assert again.status_code == 303 and again.headers["Location"] == "/erased?lang=en"
    cancel = client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body="confirm=yes")
    assert cancel.status_code == 404 and "nothing more to do" in html(cancel)


def test_a_forged_or_mistyped_link_is_still_not_found(client, erased_links):
    manage, unsubscribe = erased_links
    for path in (manage, unsubscribe):
        forged = path[:-1] + ("A" if path[-1] != "A" else "B")
        response = client.http.get(forged + "?lang=en")
        assert response.status_code == 404 and "Link not found" in html(response)
    forged = unsubscribe[:-1] + ("A" if unsubscribe[-1] != "A" else "B")
    assert client.http.post(forged, headers=FORM, body="List-Unsubscribe=One-Click").status_code == 404
    # A manage token is no unsubscribe token: each link works for its own purpose only.
    token = manage.rsplit("/", 1)[1]
    assert "Link not found" in html(client.http.get(f"/unsubscribe/{token}?lang=en"))


# ------------------------------------------- 6. register for another event from the manage page


def test_the_manage_page_offers_the_other_open_events_with_a_button_that_registers_at_once(
        client, subscribe_and_confirm, mailer, dynamodb_repo):
    """"Register for another event" led to the form: typing everything again, and another confirmation mail."""
    path = subscribe_and_confirm("an@example.be", [WEBINAR])
    more = section(html(client.http.get(path + "?lang=en")), "Register for another event")
    assert "Smart Region Day" in more and f'action="{path}/events/{DAY}/register?lang=en"' in more
    assert "no new confirmation is needed" in more
    sent = len(mailer.to("an@example.be"))
    done = client.http.post(f"{path}/events/{DAY}/register?lang=en", headers=FORM, body="")
    assert done.status_code == 200 and heading(html(done)) == "You are registered"
    assert [m.kind for m in mailer.to("an@example.be")[sent:]] == ["confirmed"]  # no confirmation request
    page = html(client.http.get(path + "?lang=nl"))
    assert "Smart Region Dag" in page.split('<ul class="registrations">')[1]  # among their registrations now
    assert 'id="more"' not in page  # nothing else to offer
    assert person(dynamodb_repo).event_ids == {WEBINAR, DAY}

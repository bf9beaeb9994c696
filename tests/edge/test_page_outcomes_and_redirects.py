"""Defects a review of the public pages found, each with the test that shows it is fixed.

The confirm result says what happened; pages fit a 320 px screen; POST-only
addresses opened as a GET lead to a page; a reload after a post sends
nothing again; forms with personal data are not stored; times carry their
zone; pending registrations show on the manage page; the error summary takes
focus and links to inputs; the Dutch reads well and a Dutch-only title is
marked as Dutch.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import day_data, webinar_data
from tests.support.pages import BROWSER, DAY, FORM, WEBINAR, confirm_path, heading, html, link, post_form, publish

REPO = Path(__file__).resolve().parents[2]


def lead(page: str) -> str:
    return re.search(r'<p class="lead">(.*?)</p>', page, re.S).group(1).strip()


# ------------------------------------------ 1. the confirm result says what happened


def confirm_as(client, mailer, email: str, event_ids: list[str]) -> str:
    post_form(client, email=email, event_ids=event_ids)
    return html(client.http.post(confirm_path(mailer, email) + "?lang=en", headers=FORM, body=""))


def test_a_confirmed_seat_says_registration_confirmed_and_calendar(client, published, mailer):
    page = confirm_as(client, mailer, "an@example.be", [WEBINAR])
    assert heading(page) == "Registration confirmed"
    assert "for your calendar" in lead(page)


def test_a_place_on_the_waiting_list_is_not_called_a_registration_with_a_calendar(client, staff_headers, mailer):
    publish(client, staff_headers, day_data(capacity=1))
    confirm_as(client, mailer, "bo@example.be", [DAY])
    page = confirm_as(client, mailer, "an@example.be", [DAY])
    assert heading(page) == "Your subscription is confirmed"
    assert "calendar" not in lead(page) and "waiting list" in lead(page)


def test_interest_before_registration_opens_is_not_called_a_registration(client, staff_headers, mailer):
    publish(client, staff_headers, day_data(registration_opens_at="2027-03-01T09:00:00+01:00"))
    page = confirm_as(client, mailer, "an@example.be", [DAY])
    assert heading(page) == "Your subscription is confirmed"
    assert "calendar" not in lead(page) and "when registration opens" in lead(page)


def test_a_registration_that_closed_before_the_confirm_says_so(client, staff_headers, mailer, clock):
    publish(client, staff_headers, day_data(registration_closes_at="2026-11-25T14:00:00+01:00"))
    post_form(client, event_ids=[DAY])
    clock.set(clock() + timedelta(hours=2))
    page = html(client.http.post(confirm_path(mailer) + "?lang=en", headers=FORM, body=""))
    assert heading(page) == "Registration is closed"
    assert "calendar" not in lead(page) and "closed" in lead(page)


def test_one_seat_among_other_outcomes_still_says_confirmed(client, staff_headers, mailer):
    publish(client, staff_headers, webinar_data(), day_data(registration_opens_at="2027-03-01T09:00:00+01:00"))
    page = confirm_as(client, mailer, "an@example.be", [WEBINAR, DAY])
    assert heading(page) == "Registration confirmed"


def test_the_confirm_summary_reads_the_outcomes():
    from chalicelib.render import i18n
    from chalicelib.render import pages
    from chalicelib.services.mailing import Outcome

    def summary(*pairs):
        return pages.confirm_summary([Outcome(None, status, kept) for status, kept in pairs])

    assert summary(("confirmed", ""), ("waitlisted", "")) == "confirmed"
    assert summary(("already", "confirmed")) == "confirmed"
    assert summary(("waitlisted", ""), ("already", "waitlisted")) == "waitlisted"
    assert summary(("interested", "")) == "interested"
    assert summary(("closed", ""), ("closed", "")) == "closed"
    assert summary(("waitlisted", ""), ("interested", "")) == "mixed"
    assert summary() == "mixed"


# ---------------------------------------------------------- 2. 320 px wide


def test_long_words_wrap_in_the_main_content_but_ordinary_words_never_break():
    """``anywhere`` broke "Herman Teirlinckgebou / w" in a 290 px card; ``break-word`` breaks only what fits no line.
    (The browser tests check both at 320 and 1280 px.)"""
    css = (REPO / "chalicelib" / "static" / "site.css").read_text()
    rule = re.search(r"(?m)^main\s*\{([^}]*)\}", css)
    assert rule and re.search(r"overflow-wrap:\s*break-word", rule.group(1))


# ------------------------------------ 3. POST-only addresses opened as a GET


@pytest.fixture
def manage_path(client, published, mailer):
    post_form(client, event_ids=[WEBINAR, DAY])
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    return link(mailer.to("an@example.be")[-1], "/manage/")


@pytest.mark.parametrize("tail", [f"/events/{WEBINAR}/cancel", "/stop", "/erase"])
def test_a_manage_buttons_address_opened_as_a_get_leads_to_the_manage_page(client, manage_path, tail):
    response = client.http.get(f"{manage_path}{tail}?lang=en")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{manage_path}?lang=en"
    assert response.headers["Cache-Control"] == "no-store"
    assert client.http.get(response.headers["Location"]).status_code == 200
    assert client.http.get(f"{manage_path}{tail}", headers={"Accept-Language": "en"}).headers["Location"] == \
        f"{manage_path}?lang=en"


def test_the_resend_address_opened_as_a_get_leads_to_the_confirm_page(client, published, mailer):
    post_form(client)
    path = confirm_path(mailer)
    response = client.http.get(f"{path}/resend?lang=en")
    assert response.status_code == 303 and response.headers["Location"] == f"{path}?lang=en"
    assert len(mailer.sent) == 1  # a GET sends nothing


def test_an_unknown_path_is_a_bilingual_404_page_not_missing_authentication_token():
    resources = json.loads((REPO / "infra" / "template.json").read_text())["Resources"]
    [missing] = [r["Properties"] for r in resources.values() if r.get("Type") == "AWS::ApiGateway::GatewayResponse"
                 and r["Properties"]["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404" and missing["RestApiId"] == {"Ref": "RestAPI"}
    headers = missing["ResponseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'text/html; charset=utf-8'"
    assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
    assert headers["gatewayresponse.header.Referrer-Policy"] == "'no-referrer'"
    assert headers["gatewayresponse.header.X-Frame-Options"] == "'DENY'"
    assert set(missing["ResponseTemplates"]) == {"application/json", "text/html"}
    for body in missing["ResponseTemplates"].values():
        assert body.startswith("<!DOCTYPE html>")
        assert "Pagina niet gevonden" in body and "Page not found" in body and '<p lang="en">' in body
        # No style or script: a policy in the page itself (a static header value cannot hold its quotes)
        assert "Content-Security-Policy\" content=\"default-src 'none'" in body
        assert '<a href="/?lang=nl">' in body and '<a href="/?lang=en"' in body and "<script" not in body


# ------------------------------------------------ 4. post, redirect, get


def test_a_form_post_redirects_to_a_page_that_a_reload_does_not_post_again(client, published, mailer):
    response = post_form(client, "/subscriptions?lang=en")
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscriptions/sent?lang=en"
    assert len(mailer.sent) == 1
    for _ in range(2):  # the reload
        page = client.http.get(response.headers["Location"])
        assert page.status_code == 200 and heading(html(page)) == "Check your mail"
    assert len(mailer.sent) == 1
    assert "an@example.be" not in response.headers["Location"] and "An" not in response.headers["Location"]


def test_a_honeypot_post_gets_the_same_redirect(client, published, mailer):
    response = post_form(client, website="https://spam.example")
    assert response.status_code == 303 and response.headers["Location"] == "/subscriptions/sent?lang=nl"
    assert mailer.sent == []


def test_json_posts_still_answer_202_json(client, published):
    body = {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True}
    response = client.http.post("/subscriptions", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    assert response.status_code == 202 and json.loads(response.body) == {"status": "pending_confirmation"}


def test_a_resend_redirects_to_the_check_your_mail_page(client, published, mailer):
    post_form(client)
    path = confirm_path(mailer)
    client.http.post(path, headers=FORM, body="")
    sent = len(mailer.sent)
    response = client.http.post(f"{path}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 303 and response.headers["Location"] == "/subscriptions/sent?lang=en"
    assert len(mailer.sent) == sent + 1


def test_an_erase_redirects_to_a_page_a_reload_still_shows(client, manage_path):
    response = client.http.post(f"{manage_path}/erase?lang=en", headers=FORM, body="confirm=yes")
    assert response.status_code == 303 and response.headers["Location"] == "/erased?lang=en"
    for _ in range(2):
        page = client.http.get("/erased?lang=en")
        assert page.status_code == 200 and heading(html(page)) == "Your data is erased"
    assert client.http.get(manage_path).status_code == 404


# ----------------------------------------- 5. personal data is not stored


def test_a_form_shown_again_with_what_was_typed_is_not_stored(client, published, mailer, monkeypatch):
    bad = post_form(client, email="not an address", question="Is er parking?")
    assert bad.status_code == 400 and bad.headers["Cache-Control"] == "no-store"
    from chalicelib.errors import MailThrottled

    def throttled(mail):
        raise MailThrottled("Throttling")

    monkeypatch.setattr(mailer, "send", throttled)
    busy = post_form(client)
    assert busy.status_code == 503 and busy.headers["Cache-Control"] == "no-store"
    assert client.http.get("/").headers["Cache-Control"] == "no-cache"


# ------------------------------------------------------- 6. time zones


def test_times_of_an_event_elsewhere_carry_its_zone(client, staff_headers, mailer):
    publish(client, staff_headers, webinar_data(timezone="America/New_York", starts_at="2027-01-14T10:00",
                                                ends_at="2027-01-14T11:00"), day_data())
    front = html(client.http.get("/?lang=en"))
    assert "Thursday 14 January 2027, 10:00–11:00 (America/New_York)" in front  # the facts
    assert re.search(r"Thu 14 Jan 2027, 10:00 \(America/New_York\)", front)  # the checkbox's label
    assert "Thursday 3 June 2027, 09:00–17:00 (Belgian time)" in front
    event = html(client.http.get(f"/events/{WEBINAR}?lang=en", headers=BROWSER))
    assert "10:00–11:00 (America/New_York)" in event
    post_form(client)
    confirm = html(client.http.get(confirm_path(mailer) + "?lang=nl"))
    assert re.search(r"10:00–11:00 \(America/New_York\)", confirm)  # the event's line
    assert "(Belgische tijd)" in html(client.http.get("/?lang=nl"))


# ------------------------------------- 7. pending registrations are shown


def test_a_registration_waiting_for_its_confirmation_shows_on_the_manage_page(client, manage_path, mailer,
                                                                              staff_headers):
    publish(client, staff_headers, webinar_data(id="webinar-2027-02-11", starts_at="2027-02-11T10:00:00+01:00",
                                                ends_at="2027-02-11T11:00:00+01:00",
                                                title={"nl": "Tweede webinar", "en": "Second webinar"}))
    post_form(client, event_ids=["webinar-2027-02-11"])
    page = html(client.http.get(manage_path + "?lang=en"))
    item = re.search(r"Second webinar.*?</li>", page, re.S)
    assert item and "Waiting for your confirmation" in item.group(0) and "check your mailbox" in item.group(0)


def test_only_pending_registrations_are_not_called_no_registrations(client, published, mailer, clock):
    post_form(client)
    manage = link(mailer.to("an@example.be")[-1], "/manage/")
    page = html(client.http.get(manage + "?lang=en"))
    assert "You have no registrations." not in page and "Waiting for your confirmation" in page
    clock.set(clock() + timedelta(hours=49))  # the link expired: nothing waits any more
    assert "Waiting for your confirmation" not in html(client.http.get(manage + "?lang=en"))


def test_a_pending_registration_gets_no_one_click_register_page_or_action(client, manage_path, mailer,
                                                                         staff_headers):
    # Someone typed An's address for another event: An's manage link shows it as waiting, and neither its
    # register page nor its register action applies what was typed (only the confirm link mailed for it may).
    publish(client, staff_headers, webinar_data(id="webinar-2027-02-11", starts_at="2027-02-11T10:00:00+01:00",
                                                ends_at="2027-02-11T11:00:00+01:00",
                                                title={"nl": "Tweede webinar", "en": "Second webinar"}))
    post_form(client, event_ids=["webinar-2027-02-11"], name="Mallory")
    assert client.http.get(f"{manage_path}/events/webinar-2027-02-11/register?lang=en").status_code == 404
    done = client.http.post(f"{manage_path}/events/webinar-2027-02-11/register?lang=en", headers=FORM, body="")
    assert done.status_code == 409 and "Confirm your registration first" in html(done)
    page = html(client.http.get(manage_path + "?lang=en"))
    assert "Waiting for your confirmation" in re.search(r"Second webinar.*?</li>", page, re.S).group(0)


# ---------------------------------------------------- 8. the error summary


def test_the_error_summary_takes_focus_and_links_to_inputs(client, published):
    page = html(post_form(client, event_ids=[], language="fr", name=""))
    assert re.search(r'<div class="error-summary"[^>]*tabindex="-1"[^>]*autofocus', page)
    targets = re.findall(r'<li><a href="#([^"]+)">', page)
    assert "field-event_ids-1" in targets and "field-language-nl" in targets
    for target in targets:
        assert re.search(rf'<(input|textarea)[^>]*id="{target}"', page), target


def test_the_events_link_skips_a_closed_event_whose_box_cannot_take_focus(client, staff_headers):
    from chalicelib.render import i18n
    from chalicelib.render import pages

    cards = [{"event": None, "state": "closed"}, {"event": None, "state": "open"}]
    assert pages.field_anchors(cards)["event_ids"] == "field-event_ids-2"
    assert pages.field_anchors([])["event_ids"] == "field-event_ids"


# ------------------------------------------------------------ 9. Dutch


def test_the_dutch_reads_well():
    from chalicelib.render import i18n
    from chalicelib.render import pages

    assert i18n.gettext("Full: you can join the waiting list", "nl") == "Volzet: je kunt op de wachtlijst komen"
    complaint = i18n.gettext("If you think we handle your data wrongly, you can complain to the Flemish supervisory "
                             "authority, the Vlaamse Toezichtcommissie:", "nl")
    assert "Je kunt een klacht indienen" in complaint  # one voice: "je kunt", never "kan je" or "kun je"


def test_a_title_only_in_dutch_is_marked_dutch_on_an_english_page(client, staff_headers, mailer):
    publish(client, staff_headers, webinar_data(title={"nl": "Webinar Slimme Regio"}), day_data())
    front = html(client.http.get("/?lang=en"))
    assert re.search(r'<h3 class="event-title" lang="nl"><a [^>]*>Webinar Slimme Regio</a></h3>', front)
    assert re.search(r'<label lang="nl" for="field-event_ids-1">Webinar Slimme Regio</label>', front) or \
        re.search(r'<span lang="nl">Webinar Slimme Regio</span>', front)
    assert '<h2 class="event-title"><a' in front  # the Smart Region Day has an English title
    event = html(client.http.get(f"/events/{WEBINAR}?lang=en", headers=BROWSER))
    assert '<h1 lang="nl">Webinar Slimme Regio</h1>' in event
    assert '<h1 lang="nl">' not in html(client.http.get(f"/events/{WEBINAR}?lang=nl", headers=BROWSER))
    post_form(client)
    assert '<strong lang="nl">Webinar Slimme Regio</strong>' in html(client.http.get(confirm_path(mailer) + "?lang=en"))


def test_a_dutch_only_title_inside_a_sentence_is_marked_dutch_and_escaped(client, staff_headers, mailer):
    title = "Webinar <Slimme> Regio & co"
    marked = '<span lang="nl">Webinar &lt;Slimme&gt; Regio &amp; co</span> (Thursday 14 January 2027)'
    publish(client, staff_headers, webinar_data(title={"nl": title}), day_data())
    post_form(client, event_ids=[WEBINAR])
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    manage = link(mailer.to("an@example.be")[-1], "/manage/")
    cancel = f"{manage}/events/{WEBINAR}/cancel?lang=en"
    sure = html(client.http.post(cancel, headers=FORM, body=""))
    assert f"cancel your registration for {marked}." in sure
    done = client.http.post(cancel, headers=FORM, body="confirm=yes")
    assert f"Your registration for {marked} is cancelled." in html(client.http.get(done.headers["Location"]))
    register = f"{manage}/events/{WEBINAR}/register?lang=en"
    assert f"Register for {marked}." in html(client.http.get(register))
    assert marked in html(client.http.post(register, headers=FORM, body=""))
    # In Dutch, or with an English title, nothing is marked; the title is still escaped.
    dutch = html(client.http.get(f"{manage}/events/{WEBINAR}/register?lang=nl"))
    assert "Webinar &lt;Slimme&gt; Regio &amp; co" in dutch and '<span lang="nl">Webinar' not in dutch


def test_a_cancelled_event_stays_on_the_front_page_marked_cancelled_until_its_day(client, staff_headers, clock):
    """Someone who looks for the Smart Region Day after it was cancelled finds it cancelled, not gone."""
    publish(client, staff_headers, webinar_data(), day_data())
    assert client.http.post(f"/staff/events/{DAY}/cancel", headers=staff_headers, body="").status_code == 200
    front = html(client.http.get("/?lang=en"))
    cancelled = front.split('<h2 id="cancelled">', 1)[1].split("</ul>", 1)[0]
    assert f'href="/events/{DAY}?lang=en"' in cancelled and "Smart Region Day" in cancelled
    assert "This event is cancelled." in cancelled and "2027" in cancelled
    assert f'value="{DAY}"' not in front  # nothing to tick in the form
    assert WEBINAR not in cancelled
    assert "Geannuleerd" in html(client.http.get("/?lang=nl"))
    clock.set(clock() + timedelta(days=400))  # after its day it is gone
    assert 'id="cancelled"' not in html(client.http.get("/?lang=en"))


def waiting_for_the_day_to_open(client, staff_headers, mailer) -> str:
    """An has asked, and confirmed, to hear when the Day's registration opens: their manage path."""
    publish(client, staff_headers, webinar_data(), day_data(registration_opens_at="2027-03-01T09:00:00+01:00"))
    post_form(client, event_ids=[DAY])
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    return link(mailer.to("an@example.be")[-1], "/manage/")


def test_cancelling_a_request_to_hear_when_registration_opens_says_no_seat_is_given_back(client, staff_headers,
                                                                                        mailer):
    """It said "your registration ... your seat goes to the next person on the waiting list": there is no seat."""
    manage = waiting_for_the_day_to_open(client, staff_headers, mailer)
    page = html(client.http.post(f"{manage}/events/{DAY}/cancel?lang=en", headers=FORM, body=""))
    assert heading(page) == "Cancel this request?"
    assert "we will not mail you when registration opens" in lead(page)
    assert "seat" not in lead(page) and "registration for" not in lead(page)
    dutch = html(client.http.post(f"{manage}/events/{DAY}/cancel?lang=nl", headers=FORM, body=""))
    assert "wachtlijst" not in lead(dutch) and "Ja, annuleer mijn aanvraag" in dutch


def test_the_check_your_mail_page_also_speaks_to_someone_registered_already(client, published, mailer):
    """The form sent again for an event already registered mails "you are already registered", with no link to
    open; the page (the same for every address, so it tells no one who is registered) said only "open the link"."""
    response = post_form(client, "/subscriptions?lang=en")
    page = html(client.http.get(response.headers["Location"]))
    assert "Were you registered already? Then the email says so, and there is nothing to confirm." in page


def test_a_cancelled_request_to_hear_when_registration_opens_says_so_without_calendar_talk(client, staff_headers,
                                                                                          mailer):
    """It said "your registration ... is cancelled; remove it from your calendar": it was never in one."""
    manage = waiting_for_the_day_to_open(client, staff_headers, mailer)
    page = html(client.http.get(manage + "?lang=en"))
    assert "Cancel this request" in page and "Cancel this registration" not in page
    done = client.http.post(f"{manage}/events/{DAY}/cancel?lang=en", headers=FORM, body="confirm=yes")
    notice = html(client.http.get(done.headers["Location"])).split('role="status"')[1].split("</div>")[0]
    assert "Your request for" in notice and "we will not mail you when registration opens" in notice
    assert "calendar" not in notice

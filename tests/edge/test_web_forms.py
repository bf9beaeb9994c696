"""The subscription form and the token pages at the HTTP edge (chalice test client, moto, recording mailer)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.support.pages import DAY, FORM, JSON, WEBINAR, confirm_path, html, link, post_form


# ------------------------------------------------------------------ the form


def test_form_post_answers_check_your_mail(client, published, mailer):
    response = post_form(client)
    assert response.status_code == 303 and response.headers["Location"] == "/subscriptions/sent?lang=nl"
    page = client.http.get(response.headers["Location"])
    assert "Bekijk je mailbox" in html(page)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert len(mailer.to("an@example.be")) == 1


def test_form_post_keeps_every_chosen_event(client, published, mailer):
    post_form(client, event_ids=[WEBINAR, DAY])
    path = confirm_path(mailer)
    page = html(client.http.get(path + "?lang=en"))
    assert "Smart Region webinar" in page and "Smart Region Day" in page


def test_json_post_answers_json(client, published):
    body = {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True}
    response = client.http.post("/subscriptions", headers=JSON, body=json.dumps(body))
    assert response.status_code == 202
    assert json.loads(response.body) == {"status": "pending_confirmation"}


def test_json_errors_name_the_field(client, published):
    response = client.http.post("/subscriptions", headers=JSON,
                                body=json.dumps({"email": "an@example.be", "event_ids": [WEBINAR], "consent": True}))
    assert response.status_code == 400
    error = json.loads(response.body)
    assert error["Code"] == "BadRequestError"
    assert error["Message"].startswith("name: ")


def test_failed_form_is_shown_again_with_values_kept_and_errors_beside_fields(client, published, mailer):
    response = post_form(client, email="not an address", consent="", organisation="Stad Gent",
                         event_ids=[DAY], language="en", **{f"question-{WEBINAR}": "Hoe sluit onze stad aan?"})
    page = html(response)
    assert response.status_code == 400
    assert 'class="error-summary"' in page
    assert 'href="#field-email"' in page and 'href="#field-consent"' in page
    # each problem beside its field, linked for screen readers
    assert re.search(r'id="email-error">.*Vul een geldig e-mailadres in', page)
    assert re.search(r'<input type="email" id="field-email"[^>]*aria-describedby="email-hint email-error"[^>]*aria-invalid="true"', page)
    assert re.search(r'<input type="checkbox" id="field-consent"[^>]*aria-describedby="consent-error"', page)
    # what was typed is still there
    assert 'value="not an address"' in page
    assert 'value="An Peeters"' in page and 'value="Stad Gent"' in page
    assert ">Hoe sluit onze stad aan?</textarea>" in page
    assert re.search(r'value="smart-region-dag-2027" checked', page)
    assert not re.search(r'value="webinar-2027-01-14" checked', page)
    assert re.search(r'id="field-language-en" name="language" value="en" checked', page)
    assert mailer.sent == []


def test_form_errors_follow_the_page_language(client, published):
    page = html(post_form(client, "/subscriptions?lang=en", name=""))
    assert '<html lang="en">' in page
    assert "Enter your name." in page


def test_form_without_events_says_to_choose_one(client, published):
    page = html(post_form(client, event_ids=[]))
    assert "Kies minstens één evenement." in page
    assert 'aria-describedby="event_ids-hint event_ids-error"' in page


@pytest.mark.parametrize("field", ["name", "organisation", "question", "email"])
def test_markup_in_any_field_shows_as_text(client, published, field):
    evil = '<script>alert(1)</script><b onmouseover="x">'
    value = f"{evil}@example.be" if field == "email" else evil
    page = html(post_form(client, consent="", **{field: value}))
    assert "<script>alert(1)" not in page
    assert "<b onmouseover" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_markup_in_a_name_shows_as_text_on_the_confirm_page(client, published, mailer):
    post_form(client, name="<i>An</i> & co")
    page = html(client.http.get(confirm_path(mailer)))
    assert "&lt;i&gt;An&lt;/i&gt; &amp; co" in page and "<i>An</i>" not in page


def test_honeypot_gets_the_same_answer_and_nothing_is_sent(client, published, mailer):
    response = post_form(client, website="https://spam.example")
    assert response.status_code == 303 and response.headers["Location"] == "/subscriptions/sent?lang=nl"
    assert mailer.sent == []


def test_consent_accepts_true_as_well_as_on(client, published, mailer):
    assert post_form(client, consent="true").status_code == 303


def test_form_body_over_64_kib_is_refused(client, published):
    response = post_form(client, question="x" * (65 * 1024))
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")


def test_form_body_that_is_not_utf8_is_a_400_page(client, published):
    response = client.http.post("/subscriptions", headers=FORM, body=b"name=%ff&email=\xff\xfe")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")


def test_unsupported_media_type_is_refused(client, published):
    assert client.http.post("/subscriptions", headers={"Content-Type": "text/xml"}, body="<a/>").status_code == 415


# ------------------------------------------------------------ confirm pages


def test_get_on_confirm_never_changes_state(client, published, mailer, dynamodb_repo):
    post_form(client)
    path = confirm_path(mailer)
    for _ in range(3):
        page = client.http.get(path)
        assert page.status_code == 200
        assert f'<form method="post" action="{path}?lang=nl">' in html(page)
    assert [r.status for r in dynamodb_repo.list_registrations(WEBINAR)] == ["pending"]
    assert len(mailer.sent) == 1  # no confirmation mail from a GET
    assert client.http.post(path, headers=FORM, body="").status_code == 200
    assert [r.status for r in dynamodb_repo.list_registrations(WEBINAR)] == ["confirmed"]


def test_confirm_post_shows_the_result_and_the_manage_link(client, published, mailer):
    post_form(client)
    response = client.http.post(confirm_path(mailer) + "?lang=en", headers=FORM, body="")
    page = html(response)
    assert response.status_code == 200
    assert "Registration confirmed" in page and "You are registered." in page
    assert re.search(r'href="http://[^"]+/manage/[^"]+\?lang=en"', page)


def test_a_second_confirm_link_says_where_the_person_already_stands(client, published, mailer):
    post_form(client)
    first = confirm_path(mailer)
    post_form(client)
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    page = html(client.http.post(first + "?lang=en", headers=FORM, body=""))
    assert "You were already registered." in page


def test_unknown_confirm_token_is_a_404_page(client, published):
    response = client.http.get("/confirm/" + "x" * 43)
    assert response.status_code == 404
    assert "Link niet gevonden" in html(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_used_confirm_token_is_a_410_page_that_leads_to_the_manage_page_not_to_a_new_mail(client, published, mailer):
    """A used link offered "send me a new email" for something already confirmed."""
    post_form(client)
    path = confirm_path(mailer)
    client.http.post(path, headers=FORM, body="")
    again = client.http.post(path, headers=FORM, body="")
    assert again.status_code == 410
    assert "/resend" not in html(again) and "/manage/" in html(again)
    assert client.http.get(path).status_code == 410
    resent = client.http.post(f"{path}/resend", headers=FORM, body="")
    assert resent.status_code == 303 and "Bekijk je mailbox" in html(client.http.get(resent.headers["Location"]))


def test_expired_confirm_token_is_a_410_page(client, published, mailer, clock):
    post_form(client)
    path = confirm_path(mailer)
    clock.set(clock() + timedelta(hours=49))
    assert client.http.get(path).status_code == 410


# ------------------------------------------------------------- manage pages


@pytest.fixture
def manage_path(client, published, mailer):
    post_form(client, event_ids=[WEBINAR, DAY])
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    return link(mailer.to("an@example.be")[-1], "/manage/")


def test_manage_page_lists_registrations_with_cancel_buttons_and_feed_links(client, manage_path):
    page = html(client.http.get(manage_path + "?lang=en"))
    assert "Smart Region webinar" in page and "Smart Region Day" in page
    assert f'action="{manage_path}/events/{WEBINAR}/cancel?lang=en"' in page
    assert re.search(r'href="webcal://[^"]+/feeds/[^"]+\.ics"', page)
    assert re.search(r'href="https?://[^"]+/feeds/[^"]+\.ics"', page)
    assert f'action="{manage_path}/stop?lang=en"' in page
    assert f'action="{manage_path}/erase?lang=en"' in page


def test_cancel_asks_to_be_sure_then_cancels(client, manage_path, dynamodb_repo):
    first = client.http.post(f"{manage_path}/events/{DAY}/cancel", headers=FORM, body="")
    assert first.status_code == 200
    assert 'name="confirm" value="yes"' in html(first)
    assert [r.status for r in dynamodb_repo.list_registrations(DAY)] == ["confirmed"]
    done = client.http.post(f"{manage_path}/events/{DAY}/cancel", headers=FORM, body="confirm=yes")
    # Redirect after POST: a reload shows the manage page, never "resubmit the form?".
    assert done.status_code == 303
    assert done.headers["Location"] == f"{manage_path}?lang=nl&done=cancelled&event={DAY}"
    shown = html(client.http.get(done.headers["Location"]))
    assert "is geannuleerd" in shown and "Smart Region Dag" in shown
    # An imported .ics stays in a calendar app: the page says to remove it there (the personal feed drops it).
    assert "Verwijder het daar dan" in shown and "agendafeed laat het vanzelf weg" in shown
    assert [r.status for r in dynamodb_repo.list_registrations(DAY)] == ["cancelled"]


def test_erase_asks_to_be_sure_then_erases(client, manage_path):
    first = client.http.post(f"{manage_path}/erase", headers=FORM, body="")
    assert "Al je gegevens wissen?" in html(first)
    assert client.http.get(manage_path).status_code == 200
    done = client.http.post(f"{manage_path}/erase", headers=FORM, body="confirm=yes")
    assert done.status_code == 303 and "Je gegevens zijn gewist" in html(client.http.get(done.headers["Location"]))
    assert client.http.get(manage_path).status_code == 404


def test_stop_all_mail_from_the_manage_page(client, manage_path):
    done = client.http.post(f"{manage_path}/stop", headers=FORM, body="")
    assert done.status_code == 303 and done.headers["Location"] == f"{manage_path}?lang=nl&done=stopped"
    assert "Je krijgt geen e-mails meer van ons. Je inschrijvingen blijven behouden." in html(client.http.get(done.headers["Location"]))
    assert "Je krijgt geen e-mails meer van ons. Wil je ze opnieuw krijgen" in html(client.http.get(manage_path))
    # A crafted ?done= or a cancel notice for a registration that is not cancelled says nothing.
    assert "is geannuleerd" not in html(client.http.get(f"{manage_path}?done=cancelled&event={DAY}"))


def test_unknown_manage_token_is_a_404_page(client, published):
    response = client.http.get("/manage/" + "x" * 43)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_one_click_unsubscribe_answers_200(client, published, mailer):
    post_form(client)
    path = link(mailer.to("an@example.be")[-1], "/unsubscribe/")
    page = client.http.get(path)
    assert page.status_code == 200 and 'name="List-Unsubscribe" value="One-Click"' in html(page)
    response = client.http.post(path, headers=FORM, body="List-Unsubscribe=One-Click")
    assert response.status_code == 200


def test_get_on_register_link_shows_a_button(client, published, mailer, manage_path):
    page = client.http.get(f"{manage_path}/events/{WEBINAR}/register")
    assert page.status_code == 200
    assert f'action="{manage_path}/events/{WEBINAR}/register?lang=nl"' in html(page)
    done = client.http.post(f"{manage_path}/events/{WEBINAR}/register", headers=FORM, body="")
    assert done.status_code == 200 and "Je was al ingeschreven" in html(done)


def test_a_moment_of_failure_on_our_side_shows_the_form_again_as_it_was_filled_in(client, published, mailer,
                                                                                    monkeypatch):
    from chalicelib.errors import MailThrottled

    def throttled(mail):
        raise MailThrottled("Throttling: Maximum sending rate exceeded")

    real = mailer.send
    monkeypatch.setattr(mailer, "send", throttled)
    response = post_form(client, headers={"Accept-Language": "en"}, name="An Peeters", question="Is er parking?",
                         event_ids=[WEBINAR, DAY])
    page = html(response)
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "Temporarily unavailable" in page and "press the button again in a few minutes" in page
    assert 'value="An Peeters"' in page and 'value="an@example.be"' in page and "Is er parking?" in page
    for event_id in (WEBINAR, DAY):
        assert re.search(rf'<input type="checkbox"[^>]*value="{event_id}"[^>]*checked', page), event_id
    monkeypatch.setattr(mailer, "send", real)
    assert post_form(client).status_code == 303  # pressing again works


def test_the_form_posts_address_opened_again_leads_to_the_form(client, published):
    response = client.http.get("/subscriptions?lang=en")
    assert response.status_code == 303 and response.headers["Location"] == "/?lang=en#subscribe"


def test_the_language_switch_of_an_error_after_a_post_leads_to_a_page(client, published, mailer):
    bad = "x" * 43
    for path in (f"/manage/{bad}/events/{WEBINAR}/cancel", f"/manage/{bad}/stop", f"/confirm/{bad}/resend"):
        page = html(client.http.post(path + "?confirm=yes", headers=FORM, body="confirm=yes"))
        switch = re.search(r'href="([^"]+)" hreflang="en"', page)
        assert switch, path
        target = switch.group(1).split("?")[0]
        assert target in (f"/manage/{bad}", f"/confirm/{bad}"), (path, target)
        again = client.http.get(switch.group(1))
        assert again.headers["Content-Type"].startswith("text/html"), (path, target)  # a page, not Chalice's 405


def test_a_confirm_link_pressed_again_after_it_worked_leads_to_the_persons_page(client, published, mailer,
                                                                                 dynamodb_repo):
    post_form(client)
    path = confirm_path(mailer)
    assert client.http.post(path, headers=FORM, body="").status_code == 200
    for again in (client.http.post(path + "?lang=en", headers=FORM, body=""), client.http.get(path + "?lang=en")):
        page = html(again)
        assert again.status_code == 410 and "You have used this link already" in page
        manage = re.search(r'href="([^"]*/manage/[^"]+)"', page).group(1)
        assert manage.endswith("?lang=en")
        # What it confirmed is confirmed: no "send me a new email" for it (the manage page offers one for
        # anything still unconfirmed).
        assert f"{path}/resend" not in page and "Send me a new email" not in page
        assert client.http.get(manage[manage.index("/manage/"):]).status_code == 200
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import privacy
    from chalicelib import tokens

    privacy.erase(dynamodb_repo, dynamodb_repo.get_person(tokens.person_id_for("an@example.be", link_keys.signing_key())))
    assert "You have used this link already" not in html(client.http.post(path, headers=FORM, body=""))


@pytest.mark.parametrize("body", [b"name=An&" + b"&".join(b"event_ids=x" for _ in range(101)), b"name=\xff\xfe"])
def test_a_form_body_that_cannot_be_read_shows_the_form_again_with_why(client, published, body):
    response = client.http.post("/subscriptions?lang=en", headers=FORM, body=body)
    page = html(response)
    assert response.status_code == 400 and '<form method="post" action="/subscriptions?lang=en"' in page
    assert "The form could not be read. Please fill it in again." in page


def test_the_qa_question_is_asked_per_webinar_and_never_copied_to_another_event(client, staff_headers, mailer,
                                                                               dynamodb_repo):
    """One question was copied to every event ticked, the day in person included."""
    from tests.conftest import day_data, webinar_data
    from tests.support.pages import publish

    second = "webinar-2027-02-25"
    publish(client, staff_headers, webinar_data(), day_data(),
            webinar_data(id=second, starts_at="2027-02-25T14:00:00+01:00", ends_at="2027-02-25T15:00:00+01:00"))
    page = html(client.http.get("/"))
    assert f'name="question-{WEBINAR}"' in page and f'name="question-{second}"' in page
    assert f'name="question-{DAY}"' not in page and 'name="question"' not in page
    post_form(client, event_ids=[WEBINAR, second, DAY],
              **{f"question-{WEBINAR}": "Hoe sluit onze stad aan?", f"question-{second}": "Komen de slides online?"})
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    exported = {}
    for event_id in (WEBINAR, second, DAY):
        rows = client.http.get(f"/staff/events/{event_id}/registrations", headers=staff_headers).json_body
        exported[event_id] = [r["question"] for r in (rows["registrations"] if isinstance(rows, dict) else rows)]
    assert exported == {WEBINAR: ["Hoe sluit onze stad aan?"], second: ["Komen de slides online?"], DAY: [""]}

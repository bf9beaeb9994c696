"""Journeys a reviewer walked as the service's users, each with the test that shows it is fixed.

1. Two events with the same title are told apart in sentences: the cancel and
   register pages, their results and the manage page's button labels name the
   event with its day (in the event's zone), the title still escaped and
   marked Dutch where it is the fallback.
2. A registration waiting for a confirmation whose link expired, or was never
   sent (the form's limit held it back), is no dead end on the manage page:
   it says so, and offers a new confirmation mail (post, redirect, get; the
   form's limits) and a cancel.
3. A resend button whose mail the confirmation-mail limits hold back says so
   (429, Retry-After), in Dutch and English; the form keeps answering every
   address alike.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data
from tests.support.pages import FORM, WEBINAR, DAY, html, publish, post_form, link, confirm_path, heading

SECOND = "webinar-2027-02-11"


def second_webinar(**overrides) -> dict:
    """A webinar with the very same title as the first, four weeks later."""
    return webinar_data(id=SECOND, starts_at="2027-02-11T10:00:00+01:00", ends_at="2027-02-11T11:00:00+01:00",
                        **overrides)


def manage_of(mailer, email="an@example.be") -> str:
    return link(mailer.to(email)[-1], "/manage/")


def item(page: str, event_id: str) -> str:
    """The manage page's list item of one event (found by its cancel or register form, or its title's line)."""
    for match in re.finditer(r'<li class="event">(.*?)</li>', page, re.S):
        if f"/events/{event_id}/" in match.group(1):
            return match.group(1)
    raise AssertionError(f"no item with a button for {event_id}")


def items(page: str) -> list[str]:
    return re.findall(r'<li class="event">(.*?)</li>', page, re.S)


# ------------------------------------------------ 1. same title, told apart


@pytest.fixture
def twins(client, staff_headers, mailer):
    """An confirmed for two webinars of the same title; her manage path."""
    publish(client, staff_headers, webinar_data(), second_webinar())
    post_form(client, event_ids=[WEBINAR, SECOND])
    assert client.http.post(confirm_path(mailer), headers=FORM, body="").status_code == 200
    return manage_of(mailer)


def test_the_manage_pages_buttons_name_each_event_with_its_day(client, twins):
    page = html(client.http.get(twins + "?lang=en"))
    labels = re.findall(r'<span class="visually-hidden">: (.*?)</span></button>', page)
    assert "Smart Region webinar (Thursday 14 January 2027)" in labels
    assert "Smart Region webinar (Thursday 11 February 2027)" in labels
    dutch = html(client.http.get(twins + "?lang=nl"))
    assert "Webinar Smart Region (donderdag 14 januari 2027)</span></button>" in dutch
    assert "Webinar Smart Region (donderdag 11 februari 2027)</span></button>" in dutch


def test_cancelling_names_the_event_with_its_day(client, twins):
    cancel = f"{twins}/events/{SECOND}/cancel?lang=en"
    sure = html(client.http.post(cancel, headers=FORM, body=""))
    assert "cancel your registration for Smart Region webinar (Thursday 11 February 2027)." in sure
    done = client.http.post(cancel, headers=FORM, body="confirm=yes")
    assert "Your registration for Smart Region webinar (Thursday 11 February 2027) is cancelled." in \
        html(client.http.get(done.headers["Location"]))
    dutch = html(client.http.post(f"{twins}/events/{WEBINAR}/cancel?lang=nl", headers=FORM, body=""))
    assert "je inschrijving voor Webinar Smart Region (donderdag 14 januari 2027) te annuleren" in dutch


def test_the_one_click_register_page_and_its_result_name_the_event_with_its_day(client, twins):
    register = f"{twins}/events/{SECOND}/register?lang=en"
    assert "Register for Smart Region webinar (Thursday 11 February 2027)." in html(client.http.get(register))
    result = client.http.post(register, headers=FORM, body="")
    assert result.status_code == 200
    assert "Smart Region webinar (Thursday 11 February 2027)" in html(result)


def test_the_day_is_the_one_in_the_events_zone(client, staff_headers, mailer):
    # 00:30 in Brussels on 15 January is still 14 January in UTC (and on a server in UTC).
    publish(client, staff_headers, webinar_data(starts_at="2027-01-15T00:30:00+01:00",
                                                ends_at="2027-01-15T01:30:00+01:00"))
    post_form(client)
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    sure = html(client.http.post(f"{manage_of(mailer)}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body=""))
    assert "Smart Region webinar (Friday 15 January 2027)" in sure


def test_a_dutch_only_title_keeps_its_mark_and_escaping_and_the_day_is_in_the_pages_language(
        client, staff_headers, mailer):
    publish(client, staff_headers, webinar_data(title={"nl": "Webinar <Slimme> Regio & co"}))
    post_form(client)
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    manage = manage_of(mailer)
    marked = '<span lang="nl">Webinar &lt;Slimme&gt; Regio &amp; co</span> (Thursday 14 January 2027)'
    sure = html(client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body=""))
    assert f"cancel your registration for {marked}." in sure
    assert f'<span class="visually-hidden">: {marked}</span>' in html(client.http.get(manage + "?lang=en"))
    dutch = html(client.http.get(f"{manage}/events/{WEBINAR}/register?lang=nl"))
    assert "Webinar &lt;Slimme&gt; Regio &amp; co (donderdag 14 januari 2027)" in dutch
    assert '<span lang="nl">Webinar' not in dutch


def test_with_title_names_the_event_with_its_day():
    from chalicelib.render import pages
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from tests.fakes import InMemoryRepository

    event = events.create_event(InMemoryRepository(), webinar_data(title={"nl": "A & B"}), actor="test",
                                base_url=SETTINGS.base_url)
    assert str(pages.with_title("Register for %(title)s.", event, "en")) == \
        'Register for <span lang="nl">A &amp; B</span> (Thursday 14 January 2027).'
    assert str(pages.with_title("Schrijf je in voor %(title)s.", event, "nl")) == \
        "Schrijf je in voor A &amp; B (donderdag 14 januari 2027)."


# ---------------------------------- 2. a pending registration whose link is gone


def test_a_registration_whose_link_expired_says_so_and_offers_a_new_mail(client, published, mailer, clock):
    post_form(client)
    manage = manage_of(mailer)
    clock.set(PINNED_NOW + timedelta(hours=49))  # the link works 48 hours
    page = html(client.http.get(manage + "?lang=en"))
    row = item(page, WEBINAR)
    assert "Waiting for your confirmation" not in row
    assert "Not confirmed: the link to confirm it has expired or was not sent." in row
    assert f'action="{manage}/events/{WEBINAR}/cancel?lang=en"' in row  # a way to drop it
    assert f'<form method="post" action="{manage}/resend?lang=en">' in page
    assert "Send me a new confirmation email" in page and "an@example.be" in page
    dutch = html(client.http.get(manage + "?lang=nl"))
    assert "Niet bevestigd" in dutch and "Stuur me een nieuwe bevestigingsmail" in dutch


def test_the_new_confirmation_mail_is_post_redirect_get_and_its_link_confirms(client, published, mailer, clock,
                                                                              staff_headers):
    post_form(client, question="Is er parking?")
    manage = manage_of(mailer)
    clock.set(PINNED_NOW + timedelta(hours=49))
    sent = len(mailer.sent)
    response = client.http.post(f"{manage}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 303 and response.headers["Location"] == "/subscriptions/sent?lang=en"
    assert heading(html(client.http.get(response.headers["Location"]))) == "Check your mail"
    assert len(mailer.sent) == sent + 1
    mail = mailer.sent[-1][0]
    assert mail.to_email == "an@example.be" and mail.kind == "confirm_request"
    # The page now says the new link waits; pressed again (a reload of the post), nothing more is sent.
    [row] = items(html(client.http.get(manage + "?lang=en")))
    assert "Waiting for your confirmation" in row and "Not confirmed" not in row
    again = client.http.post(f"{manage}/resend?lang=en", headers=FORM, body="")
    assert again.status_code == 303 and again.headers["Location"] == f"{manage}?lang=en"
    assert len(mailer.sent) == sent + 1
    confirmed = client.http.post(link(mail, "/confirm/") + "?lang=en", headers=FORM, body="")
    assert confirmed.status_code == 200 and heading(html(confirmed)) == "Registration confirmed"
    # What was typed for the registration is what the new link applied.
    rows = json.loads(client.http.get(f"/staff/events/{WEBINAR}/registrations",
                                      headers=staff_headers).body)["registrations"]
    assert [(r["email"], r["status"], r["question"]) for r in rows] == [("an@example.be", "confirmed", "Is er parking?")]


def test_a_registration_the_limit_left_without_a_link_is_not_said_to_wait_for_one(client, published, mailer, clock):
    # Three confirmation mails in the hour (the limit), then a fourth submission for another event: kept as
    # pending, but no link was mailed for it. Not "check your mailbox".
    for _ in range(3):
        post_form(client)
    manage = manage_of(mailer)
    sent = len(mailer.sent)
    post_form(client, event_ids=[DAY])
    assert len(mailer.sent) == sent
    page = html(client.http.get(manage + "?lang=en"))
    webinar_row = next(row for row in items(page) if "Smart Region webinar" in row)
    assert "Waiting for your confirmation" in webinar_row  # its link works
    day_row = next(row for row in items(page) if "Smart Region Day" in row)
    assert "Waiting for your confirmation" not in day_row and "Not confirmed" in day_row
    # The form's mails (anyone can send them) do not hold the button back: it has its own count (issue 21, 5).
    done = client.http.post(f"{manage}/resend?lang=en", headers=FORM, body="")
    assert done.status_code == 303 and done.headers["Location"] == "/subscriptions/sent?lang=en"
    assert len(mailer.sent) == sent + 1
    assert "/confirm/" in mailer.sent[-1][0].text


def test_the_new_mail_carries_one_link_per_submission_each_with_what_was_typed(client, published, mailer, clock):
    post_form(client, event_ids=[WEBINAR])
    post_form(client, event_ids=[DAY], name="Someone Else")
    manage = manage_of(mailer)
    clock.set(PINNED_NOW + timedelta(hours=49))
    sent = len(mailer.sent)
    assert client.http.post(f"{manage}/resend", headers=FORM, body="").status_code == 303
    new = [mail for mail, _raw in mailer.sent[sent:]]
    assert len(new) == 2
    names = set()
    for mail in new:
        confirm_page = html(client.http.get(link(mail, "/confirm/") + "?lang=en"))
        names.add(re.search(r"confirm the registration of (.*?) for:", confirm_page).group(1))
    assert names == {"An Peeters", "Someone Else"}  # shown before anything is applied


def test_an_unconfirmed_registration_can_be_cancelled(client, published, mailer, clock):
    post_form(client)
    manage = manage_of(mailer)
    clock.set(PINNED_NOW + timedelta(hours=49))
    cancel = f"{manage}/events/{WEBINAR}/cancel?lang=en"
    sure = client.http.post(cancel, headers=FORM, body="")
    assert sure.status_code == 200
    assert "your registration for Smart Region webinar (Thursday 14 January 2027), which is not confirmed" in html(sure)
    done = client.http.post(cancel, headers=FORM, body="confirm=yes")
    assert done.status_code == 303
    page = html(client.http.get(done.headers["Location"]))
    assert "Your registration for Smart Region webinar (Thursday 14 January 2027) is cancelled." in page
    assert "Not confirmed" not in page and "/resend" not in page


def test_a_registration_waiting_for_a_working_link_keeps_no_cancel_or_resend(client, published, mailer):
    post_form(client)
    manage = manage_of(mailer)
    page = html(client.http.get(manage + "?lang=en"))
    assert "Waiting for your confirmation" in page and "/resend" not in page and "/cancel" not in page
    assert client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body="").status_code == 404
    response = client.http.post(f"{manage}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 303 and response.headers["Location"] == f"{manage}?lang=en"
    assert len(mailer.sent) == 1


def test_the_resend_buttons_address_opened_as_a_get_leads_to_the_manage_page(client, published, mailer):
    post_form(client)
    manage = manage_of(mailer)
    response = client.http.get(f"{manage}/resend?lang=en")
    assert response.status_code == 303 and response.headers["Location"] == f"{manage}?lang=en"
    assert len(mailer.sent) == 1


def test_no_new_mail_is_offered_or_sent_where_mail_bounced(client, published, mailer, clock, dynamodb_repo):
    from chalicelib.render import pages
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import subscribe

    post_form(client)
    manage = manage_of(mailer)
    manage_module.stop_all_mail(dynamodb_repo, privacy.find_person(dynamodb_repo, "an@example.be", key=KEY), "bounce")
    clock.set(PINNED_NOW + timedelta(hours=49))
    page = html(client.http.get(manage + "?lang=en"))
    assert "Not confirmed" in page and "/resend" not in page
    response = client.http.post(f"{manage}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 303 and response.headers["Location"] == f"{manage}?lang=en"
    assert len(mailer.sent) == 1


def test_the_manage_page_reads_no_link_unless_a_registration_is_young_and_pending(client, published, mailer,
                                                                                  dynamodb_repo, monkeypatch):
    post_form(client)
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    manage = manage_of(mailer)
    reads = []
    original = dynamodb_repo.get_confirm_token
    monkeypatch.setattr(dynamodb_repo, "get_confirm_token", lambda h: reads.append(h) or original(h))
    assert client.http.get(manage).status_code == 200
    assert reads == []


# ----------------------------------------------- 3. the limit, told the truth


def used_link(client, mailer) -> str:
    """An subscribes and confirms (one confirmation mail); the confirm path, now used."""
    post_form(client)
    path = confirm_path(mailer)
    assert client.http.post(path, headers=FORM, body="").status_code == 200
    return path


def test_a_resend_held_back_by_the_hourly_limit_says_so(client, published, mailer):
    path = used_link(client, mailer)
    for _ in range(3):  # three resends through the link this hour: its limit
        assert client.http.post(f"{path}/resend?lang=en", headers=FORM, body="").status_code == 303
    sent = len(mailer.sent)
    response = client.http.post(f"{path}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert response.headers["Content-Type"].startswith("text/html")
    page = html(response)
    assert "We have sent you several emails in the last hour; to protect your mailbox we send no more for now. " \
           "Try again in an hour." in page
    assert "We have sent you an email" not in page
    assert len(mailer.sent) == sent
    dutch = client.http.post(f"{path}/resend?lang=nl", headers=FORM, body="")
    assert dutch.status_code == 429 and "Probeer het over een uur opnieuw." in html(dutch)
    assert f'href="{path}?lang=en"' in html(dutch)  # the language switch leads to the link's page, not the post


def test_a_resend_held_back_by_the_daily_limit_says_a_day(client, published, mailer, clock):
    path = used_link(client, mailer)
    for hour in range(0, 6):  # six resends through the link in the (UTC) day, never three in an hour
        clock.set(PINNED_NOW + timedelta(hours=hour))
        assert client.http.post(f"{path}/resend?lang=en", headers=FORM, body="").status_code == 303
    clock.set(PINNED_NOW + timedelta(hours=6, minutes=30))
    sent = len(mailer.sent)
    response = client.http.post(f"{path}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 429 and len(mailer.sent) == sent
    # The day's count is the UTC day's: it holds until midnight (PINNED_NOW is noon).
    assert int(response.headers["Retry-After"]) == int(timedelta(hours=5, minutes=30).total_seconds())
    assert "Try again in a day." in html(response)
    dutch = client.http.post(f"{path}/resend?lang=nl", headers=FORM, body="")
    assert "Probeer het over een dag opnieuw." in html(dutch)
    clock.set(PINNED_NOW + timedelta(hours=12, minutes=1))
    again = client.http.post(f"{path}/resend?lang=en", headers=FORM, body="")
    assert again.status_code == 303 and len(mailer.sent) == sent + 1


def test_the_form_still_answers_every_address_alike_at_the_limit(client, published, mailer):
    for _ in range(3):
        post_form(client)
    sent = len(mailer.sent)
    held = post_form(client, "/subscriptions?lang=en")
    fresh = post_form(client, "/subscriptions?lang=en", email="bo@example.be")
    assert len(mailer.sent) == sent + 1  # Bo's, not An's
    assert (held.status_code, held.headers["Location"]) == (fresh.status_code, fresh.headers["Location"]) == \
        (303, "/subscriptions/sent?lang=en")
    body = {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True}
    answer = client.http.post("/subscriptions", headers={"Content-Type": "application/json"}, body=json.dumps(body))
    assert answer.status_code == 202


def test_subscribe_still_returns_nothing_and_the_limit_names_its_period(dynamodb_repo, mailer, clock):
    from chalicelib.render import pages
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import subscribe

    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    data = {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True}
    for _ in range(3):
        assert subscribe.subscribe(dynamodb_repo, mailer, data, base_url="https://x.example",
                                   key=KEY, settings=SETTINGS) is None
    held = subscribe._submit(dynamodb_repo, mailer, data, base_url="https://x.example", key=KEY, settings=SETTINGS)
    assert not held.mailed and held.limit.period == "hour" and held.limit.retry_after == 3600
    assert len(mailer.sent) == 3


def test_a_resend_that_mailed_one_link_before_the_limit_says_sent_not_429(client, staff_headers, mailer, clock):
    """Two submissions waiting (two questions) and one mail a day left: the one mailed is not hidden by a 429."""
    publish(client, staff_headers, webinar_data(), second_webinar(), day_data())
    post_form(client, event_ids=[DAY])
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    manage = manage_of(mailer)
    assert client.http.post(manage + "/stop", headers=FORM, body="").status_code == 303  # then one mail a day
    clock.set(PINNED_NOW + timedelta(days=2))
    post_form(client, event_ids=[WEBINAR], question="vraag een")
    post_form(client, event_ids=[SECOND], question="vraag twee")  # held back: the day's one mail went
    clock.set(PINNED_NOW + timedelta(days=4, hours=1))  # the first link expired
    before = len(mailer.to("an@example.be"))
    answer = client.http.post(manage + "/resend?lang=en", headers=FORM, body="")
    assert len(mailer.to("an@example.be")) == before + 1
    assert answer.status_code == 303 and "/subscriptions/sent" in answer.headers["Location"]


def test_a_resend_from_the_manage_page_keeps_the_mail_language_chosen_there(client, staff_headers, mailer, clock,
                                                                            dynamodb_repo):
    from chalicelib.render import pages
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import privacy
    from chalicelib.services import subscribe

    publish(client, staff_headers, webinar_data(), second_webinar())
    post_form(client, event_ids=[WEBINAR], language="nl")
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    manage = manage_of(mailer)
    post_form(client, event_ids=[SECOND], language="nl")  # never confirmed
    assert client.http.post(manage + "/language?lang=nl", headers=FORM, body="language=en").status_code == 303
    clock.set(PINNED_NOW + timedelta(days=3))
    assert client.http.post(manage + "/resend?lang=en", headers=FORM, body="").status_code == 303
    assert mailer.to("an@example.be")[-1].subject.startswith("Confirm")
    client.http.post(confirm_path(mailer), headers=FORM, body="")
    assert privacy.find_person(dynamodb_repo, "an@example.be", key=KEY).language == "en"


def test_someone_waiting_sees_their_place_in_line_and_it_moves_up(client, staff_headers, mailer, clock):
    publish(client, staff_headers, day_data(capacity=1))
    managers = {}
    for i, who in enumerate(("an", "bo", "cy")):
        clock.set(PINNED_NOW + timedelta(minutes=i))  # the order they confirm in
        post_form(client, email=f"{who}@example.be", event_ids=[DAY], language="en")
        client.http.post(confirm_path(mailer, f"{who}@example.be"), headers=FORM, body="")
        managers[who] = manage_of(mailer, f"{who}@example.be")

    def place(who):
        page = html(client.http.get(managers[who] + "?lang=en"))
        if "You are first in line: the next free seat is yours." in page:
            return 1
        found = re.search(r"You are number (\d+) in line: (\d+) (?:person gets|people get) a free seat before you",
                          page)
        if found:
            assert int(found.group(2)) == int(found.group(1)) - 1
        return int(found.group(1)) if found else None

    assert (place("an"), place("bo"), place("cy")) == (None, 1, 2)  # An has the seat
    dutch = html(client.http.get(managers["cy"] + "?lang=nl"))
    assert "Je staat op plaats 2 in de rij: 1 persoon krijgt een vrije plaats vóór jou." in dutch
    # The page is not "Ingeschreven als" for someone who is only waiting.
    assert "Ingeschreven als" not in dutch and "Je naam en e-mailadres: " in dutch
    cancel = f"{managers['an']}/events/{DAY}/cancel?lang=en"
    assert client.http.post(cancel, headers=FORM, body="confirm=yes").status_code == 303
    assert (place("bo"), place("cy")) == (None, 1)  # Bo got the seat; Cy is next

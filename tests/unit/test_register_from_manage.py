"""A confirmed person registers for another open event from their manage page, with one click.

A new user walked it: "Register for another event" led to the public form, to type everything again and
wait for another confirmation mail (which counted towards the mail limit). The manage link proves the
address, so the page now offers the open events with a button each.
"""

from __future__ import annotations

import re

import pytest

from chalicelib import tokens
from chalicelib.errors import NotFound
from chalicelib.render.mails import person_links
from chalicelib.services import events, manage, privacy, seats
from tests.conftest import KEY, SETTINGS, day_data, webinar_data
from tests.support.sending import BASE, DAY, WEBINAR, register


@pytest.fixture
def published(repo):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, webinar_data(id="concept", status="draft"), actor="test", base_url=SETTINGS.base_url)
    return repo


def manage_token(mailer, address="an@example.be"):
    return re.search(r"/manage/([\w.-]+)", mailer.to(address)[-1].text).group(1)


def click(repo, mailer, token, event_id):
    return manage.register_from_link(repo, mailer, token, event_id, base_url=BASE, key=KEY, settings=SETTINGS)


def test_a_confirmed_person_registers_for_another_open_event_with_one_click_and_no_new_confirmation(published,
                                                                                                  mailer):
    repo = published
    register(repo, mailer, "an@example.be", [WEBINAR])
    token = manage_token(mailer)
    assert [e.id for e in manage.manage_view(repo, token, base_url=BASE, key=KEY).offered] == [DAY]  # no draft
    outcome = click(repo, mailer, token, DAY)
    assert outcome.status == "confirmed"
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    assert DAY in person.event_ids  # listed on the profile: access and erasure find it
    assert repo.get_registrations(person.id, [DAY])[DAY].status == "confirmed"
    assert repo.get_event(DAY).seats_taken == 1
    assert [m.kind for m in mailer.to("an@example.be")] == ["confirm_request", "confirmed", "confirmed"]
    assert person.expires_at >= repo.get_registrations(person.id, [DAY])[DAY].expires_at  # kept as long
    assert [m["kind"] for m in privacy.export_person(repo, person)["mails"]
            if m["event_ids"] == [DAY] and m["state"] == "sent"] == ["confirmed"]
    assert manage.manage_view(repo, token, base_url=BASE, key=KEY).offered == ()


def test_a_full_event_offered_puts_them_on_its_waiting_list(published, mailer):
    repo = published
    register(repo, mailer, "bo@example.be", [DAY])  # the one seat
    register(repo, mailer, "an@example.be", [WEBINAR])
    assert click(repo, mailer, manage_token(mailer), DAY).status == "waitlisted"


def test_a_double_click_registers_once_and_the_second_says_already(published, mailer, monkeypatch):
    repo = published
    register(repo, mailer, "an@example.be", [WEBINAR])
    token = manage_token(mailer)
    mailer.sent.clear()
    real, clicks = seats.place, []

    def second_click_first(*args, **kwargs):
        if not clicks:  # both requests made or found the registration; the other one places it first
            clicks.append(None)
            clicks[0] = click(repo, mailer, token, DAY)
        return real(*args, **kwargs)

    monkeypatch.setattr(seats, "place", second_click_first)
    outcome = click(repo, mailer, token, DAY)
    assert sorted([clicks[0].status, outcome.status]) == ["already", "confirmed"]
    assert repo.get_event(DAY).seats_taken == 1
    assert [m.kind for m, _ in mailer.sent] == ["confirmed"]


def test_a_person_who_never_confirmed_is_offered_nothing_and_cannot_register_by_link(published, mailer):
    """Their profile's name is whatever someone typed into the form: the form and its confirmation are the way."""
    repo = published
    from chalicelib.services import subscribe

    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "Mallory", "event_ids": [WEBINAR],
                                       "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)
    person = repo.get_person(tokens.person_id_for("an@example.be", KEY))
    token = person_links(person, BASE, KEY).manage.rsplit("/", 1)[1]
    assert manage.manage_view(repo, token, base_url=BASE, key=KEY).offered == ()
    with pytest.raises(NotFound):
        click(repo, mailer, token, DAY)
    assert repo.get_registrations(person.id, [DAY]) == {}


def test_no_registration_is_made_for_a_draft_or_an_unknown_event(published, mailer):
    repo = published
    register(repo, mailer, "an@example.be", [WEBINAR])
    token = manage_token(mailer)
    for event_id in ("concept", "nope"):
        with pytest.raises(NotFound):
            click(repo, mailer, token, event_id)
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    assert person.event_ids == {WEBINAR}


def test_an_event_opening_later_is_offered_and_one_click_asks_for_the_mail_when_it_opens(repo, mailer):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(registration_opens_at="2027-03-01T09:00:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    token = manage_token(mailer)
    assert [e.id for e in manage.manage_view(repo, token, base_url=BASE, key=KEY).offered] == [DAY]
    assert click(repo, mailer, token, DAY).status == "interested"
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    assert repo.get_registrations(person.id, [DAY])[DAY].status == "interested"
    assert [s.kind for s in repo.list_sends(DAY, person.id)] == ["open"]  # the mail when it opens, planned


def test_a_cancelled_request_to_hear_when_registration_opens_is_asked_again_with_one_click(repo, mailer):
    """It answered "we mail you when it opens" and left the request cancelled."""
    events.create_event(repo, day_data(registration_opens_at="2027-03-01T09:00:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [DAY])
    token = manage_token(mailer)
    manage.cancel_registration(repo, token, DAY, key=KEY)
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    assert repo.get_registrations(person.id, [DAY])[DAY].status == "cancelled"
    assert [e.id for e in manage.manage_view(repo, token, base_url=BASE, key=KEY).offered] == [DAY]
    assert click(repo, mailer, token, DAY).status == "interested"
    assert repo.get_registrations(person.id, [DAY])[DAY].status == "interested"
    assert [s.kind for s in repo.list_sends(DAY, person.id)] == ["open"]


def test_an_erasure_while_a_one_click_register_is_placed_gives_the_seat_back(repo, mailer, monkeypatch):
    """The erasure skipped the new registration (written cancelled, then placed), then deleted it seated: the
    event counted a seat no registration held, for good."""
    from chalicelib import times

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    token = manage_token(mailer)
    manage._new_registration(repo, token, DAY, KEY, times.now())  # the click's first write
    real, placed = repo.erase_person, []

    def placed_meanwhile(person):
        if not placed:  # the click places it after the erasure cancelled what it read
            placed.append(click(repo, mailer, token, DAY))
        return real(person)

    monkeypatch.setattr(repo, "erase_person", placed_meanwhile)
    privacy.erase(repo, privacy.find_person(repo, "an@example.be", key=KEY), mailer=mailer, base_url=BASE,
                  key=KEY)
    assert placed[0].status == "confirmed"
    assert repo.get_event(DAY).seats_taken == 0 and repo.list_registrations(DAY) == []
    assert repo.get_person(tokens.person_id_for("an@example.be", KEY)) is None


def test_a_double_click_on_mail_me_when_registration_opens_asks_once_and_says_so_twice(repo, mailer, monkeypatch):
    """The second click answered 409 "that is not possible"."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(registration_opens_at="2027-03-01T09:00:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    token = manage_token(mailer)
    real, clicks = seats.place, []

    def second_click_first(*args, **kwargs):
        if not clicks:
            clicks.append(None)
            clicks[0] = click(repo, mailer, token, DAY)
        return real(*args, **kwargs)

    monkeypatch.setattr(seats, "place", second_click_first)
    outcome = click(repo, mailer, token, DAY)
    assert sorted([(clicks[0].status, clicks[0].kept), (outcome.status, outcome.kept)]) == [
        ("already", "interested"), ("interested", "")]


def test_a_stale_button_for_an_event_started_since_answers_closed_and_mails_nothing(repo, mailer):
    from datetime import timedelta

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR, DAY])
    token = manage_token(mailer)
    manage.cancel_registration(repo, token, DAY, key=KEY)
    before = privacy.find_person(repo, "an@example.be", key=KEY)
    mailer.sent.clear()
    later = repo.get_event(DAY).starts_at + timedelta(hours=1)
    outcome = manage.register_from_link(repo, mailer, token, DAY, base_url=BASE, key=KEY, settings=SETTINGS,
                                        now=later)
    assert outcome.status == "closed" and mailer.sent == []
    assert privacy.find_person(repo, "an@example.be", key=KEY).updated_at == before.updated_at

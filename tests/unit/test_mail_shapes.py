"""The tick renders each kind of mail once and fills in each person: exactly what a full render gives."""

from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.render import mails
from chalicelib.services import tick as tick_module
from tests.conftest import KEY, day_data, webinar_data
from tests.support.mails import BASE, a_tick, event_for, person, send_for

KINDS = ["reminder", "change", "cancel", "open", "seat", "message"]

names = st.text(max_size=40) | st.sampled_from(["", "An & Bo <b>", '"Quoted" O\'Neil', "{{ name }}", "%(name)s",
                                                 "Zoë Müller-Ünal", "李小龍", "a\r\nBcc: x@example.org"])


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(KINDS), language=st.sampled_from(["nl", "en"]), in_person=st.booleans(),
       people=st.lists(names, min_size=2, max_size=5))
def test_every_filled_in_mail_is_exactly_the_full_render(kind, language, in_person, people):
    event = event_for(kind, day_data if in_person else webinar_data)
    tick = a_tick()
    for i, name in enumerate(people):
        someone = person(i, name, language)
        send = send_for(kind, event, someone.id)
        mail = tick.build(send, event, someone)
        assert mail == tick.render(send, event, language, someone.email, someone.name,
                                   mails.person_links(someone.id, BASE, KEY))


@pytest.mark.parametrize("kind", KINDS)
def test_templates_are_rendered_twice_per_kind_of_mail_not_once_per_person(kind, monkeypatch):
    event = event_for(kind, webinar_data)
    renders = []
    real = mails.build_mail
    monkeypatch.setattr(mails, "build_mail", lambda *a, **k: renders.append(a[0]) or real(*a, **k))
    tick = a_tick()
    for i in range(20):
        tick.build(send_for(kind, event, f"{i:064x}"), event, person(i, f"Person {i}", "nl"))
    for i in range(20, 30):
        tick.build(send_for(kind, event, f"{i:064x}"), event, person(i, f"Person {i}", "en"))
    assert len(renders) == 4  # per language: the first mail in full, and its shape


def test_a_template_that_changes_the_name_gets_every_mail_rendered_in_full(monkeypatch):
    """Filling in would be wrong if a template transformed the name: the first mail shows it, and the shape is dropped."""
    event = event_for("reminder", webinar_data)
    real = tick_module._Tick.render

    def shouting(self, send, event, lang, email, name, links, attachments=None):
        mail = real(self, send, event, lang, email, name, links, attachments)
        return mail.__class__(**{**mail.__dict__, "text": mail.text.replace(name, name.upper()) if name else mail.text})

    monkeypatch.setattr(tick_module._Tick, "render", shouting)
    tick = a_tick()
    sent = [tick.build(send_for("reminder", event, f"{i:064x}"), event, person(i, f"Person {i}", "nl")) for i in range(3)]
    assert [("PERSON %d" % i) in m.text for i, m in enumerate(sent)] == [True, True, True]


@pytest.mark.parametrize("kind", ["reminder", "change"])
@pytest.mark.parametrize("language, waiting, otherwise", [
    ("en", "someone on the waiting list can have your seat", "you will get no more mail about it"),
    ("nl", "iemand op de wachtlijst je plaats kan krijgen", "dan krijg je er geen mail meer over"),
])
@pytest.mark.parametrize("capacity", [None, 400])
def test_only_an_event_with_seats_speaks_of_a_waiting_list(kind, language, waiting, otherwise, capacity):
    """A webinar without a seat limit has no waiting list: its reminder and change notice don't mention one."""
    event = event_for(kind, lambda: webinar_data(capacity=capacity))
    someone = person(1, "An", language)
    mail = a_tick().build(send_for(kind, event, someone.id), event, someone)
    for body in (mail.text, mail.html):
        flat = " ".join(body.split())
        assert (waiting in flat) == (capacity is not None)
        assert (otherwise in flat) == (capacity is None)


@pytest.mark.parametrize("kind", ["change", "cancel"])
@pytest.mark.parametrize("language", ["nl", "en"])
def test_seats_and_people_waiting_each_get_their_own_shape_and_calendar_links(kind, language):
    """One tick mails a seat and someone waiting about the same event: the seat's calendar links (with the join
    link) and its shape stay the seat's, and every mail is still exactly its full render."""
    from dataclasses import replace as changed

    event = event_for(kind, webinar_data)
    tick = a_tick()
    for i in range(6):
        someone = person(i, f"Person {i}", language)
        send = send_for(kind, event, someone.id)
        if i % 2:
            send = changed(send, details={**send.details, "seat": False})
        mail = tick.build(send, event, someone)
        assert mail == tick.render(send, event, language, someone.email, someone.name,
                                   mails.person_links(someone.id, BASE, KEY))
        joins = "meet.example.org" in mail.text + mail.html
        assert joins == (kind == "change" and not i % 2), (i, kind)


@pytest.mark.parametrize("language, words", [("en", "Subscribe from web"), ("nl", "Abonneren vanaf het web")])
def test_the_seat_given_mail_offers_the_personal_feed_as_the_confirmation_does(language, words):
    event = event_for("seat", webinar_data)
    someone = person(1, "An", language)
    links = mails.person_links(someone.id, BASE, KEY)
    mail = a_tick().build(send_for("seat", event, someone.id), event, someone)
    assert f'href="{links.webcal}"' in mail.html and links.feed in mail.html
    assert links.webcal in mail.text and links.feed in mail.text and words in mail.text

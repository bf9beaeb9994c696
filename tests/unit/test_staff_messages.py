"""Staff write to the people of an event: planned once per person in the audience, sent by the tick."""

from __future__ import annotations

import email
from datetime import timedelta

import pytest

from chalicelib.errors import InvalidInput, NotFound
from chalicelib.services import bounces, events, messages, privacy
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data
from tests.support.sending import DAY, kinds, register, ses_notice, tick

MESSAGE = {"audience": ["confirmed"],
           "subject": {"nl": "De slides staan online", "en": "The slides are online"},
           "text": {"nl": "Dag allemaal,\n\nDe slides staan op de pagina.", "en": "Hello all,\n\nThe slides are on the page."}}


@pytest.fixture
def full_day(repo, mailer, clock):
    """The day with one seat: An (Dutch) has it, Bo (English) waits."""
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [DAY])
    register(repo, mailer, "bo@example.be", [DAY], language="en", name="Bo Janssens")
    mailer.sent.clear()
    return repo


def messages_to(mailer, address):
    return [m for m in mailer.to(address) if m.kind == "staff_message"]


def test_a_message_goes_once_to_each_person_in_the_audience_and_to_no_one_else(full_day, mailer):
    result = messages.write_to_people(full_day, DAY, MESSAGE, actor="anna", now=PINNED_NOW)
    assert result["recipients"] == 1 and result["audience"] == ["confirmed"]
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=6))
    [mail] = messages_to(mailer, "an@example.be")
    assert messages_to(mailer, "bo@example.be") == []
    assert mail.subject == "Smart Region Dag (3 jun): De slides staan online"
    assert "De slides staan op de pagina." in mail.text and "Dag An Peeters" in mail.text and "Dit bericht gaat over:" in mail.text
    assert "<p>De slides staan op de pagina.</p>" in mail.html


def test_a_message_to_those_registered_and_those_waiting_reaches_each_in_their_language(full_day, mailer):
    result = messages.write_to_people(full_day, DAY, {**MESSAGE, "audience": ["waitlisted", "confirmed"]},
                                      actor="anna", now=PINNED_NOW)
    assert result["recipients"] == 2 and result["audience"] == ["confirmed", "waitlisted"]
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    [to_bo] = messages_to(mailer, "bo@example.be")
    assert to_bo.subject.endswith(": The slides are online") and "Hello Bo Janssens" in to_bo.text
    assert len(messages_to(mailer, "an@example.be")) == 1


def test_each_message_is_its_own_mail_even_with_the_same_text(full_day, mailer):
    messages.write_to_people(full_day, DAY, MESSAGE, actor="anna", now=PINNED_NOW)
    messages.write_to_people(full_day, DAY, MESSAGE, actor="anna", now=PINNED_NOW + timedelta(seconds=1))
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    assert len(messages_to(mailer, "an@example.be")) == 2


def test_no_message_reaches_someone_who_stopped_all_mail_or_was_erased(full_day, mailer):
    messages.write_to_people(full_day, DAY, {**MESSAGE, "audience": ["confirmed", "waitlisted"]}, actor="anna",
                             now=PINNED_NOW)
    bounces.handle_ses_notification(ses_notice("Complaint", "an@example.be"), full_day, key=KEY)
    privacy.erase(full_day, privacy.find_person(full_day, "bo@example.be", key=KEY), now=PINNED_NOW)
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    assert kinds(mailer) == []


def test_someone_who_cancelled_before_the_tick_gets_no_message(full_day, mailer):
    """The tick reads the registration of a message as of sending, not as of writing."""
    messages.write_to_people(full_day, DAY, MESSAGE, actor="anna", now=PINNED_NOW)
    from chalicelib.services import manage
    from chalicelib.render.mails import person_links

    person = privacy.find_person(full_day, "an@example.be", key=KEY)
    token = person_links(person, SETTINGS.base_url, KEY).manage.rsplit("/", 1)[-1]
    manage.cancel_registration(full_day, token, DAY, now=PINNED_NOW, key=KEY)
    mailer.sent.clear()
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    assert messages_to(mailer, "an@example.be") == []


def test_a_message_carries_the_one_click_unsubscribe_headers(full_day, mailer):
    messages.write_to_people(full_day, DAY, MESSAGE, actor="anna", now=PINNED_NOW)
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    [raw] = [raw for mail, raw in mailer.sent if mail.kind == "staff_message"]
    headers = email.message_from_bytes(raw)
    assert headers["List-Unsubscribe"].startswith("<") and "/unsubscribe/" in headers["List-Unsubscribe"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_writing_to_people_is_audited_and_shows_in_their_access_report(full_day, mailer):
    result = messages.write_to_people(full_day, DAY, MESSAGE, actor="anna", now=PINNED_NOW)
    [entry] = [e for e in full_day.list_audit(10) if e.action == "event.message"]
    assert entry.actor == "anna" and entry.target == f"event:{DAY}"
    assert entry.details == {"message_id": result["message_id"], "audience": ["confirmed"], "recipients": 1,
                             "subject": "De slides staan online"}
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    report = privacy.export_person(full_day, privacy.find_person(full_day, "an@example.be", key=KEY))
    [sent] = [m for m in report["mails"] if m["kind"] == "message"]
    assert sent["detail"] == result["message_id"] and sent["state"] == "sent"


def test_the_preview_shows_the_mail_in_both_languages_and_plans_nothing(full_day, mailer):
    shown = messages.preview(full_day, DAY, MESSAGE, base_url=SETTINGS.base_url)
    assert shown["nl"]["subject"] == "Smart Region Dag (3 jun): De slides staan online"
    assert shown["en"]["subject"].endswith(": The slides are online")
    assert "Hello First Last" in shown["en"]["text"] and "The slides are on the page." in shown["en"]["html"]
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    assert kinds(mailer) == []


def test_a_message_for_an_unknown_event_is_not_found(repo):
    with pytest.raises(NotFound):
        messages.write_to_people(repo, "no-such-event", MESSAGE, actor="anna")


@pytest.mark.parametrize("change, field, code", [
    ({"subject": {"nl": "Alleen Nederlands"}}, "subject.en", "required"),
    ({"subject": {"nl": "Twee\nregels", "en": "Two"}}, "subject.nl", "not_one_line"),
    ({"subject": {"nl": "x" * 151, "en": "y"}}, "subject.nl", "too_long"),
    ({"text": None}, "text", "required"),
    ({"text": {"nl": "tekst", "en": "   "}}, "text.en", "required"),
    ({"audience": []}, "audience", "required"),
    ({"audience": ["everyone"]}, "audience", "not_one_of"),
    ({"audience": ["confirmed", "confirmed"]}, "audience", "not_unique"),
    ({"audience": "confirmed"}, "audience", "wrong_type"),
    ({"cc": "x@example.be"}, "cc", "unknown_field"),
])
def test_a_message_with_a_wrong_field_is_refused_by_field_and_code_and_plans_nothing(full_day, change, field, code):
    with pytest.raises(InvalidInput) as refused:
        messages.write_to_people(full_day, DAY, {**MESSAGE, **change}, actor="anna", now=PINNED_NOW)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert [s for s in full_day.list_sends(DAY) if s.kind == "message"] == []


def test_a_message_to_those_waiting_skips_someone_who_got_a_seat_meanwhile(full_day, mailer):
    """Bo could leave this audience without the send being dropped (a seat), so the tick reads her registration."""
    from chalicelib.render.mails import person_links
    from chalicelib.services import manage

    messages.write_to_people(full_day, DAY, {**MESSAGE, "audience": ["waitlisted"]}, actor="anna", now=PINNED_NOW)
    an = privacy.find_person(full_day, "an@example.be", key=KEY)
    manage.cancel_registration(full_day, person_links(an, SETTINGS.base_url, KEY).manage.rsplit("/", 1)[-1], DAY,
                               now=PINNED_NOW, key=KEY)
    assert {r.email: r.status for r in full_day.list_registrations(DAY)}["bo@example.be"] == "confirmed"
    mailer.sent.clear()
    tick(full_day, mailer, PINNED_NOW + timedelta(minutes=2))
    assert messages_to(mailer, "bo@example.be") == []


def test_what_staff_write_is_shown_as_text_in_the_html_never_as_markup(full_day):
    shown = messages.preview(full_day, DAY, {**MESSAGE, "text": {"nl": "Zie <a href='x'>hier</a>", "en": "a & b"}},
                             base_url=SETTINGS.base_url)
    assert "&lt;a href=&#39;x&#39;&gt;hier&lt;/a&gt;" in shown["nl"]["html"] and "<a href='x'>" not in shown["nl"]["html"]
    assert "a &amp; b" in shown["en"]["html"]

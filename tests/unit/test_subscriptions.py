"""Subscribe, confirm, manage, seats and the waiting list: the service layer, with fakes."""

from __future__ import annotations

import email
import re
from datetime import timedelta

import pytest

from chalicelib.adapters import keys as link_keys
from chalicelib.services import bounces
from chalicelib.services import events
from chalicelib.services import manage as manage_module
from chalicelib.services import planning
from chalicelib.services import privacy
from chalicelib.services import seats
from chalicelib.services import staff
from chalicelib.services import subscribe as subscribe_module
from chalicelib.services import tick
from chalicelib import tokens
from chalicelib.errors import Conflict, Gone, InvalidInputs, LinkUsed, NotFound, Unavailable
from tests.fakes import RecordingMailer
from tests.fakes import InMemoryRepository
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data

BASE = "https://events.example.be"


@pytest.fixture
def repo():
    store = InMemoryRepository()
    events.create_event(store, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(store, day_data(capacity=2), actor="test", base_url=SETTINGS.base_url)
    events.create_event(store, webinar_data(id="later", registration_opens_at="2027-01-01T09:00:00",
                                            starts_at="2027-02-01T10:00:00", ends_at="2027-02-01T11:00:00"), actor="test", base_url=SETTINGS.base_url)
    return store


@pytest.fixture
def mailer():
    return RecordingMailer()


def form(**overrides):
    data = {"email": "an@example.be", "name": "An Peeters", "organisation": "Stad Gent",
            "event_ids": ["webinar-2027-01-14"], "question": "Hoe sluit onze stad aan?",
            "language": "nl", "consent": True}
    data.update(overrides)
    return data


def subscribe(repo, mailer, **overrides):
    subscribe_module.subscribe(repo, mailer, form(**overrides), base_url=BASE, key=KEY, settings=SETTINGS)


def link(mail, kind):
    match = re.search(rf"{re.escape(BASE)}/{kind}/([A-Za-z0-9_-]+)", mail.text)
    assert match, f"no {kind} link in {mail.text}"
    return match.group(1)


def confirm_last(repo, mailer, address="an@example.be"):
    token = link(mailer.to(address)[-1], "confirm")
    return subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


def status(repo, event_id, address="an@example.be"):
    pid = tokens.person_id_for(address, link_keys.signing_key())
    reg = repo.get_registrations(pid, [event_id]).get(event_id)
    return reg.status if reg else None


# ------------------------------------------------------------- subscribe


def test_subscribing_mails_a_confirmation_link_and_takes_no_seat(repo, mailer):
    subscribe(repo, mailer, event_ids=["smart-region-dag-2027"])
    [mail] = mailer.sent
    assert mail[0].to_email == "an@example.be"
    assert "/confirm/" in mail[0].text
    assert status(repo, "smart-region-dag-2027") == "pending"
    assert repo.get_event("smart-region-dag-2027").seats_taken == 0


def test_confirming_registers_and_mails_the_event_with_its_ics(repo, mailer):
    subscribe(repo, mailer)
    result = confirm_last(repo, mailer)
    assert [(o.event.id, o.status) for o in result.outcomes] == [("webinar-2027-01-14", "confirmed")]
    assert status(repo, "webinar-2027-01-14") == "confirmed"
    mail, raw = mailer.sent[-1]
    assert "https://meet.example.org/sro" in mail.text  # the join link, for the confirmed
    parsed = email.message_from_bytes(raw)
    calendars = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1
    assert calendars[0].get_param("method") == "REQUEST"  # iMIP: the invitation (decisions/0009)
    ics = calendars[0].get_payload(decode=True).decode()
    assert "UID:webinar-2027-01-14@" in ics
    assert "/manage/" in mail.text and "/feeds/" in mail.text and "webcal://" in mail.text


def test_confirming_a_second_link_for_an_interest_shows_no_join_link_and_promises_no_calendar(repo, mailer):
    subscribe(repo, mailer, event_ids=["later"])
    first = link(mailer.sent[-1][0], "confirm")
    subscribe(repo, mailer, event_ids=["later"])  # "no mail came": the form again, a second link
    confirm_last(repo, mailer)
    assert status(repo, "later") == "interested"  # registration opens in January
    result = subscribe_module.confirm(repo, mailer, first, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [(o.status, o.standing) for o in result.outcomes] == [("already", "interested")]
    for mail in mailer.to("an@example.be")[-2:]:
        assert "meet.example.org" not in mail.text + mail.html  # the join link is for confirmed registrants
        assert "invite.ics" not in mail.text + mail.html and not mail.attachments
        assert "You are registered" not in mail.text and "Je bent ingeschreven" not in mail.text
        assert mail.subject == "Inschrijving nog niet open: Webinar Smart Region (1 feb)"


def test_confirming_twice_into_a_seat_mails_the_join_link_and_the_calendar_both_times(repo, mailer):
    subscribe(repo, mailer)
    first = link(mailer.sent[-1][0], "confirm")
    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    result = subscribe_module.confirm(repo, mailer, first, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [(o.status, o.kept) for o in result.outcomes] == [("already", "confirmed")]
    mail = mailer.to("an@example.be")[-1]
    assert "meet.example.org" in mail.text and [a.filename for a in mail.attachments] == ["uitnodiging.ics"]
    assert mail.subject.startswith("Ingeschreven: ")


def test_a_confirm_onto_the_waiting_list_is_not_called_confirmed(repo, mailer):
    for address in ("a@x.be", "b@x.be", "c@x.be"):  # the day has two seats
        subscribe(repo, mailer, email=address, event_ids=["smart-region-dag-2027"])
        confirm_last(repo, mailer, address)
    mail = mailer.to("c@x.be")[-1]
    assert mail.subject.startswith("Op de wachtlijst: ") and not mail.attachments
    assert "invite.ics" not in mail.text


def test_confirm_link_works_once(repo, mailer):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    with pytest.raises(Gone):
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


def test_confirm_link_expires_after_48_hours(repo, mailer, clock):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    clock.set(PINNED_NOW + timedelta(hours=48, seconds=1))
    with pytest.raises(Gone):
        subscribe_module.inspect_confirm_token(repo, token)
    with pytest.raises(Gone):
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


def test_a_confirm_that_failed_after_spending_its_link_can_be_tried_again_a_few_minutes_later(repo, mailer, clock,
                                                                                            monkeypatch):
    subscribe(repo, mailer, event_ids=["webinar-2027-01-14", "smart-region-dag-2027"])
    token = link(mailer.sent[-1][0], "confirm")
    real = repo.move_registration

    def unavailable(*args, **kwargs):
        raise Unavailable("storage: ProvisionedThroughputExceededException")

    monkeypatch.setattr(repo, "move_registration", unavailable)
    with pytest.raises(Unavailable):  # the 503 page: "try again in a few minutes"
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    monkeypatch.setattr(repo, "move_registration", real)
    assert status(repo, "webinar-2027-01-14") == status(repo, "smart-region-dag-2027") == "pending"
    monkeypatch.setattr(subscribe_module, "_sleep", lambda seconds: None)
    clock.set(PINNED_NOW + timedelta(seconds=30))
    with pytest.raises(Unavailable):  # the first request might still be running: not "used", not done
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    clock.set(PINNED_NOW + timedelta(minutes=3))
    assert [e.id for e in subscribe_module.inspect_confirm_token(repo, token).events] == [
        "webinar-2027-01-14", "smart-region-dag-2027"]  # the page with the button shows again
    result = subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [o.status for o in result.outcomes] == ["confirmed", "confirmed"]
    assert status(repo, "webinar-2027-01-14") == status(repo, "smart-region-dag-2027") == "confirmed"
    assert [m.kind for m, _ in mailer.sent] == ["confirm_request", "confirmed"]
    clock.set(PINNED_NOW + timedelta(minutes=10))
    with pytest.raises(LinkUsed):  # done now: used, as any link once its confirm went through
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert len(mailer.sent) == 2


def test_a_link_confirms_what_was_submitted_with_it_not_what_someone_typed_for_the_address_since(repo, mailer):
    subscribe(repo, mailer, event_ids=["webinar-2027-01-14", "smart-region-dag-2027"])
    own = link(mailer.sent[-1][0], "confirm")
    # Someone else types An's address into the form, with another name, question and language.
    subscribe(repo, mailer, name="Mallory", organisation="Evil", question="=HYPERLINK(1)", language="en",
              event_ids=["webinar-2027-01-14", "smart-region-dag-2027"])
    theirs = link(mailer.sent[-1][0], "confirm")
    result = subscribe_module.confirm(repo, mailer, own, base_url=BASE, key=KEY, settings=SETTINGS)
    assert result.name == "An Peeters" and result.language == "nl"
    pid = tokens.person_id_for("an@example.be", link_keys.signing_key())
    regs = repo.get_registrations(pid, ["webinar-2027-01-14", "smart-region-dag-2027"])
    # The question is the webinar's: the day in person takes none.
    assert {(r.event_id, r.status, r.name, r.organisation, r.question, r.language) for r in regs.values()} == {
        ("webinar-2027-01-14", "confirmed", "An Peeters", "Stad Gent", "Hoe sluit onze stad aan?", "nl"),
        ("smart-region-dag-2027", "confirmed", "An Peeters", "Stad Gent", "", "nl")}
    person = repo.get_person(pid)
    assert (person.name, person.organisation, person.language) == ("An Peeters", "Stad Gent", "nl")
    assert mailer.sent[-1][0].subject.startswith("Ingeschreven: ")
    # The other link, pressed later, changes nothing that is kept.
    later = subscribe_module.confirm(repo, mailer, theirs, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [o.status for o in later.outcomes] == ["already", "already"]
    assert {r.name for r in repo.get_registrations(pid, ["webinar-2027-01-14"]).values()} == {"An Peeters"}


def test_a_link_with_an_event_that_closed_is_done_once_confirmed(repo, mailer, clock):
    subscribe(repo, mailer, event_ids=["webinar-2027-01-14", "smart-region-dag-2027"])
    token = link(mailer.sent[-1][0], "confirm")
    change = events.change_event(repo, "smart-region-dag-2027", {"registration_closes_at": "2026-11-25T12:00:00+01:00"},
                                 actor="test", base_url=SETTINGS.base_url)
    assert not change.after.is_registration_open(PINNED_NOW + timedelta(minutes=1))
    clock.set(PINNED_NOW + timedelta(minutes=1))
    result = subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [o.status for o in result.outcomes] == ["confirmed", "closed"]
    for minutes in (10, 60, 600):
        clock.set(PINNED_NOW + timedelta(minutes=minutes))
        with pytest.raises(LinkUsed):
            subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [m.kind for m, _ in mailer.sent] == ["confirm_request", "confirmed"]


def test_a_second_press_while_the_first_is_under_way_waits_for_it(repo, mailer, monkeypatch):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    repo.use_confirm_token(tokens.token_hash(token), PINNED_NOW)  # the first press's request has begun
    waits = []

    def first_finishes(seconds):
        waits.append(seconds)
        if len(waits) == 3:
            repo.finish_confirm_token(tokens.token_hash(token), PINNED_NOW)

    monkeypatch.setattr(subscribe_module, "_sleep", first_finishes)
    with pytest.raises(LinkUsed):  # it went through: the page says so, and leads to the person's page
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert len(waits) == 3
    subscribe(repo, mailer, email="bo@example.be")
    other = link(mailer.sent[-1][0], "confirm")
    repo.use_confirm_token(tokens.token_hash(other), PINNED_NOW)
    waits.clear()
    monkeypatch.setattr(subscribe_module, "_sleep", waits.append)
    with pytest.raises(Unavailable):  # still not done after a few seconds: "try again in a few minutes"
        subscribe_module.confirm(repo, mailer, other, base_url=BASE, key=KEY, settings=SETTINGS)
    assert sum(waits) == subscribe_module.IN_PROGRESS_WAIT


def test_two_presses_that_both_read_the_link_unused_confirm_once_and_both_say_so(repo, mailer, monkeypatch):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    token_hash = tokens.token_hash(token)
    unused = repo.get_confirm_token(token_hash)
    real_get, real_sleep, reads = repo.get_confirm_token, subscribe_module._sleep, []

    def first_read_is_stale(h):
        reads.append(h)
        return unused if len(reads) == 1 else real_get(h)  # read before the other press wrote

    subscribe_module.confirm(repo, mailer, token, base_url=BASE,
                             key=KEY, settings=SETTINGS)  # the other press, first to write
    monkeypatch.setattr(repo, "get_confirm_token", first_read_is_stale)
    monkeypatch.setattr(subscribe_module, "_sleep", lambda seconds: None)
    with pytest.raises(LinkUsed):  # "it went through", not "this link has expired"
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [m.kind for m, _ in mailer.sent] == ["confirm_request", "confirmed"]


def test_two_presses_taking_up_a_failed_confirm_at_once_run_it_once(repo, mailer, clock, monkeypatch):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    token_hash = tokens.token_hash(token)
    repo.use_confirm_token(token_hash, PINNED_NOW)  # a confirm that failed after taking the link
    clock.set(PINNED_NOW + timedelta(minutes=3))
    stale = repo.get_confirm_token(token_hash)
    real_get, reads = repo.get_confirm_token, []
    monkeypatch.setattr(repo, "get_confirm_token", lambda h: (reads.append(h), stale if len(reads) == 1 else real_get(h))[1])
    monkeypatch.setattr(subscribe_module, "_sleep", lambda seconds: repo.finish_confirm_token(token_hash, PINNED_NOW))
    repo.use_confirm_token(token_hash, PINNED_NOW + timedelta(minutes=3), seen=PINNED_NOW)  # the other press took it up
    with pytest.raises(LinkUsed):  # this one read it free, met the other's write, waited for it to finish
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [m.kind for m, _ in mailer.sent] == ["confirm_request"]


def test_a_confirm_whose_last_mark_fails_still_answers_what_it_did(repo, mailer, monkeypatch):
    subscribe(repo, mailer)

    def throttled(*args, **kwargs):
        raise Unavailable("storage: ThrottlingException")

    monkeypatch.setattr(repo, "finish_confirm_token", throttled)
    result = confirm_last(repo, mailer)
    assert [o.status for o in result.outcomes] == ["confirmed"] and mailer.sent[-1][0].kind == "confirmed"


def test_a_link_used_before_links_carried_their_submission_counts_as_done(repo, mailer, clock):
    from dataclasses import replace as _replace

    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    token_hash = tokens.token_hash(token)
    subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    old = _replace(repo.get_confirm_token(token_hash), name="", organisation="", language="", question="", done_at=None)
    repo.tokens[token_hash] = old  # as stored by the code before: used, never marked done
    clock.set(PINNED_NOW + timedelta(hours=1))
    with pytest.raises(LinkUsed):
        subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    with pytest.raises(LinkUsed):
        subscribe_module.inspect_confirm_token(repo, token)


def test_the_one_a_day_after_a_stop_counts_mails_since_the_stop(repo, mailer, clock):
    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    manage = link(mailer.sent[-1][0], "manage")
    clock.set(PINNED_NOW + timedelta(minutes=10))
    manage_module.unsubscribe(repo, manage, purpose="manage", key=KEY)  # by mistake
    clock.set(PINNED_NOW + timedelta(minutes=20))
    subscribe(repo, mailer, event_ids=["smart-region-dag-2027"])  # to come back: mailed, the earlier mail was before
    assert [m.kind for m, _ in mailer.sent] == ["confirm_request", "confirmed", "confirm_request"]
    clock.set(PINNED_NOW + timedelta(minutes=30))
    subscribe(repo, mailer, event_ids=["smart-region-dag-2027"])
    assert len(mailer.sent) == 3  # one a day, since the stop


def test_unknown_confirm_link_is_not_found(repo, mailer):
    with pytest.raises(NotFound):
        subscribe_module.confirm(repo, mailer, "A" * 43, base_url=BASE, key=KEY, settings=SETTINGS)
    with pytest.raises(NotFound):
        subscribe_module.inspect_confirm_token(repo, "../../etc/passwd")


def test_inspecting_a_confirm_link_changes_nothing(repo, mailer):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    view = subscribe_module.inspect_confirm_token(repo, token)
    assert [e.id for e in view.events] == ["webinar-2027-01-14"]
    assert status(repo, "webinar-2027-01-14") == "pending"
    subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)  # still usable


def test_expired_link_can_ask_for_a_new_mail(repo, mailer, clock):
    subscribe(repo, mailer)
    token = link(mailer.sent[-1][0], "confirm")
    clock.set(PINNED_NOW + timedelta(days=3))
    subscribe_module.resend_confirmation(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert len(mailer.sent) == 2
    confirm_last(repo, mailer)
    assert status(repo, "webinar-2027-01-14") == "confirmed"


def test_resubmitting_never_downgrades_a_confirmed_registration(repo, mailer):
    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    subscribe(repo, mailer, name="Someone Else")
    assert status(repo, "webinar-2027-01-14") == "confirmed"
    last = mailer.sent[-1][0]
    assert "/confirm/" not in last.text
    assert last.kind == "already_registered"


def test_known_and_unknown_addresses_get_the_same_answer(repo, mailer):
    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    # Both return None without raising: the caller learns nothing.
    assert subscribe_module.subscribe(repo, mailer, form(), base_url=BASE, key=KEY, settings=SETTINGS) is None
    assert subscribe_module.subscribe(repo, mailer, form(email="new@example.be"), base_url=BASE,
                                      key=KEY, settings=SETTINGS) is None


def test_a_stranger_cannot_rename_a_known_person(repo, mailer):
    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    subscribe(repo, mailer, name="Mallory", event_ids=["smart-region-dag-2027"])
    pid = tokens.person_id_for("an@example.be", link_keys.signing_key())
    assert repo.get_person(pid).name == "An Peeters"


def test_at_most_three_confirmation_mails_per_address_per_hour(repo, mailer, clock):
    for _ in range(5):
        subscribe(repo, mailer)
    assert len(mailer.sent) == 3
    clock.set(PINNED_NOW + timedelta(hours=1, minutes=1))
    subscribe(repo, mailer)
    assert len(mailer.sent) == 4


def test_at_most_six_confirmation_mails_a_day_and_one_after_stopping_all_mail(repo, mailer, clock):
    for hour in range(10):  # someone submits An's address every hour
        clock.set(PINNED_NOW + timedelta(hours=hour))
        subscribe(repo, mailer)
    assert len(mailer.sent) == 6
    clock.set(PINNED_NOW + timedelta(hours=24, minutes=1))
    subscribe(repo, mailer)
    assert len(mailer.sent) == 7  # a day after the first, one more
    manage = link(mailer.sent[-1][0], "manage")
    manage_module.unsubscribe(repo, manage, purpose="manage", key=KEY)
    clock.set(PINNED_NOW + timedelta(days=3))
    for minutes in range(0, 300, 61):
        clock.set(PINNED_NOW + timedelta(days=3, minutes=minutes))
        subscribe(repo, mailer)
    assert len(mailer.sent) == 8  # An stopped all mail: one a day, so that they can come back


def test_honeypot_submissions_keep_and_send_nothing(repo, mailer):
    subscribe(repo, mailer, website="http://spam.example")
    assert mailer.sent == []
    assert status(repo, "webinar-2027-01-14") is None


def test_an_address_whose_domain_is_in_other_letters_is_mailed_at_its_punycode_form(repo, mailer):
    from chalicelib.render.mime import build_mime

    subscribe(repo, mailer, email="An@Exämple.be")
    [(mail, raw)] = mailer.sent
    assert mail.to_email == "An@xn--exmple-cua.be" and email.message_from_bytes(raw)["To"] == "An@xn--exmple-cua.be"
    assert build_mime(mail, "smartregionoffice@vlaanderen.be")  # the very builder SES is given
    assert status(repo, "webinar-2027-01-14", "an@xn--exmple-cua.be") == "pending"
    subscribe(repo, mailer, email="an@xn--exmple-cua.be")  # either spelling is the same person
    assert len({m.to_email.lower() for m, _ in mailer.sent}) == 1


@pytest.mark.parametrize("overrides,field", [
    ({"email": "not-an-address"}, "email"),
    ({"email": ""}, "email"),
    ({"email": "a@" + "b" * 250 + ".be"}, "email"),
    ({"email": "jösé@example.be"}, "email"),  # SES takes no name part in other letters
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "An\r\nBcc: victim@example.be"}, "name"),
    ({"organisation": "x" * 201}, "organisation"),
    ({"question": "x" * 2001}, "question"),
    ({"event_ids": []}, "event_ids"),
    ({"event_ids": ["x"] * 21}, "event_ids"),
    ({"event_ids": ["nope"]}, "event_ids"),
    ({"event_ids": [{"id": 1}]}, "event_ids"),
    ({"consent": False}, "consent"),
    ({"consent": None}, "consent"),
    ({"language": "fr"}, "language"),
])
def test_bad_submissions_name_the_field(repo, mailer, overrides, field):
    with pytest.raises(InvalidInputs) as caught:
        subscribe(repo, mailer, **overrides)
    assert field in caught.value.by_field
    assert mailer.sent == []


def test_every_problem_is_reported_at_once(repo, mailer):
    with pytest.raises(InvalidInputs) as caught:
        subscribe_module.subscribe(repo, mailer, {"email": "x", "consent": False}, base_url=BASE,
                                   key=KEY, settings=SETTINGS)
    assert {"email", "name", "event_ids", "consent"} <= set(caught.value.by_field)


def test_draft_or_past_events_cannot_be_chosen(repo, mailer, clock):
    events.create_event(repo, webinar_data(id="draft", status="draft"), actor="test", base_url=SETTINGS.base_url)
    with pytest.raises(InvalidInputs):
        subscribe(repo, mailer, event_ids=["draft"])
    clock.set(PINNED_NOW + timedelta(days=60))
    with pytest.raises(InvalidInputs):
        subscribe(repo, mailer, event_ids=["webinar-2027-01-14"])


# ----------------------------------------------------- seats and waiting


def sign_up(repo, mailer, address, event_id="smart-region-dag-2027"):
    subscribe(repo, mailer, email=address, event_ids=[event_id], language="en")
    return confirm_last(repo, mailer, address)


def test_a_full_event_puts_people_on_the_waiting_list_in_order(repo, mailer, clock):
    for i, address in enumerate(["a@x.be", "b@x.be", "c@x.be", "d@x.be"]):
        clock.set(PINNED_NOW + timedelta(minutes=i))
        sign_up(repo, mailer, address)
    assert [status(repo, "smart-region-dag-2027", a) for a in ["a@x.be", "b@x.be", "c@x.be", "d@x.be"]] == \
        ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert repo.get_event("smart-region-dag-2027").seats_left == 0
    assert "waiting list" in mailer.to("c@x.be")[-1].text


def test_a_cancellation_gives_the_seat_to_the_first_waiting(repo, mailer, clock):
    for i, address in enumerate(["a@x.be", "b@x.be", "c@x.be", "d@x.be"]):
        clock.set(PINNED_NOW + timedelta(minutes=i))
        sign_up(repo, mailer, address)
    manage = link(mailer.to("a@x.be")[-1], "manage")
    manage_module.cancel_registration(repo, manage, "smart-region-dag-2027", key=KEY)
    assert status(repo, "smart-region-dag-2027", "a@x.be") == "cancelled"
    assert status(repo, "smart-region-dag-2027", "c@x.be") == "confirmed"
    assert status(repo, "smart-region-dag-2027", "d@x.be") == "waitlisted"
    assert repo.get_event("smart-region-dag-2027").seats_left == 0
    tick.send_due(repo, mailer, base_url=BASE, rate=1000.0, key=KEY)  # the tick mails the seat
    assert mailer.to("c@x.be")[-1].kind == "seat_given"


def test_registering_before_registration_opens_records_interest(repo, mailer, clock):
    subscribe(repo, mailer, event_ids=["later"])
    result = confirm_last(repo, mailer)
    assert result.outcomes[0].status == "interested"
    clock.set(datetime_brussels(2027, 1, 2))
    manage = link(mailer.sent[-1][0], "manage")
    outcome = manage_module.register_from_link(repo, mailer, manage, "later", base_url=BASE, key=KEY, settings=SETTINGS)
    assert outcome.status == "confirmed"
    assert status(repo, "later") == "confirmed"


def test_a_double_click_on_the_one_click_link_registers_once_and_says_already(repo, mailer, clock, monkeypatch):
    subscribe(repo, mailer, event_ids=["later"])
    confirm_last(repo, mailer)
    clock.set(datetime_brussels(2027, 1, 2))
    manage = link(mailer.sent[-1][0], "manage")
    mailer.sent.clear()
    real, clicks = seats.place, []

    def second_click_first(*args, **kwargs):
        # Both requests read "interested"; the other one places it first.
        if not clicks:
            clicks.append(None)
            clicks[0] = manage_module.register_from_link(repo, mailer, manage, "later", base_url=BASE,
                                                         key=KEY, settings=SETTINGS)
        return real(*args, **kwargs)

    monkeypatch.setattr(seats, "place", second_click_first)
    outcome = manage_module.register_from_link(repo, mailer, manage, "later", base_url=BASE, key=KEY, settings=SETTINGS)
    assert (clicks[0].status, outcome.status) == ("confirmed", "already")  # not a 409 page
    assert status(repo, "later") == "confirmed"
    assert [m.kind for m, _ in mailer.sent] == ["confirmed"]  # one mail, from the request that placed it


def test_cancelling_twice_or_with_a_double_click_cancels_once_and_says_cancelled(repo, mailer, monkeypatch):
    for address in ("a@x.be", "b@x.be", "c@x.be"):  # the day has two seats: c waits
        subscribe(repo, mailer, email=address, event_ids=["smart-region-dag-2027"])
        confirm_last(repo, mailer, address)
    manage = link(mailer.to("a@x.be")[-1], "manage")
    real, clicks = seats._cancel, []

    def other_click_first(*args, **kwargs):
        if not clicks:
            clicks.append(None)
            clicks[0] = manage_module.cancel_registration(repo, manage, "smart-region-dag-2027", key=KEY)
        return real(*args, **kwargs)

    monkeypatch.setattr(seats, "_cancel", other_click_first)
    assert manage_module.cancel_registration(repo, manage, "smart-region-dag-2027",
                                             key=KEY).id == "smart-region-dag-2027"
    assert manage_module.cancel_registration(repo, manage, "smart-region-dag-2027",
                                             key=KEY).id == "smart-region-dag-2027"
    assert [status(repo, "smart-region-dag-2027", a) for a in ("a@x.be", "b@x.be", "c@x.be")] == [
        "cancelled", "confirmed", "confirmed"]
    assert repo.get_event("smart-region-dag-2027").seats_taken == 2  # one seat freed, once, and given to c


def datetime_brussels(y, m, d):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, 12, tzinfo=ZoneInfo("Europe/Brussels"))


# ------------------------------------------------------------- manage


def test_manage_page_lists_registrations_and_stop_all_mail(repo, mailer):
    subscribe(repo, mailer, event_ids=["webinar-2027-01-14", "smart-region-dag-2027"])
    confirm_last(repo, mailer)
    manage = link(mailer.sent[-1][0], "manage")
    view = manage_module.manage_view(repo, manage, base_url=BASE, key=KEY)
    assert [e.id for e, _ in view.registrations] == ["webinar-2027-01-14", "smart-region-dag-2027"]
    unsubscribe = link(mailer.sent[-1][0], "unsubscribe")
    manage_module.unsubscribe(repo, unsubscribe, key=KEY)
    assert not manage_module.manage_view(repo, manage, base_url=BASE, key=KEY).person.receives_mail


def test_a_link_of_one_purpose_does_not_work_for_another(repo, mailer):
    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    manage = link(mailer.sent[-1][0], "manage")
    with pytest.raises(NotFound):
        manage_module.unsubscribe(repo, manage, key=KEY)
    forged = manage[:22] + "u" + manage[23:]
    with pytest.raises(NotFound):
        manage_module.unsubscribe(repo, forged, key=KEY)


def test_erasing_frees_the_seat_and_leaves_nothing(repo, mailer, clock):
    for i, address in enumerate(["a@x.be", "b@x.be", "c@x.be"]):
        clock.set(PINNED_NOW + timedelta(minutes=i))
        sign_up(repo, mailer, address)
    manage = link(mailer.to("a@x.be")[-1], "manage")
    privacy.erase_by_token(repo, manage, key=KEY)
    pid = tokens.person_id_for("a@x.be", link_keys.signing_key())
    assert repo.get_person(pid) is None
    assert status(repo, "smart-region-dag-2027", "a@x.be") is None
    assert status(repo, "smart-region-dag-2027", "c@x.be") == "confirmed"
    with pytest.raises(NotFound):
        manage_module.manage_view(repo, manage, base_url=BASE, key=KEY)


def test_csv_neutralises_formulas_and_keeps_questions(repo, mailer):
    subscribe(repo, mailer, name="=HYPERLINK(\"http://evil\")", question="+1 of -1? @all")
    confirm_last(repo, mailer)
    rows = staff.registrations_for_staff(repo, repo.get_event("webinar-2027-01-14"))
    text = staff.registrations_csv(rows)
    assert "'=HYPERLINK" in text
    assert "'+1 of -1? @all" in text
    assert text.splitlines()[0] == "name,email,organisation,status,question,registered_at"


def test_counts_by_status(repo, mailer, clock):
    for i, address in enumerate(["a@x.be", "b@x.be", "c@x.be"]):
        clock.set(PINNED_NOW + timedelta(minutes=i))
        sign_up(repo, mailer, address)
    subscribe(repo, mailer, email="p@x.be", event_ids=["smart-region-dag-2027"])
    counted = staff.counts(repo, repo.get_event("smart-region-dag-2027"))
    assert counted == {"confirmed": 2, "pending": 1, "waitlisted": 1, "interested": 0, "cancelled": 0}


def test_raising_capacity_gives_seats_to_the_waiting(repo, mailer, clock):
    for i, address in enumerate(["a@x.be", "b@x.be", "c@x.be", "d@x.be"]):
        clock.set(PINNED_NOW + timedelta(minutes=i))
        sign_up(repo, mailer, address)
    change = events.change_event(repo, "smart-region-dag-2027", {"capacity": 3}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(repo, change, settings=SETTINGS)
    assert status(repo, "smart-region-dag-2027", "c@x.be") == "confirmed"
    assert status(repo, "smart-region-dag-2027", "d@x.be") == "waitlisted"


def test_mails_are_in_the_language_of_the_form(repo, mailer):
    subscribe(repo, mailer, email="nl@x.be", language="nl")
    subscribe(repo, mailer, email="en@x.be", language="en")
    assert mailer.to("nl@x.be")[0].subject.startswith("Bevestig je inschrijving")
    assert "Hallo," in mailer.to("nl@x.be")[0].text
    assert mailer.to("en@x.be")[0].subject.startswith("Confirm your registration")
    assert "donderdag 14 januari 2027, 10:00" in mailer.to("nl@x.be")[0].text
    assert "Thursday 14 January 2027, 10:00" in mailer.to("en@x.be")[0].text


def test_markup_in_a_name_is_text_in_the_html_mail(repo, mailer):
    subscribe(repo, mailer, name="<script>alert(1)</script>")
    confirm_last(repo, mailer)
    mail = mailer.sent[-1][0]
    assert mail.kind == "confirmed" and "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html


def test_a_name_typed_into_the_form_is_not_mailed_before_the_address_owner_confirms_it(repo, mailer):
    # Anyone can type any address: the office's mail must not carry a text of their choosing.
    subscribe(repo, mailer, name="Your account is blocked: visit evil.example", language="en")
    [(mail, raw)] = mailer.sent
    assert "evil.example" not in mail.text + mail.html + mail.subject + mail.to_name
    assert b"evil.example" not in raw and mail.text.startswith("Hello,")
    confirm_last(repo, mailer)  # the owner confirmed: from now on it is their name
    mailer.sent.clear()
    subscribe(repo, mailer, name="Someone else entirely", language="en")  # kept: "already registered"
    [(already, _)] = mailer.sent
    assert already.kind == "already_registered" and "Someone else" not in already.text
    assert already.to_name == "Your account is blocked: visit evil.example"  # the confirmed name, as they chose it


def test_links_in_mails_open_pages_in_the_persons_language(repo, mailer):
    subscribe(repo, mailer, email="en@x.be", language="en")
    request = mailer.to("en@x.be")[-1]
    assert re.search(r"/confirm/[\w-]+\?lang=en", request.text)
    confirm_last(repo, mailer, "en@x.be")
    confirmed = mailer.to("en@x.be")[-1]
    assert re.search(r"/manage/[\w-]+\?lang=en", confirmed.text)
    assert re.search(r"/manage/[\w-]+\?lang=en", confirmed.html)


def test_regression_event_ids_as_a_plain_string_is_refused_as_the_openapi_document_says(repo, mailer):
    """Found by schemathesis' stateful phase: a JSON string was taken as a list of one (a 202 outside the document)."""
    with pytest.raises(InvalidInputs) as caught:
        subscribe(repo, mailer, event_ids="webinar-2027-01-14")
    assert caught.value.by_field["event_ids"].startswith("must be a list")
    assert mailer.sent == []


# ------------------------------------------------- bounces and complaints


def _ses_notice(kind, address):
    if kind == "Bounce":
        return {"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": address}]}}
    return {"eventType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": address}]}}


@pytest.mark.parametrize("kind", ["Bounce", "Complaint"])
def test_an_address_that_bounced_or_complained_is_not_mailed_again_after_its_person_is_gone(repo, mailer, kind):
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import seats
    from chalicelib.services import staff
    from chalicelib.services import subscribe as subscribe_module
    from chalicelib.services import tick
    from chalicelib import tokens

    subscribe(repo, mailer, email="typo@example.be")  # a mistyped address: the confirmation bounces
    bounces.handle_ses_notification(_ses_notice(kind, "Typo@Example.be"), repo, key=KEY)
    person = privacy.find_person(repo, "typo@example.be", key=KEY)
    privacy.erase(repo, person)  # or its unconfirmed week runs out
    mailer.sent.clear()
    subscribe(repo, mailer, email="typo@example.be")
    subscribe(repo, mailer, email="TYPO@example.be", event_ids=["smart-region-dag-2027"])
    assert mailer.sent == []  # the same answer on the page, no mail
    again = privacy.find_person(repo, "typo@example.be", key=KEY)
    assert (again.receives_mail, again.mail_stopped_reason) == (False, kind.lower())


@pytest.mark.parametrize("kind", ["Bounce", "Complaint"])
def test_unsubscribing_after_a_bounce_or_complaint_keeps_the_stronger_stop(repo, mailer, kind):
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import seats
    from chalicelib.services import staff
    from chalicelib.services import subscribe as subscribe_module
    from chalicelib.services import tick
    from chalicelib import tokens

    subscribe(repo, mailer)
    confirm_last(repo, mailer)
    unsubscribe = link(mailer.sent[-1][0], "unsubscribe")
    bounces.handle_ses_notification(_ses_notice(kind, "an@example.be"), repo, key=KEY)
    manage_module.unsubscribe(repo, unsubscribe, key=KEY)  # "report spam and unsubscribe" does both
    assert privacy.find_person(repo, "an@example.be", key=KEY).mail_stopped_reason == kind.lower()
    mailer.sent.clear()
    subscribe(repo, mailer, event_ids=["smart-region-dag-2027"])  # anyone can type the address in
    assert mailer.sent == []


@pytest.mark.parametrize("field,value", [("name", "An \ud800"), ("organisation", "Stad \udfff"), ("question", "Waarom \ud800?"),
                                         ("name", "An\x85Peeters"), ("organisation", "Stad\x9bGent")])
def test_a_name_organisation_or_question_that_no_store_can_hold_is_refused_by_field(repo, mailer, field, value):
    # A lone surrogate (JSON allows "\ud800") cannot be written as UTF-8; a C1 control has no place on one line.
    with pytest.raises(InvalidInputs) as caught:
        subscribe(repo, mailer, **{field: value})
    assert field in caught.value.by_field
    assert not mailer.sent


def test_a_question_keeps_its_line_breaks_and_loses_other_control_characters(repo, mailer):
    subscribe(repo, mailer, question="Eerste lijn\x0bTweede\r\nDerde\x07 lijn\tmet tab")
    confirm_last(repo, mailer)
    rows = staff.registrations_for_staff(repo, repo.get_event("webinar-2027-01-14"))
    assert rows[0]["question"] == "Eerste lijn\nTweede\nDerde lijn\tmet tab"


def test_the_one_click_link_never_applies_a_submission_still_waiting_for_its_confirmation(repo, mailer):
    # An confirms the webinar; a stranger types An's address for the day, with another name and question.
    # An's manage link must not confirm that: only the confirm link mailed for it may.
    subscribe(repo, mailer, event_ids=["webinar-2027-01-14"])
    confirm_last(repo, mailer)
    manage = link(mailer.to("an@example.be")[-1], "manage")
    subscribe(repo, mailer, event_ids=["smart-region-dag-2027"], name="Mallory", question="=cmd")
    with pytest.raises(Conflict):
        manage_module.register_from_link(repo, mailer, manage, "smart-region-dag-2027", base_url=BASE,
                                         key=KEY, settings=SETTINGS)
    assert status(repo, "smart-region-dag-2027") == "pending"
    assert mailer.to("an@example.be")[-1].kind == "confirm_request"  # no "you are registered" mail went out


def _waitlisted_cy(repo, mailer, clock):
    for i, address in enumerate(["a@x.be", "b@x.be", "cy@x.be"]):  # the day holds 2: Cy waits
        clock.set(PINNED_NOW + timedelta(minutes=i))
        sign_up(repo, mailer, address)
    assert status(repo, "smart-region-dag-2027", "cy@x.be") == "waitlisted"


def test_a_confirm_request_says_where_each_earlier_registration_stands(repo, mailer, clock):
    # Cy waits for the day and asks for the webinar too: the mail must not call her registered for the day.
    _waitlisted_cy(repo, mailer, clock)
    subscribe(repo, mailer, email="cy@x.be", event_ids=["smart-region-dag-2027", "webinar-2027-01-14"], language="nl")
    mail = mailer.to("cy@x.be")[-1]
    assert mail.kind == "confirm_request"
    assert "al ingeschreven" not in mail.text + mail.html
    day = mail.text.index("Smart Region Dag")
    assert "Status: op de wachtlijst" in mail.text[day:] and "Status: op de wachtlijst" in mail.html


def test_subjects_say_confirmed_or_registered_only_when_every_seat_is_taken(repo, mailer, clock):
    _waitlisted_cy(repo, mailer, clock)
    subscribe(repo, mailer, email="cy@x.be", event_ids=["smart-region-dag-2027"], language="nl")  # the form again
    assert mailer.to("cy@x.be")[-1].kind == "already_registered"
    assert mailer.to("cy@x.be")[-1].subject == "Niets gewijzigd – Op de wachtlijst: Smart Region Dag (3 jun)"
    # Dee confirms the webinar (a seat) and the full day (the waiting list) with one link.
    subscribe(repo, mailer, email="dee@x.be", event_ids=["smart-region-dag-2027", "webinar-2027-01-14"], language="nl")
    confirm_last(repo, mailer, "dee@x.be")
    mail = mailer.to("dee@x.be")[-1]
    assert mail.kind == "confirmed" and mail.subject.startswith("Ingeschreven: ") and \
        mail.subject.endswith("; Op de wachtlijst: Smart Region Dag (3 jun)")
    # One seat alone is "confirmed"; the form again with only seats is "already registered".
    subscribe(repo, mailer, email="eve@x.be", event_ids=["webinar-2027-01-14"], language="nl")
    confirm_last(repo, mailer, "eve@x.be")
    assert mailer.to("eve@x.be")[-1].subject.startswith("Ingeschreven: ")
    subscribe(repo, mailer, email="eve@x.be", event_ids=["webinar-2027-01-14"], language="nl")
    assert mailer.to("eve@x.be")[-1].subject.startswith("Je bent al ingeschreven")


def test_the_confirmation_text_keeps_each_outcome_its_own_paragraph(repo, mailer, clock):
    # In the plain text, what follows an event is indented under it and set apart from the next one.
    _waitlisted_cy(repo, mailer, clock)
    subscribe(repo, mailer, email="dee@x.be", event_ids=["webinar-2027-01-14", "smart-region-dag-2027", "later"],
              language="en")
    confirm_last(repo, mailer, "dee@x.be")
    text = mailer.to("dee@x.be")[-1].text
    assert "\n  When a seat frees up, it is yours and we mail you at once.\n\n" in text
    assert "\n  We will mail you a link to register as soon as it opens.\n\n" in text
    assert "The attached invite.ics adds the event to your calendar" in text  # one event, one file


def test_mail_html_is_laid_out_with_tables_that_outlook_for_windows_keeps(repo, mailer):
    # Outlook for Windows renders with Word: it ignores a div's max-width, auto margins and padding, and a
    # link's padding and background. The column is a 600-wide table; buttons are cells with bgcolor.
    subscribe(repo, mailer)
    request = mailer.to("an@example.be")[-1]
    confirm_last(repo, mailer)
    for mail in (request, mailer.to("an@example.be")[-1]):
        assert "<div" not in mail.html
        assert re.search(r'<table role="presentation" width="600"[^>]*style="width:100%;max-width:600px;', mail.html)
    button = re.search(r'<td bgcolor="#1d1d1b"[^>]*><a href="([^"]+)"[^>]*>([^<]+)</a></td>', request.html)
    assert button and "/confirm/" in button.group(1) and button.group(2) == "Mijn inschrijving bevestigen"

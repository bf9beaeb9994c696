"""Reminders and notices: planned with the registration, sent once by the tick, on time or not at all."""

from __future__ import annotations

import email
import re
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.model import send as send_model
from chalicelib.services import bounces
from chalicelib.services import events
from chalicelib.services import manage as manage_module
from chalicelib.services import planning
from chalicelib.services import privacy
from chalicelib.services import subscribe
from chalicelib.services import tick as tick_module
from chalicelib import wiring
from chalicelib.errors import Unavailable
from chalicelib.errors import MailRejected, MailThrottled
from tests.fakes import RecordingMailer
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data
from tests.support.sending import BASE, DAY, WEBINAR, WEBINAR_START, FakeTime, kinds, register, ses_notice, tick


class Stamping(RecordingMailer):
    """A recording mailer that also notes, by ``clock``, when each mail went out."""

    def __init__(self, clock):
        super().__init__()
        self.clock, self.stamps = clock, []

    def send(self, mail):
        with self._lock:
            self.stamps.append(self.clock())
        return super().send(mail)


def webinar_with_registrants(repo, count):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    setup = RecordingMailer()
    for i in range(count):
        register(repo, setup, f"p{i}@example.be", [WEBINAR])


def _an_seated_bo_waiting(repo, mailer, *, bo_language="nl"):
    """The day with one seat: An has it, Bo waits. Return An's manage token."""
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [DAY])
    register(repo, mailer, "bo@example.be", [DAY], name="Bo", language=bo_language)
    return re.search(r"/manage/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)


@pytest.fixture
def webinar(memory_repo):
    events.create_event(memory_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    return memory_repo


# ---------------------------------------------------------------- planning


def test_confirming_plans_one_reminder_per_offset(webinar, mailer):
    register(webinar, mailer, "an@example.be", [WEBINAR])
    sends = webinar.list_sends(WEBINAR)
    assert sorted((s.kind, s.detail, s.due) for s in sends) == [
        ("reminder", "P1D", WEBINAR_START - timedelta(days=1)),
        ("reminder", "PT1H", WEBINAR_START - timedelta(hours=1)),
    ]
    assert all(s.state == "pending" for s in sends)


def test_no_reminder_for_an_offset_already_past_at_confirmation(webinar, mailer, clock):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    assert [s.detail for s in webinar.list_sends(WEBINAR)] == ["PT1H"]


def test_reminder_grace_is_a_quarter_of_the_offset_within_bounds():
    assert send_model.grace(timedelta(hours=1)) == timedelta(minutes=15)
    assert send_model.grace(timedelta(minutes=5)) == timedelta(minutes=5)
    assert send_model.grace(timedelta(days=7)) == timedelta(hours=6)


def test_promotion_from_the_waiting_list_plans_reminders(memory_repo, mailer, clock):
    events.create_event(memory_repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY])
    register(memory_repo, mailer, "bo@example.be", [DAY], name="Bo")
    bo = privacy.find_person(memory_repo, "bo@example.be", key=KEY)
    assert memory_repo.list_sends(DAY, bo.id) == []
    manage = re.search(r"/manage/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    manage_module.cancel_registration(memory_repo, manage, DAY, key=KEY)
    an = privacy.find_person(memory_repo, "an@example.be", key=KEY)
    assert memory_repo.list_sends(DAY, an.id) == []  # dropped with the cancellation
    assert sorted((s.kind, s.detail) for s in memory_repo.list_sends(DAY, bo.id)) == [
        ("reminder", "P1D"), ("reminder", "PT1H"), ("seat", "")]


def test_the_seat_given_mail_goes_out_once_from_the_tick_with_the_calendar(memory_repo, mailer, clock):
    manage = _an_seated_bo_waiting(memory_repo, mailer, bo_language="en")
    manage_module.cancel_registration(memory_repo, manage, DAY, key=KEY)
    assert kinds(mailer, "bo@example.be") == ["confirm_request", "confirmed"]  # nothing yet: the tick mails it
    assert tick(memory_repo, mailer, PINNED_NOW).sent == 1
    assert tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=1)).sent == 0
    assert kinds(mailer, "bo@example.be") == ["confirm_request", "confirmed", "seat_given"]
    seat, raw = mailer.sent[-1]
    assert seat.subject and "Bo" in seat.text and "STATUS:CONFIRMED" in _ics(raw)


def test_a_seat_given_and_given_back_before_the_tick_is_not_mailed(memory_repo, mailer, clock):
    events.create_event(memory_repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY])
    register(memory_repo, mailer, "bo@example.be", [DAY], name="Bo")
    for address in ("an@example.be", "bo@example.be"):
        manage = re.search(r"/manage/([\w-]+)", mailer.to(address)[-1].text).group(1)
        manage_module.cancel_registration(memory_repo, manage, DAY, key=KEY)
    assert tick(memory_repo, mailer, PINNED_NOW).sent == 0
    assert "seat_given" not in kinds(mailer)


# ------------------------------------------------------------------- tick


def test_reminder_goes_out_once_when_due(webinar, mailer):
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    assert tick(webinar, mailer, WEBINAR_START - timedelta(days=2)).sent == 0
    result = tick(webinar, mailer, WEBINAR_START - timedelta(days=1) + timedelta(seconds=30))
    assert (result.due, result.sent) == (1, 1)
    assert tick(webinar, mailer, WEBINAR_START - timedelta(days=1) + timedelta(minutes=1)).due == 0
    assert kinds(mailer) == ["reminder"]
    [send] = [s for s in webinar.list_sends(WEBINAR) if s.detail == "P1D"]
    assert send.state == "sent" and send.message_id == "recorded-1"


def test_reminder_mail_in_dutch_with_brussels_time_join_link_and_links(webinar, mailer):
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    tick(webinar, mailer, WEBINAR_START - timedelta(hours=1))
    [(mail, raw)] = mailer.sent
    assert "Herinnering" in mail.subject and "1 uur" in mail.subject
    assert "10:00 – 11:00 (Belgische tijd)" in mail.text
    assert "https://meet.example.org/sro" in mail.text
    assert f"{BASE}/manage/" in mail.text and "calendar.google.com" in mail.text
    message = email.message_from_bytes(raw)
    assert message["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_city_officials_outlook_is_microsoft_365_and_both_outlooks_are_offered(webinar, mailer):
    register(webinar, mailer, "an@example.be", [WEBINAR], language="en")
    [confirmed] = [m for m, _ in mailer.sent if m.kind == "confirmed"]
    mailer.sent.clear()
    tick(webinar, mailer, WEBINAR_START - timedelta(hours=1))
    [(reminder, _)] = mailer.sent
    for mail in (confirmed, reminder):
        assert "https://outlook.office.com/calendar/0/action/compose?" in mail.text  # work and school accounts
        assert "https://outlook.live.com/calendar/0/action/compose?" in mail.text
        assert ">Outlook (Microsoft 365)</a>" in mail.html and ">Outlook (personal account)</a>" in mail.html
        # No link text that reads as a domain other than its target (outlook.live.com): phishing checks flag it.
        assert ">Outlook.com</a>" not in mail.html
    assert "up to date: <a href=" in confirmed.html


def test_reminder_for_an_event_in_person_has_the_address_and_a_map(memory_repo, mailer):
    events.create_event(memory_repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY], language="en")
    mailer.sent.clear()
    tick(memory_repo, mailer, datetime(2027, 6, 2, 7, 0, tzinfo=timezone.utc))
    [(mail, _)] = mailer.sent
    assert mail.subject.startswith("Reminder: Smart Region Day")
    assert "Havenlaan 88, 1000 Brussel" in mail.text and "openstreetmap.org" in mail.text
    assert "09:00" in mail.text  # 07:00 UTC is 09:00 in Brussels in June


@pytest.mark.parametrize("late, reason", [
    (timedelta(minutes=16), "stale: past its grace"),       # a quarter of an hour after a PT1H reminder
    (timedelta(hours=1, minutes=1), "stale: the event has started"),
])
def test_nothing_stale_goes_out_and_the_skip_is_recorded(webinar, mailer, clock, late, reason):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    result = tick(webinar, mailer, WEBINAR_START - timedelta(hours=1) + late)
    assert result.sent == 0 and result.stale == 1
    assert mailer.sent == []
    [send] = webinar.list_sends(WEBINAR)
    assert (send.state, send.reason) == ("skipped", reason)


def test_unsubscribed_person_gets_no_reminder(webinar, mailer, clock):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    person = privacy.find_person(webinar, "an@example.be", key=KEY)
    manage_module.stop_all_mail(webinar, person, "unsubscribed")
    mailer.sent.clear()
    result = tick(webinar, mailer, WEBINAR_START - timedelta(hours=1))
    assert mailer.sent == [] and result.skipped == 1
    assert {s.reason for s in webinar.list_sends(WEBINAR) if s.state == "skipped"} == {"mail stopped (unsubscribed)"}


def test_erased_person_leaves_no_sends(webinar, mailer):
    register(webinar, mailer, "an@example.be", [WEBINAR])
    privacy.erase(webinar, privacy.find_person(webinar, "an@example.be", key=KEY))
    assert webinar.list_sends(WEBINAR) == []


def test_permanent_rejection_is_recorded_and_not_retried(webinar, mailer, clock):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])

    class Rejecting(RecordingMailer):
        calls = 0

        def send(self, mail):
            Rejecting.calls += 1
            raise MailRejected("MessageRejected")

    at = WEBINAR_START - timedelta(hours=1)
    result = tick(webinar, Rejecting(), at)
    assert result.failed == 1 and Rejecting.calls == 1
    assert tick(webinar, Rejecting(), at + timedelta(minutes=1)).due == 0
    [send] = [s for s in webinar.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert send.state == "failed" and "MessageRejected" in send.reason


def test_throttled_send_is_retried_with_backoff_then_left_to_the_next_tick(webinar, mailer, clock):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()

    class Throttled(RecordingMailer):
        def send(self, mail):
            raise MailThrottled("Throttling")

    at = WEBINAR_START - timedelta(hours=1)
    fake = FakeTime()
    result = tick(webinar, Throttled(), at, fake=fake)
    assert result.throttled == tick_module.TRIES_PER_TICK and result.retry_later == 1
    assert fake.slept[-2:] == [tick_module.BACKOFF_FIRST, tick_module.BACKOFF_FIRST * 2]
    assert tick(webinar, mailer, at + timedelta(seconds=30)).due == 0  # backing off
    assert tick(webinar, mailer, at + timedelta(minutes=2)).sent == 1
    assert kinds(mailer) == ["reminder"]


def test_a_claim_whose_tick_died_is_not_resent(webinar, mailer, clock):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    at = WEBINAR_START - timedelta(hours=1)
    due = webinar.due_sends(at, 10)
    webinar.claim_sends(due, by="a-tick-that-died", lease_until=at + tick_module.LEASE)
    mailer.sent.clear()
    assert tick(webinar, mailer, at + timedelta(minutes=1)).due == 0  # held by its lease
    result = tick(webinar, mailer, at + tick_module.LEASE + timedelta(seconds=1))
    assert result.sent == 0 and result.skipped == 1 and mailer.sent == []
    [send] = [s for s in webinar.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert send.reason.startswith("interrupted")


def test_a_send_whose_answer_was_lost_is_recorded_and_never_resent(webinar, mailer, clock):
    from chalicelib.errors import MailUncertain

    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])

    class NoAnswer(RecordingMailer):
        def send(self, mail):
            super().send(mail)  # SES took it...
            raise MailUncertain("ReadTimeoutError")  # ...but its answer never came

    at = WEBINAR_START - timedelta(hours=1)
    lost = NoAnswer()
    result = tick(webinar, lost, at)
    assert result.failed == 1 and len(lost.sent) == 1
    assert tick(webinar, lost, at + timedelta(minutes=5)).due == 0 and len(lost.sent) == 1
    [send] = [s for s in webinar.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert send.state == "failed" and send.reason.startswith("uncertain")


def test_a_storage_failure_after_the_claim_puts_the_sends_back_for_the_next_tick(webinar, mailer, clock, monkeypatch):
    clock.set(WEBINAR_START - timedelta(hours=20))
    for i in range(3):
        register(webinar, mailer, f"p{i}@example.be", [WEBINAR])
    mailer.sent.clear()
    real = webinar.reserve_send_slots
    monkeypatch.setattr(webinar, "reserve_send_slots", lambda *a, **k: (_ for _ in ()).throw(Unavailable("storage: down")))
    at = WEBINAR_START - timedelta(hours=1)
    result = tick(webinar, mailer, at)
    assert result.claimed == 3 and result.sent == 0 and result.stopped_early and mailer.sent == []
    assert {s.state for s in webinar.list_sends(WEBINAR) if s.detail == "PT1H"} == {"pending"}
    monkeypatch.setattr(webinar, "reserve_send_slots", real)
    assert tick(webinar, mailer, at + timedelta(minutes=1)).sent == 3  # not skipped as interrupted


def test_a_batch_whose_record_fails_for_a_moment_is_recorded_on_the_next_try(repo, mailer, clock, monkeypatch):
    clock.set(WEBINAR_START - timedelta(hours=20))
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    for i in range(3):
        register(repo, mailer, f"p{i}@example.be", [WEBINAR])
    mailer.sent.clear()
    _fails_once(monkeypatch, repo, "settle_sends")
    fake = FakeTime()
    result = tick(repo, mailer, WEBINAR_START - timedelta(hours=1), fake=fake)
    assert result.sent == 3 and len(mailer.sent) == 3
    assert [s.state for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"] == ["sent"] * 3  # not left claimed
    assert tick_module.BACKOFF_FIRST in fake.slept


def test_a_batch_whose_record_keeps_failing_stops_the_tick_and_is_never_resent(webinar, mailer, clock, monkeypatch):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    real = webinar.settle_sends
    monkeypatch.setattr(webinar, "settle_sends", lambda *a, **k: (_ for _ in ()).throw(Unavailable("storage: down")))
    at = WEBINAR_START - timedelta(hours=1)
    with pytest.raises(Unavailable):
        tick(webinar, mailer, at)
    monkeypatch.setattr(webinar, "settle_sends", real)
    later = tick(webinar, mailer, at + tick_module.LEASE + timedelta(seconds=1))
    assert len(mailer.sent) == 1 and later.reasons == {"interrupted: claimed by a tick that stopped; not resent": 1}


# ------------------------------------------------------------ rate, deadline


def slots(repo, fake, rate):
    return tick_module.SendSlots(repo.reserve_send_slots, rate, wall=fake.clock, clock=fake.clock, sleep=fake.sleep)


def at_most_per_second(stamps, rate):
    return all(sum(1 for t in stamps if start <= t < start + 1 - 1e-9) <= rate for start in stamps)


def test_send_slots_never_exceed_the_rate(memory_repo):
    fake = FakeTime()
    pacer = slots(memory_repo, fake, 14)
    pacer.want(100)
    stamps = []
    for _ in range(100):
        assert pacer.acquire()
        stamps.append(fake.now)
    assert at_most_per_second(stamps, 14)
    assert stamps[-1] - stamps[0] == pytest.approx(99 / 14)
    assert pacer.windows == 1  # one reservation for the whole batch


def test_send_slots_refuse_a_slot_past_the_deadline(memory_repo):
    fake = FakeTime()
    pacer = slots(memory_repo, fake, 2)
    assert pacer.acquire(deadline=fake.now + 0.1)
    assert not pacer.acquire(deadline=fake.now + 0.1)  # the next is 0.5 s away
    assert fake.slept == []


def test_ticks_sharing_the_slots_keep_to_the_rate_together(repo):
    """Two ticks at once, each allowed 10 a second: together they still send at most 10 a second."""
    import random

    fake = FakeTime()
    fake.now = 1_790_000_000.0  # epoch seconds, as the shared record holds them
    ticks = [slots(repo, fake, 10), slots(repo, fake, 10)]
    stamps, turns = [], random.Random(3)
    for pacer in ticks:
        pacer.want(25)
    for _ in range(60):
        pacer = turns.choice(ticks)
        assert pacer.acquire()
        stamps.append(fake.now)
    assert at_most_per_second(stamps, 10)
    assert stamps[-1] - stamps[0] >= 59 / 10 - 1e-6


def test_a_reminder_whose_slot_comes_after_its_grace_is_skipped_not_sent_late(webinar, mailer, clock):
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    fake = FakeTime()
    fake.now = 1_790_000_000.0
    cutoff = WEBINAR_START - timedelta(minutes=45)  # PT1H: due at the start - 1 h, grace 15 minutes
    at = cutoff - timedelta(seconds=2)
    webinar.reserve_send_slots(1, 1 / 5, fake.now)  # other ticks hold the next 5 seconds
    result = tick(webinar, mailer, at, fake=fake, wall=fake.clock)
    assert fake.slept and result.sent == 0 and result.stale == 1 and mailer.sent == []
    [send] = [s for s in webinar.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert (send.state, send.reason) == ("skipped", "stale: past its grace")


def test_a_tick_that_falls_behind_does_not_catch_up_in_a_burst(memory_repo):
    fake = FakeTime()
    pacer = slots(memory_repo, fake, 10)
    pacer.want(50)
    stamps = []
    for i in range(30):
        assert pacer.acquire()
        stamps.append(fake.now)
        if i == 5:
            fake.now += 2.0  # a slow SES call: twenty slots go by
    assert at_most_per_second(stamps, 10)


def test_a_reserved_end_far_in_the_future_is_not_waited_for(memory_repo):
    fake = FakeTime()
    memory_repo.reserve_send_slots(1, 1 / 3600, fake.now)  # a window of an hour: a broken record
    pacer = slots(memory_repo, fake, 10)
    assert pacer.acquire() and fake.slept == []


def test_tick_keeps_to_the_rate_and_stops_before_its_deadline(memory_repo):
    webinar_with_registrants(memory_repo, 30)
    fake = FakeTime()
    stamping = Stamping(fake.clock)
    at = WEBINAR_START - timedelta(hours=1)
    result = tick(memory_repo, stamping, at, fake=fake, rate=5, time_budget=3.0)
    assert result.stopped_early and 10 <= result.sent <= 16
    assert at_most_per_second(stamping.stamps, 5)
    rest = tick(memory_repo, stamping, at + timedelta(minutes=1), rate=1000)
    assert result.sent + rest.sent == 30
    assert len({m.to_email for m, _ in stamping.sent}) == 30 == len(stamping.sent)


def test_four_ticks_at_once_share_one_rate(memory_repo):
    """Four dispatchers in real time, each allowed 40 mails a second: together they send 40 a second, not 160."""
    from concurrent.futures import ThreadPoolExecutor

    webinar_with_registrants(memory_repo, 60)
    stamping = Stamping(time.monotonic)
    at = WEBINAR_START - timedelta(hours=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: tick_module.send_due(memory_repo, stamping, base_url=BASE, now=at, rate=40,
                                                             batch=5, key=KEY), range(4)))
    assert sum(r.sent for r in results) == 60 == len({m.to_email for m, _ in stamping.sent}) == len(stamping.sent)
    assert sum(1 for r in results if r.sent) >= 2  # they did share the work
    stamps = sorted(stamping.stamps)
    assert stamps[-1] - stamps[0] >= 59 / 40 - 0.01  # four separate limits would take a quarter of that
    # Each send starts its own slot; a thread held up by the scheduler can only send later, not earlier.
    assert all(sum(1 for t in stamps if start <= t < start + 1) <= 40 + 4 for start in stamps)


def test_thirty_percent_throttling_still_sends_every_reminder_exactly_once(memory_repo):
    import random

    webinar_with_registrants(memory_repo, 60)

    class Flaky(RecordingMailer):
        def __init__(self):
            super().__init__()
            self.random = random.Random(5)

        def send(self, mail):
            if self.random.random() < 0.3:
                raise MailThrottled("Throttling")
            return super().send(mail)

    flaky = Flaky()
    at = WEBINAR_START - timedelta(hours=1)
    throttled = 0
    for minute in range(15):
        throttled += tick(memory_repo, flaky, at + timedelta(minutes=minute)).throttled
    assert throttled > 10
    assert sorted(m.to_email for m, _ in flaky.sent) == sorted(f"p{i}@example.be" for i in range(60))
    assert {s.state for s in memory_repo.list_sends(WEBINAR) if s.detail == "PT1H"} == {"sent"}


# ---------------------------------------------------------------- notices


def _ics(raw: bytes) -> str:
    message = email.message_from_bytes(raw)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part.get_payload(decode=True).decode()


def test_change_of_time_mails_each_confirmed_registrant_once_and_moves_reminders(webinar, mailer, clock):
    register(webinar, mailer, "an@example.be", [WEBINAR])
    register(webinar, mailer, "bo@example.be", [WEBINAR], language="en", name="Bo")
    mailer.sent.clear()
    change = events.change_event(webinar, WEBINAR, {"starts_at": "2027-01-21T10:00:00+01:00",
                                                    "ends_at": "2027-01-21T11:00:00+01:00"}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(webinar, change, settings=SETTINGS)
    planning.after_event_change(webinar, change, settings=SETTINGS)  # a retried request
    assert mailer.sent == []  # the tick sends
    tick(webinar, mailer, PINNED_NOW + timedelta(minutes=1))
    tick(webinar, mailer, PINNED_NOW + timedelta(minutes=2))
    assert sorted((m.to_email, m.kind) for m, _ in mailer.sent) == [
        ("an@example.be", "event_changed"), ("bo@example.be", "event_changed")]
    [(mail, raw)] = [(m, r) for m, r in mailer.sent if m.to_email == "bo@example.be"]
    assert "New time" in mail.text and "Thursday 21 January 2027, 10:00" in mail.text
    ics = _ics(raw)
    assert "METHOD:REQUEST" in ics and "SEQUENCE:1" in ics and f"UID:{WEBINAR}@" in ics
    moved = {s.detail: s.due for s in webinar.list_sends(WEBINAR) if s.kind == "reminder"}
    assert moved["PT1H"] == WEBINAR_START + timedelta(days=7, hours=-1)


def test_two_quick_changes_make_one_notice(webinar, mailer):
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    for body in ({"online_url": "https://meet.example.org/new"},
                 {"starts_at": "2027-01-14T11:00:00+01:00", "ends_at": "2027-01-14T12:00:00+01:00"}):
        change = events.change_event(webinar, WEBINAR, body, actor="test", base_url=SETTINGS.base_url)
        planning.after_event_change(webinar, change, settings=SETTINGS)
    tick(webinar, mailer, PINNED_NOW + timedelta(minutes=1))
    [(mail, raw)] = mailer.sent
    assert "https://meet.example.org/new" in mail.text and "11:00" in mail.text
    assert "SEQUENCE:2" in _ics(raw)


def test_a_reminder_that_went_out_is_not_sent_again_when_the_event_moves(repo, mailer, clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    clock.set(WEBINAR_START - timedelta(days=1))
    tick(repo, mailer, WEBINAR_START - timedelta(days=1))
    assert kinds(mailer) == ["reminder"]
    [sent] = [s for s in repo.list_sends(WEBINAR) if s.detail == "P1D"]
    # Half an hour later the start moves one hour: the new "in 1 day" time is still ahead.
    clock.set(WEBINAR_START - timedelta(days=1, minutes=-30))
    change = events.change_event(repo, WEBINAR, {"starts_at": "2027-01-14T11:00:00+01:00",
                                                 "ends_at": "2027-01-14T12:00:00+01:00"}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(repo, change, settings=SETTINGS)
    for minutes in (31, 61, 91):
        tick(repo, mailer, WEBINAR_START - timedelta(days=1, minutes=-minutes))
    assert kinds(mailer) == ["reminder", "event_changed"]  # the notice carries the new time; no second "in 1 day"
    [kept] = [s for s in repo.list_sends(WEBINAR) if s.detail == "P1D"]
    assert (kept.state, kept.message_id) == ("sent", sent.message_id)
    [hour] = [s for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert (hour.state, hour.due) == ("pending", WEBINAR_START)  # the unsent one follows: 11:00 - 1 h


def test_a_notice_a_tick_takes_while_a_later_change_is_planned_is_not_folded_into_it(repo, mailer, clock, monkeypatch):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    first = events.change_event(repo, WEBINAR, {"online_url": "https://meet.example.org/new"}, actor="test",
                                base_url=SETTINGS.base_url)
    planning.after_event_change(repo, first, settings=SETTINGS)
    held = []
    delete_sends = repo.delete_sends

    def a_tick_claims_it_first(sends):
        # The planning read the earlier notice as pending; a tick claims it just before the fold deletes it.
        if not held:
            held.extend(repo.claim_sends([s for s in repo.due_sends(PINNED_NOW, 10) if s.kind == "change"],
                                         by="a tick", lease_until=PINNED_NOW + tick_module.LEASE))
        return delete_sends(sends)

    monkeypatch.setattr(repo, "delete_sends", a_tick_claims_it_first)
    second = events.change_event(repo, WEBINAR, {"starts_at": "2027-01-14T11:00:00+01:00",
                                                 "ends_at": "2027-01-14T12:00:00+01:00"}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(repo, second, settings=SETTINGS)
    # The held notice stays, to be sent and recorded by its tick; the new one says only what it adds.
    changes = {s.detail: s for s in repo.list_sends(WEBINAR) if s.kind == "change"}
    assert len(held) == 1 and changes["1"].state == "claimed"
    assert changes["2"].details["material"] == ["ends_at", "starts_at"]
    assert changes["2"].details["before"]["online_url"] == "https://meet.example.org/new"


def test_a_tick_reads_the_events_again_for_each_page_of_due_sends(memory_repo, mailer, clock, monkeypatch):
    """A cancellation during a long tick: its notices, on a later page, go out (the event is not taken as published)."""
    events.create_event(memory_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    for address in ("an@example.be", "bo@example.be"):
        register(memory_repo, mailer, address, [WEBINAR])
    mailer.sent.clear()
    monkeypatch.setattr(tick_module, "PAGE", 1)

    class CancelsAfterTheFirstMail(RecordingMailer):
        def send(self, mail):
            message_id = super().send(mail)
            if len(self.sent) == 1:
                planning.after_event_change(memory_repo, events.cancel_event(memory_repo, WEBINAR, actor="staff", base_url=SETTINGS.base_url), settings=SETTINGS)
            return message_id

    cancelling = CancelsAfterTheFirstMail()
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    result = tick(memory_repo, cancelling, at + timedelta(seconds=30))
    assert kinds(cancelling) == ["reminder", "event_cancelled", "event_cancelled"]
    assert result.reasons == {"stale: past its grace": 2}  # the day-before reminders, long gone


def test_cancelling_an_event_leaves_the_reminder_a_tick_holds_to_be_recorded(repo, mailer, clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    at = WEBINAR_START - timedelta(hours=1)
    [reminder] = [s for s in repo.due_sends(at, 10) if s.detail == "PT1H"]
    repo.claim_sends([reminder], by="a tick", lease_until=at + tick_module.LEASE)
    planning.after_event_change(repo, events.cancel_event(repo, WEBINAR, actor="staff", base_url=SETTINGS.base_url),
                                settings=SETTINGS)
    [kept] = [s for s in repo.list_sends(WEBINAR) if s.kind == "reminder" and s.detail == "PT1H"]
    assert kept.state == "claimed"  # its tick records it (sent, or skipped as the event is cancelled)
    assert [s.detail for s in repo.list_sends(WEBINAR) if s.kind == "reminder"] == ["PT1H"]


def test_cancellation_mails_registered_waiting_and_interested_once_and_drops_reminders(memory_repo, mailer, clock):
    events.create_event(memory_repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    events.create_event(memory_repo, webinar_data(registration_opens_at="2026-12-01T09:00:00+01:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY])
    register(memory_repo, mailer, "bo@example.be", [DAY], name="Bo")
    register(memory_repo, mailer, "cy@example.be", [WEBINAR], name="Cy")
    mailer.sent.clear()
    for event_id in (DAY, WEBINAR):
        change = events.cancel_event(memory_repo, event_id, actor="test", base_url=SETTINGS.base_url)
        planning.after_event_change(memory_repo, change, settings=SETTINGS)
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=1))
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=2))
    assert sorted((m.to_email, m.kind) for m, _ in mailer.sent) == [
        ("an@example.be", "event_cancelled"), ("bo@example.be", "event_cancelled"), ("cy@example.be", "event_cancelled")]
    sent = {m.to_email: (m, raw) for m, raw in mailer.sent}
    ics = _ics(sent["an@example.be"][1])
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics
    # The join link is for confirmed registrants only; a cancellation goes to the waiting and interested too.
    assert not any("meet.example.org" in (_ics(raw) if m.attachments else "") + m.text + m.html
                   for m, raw in mailer.sent)
    # Only An had a seat, and the invite: the others get no .ics and no word about removing a calendar entry.
    assert "Heb je het evenement via onze uitnodiging in je agenda gezet?" in sent["an@example.be"][0].text
    for waiting in ("bo@example.be", "cy@example.be"):
        mail, raw = sent[waiting]
        assert not mail.attachments and b"text/calendar" not in raw
        assert "agenda" not in mail.text and "We are sorry" not in mail.text
    assert [s for s in memory_repo.list_sends(DAY) + memory_repo.list_sends(WEBINAR) if s.state == "pending"] == []
    assert tick(memory_repo, mailer, datetime(2027, 6, 2, 7, 0, tzinfo=timezone.utc)).due == 0


def test_interested_people_are_mailed_a_one_click_link_when_registration_opens(memory_repo, mailer, clock):
    events.create_event(memory_repo, webinar_data(registration_opens_at="2026-12-01T09:00:00+01:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    opens = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    assert tick(memory_repo, mailer, opens - timedelta(minutes=1)).due == 0
    tick(memory_repo, mailer, opens)
    [(mail, _)] = mailer.sent
    assert mail.kind == "registration_open"
    link = re.search(rf"{BASE}/manage/([\w-]+)/events/{WEBINAR}/register", mail.text)
    assert link
    clock.set(opens + timedelta(minutes=5))
    outcome = manage_module.register_from_link(memory_repo, mailer, link.group(1), WEBINAR, base_url=BASE,
                                               key=KEY, settings=SETTINGS)
    assert outcome.status == "confirmed"
    assert {s.kind for s in memory_repo.list_sends(WEBINAR) if s.state == "pending"} == {"reminder"}


def test_staff_opening_registration_early_mails_interested_people_now(memory_repo, mailer, clock):
    events.create_event(memory_repo, webinar_data(registration_opens_at="2026-12-20T09:00:00+01:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    change = events.change_event(memory_repo, WEBINAR, {"registration_opens_at": None}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(memory_repo, change, settings=SETTINGS)
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=1))
    assert kinds(mailer) == ["registration_open"]


# ------------------------------------------------------- bounces, the schedule


@pytest.mark.parametrize("kind, bounce_type, stopped", [
    ("Bounce", "Permanent", "bounce"), ("Complaint", None, "complaint"),
    ("Bounce", "Transient", None), ("Delivery", None, None),
])
def test_permanent_bounce_or_complaint_stops_every_reminder(webinar, mailer, clock, kind, bounce_type, stopped):
    from chalicelib.model import send as send_model
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import tick as tick_module
    from chalicelib import wiring

    clock.set(WEBINAR_START - timedelta(hours=20))
    register(webinar, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    bounces.handle_ses_notification(ses_notice(kind, "AN@example.be", bounce_type), webinar, key=KEY)
    person = privacy.find_person(webinar, "an@example.be", key=KEY)
    assert person.mail_stopped_reason == stopped
    result = tick(webinar, mailer, WEBINAR_START - timedelta(hours=1))
    assert result.sent == (0 if stopped else 1)
    if stopped:
        [send] = webinar.list_sends(WEBINAR)
        assert send.reason == f"mail stopped ({stopped})"


def test_the_schedule_runs_the_same_tick_and_logs_its_counts(monkeypatch, capsys):
    from chalicelib.model import send as send_model
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import tick as tick_module
    from chalicelib import wiring

    seen = {}

    def fake_send_due_now(now, time_budget):
        seen.update(now=now, time_budget=time_budget)  # no repo given: the stage's
        return tick_module.TickResult(due=3, sent=2, stale=1)

    monkeypatch.setattr(wiring, "send_due_now", fake_send_due_now)
    counts = wiring.run_tick(PINNED_NOW, time_budget=40.0)
    assert (counts.due, counts.sent, counts.stale) == (3, 2, 1)
    assert seen == {"now": PINNED_NOW, "time_budget": 40.0}
    assert '"MailsSent":2' in capsys.readouterr().out


# ------------------------------------------------ a planning that failed


def _fails_once(monkeypatch, repo, method):
    """``repo.method`` raises Unavailable the first time, as a table that fails for a moment."""
    real, calls = getattr(repo, method), []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise Unavailable("storage: ProvisionedThroughputExceededException")
        return real(*args, **kwargs)

    monkeypatch.setattr(repo, method, flaky)


def _planning_fails_once(monkeypatch, repo, method, change):
    """Staff make ``change()``; planning its mails meets a failing ``repo.method``: a 503, the change itself saved."""
    _fails_once(monkeypatch, repo, method)
    with pytest.raises(Unavailable):
        planning.after_event_change(repo, change(), settings=SETTINGS)


MOVE = {"starts_at": "2027-01-21T10:00:00+01:00", "ends_at": "2027-01-21T11:00:00+01:00"}


def test_a_change_whose_planning_failed_is_planned_when_staff_repeat_the_request(repo, mailer, clock, monkeypatch):
    webinar_with_registrants(repo, 1)
    _planning_fails_once(monkeypatch, repo, "list_registrations",
                         lambda: events.change_event(repo, WEBINAR, MOVE, actor="staff", base_url=SETTINGS.base_url))
    assert repo.get_event(WEBINAR).unplanned is not None
    again = events.change_event(repo, WEBINAR, MOVE, actor="staff",
                                base_url=SETTINGS.base_url)  # the same request, repeated
    assert sorted(again.material) == ["ends_at", "starts_at"] and again.before.starts_at == WEBINAR_START
    planning.after_event_change(repo, again, settings=SETTINGS)
    assert repo.get_event(WEBINAR).unplanned is None
    tick(repo, mailer, PINNED_NOW + timedelta(minutes=1))
    assert kinds(mailer) == ["event_changed"]
    [hour] = [s for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert hour.due == WEBINAR_START + timedelta(days=7, hours=-1)


def test_a_change_whose_planning_failed_is_planned_by_the_tick_when_nobody_repeats_it(repo, mailer, clock, monkeypatch):
    webinar_with_registrants(repo, 1)
    _planning_fails_once(monkeypatch, repo, "list_sends", lambda: events.change_event(repo, WEBINAR, MOVE, actor="staff", base_url=SETTINGS.base_url))
    # A tick within the minute leaves it to the request; the next one plans it, and the one after sends.
    assert planning.plan_unplanned(repo, PINNED_NOW + timedelta(seconds=20), settings=SETTINGS) == 0
    clock.set(PINNED_NOW + timedelta(minutes=2))
    monkeypatch.setenv("TABLE_NAME", "unused: the repository is given")
    wiring.send_due_now(PINNED_NOW + timedelta(minutes=2), repo=repo, mailer=mailer)
    wiring.send_due_now(PINNED_NOW + timedelta(minutes=3), repo=repo, mailer=mailer)
    assert kinds(mailer) == ["event_changed"] and repo.get_event(WEBINAR).unplanned is None
    assert planning.plan_unplanned(repo, PINNED_NOW + timedelta(minutes=4), settings=SETTINGS) == 0


def test_a_cancellation_whose_notices_failed_is_planned_when_staff_cancel_again(repo, mailer, clock, monkeypatch):
    webinar_with_registrants(repo, 1)
    _planning_fails_once(monkeypatch, repo, "list_registrations",
                         lambda: events.cancel_event(repo, WEBINAR, actor="staff", base_url=SETTINGS.base_url))
    planning.after_event_change(repo, events.cancel_event(repo, WEBINAR, actor="staff", base_url=SETTINGS.base_url),
                                settings=SETTINGS)
    planning.after_event_change(repo, events.cancel_event(repo, WEBINAR, actor="staff", base_url=SETTINGS.base_url),
                                settings=SETTINGS)  # and once more
    tick(repo, mailer, PINNED_NOW + timedelta(minutes=1))
    assert kinds(mailer) == ["event_cancelled"]
    assert [s.kind for s in repo.list_sends(WEBINAR) if s.state == "pending"] == []


def test_a_later_change_plans_the_mails_of_an_earlier_one_whose_planning_failed(repo, mailer, clock, monkeypatch):
    webinar_with_registrants(repo, 1)
    _planning_fails_once(monkeypatch, repo, "list_registrations",
                         lambda: events.change_event(repo, WEBINAR, MOVE, actor="staff", base_url=SETTINGS.base_url))
    later = events.change_event(repo, WEBINAR, {"online_url": "https://meet.example.org/new"}, actor="staff",
                                base_url=SETTINGS.base_url)
    planning.after_event_change(repo, later, settings=SETTINGS)
    tick(repo, mailer, PINNED_NOW + timedelta(minutes=1))
    [(mail, _)] = mailer.sent  # one notice: the new time and the new link, against what the person last heard
    [notice] = [s for s in repo.list_sends(WEBINAR) if s.kind == "change"]
    assert notice.details["material"] == ["ends_at", "online_url", "starts_at"]
    assert notice.details["before"]["starts_at"] == "2027-01-14T09:00:00.000000Z"
    assert "https://meet.example.org/new" in mail.text


def test_a_freed_seat_whose_promotion_failed_is_given_by_the_tick(repo, mailer, clock, monkeypatch):
    manage = _an_seated_bo_waiting(repo, mailer)
    _fails_once(monkeypatch, repo, "list_registrations")
    with pytest.raises(Unavailable):  # the seat is freed, then the table fails: a 503
        manage_module.cancel_registration(repo, manage, DAY, key=KEY)
    assert manage_module.cancel_registration(repo, manage, DAY, key=KEY).id == DAY  # repeating it: cancelled already
    event = repo.get_event(DAY)
    assert event.seats_taken == 0 and event.seat_freed_at == PINNED_NOW
    clock.set(PINNED_NOW + timedelta(minutes=2))
    wiring.send_due_now(PINNED_NOW + timedelta(minutes=2), repo=repo, mailer=mailer)
    wiring.send_due_now(PINNED_NOW + timedelta(minutes=3), repo=repo, mailer=mailer)
    assert kinds(mailer, "bo@example.be") == ["confirm_request", "confirmed", "seat_given"]
    assert (repo.get_event(DAY).seats_taken, repo.get_event(DAY).seat_freed_at) == (1, None)


def test_a_seat_freed_and_given_at_once_leaves_nothing_for_the_tick(repo, mailer, clock):
    manage = _an_seated_bo_waiting(repo, mailer)
    manage_module.cancel_registration(repo, manage, DAY, key=KEY)
    assert repo.get_event(DAY).seat_freed_at is None
    assert planning.plan_unplanned(repo, PINNED_NOW + timedelta(minutes=5), settings=SETTINGS) == 0


def test_a_seat_freed_while_the_last_one_is_offered_keeps_its_mark(repo, mailer, clock):
    events.create_event(repo, day_data(capacity=2), actor="test", base_url=SETTINGS.base_url)
    for address in ("an@example.be", "bo@example.be"):
        register(repo, mailer, address, [DAY])
    an, bo = (repo.get_registrations(privacy.find_person(repo, a, key=KEY).id, [DAY])[DAY]
              for a in ("an@example.be", "bo@example.be"))
    first, second = PINNED_NOW + timedelta(minutes=1), PINNED_NOW + timedelta(minutes=2)
    repo.move_registration(replace(an, status="cancelled", updated_at=first), expect=("confirmed",), seat_change=-1)
    seen = repo.get_event(DAY).seat_freed_at  # a promotion reads the event ...
    repo.move_registration(replace(bo, status="cancelled", updated_at=second), expect=("confirmed",), seat_change=-1)
    repo.seat_offered(DAY, seen)  # ... and clears the mark it read, which is no longer there
    assert (seen, repo.get_event(DAY).seat_freed_at) == (first, second)
    repo.seat_offered(DAY, second)
    assert repo.get_event(DAY).seat_freed_at is None


# ------------------------------------------------------ what the mails say


def test_a_reminder_says_its_offset_exactly_and_a_two_day_event_ends_on_its_own_day(memory_repo, mailer, clock):
    events.create_event(memory_repo, day_data(ends_at="2027-06-04T17:00:00+02:00", reminders=["PT90M"],
                                              online_url="https://meet.example.org/stream"), actor="test",
                        base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY], language="en", name="An")
    mailer.sent.clear()
    start = datetime(2027, 6, 3, 7, 0, tzinfo=timezone.utc)
    tick(memory_repo, mailer, start - timedelta(minutes=90))
    [(mail, raw)] = mailer.sent
    assert "90 minutes" in mail.subject and "2 hours" not in mail.text  # not rounded
    assert "Friday 4 June 2027" in mail.text and "Friday 4 June 2027" in mail.html  # the end's own date
    # In person, with a stream: the address and map, and the join link too (the .ics has it as well).
    assert "Havenlaan 88" in mail.text and "https://meet.example.org/stream" in mail.text
    assert f"{BASE}/unsubscribe/" in mail.text and "?lang=en" in mail.text.split(f"{BASE}/unsubscribe/")[1].split()[0]
    assert email.message_from_bytes(raw)["List-Unsubscribe"].endswith(">") and "?lang" not in email.message_from_bytes(raw)["List-Unsubscribe"]


def test_a_change_of_end_date_and_a_move_online_read_as_what_they_are(memory_repo, mailer, clock):
    events.create_event(memory_repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY], language="en", name="An")
    mailer.sent.clear()
    change = events.change_event(memory_repo, DAY, {"ends_at": "2027-06-04T17:00:00+02:00", "kind": "webinar",
                                                    "location": None, "online_url": "https://meet.example.org/day"},
                                 actor="test", base_url=SETTINGS.base_url)
    planning.after_event_change(memory_repo, change, settings=SETTINGS)
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=1))
    [(mail, _)] = mailer.sent
    new_time, was = [line for line in mail.text.splitlines() if "New time:" in line or "was:" in line][:2]
    assert "Friday 4 June 2027" in new_time and "Friday" not in was  # the two lines differ
    # "was" stays indented under the new time, with its zone as the new time has it.
    assert was.startswith("  was: ") and was.endswith("(Belgian time)")
    assert "New place: Online" in mail.text and "was: Herman Teirlinckgebouw" in mail.text
    assert "New join link: https://meet.example.org/day" in mail.text


def test_a_move_from_online_to_a_venue_shows_no_empty_link(memory_repo, mailer, clock):
    events.create_event(memory_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [WEBINAR], language="en", name="An")
    mailer.sent.clear()
    change = events.change_event(memory_repo, WEBINAR, {"kind": "in_person", "online_url": None,
                                                        "location": {"name": "Herman Teirlinckgebouw"}}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(memory_repo, change, settings=SETTINGS)
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=1))
    [(mail, _)] = mailer.sent
    assert "was: Online" in mail.text and "New join link" not in mail.text and 'href=""' not in mail.html


def test_the_seat_mail_names_its_event_in_the_subject(memory_repo, mailer, clock):
    manage = _an_seated_bo_waiting(memory_repo, mailer)
    manage_module.cancel_registration(memory_repo, manage, DAY, key=KEY)
    tick(memory_repo, mailer, PINNED_NOW)
    seat, _ = mailer.sent[-1]
    assert seat.subject.startswith("Er is een plaats vrij: je bent ingeschreven voor Smart Region Dag")


def test_a_newcomer_queues_behind_the_waiting_list_for_a_seat_freed_but_not_yet_offered(repo, mailer, clock, monkeypatch):
    manage = _an_seated_bo_waiting(repo, mailer)  # Bo waits
    _fails_once(monkeypatch, repo, "list_registrations")
    with pytest.raises(Unavailable):  # An's seat is freed, its promotion fails
        manage_module.cancel_registration(repo, manage, DAY, key=KEY)
    register(repo, mailer, "cy@example.be", [DAY], name="Cy")  # confirms within that minute
    statuses = {r.email: r.status for r in repo.list_registrations(DAY)}
    assert statuses == {"an@example.be": "cancelled", "bo@example.be": "confirmed", "cy@example.be": "waitlisted"}
    assert repo.get_event(DAY).seat_freed_at is None


def test_a_postponed_event_keeps_its_registrants_and_their_reminders_until_after_its_new_end(repo, mailer, clock,
                                                                                              monkeypatch):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    register(repo, mailer, "bo@example.be", [WEBINAR])
    subscribe.subscribe(repo, mailer, {"email": "cas@example.be", "name": "Cas", "event_ids": [WEBINAR],
                                           "language": "nl", "consent": True}, base_url=BASE,
                        key=KEY, settings=SETTINGS)  # never confirmed
    before = {r.person_id: r for r in repo.list_registrations(WEBINAR)}
    [pending] = [r for r in before.values() if r.status == "pending"]
    kept = [r for r in before.values() if r.status == "confirmed"]
    assert all(r.expires_at < datetime(2028, 2, 1, tzinfo=timezone.utc) for r in kept)  # 180 days after January 2027
    # Another writer moves the first registration (to the waiting list, its reminders dropped) just before
    # it is raised: it is read again, and raised as it now is.
    real, calls = repo.move_registration, []

    def meanwhile(reg, **kwargs):
        calls.append(reg.person_id)
        if len(calls) == 1:
            mine = [s for s in repo.list_sends(WEBINAR, reg.person_id) if s.kind == "reminder"]
            real(replace(reg, status="waitlisted"), expect=("confirmed",), seat_change=-1, drop_sends=mine)
        return real(reg, **kwargs)

    monkeypatch.setattr(repo, "move_registration", meanwhile)
    # The webinar moves to January 2028: 180 days after its old end is July 2027.
    change = events.change_event(repo, WEBINAR, {"starts_at": "2028-01-13T10:00:00+01:00",
                                                 "ends_at": "2028-01-13T11:00:00+01:00"}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(repo, change, settings=SETTINGS)
    until = datetime(2028, 1, 13, 10, 0, tzinfo=timezone.utc) + timedelta(days=180)
    after = {r.person_id: r for r in repo.list_registrations(WEBINAR)}
    assert {p: (r.status, r.expires_at) for p, r in after.items() if p != pending.person_id} == {
        kept[0].person_id: (after[kept[0].person_id].status, until), kept[1].person_id: (after[kept[1].person_id].status, until)}
    assert sorted(r.status for r in after.values()) == ["confirmed", "pending", "waitlisted"]
    assert after[pending.person_id].expires_at == pending.expires_at  # its own seven days, to be confirmed
    assert [p.expires_at for p in repo.get_people([r.person_id for r in kept]).values()] == [until, until]
    reminders_ = [s for s in repo.list_sends(WEBINAR) if s.kind == "reminder"]
    assert reminders_ and all(s.expires_at == until for s in reminders_)
    planning.after_event_change(repo, change, settings=SETTINGS)  # a retried request raises nothing more
    assert planning.keep_until_after(repo, repo.get_event(WEBINAR), PINNED_NOW, settings=SETTINGS) == 0


def test_a_long_join_link_is_a_labelled_link_not_shown_whole_in_the_html(memory_repo, mailer, clock):
    # A 300-character Teams link shown as text makes a phone's mail scroll sideways: the HTML labels it.
    teams = "https://teams.microsoft.com/l/meetup-join/" + "19%3ameeting_" + "A" * 250
    events.create_event(memory_repo, day_data(online_url=teams), actor="test", base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY])
    [(mail, _)] = [(m, raw) for m, raw in mailer.sent if m.kind == "confirmed"]
    assert f'href="{teams}"' in mail.html and f">{teams}<" not in mail.html
    assert teams in mail.text  # the text part has nothing else to offer


def test_the_registration_open_mail_promises_no_single_click(memory_repo, mailer, clock):
    # Its link opens a page with a button (opening a link never registers: mail scanners open links).
    events.create_event(memory_repo, webinar_data(registration_opens_at="2026-12-01T09:00:00+01:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [WEBINAR])
    tick(memory_repo, mailer, datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc))
    mail = mailer.sent[-1][0]
    assert mail.kind == "registration_open"
    assert "klik" not in mail.text + mail.html and "click" not in mail.text + mail.html


def test_people_waiting_hear_of_a_new_time_or_place_without_the_join_link_or_the_invite(memory_repo, mailer, clock):
    # The day holds one: An has the seat, Bo waits. A new time reaches both; Bo's mail has no join link, no .ics,
    # and says how to leave the waiting list. A change of the join link alone is An's only.
    events.create_event(memory_repo, day_data(capacity=1, online_url="https://meet.example.org/day"), actor="test",
                        base_url=SETTINGS.base_url)
    register(memory_repo, mailer, "an@example.be", [DAY])
    register(memory_repo, mailer, "bo@example.be", [DAY], name="Bo", language="en")
    mailer.sent.clear()
    change = events.change_event(memory_repo, DAY, {"starts_at": "2027-06-03T10:00:00+02:00"}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(memory_repo, change, settings=SETTINGS)
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=1))
    sent = {m.to_email: (m, raw) for m, raw in mailer.sent}
    assert sorted(sent) == ["an@example.be", "bo@example.be"]
    an, an_raw = sent["an@example.be"]
    assert an.kind == "event_changed" and "uitnodiging.ics" in [a.filename for a in an.attachments]
    assert "meet.example.org/day" in an.text
    bo, bo_raw = sent["bo@example.be"]
    assert bo.kind == "event_changed" and not bo.attachments and b"text/calendar" not in bo_raw
    assert "waiting list for has changed" in bo.text and "you leave the waiting list" in bo.text
    assert "meet.example.org" not in bo.text + bo.html and "10:00" in bo.text
    mailer.sent.clear()
    change = events.change_event(memory_repo, DAY, {"online_url": "https://meet.example.org/other"}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(memory_repo, change, settings=SETTINGS)
    tick(memory_repo, mailer, PINNED_NOW + timedelta(minutes=2))
    assert [m.to_email for m, _ in mailer.sent] == ["an@example.be"]

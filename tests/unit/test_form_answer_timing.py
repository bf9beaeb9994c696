"""The form's answer takes as long whoever the address is (issue 21, item 4).

An address that stopped all mail (or bounced, or is over a limit) gets no mail, and so was answered sooner
than an unknown one, whose answer waits for SES (12 to 52 ms locally). A valid submission now returns no
sooner than a floor after it began. Time here is a fake clock: SES takes 60 ms, everything else none.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.services import events, subscribe
from tests.conftest import KEY, SETTINGS, webinar_data
from tests.fakes import RecordingMailer
from tests.support.pages import WEBINAR

BASE = "https://events.example.be"
SES_TAKES = 0.060


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(subscribe, "_monotonic", fake.monotonic)
    monkeypatch.setattr(subscribe, "_sleep", fake.sleep)
    return fake


class SlowMailer(RecordingMailer):
    def __init__(self, fake: FakeTime):
        super().__init__()
        self.fake = fake

    def send(self, mail):
        self.fake.sleep(SES_TAKES)
        return super().send(mail)


def answer_time(repo, mailer, fake, email: str, settings) -> float:
    started = fake.now
    subscribe.subscribe(repo, mailer, {"email": email, "name": "X", "event_ids": [WEBINAR], "consent": True},
                        base_url=BASE, key=KEY, settings=settings)
    return fake.now - started


@pytest.mark.parametrize("floor_ms", [0, 400])
def test_an_address_that_stopped_all_mail_answers_as_late_as_an_unknown_one(memory_repo, fake_time, floor_ms):
    repo, mailer = memory_repo, SlowMailer(fake_time)
    settings = replace(SETTINGS, form_answer_floor_ms=floor_ms)
    events.create_event(repo, webinar_data(), actor="test", base_url=BASE)
    subscribe.subscribe(repo, mailer, {"email": "stopped@example.be", "name": "S", "event_ids": [WEBINAR],
                                       "consent": True}, base_url=BASE, key=KEY, settings=settings)
    person = next(iter(repo.people.values()))
    repo.people[person.id] = replace(person, mail_stopped_at=person.created_at, mail_stopped_reason="complaint")
    sent = len(mailer.sent)
    stopped = answer_time(repo, mailer, fake_time, "stopped@example.be", settings)
    unknown = answer_time(repo, mailer, fake_time, "unknown@example.be", settings)
    assert len(mailer.sent) == sent + 1  # the unknown address was mailed, the stopped one not
    if floor_ms == 0:  # without a floor the difference is SES's time: what an attacker measured
        assert unknown - stopped == pytest.approx(SES_TAKES)
    else:
        assert stopped == unknown == pytest.approx(0.400)


def test_the_floor_holds_for_every_path_that_mails_nothing(memory_repo, fake_time):
    repo, mailer = memory_repo, SlowMailer(fake_time)
    settings = replace(SETTINGS, form_answer_floor_ms=400)
    events.create_event(repo, webinar_data(), actor="test", base_url=BASE)
    times = [answer_time(repo, mailer, fake_time, "an@example.be", settings) for _ in range(5)]  # 3 mailed, 2 held
    honeypot_started = fake_time.now
    subscribe.subscribe(repo, mailer, {"email": "bot@example.be", "name": "B", "event_ids": [WEBINAR],
                                       "consent": True, "website": "spam"}, base_url=BASE, key=KEY, settings=settings)
    times.append(fake_time.now - honeypot_started)
    assert len(mailer.sent) == 3
    assert times == [pytest.approx(0.400)] * 6


def test_the_deployed_floor_is_above_a_usual_ses_answer():
    from chalicelib import config

    assert int(config.DEFAULTS["FORM_ANSWER_FLOOR_MS"]) >= 300

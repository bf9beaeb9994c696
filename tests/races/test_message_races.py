"""Ticks racing over a staff message: each person gets it once (moto made atomic per request, as DynamoDB is)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib.services import events, messages
from tests.conftest import PINNED_NOW, SETTINGS, day_data
from tests.fakes import RecordingMailer
from tests.support.sending import DAY, register, tick

MESSAGE = {"audience": ["confirmed"], "subject": {"nl": "Onderwerp", "en": "Subject"},
           "text": {"nl": "Tekst", "en": "Text"}}


@pytest.fixture(params=["memory_repo", "atomic_requests"])
def racing_repo(request):
    return request.getfixturevalue(request.param)


def test_ticks_racing_send_a_message_once_per_person(racing_repo, clock):
    repo = racing_repo
    mailer = RecordingMailer()
    events.create_event(repo, day_data(capacity=50), actor="test", base_url=SETTINGS.base_url)
    people = [f"p{i}@example.be" for i in range(12)]
    for address in people:
        register(repo, mailer, address, [DAY])
    mailer.sent.clear()
    messages.write_to_people(repo, DAY, MESSAGE, actor="anna", now=PINNED_NOW)
    start = threading.Barrier(4)

    def one_tick(_):
        start.wait()
        return tick(repo, mailer, PINNED_NOW + timedelta(minutes=2))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one_tick, range(4)))
    assert sorted(m.to_email for m, _ in mailer.sent if m.kind == "staff_message") == sorted(people)

"""Concurrent form posts for one address (issue 21, item 3): every valid one gets the answer any address gets.

Sixteen posts at once for one address all meet on its profile; before, 10 to 11 of 16 answered 409 (JSON,
and an HTML "That is not possible" page), which told that the address was being used at that moment.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.errors import Conflict
from chalicelib.services import events, subscribe
from tests.conftest import KEY, SETTINGS, webinar_data
from tests.fakes import RecordingMailer
from tests.support.pages import WEBINAR, post_form

BASE = "https://events.example.be"


def test_sixteen_posts_at_once_for_one_address_all_go_through(atomic_requests):
    repo, mailer = atomic_requests, RecordingMailer()
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    data = {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True}

    def post(i: int):
        return subscribe.subscribe(repo, mailer, {**data, "question": f"vraag {i}"}, base_url=BASE, key=KEY,
                                   settings=SETTINGS)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, range(16)))  # an exception (a Conflict: a 409) would surface here
    assert results == [None] * 16
    assert 1 <= len(mailer.sent) <= SETTINGS.confirmation_mails_per_hour  # within the limits, as ever
    assert [r.status for r in repo.list_registrations(WEBINAR)] == ["pending"]


@pytest.fixture
def always_conflicting(monkeypatch, dynamodb_repo):
    """Every save of a submission meets another one for the same address (the worst a crowd can do)."""
    def conflict(*args, **kwargs):
        raise Conflict("person: changed meanwhile; try again")

    monkeypatch.setattr(dynamodb_repo, "save_subscription", conflict)
    monkeypatch.setattr(subscribe, "_sleep", lambda seconds: None)
    return dynamodb_repo


def test_a_post_that_loses_every_try_is_answered_as_any_other(client, published, always_conflicting):
    page = post_form(client, "/subscriptions?lang=en")
    assert (page.status_code, page.headers["Location"]) == (303, "/subscriptions/sent?lang=en")
    answer = client.http.post("/subscriptions", headers={"Content-Type": "application/json"}, body=json.dumps(
        {"email": "an@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True}))
    assert (answer.status_code, answer.json_body) == (202, {"status": "pending_confirmation"})

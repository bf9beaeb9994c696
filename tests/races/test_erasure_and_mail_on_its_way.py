"""Mail already on its way when a person is erased (issue 21, item 7).

A tick that claimed a person's mail sends it even if an erasure answers 200 meanwhile (up to about 2 s
later): the sends are deleted, but one SES call may be in flight. The erasure cannot wait for a call it
cannot see, so it says so: the staff answer counts the mails on their way, and the erased page says that
an email already being sent may still arrive.
"""

from __future__ import annotations

import json
from datetime import timedelta

from chalicelib.services import privacy
from tests.conftest import KEY
from tests.support.pages import FORM, html
from tests.support.sending import WEBINAR, WEBINAR_START, register


def claimed_reminder(repo, mailer, clock, address: str):
    """``address`` registered for the webinar; its reminder claimed by a tick that is sending it now."""
    from chalicelib.services import events
    from tests.conftest import SETTINGS, webinar_data

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(repo, mailer, address, [WEBINAR])
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    due = [s for s in repo.due_sends(at, 10) if s.detail == "PT1H"]
    return repo.claim_sends(due, by="tick-1", lease_until=at + timedelta(minutes=5))


def test_an_erasure_says_how_many_mails_a_tick_was_sending(repo, mailer, clock):
    assert claimed_reminder(repo, mailer, clock, "an@example.be")
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    assert privacy.erase(repo, person) == 1


def test_an_erasure_with_nothing_on_its_way_says_none(repo, mailer, clock):
    from chalicelib.services import events
    from tests.conftest import SETTINGS, webinar_data

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    assert privacy.erase(repo, privacy.find_person(repo, "an@example.be", key=KEY)) == 0


def test_the_staff_erasure_answer_says_mail_may_still_arrive(client, dynamodb_repo, mailer, clock, staff_headers):
    claimed_reminder(dynamodb_repo, mailer, clock, "an@example.be")
    answer = client.http.delete("/staff/subscribers?email=an@example.be", headers=staff_headers)
    assert answer.status_code == 200
    body = json.loads(answer.body)
    assert body["status"] == "erased" and body["mail_on_its_way"] == 1 and "may still arrive" in body["note"]


def test_the_erased_page_says_an_email_already_being_sent_may_still_arrive(client):
    page = client.http.get("/erased?lang=en")
    assert "may still arrive in the next few minutes" in html(page)
    dutch = client.http.get("/erased?lang=nl")
    assert "kan de komende minuten nog aankomen" in html(dutch)

"""POST /staff/events/{id}/messages and its preview, through the HTTP edge."""

from __future__ import annotations

import json
from datetime import timedelta

from chalicelib import wiring
from tests.support.pages import WEBINAR
from tests.support.sending import tick

MESSAGE = {"audience": ["confirmed"], "subject": {"nl": "Nieuwe zaal", "en": "New room"},
           "text": {"nl": "We zitten in zaal 2.", "en": "We are in room 2."}}


def post(client, staff_headers, path, body):
    return client.http.post(path, headers={**staff_headers, "Content-Type": "application/json"},
                            body=json.dumps(body))


def test_staff_write_to_the_confirmed_people_and_the_tick_sends_it(client, staff_headers, subscribe_and_confirm,
                                                                   mailer, clock):
    subscribe_and_confirm("an@example.be", [WEBINAR])
    reply = post(client, staff_headers, f"/staff/events/{WEBINAR}/messages", MESSAGE)
    assert reply.status_code == 202, reply.body
    planned = json.loads(reply.body)
    assert planned["recipients"] == 1 and planned["event_id"] == WEBINAR and planned["audience"] == ["confirmed"]
    tick(wiring.get_repo(), mailer, clock() + timedelta(minutes=2))
    [mail] = [m for m in mailer.to("an@example.be") if m.kind == "staff_message"]
    assert mail.subject.endswith(": Nieuwe zaal") and "We zitten in zaal 2." in mail.text
    audit = json.loads(client.http.get("/staff/audit", headers=staff_headers).body)["entries"]
    [entry] = [e for e in audit if e["action"] == "event.message"]
    assert entry["details"]["message_id"] == planned["message_id"] and entry["target"] == f"event:{WEBINAR}"


def test_the_preview_answers_both_languages_and_plans_nothing(client, staff_headers, subscribe_and_confirm, mailer,
                                                               clock):
    subscribe_and_confirm("an@example.be", [WEBINAR])
    reply = post(client, staff_headers, f"/staff/events/{WEBINAR}/messages/preview", MESSAGE)
    assert reply.status_code == 200
    shown = json.loads(reply.body)
    assert shown["nl"]["subject"].endswith(": Nieuwe zaal") and shown["en"]["subject"].endswith(": New room")
    mailer.sent.clear()
    tick(wiring.get_repo(), mailer, clock() + timedelta(minutes=2))
    assert mailer.sent == []


def test_a_message_with_a_missing_english_text_is_a_400_naming_the_field(client, staff_headers, published):
    reply = post(client, staff_headers, f"/staff/events/{WEBINAR}/messages",
                 {**MESSAGE, "text": {"nl": "Alleen Nederlands"}})
    assert reply.status_code == 400
    assert json.loads(reply.body)["Message"].startswith("text.en: ")


def test_a_message_for_an_unknown_event_is_a_404(client, staff_headers):
    assert post(client, staff_headers, "/staff/events/no-such-event/messages", MESSAGE).status_code == 404

"""What a tick holds while people and staff act: a review of the send machinery reproduced these.

Each test makes the other party act at the worst moment, from inside the
mailer (SES throttles the send while it happens), on both repositories.
"""

from __future__ import annotations

import re
from datetime import timedelta

from chalicelib import events, subscriptions
from chalicelib.mail import MailThrottled, RecordingMailer
from tests.conftest import webinar_data
from tests.test_reminders import WEBINAR, WEBINAR_START, kinds, register, tick


class ThrottledWhile(RecordingMailer):
    """SES throttles every send; the first one first runs ``act`` (what happens while the tick holds it)."""

    def __init__(self, act):
        super().__init__()
        self.act, self.acted = act, False

    def send(self, mail):
        if not self.acted:
            self.acted = True
            self.act()
        raise MailThrottled("Throttling")


def test_a_reminder_held_while_the_event_moved_earlier_is_not_sent_past_its_new_grace(repo, mailer, clock):
    """Put back after throttling, the "starts in 1 day" reminder must not go out 4 hours before the new start."""
    events.create_event(repo, webinar_data(), actor="test")
    register(repo, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    at = WEBINAR_START - timedelta(days=1)
    clock.set(at)

    def move_20_hours_earlier():
        change = events.change_event(repo, WEBINAR, {"starts_at": "2027-01-13T14:00:00+01:00",
                                                     "ends_at": "2027-01-13T15:00:00+01:00"}, actor="staff", now=at)
        subscriptions.after_event_change(repo, change, now=at)

    first = tick(repo, ThrottledWhile(move_20_hours_earlier), at)
    assert first.throttled and first.retry_later == 1
    clock.set(at + timedelta(minutes=2))
    second = tick(repo, mailer, at + timedelta(minutes=2))
    reminders_sent = [m for m, _ in mailer.sent if m.kind == "reminder"]
    assert reminders_sent == []
    assert second.reasons == {"stale: past its grace": 1}
    held = [s for s in repo.list_sends(WEBINAR) if s.kind == "reminder" and s.detail == "P1D"]
    assert [(s.state, s.reason) for s in held] == [("skipped", "stale: past its grace")]

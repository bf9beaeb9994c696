"""A person's access report lists every mail sent to them, in the order it went out, with when it really did."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.services import events, privacy
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.support.sending import register, tick


def test_the_report_lists_the_confirmation_mails_and_the_reminders_in_time_order_with_the_real_time(repo, mailer, clock):
    """It left out the confirmation request and the confirmation, and showed a --now moment as a sending time."""
    events.create_event(repo, webinar_data(reminders=["P1D", "PT1H"]), actor="test", base_url=SETTINGS.base_url,
                        now=PINNED_NOW)
    clock.set(PINNED_NOW + timedelta(minutes=5))
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    # An operator runs the tick as of the day before the webinar (send-due --now), a minute later by the clock.
    clock.set(PINNED_NOW + timedelta(minutes=6))
    tick(repo, mailer, events.get_event(repo, "webinar-2027-01-14").starts_at - timedelta(days=1))
    clock.set(PINNED_NOW + timedelta(minutes=7))
    tick(repo, mailer, events.get_event(repo, "webinar-2027-01-14").starts_at - timedelta(hours=1))
    report = privacy.export_person(repo, privacy.find_person(repo, "an@example.be", key=KEY))
    sent = [(m["kind"], m.get("detail"), m["sent_at"]) for m in report["mails"] if m["state"] == "sent"]
    assert sent == [
        ("confirm_request", "", "2026-11-25T13:05:00+01:00"),
        ("confirmed", "", "2026-11-25T13:05:00+01:00"),
        ("reminder", "P1D", "2026-11-25T13:06:00+01:00"),  # when it went out, not 13 January (the --now)
        ("reminder", "PT1H", "2026-11-25T13:07:00+01:00"),
    ]
    assert len(sent) == len([m for m, _ in mailer.sent if m.to_email == "an@example.be"])

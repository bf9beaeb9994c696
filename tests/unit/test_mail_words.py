"""The words of the tick's mails: "begint morgen", the attachment in the reader's language, the share link."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.render import mails
from tests.conftest import KEY, day_data, webinar_data
from tests.support.mails import BASE, a_tick, event_for, person, send_for


def render(kind: str, language: str, data=webinar_data, **send_changes):
    event = event_for(kind, data)
    who = person(1, "An", language)
    send = replace(send_for(kind, event, who.id), **send_changes)
    return a_tick().render(send, event, language, who.email, who.name, mails.person_links(who, BASE, KEY))


@pytest.mark.parametrize("language,subject,sentence", [
    ("nl", "Herinnering: Webinar Smart Region begint morgen", "begint morgen."),
    ("en", "Reminder: Smart Region webinar starts tomorrow", "starts tomorrow."),
])
def test_a_reminder_a_day_before_says_tomorrow_not_in_1_day(language, subject, sentence):
    mail = render("reminder", language, detail="P1D")
    assert mail.subject == subject
    assert sentence in mail.text and sentence in mail.html
    assert "1 dag" not in mail.text + mail.subject and "1 day" not in mail.text + mail.subject


def test_other_reminders_keep_their_interval():
    assert render("reminder", "nl", detail="PT1H").subject == "Herinnering: Webinar Smart Region begint over 1 uur"
    assert render("reminder", "en", detail="P2D").subject == "Reminder: Smart Region webinar starts in 2 days"


@pytest.mark.parametrize("language,invite,cancelled", [("nl", "uitnodiging.ics", "geannuleerd.ics"),
                                                       ("en", "invite.ics", "cancelled.ics")])
def test_the_attachment_is_named_in_the_readers_language(language, invite, cancelled):
    """A Dutch mail said "open de bijlage invite.ics"."""
    change = render("change", language)
    assert [a.filename for a in change.attachments] == [invite] and invite in change.text and invite in change.html
    cancel = render("cancel", language)
    assert [a.filename for a in cancel.attachments] == [cancelled] and cancelled in cancel.text
    other = "invite.ics" if language == "nl" else "uitnodiging.ics"
    assert other not in change.text + change.html
    several = mails.invitations([event_for("reminder", webinar_data), event_for("reminder", day_data)], language, BASE,
                                email="an@example.be", name="An", stamp=event_for("reminder", webinar_data).starts_at)
    stem = invite.removesuffix(".ics")
    assert [a.filename for a in several] == [f"{stem}-webinar-2027-01-14.ics", f"{stem}-smart-region-dag-2027.ics"]

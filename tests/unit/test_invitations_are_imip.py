"""The mails' invitations, property by property, as docs/decisions/0009-imip-invitations.md says each client needs
them: iMIP (RFC 6047, RFC 5546) REQUEST and CANCEL, the office as ORGANIZER, the recipient as ATTENDEE, one
text/calendar alternative (issue 19, item 2)."""

from __future__ import annotations

import email
import re
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.input.event import build_event
from chalicelib.render import ical, mails
from chalicelib.render.mime import build_mime
from chalicelib.services import events, planning
from chalicelib.services.tick import send_due
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.fakes import InMemoryRepository, RecordingMailer
from tests.feed_support import parse_three

BASE = "https://events.example.be"
OFFICE = "smartregionoffice@vlaanderen.be"
STAMP = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)


def lines(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")


def props(body: bytes, component: str = "VEVENT") -> dict[str, list[str]]:
    """The unfolded lines of the first ``component``, by property name."""
    found: dict[str, list[str]] = {}
    inside = False
    for line in lines(body):
        if line == f"BEGIN:{component}":
            inside = True
        elif line == f"END:{component}":
            break
        elif inside:
            found.setdefault(re.split(r"[;:]", line, 1)[0], []).append(line)
    return found


def calendar_props(body: bytes) -> set[str]:
    depth, names = 0, set()
    for line in lines(body):
        if line.startswith("BEGIN:"):
            depth += 1
        elif line.startswith("END:"):
            depth -= 1
        elif depth == 1:
            names.add(re.split(r"[;:]", line, 1)[0])
    return names


def webinar(**overrides):
    return build_event(webinar_data(**overrides), existing=None, now=PINNED_NOW)


def invite(event, method="REQUEST", email="an@example.be", name="An Peeters"):
    return ical.invitation(event, lang="nl", base_url=BASE, method=method, stamp=STAMP).for_attendee(email, name)


def test_a_request_has_what_outlook_gmail_and_apple_mail_act_on():
    body = invite(webinar())
    assert calendar_props(body) == {"PRODID", "VERSION", "CALSCALE", "METHOD"}  # no feed name: not a calendar
    assert "METHOD:REQUEST" in lines(body)
    p = props(body)
    assert p["UID"] == ["UID:webinar-2027-01-14@events.smartregion.vlaanderen.be"]
    assert p["SEQUENCE"] == ["SEQUENCE:0"]
    assert p["DTSTAMP"] == ["DTSTAMP:20261201T093000Z"]  # the moment the message is made (RFC 5546 2.1.5)
    assert p["ORGANIZER"] == [f'ORGANIZER;CN="Smart Region Office":mailto:{OFFICE}']
    assert p["ATTENDEE"] == ['ATTENDEE;CN="An Peeters";CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;'
                             'RSVP=FALSE:mailto:an@example.be']
    assert p["STATUS"] == ["STATUS:CONFIRMED"]
    assert p["DTSTART"] == ["DTSTART;TZID=Europe/Brussels:20270114T100000"]
    assert props(body, "VTIMEZONE")["TZID"] == ["TZID:Europe/Brussels"]
    assert p["CONFERENCE"][0].endswith(":https://meet.example.org/sro")  # a seat: the join link
    assert "X-WR-TIMEZONE" not in body.decode() and "X-SRO" not in body.decode()
    assert lines(body).count("BEGIN:VEVENT") == 1  # one event per iMIP message
    py, js, vo = parse_three(body)
    assert py["method"] == js["method"] == vo["method"] == "REQUEST"


def test_a_cancel_by_staff_raises_the_sequence_and_carries_no_join_link():
    store = InMemoryRepository()
    events.create_event(store, webinar_data(), actor="t", base_url=BASE, now=PINNED_NOW)
    cancelled = events.cancel_event(store, "webinar-2027-01-14", actor="t", base_url=BASE, now=PINNED_NOW).after
    body = invite(cancelled, "CANCEL")
    p = props(body)
    assert "METHOD:CANCEL" in lines(body)
    assert p["SEQUENCE"] == ["SEQUENCE:1"] and p["STATUS"] == ["STATUS:CANCELLED"]
    assert p["ATTENDEE"][0].endswith(":mailto:an@example.be") and p["ORGANIZER"][0].endswith(f":mailto:{OFFICE}")
    assert "CONFERENCE" not in p and "meet.example.org" not in body.decode()
    parse_three(body)


def test_a_cancel_of_ones_own_seat_keeps_the_sequence_and_is_newer_by_its_stamp():
    # The event did not change for everyone: a higher SEQUENCE would make a later invitation (the person
    # registers again) look out of date to Outlook; the later DTSTAMP orders the two (RFC 5546 2.1.5).
    event = webinar()
    request = props(ical.invitation(event, lang="nl", base_url=BASE, method="REQUEST",
                                    stamp=STAMP).for_attendee("an@example.be", "An"))
    cancel = props(ical.invitation(event, lang="nl", base_url=BASE, method="CANCEL",
                                   stamp=STAMP + timedelta(days=1)).for_attendee("an@example.be", "An"))
    assert cancel["SEQUENCE"] == request["SEQUENCE"] and cancel["UID"] == request["UID"]
    assert cancel["DTSTAMP"] > request["DTSTAMP"]
    assert cancel["STATUS"] == ["STATUS:CANCELLED"]
    assert not cancel["SUMMARY"][0].startswith("SUMMARY:Geannuleerd")  # the event itself is not cancelled


def test_the_attendee_is_an_exact_mailto_uri_and_a_quoted_name():
    p = props(invite(webinar(), email="an.o'neil+events@example.be", name='An "Ann" Peeters'))
    assert p["ATTENDEE"][0].startswith('ATTENDEE;CN="An \'Ann\' Peeters";')
    assert p["ATTENDEE"][0].endswith(":mailto:an.o'neil+events@example.be")
    assert props(invite(webinar(), email="a#b?c%d@example.be"))["ATTENDEE"][0].endswith(
        ":mailto:a%23b%3Fc%25d@example.be")  # RFC 6068


def test_the_only_invitation_of_a_mail_is_its_text_calendar_alternative_and_attached():
    [attachment] = mails.invitations([webinar()], "nl", BASE, email="an@example.be", name="An", stamp=STAMP)
    mail = mails.build_mail("confirmed", "nl", to_email="an@example.be", to_name="An",
                            links=mails.person_links("a" * 64, BASE, KEY), attachments=(attachment,), name="An",
                            outcomes=[], calendar_links={})
    message = email.message_from_bytes(build_mime(mail, OFFICE))
    assert message.get_content_type() == "multipart/mixed" and message["From"].endswith(f"<{OFFICE}>")
    alternative, attached = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html", "text/calendar"]
    calendar = alternative.get_payload()[2]
    assert calendar.get_param("method") == "REQUEST" and calendar.get_content_charset() == "utf-8"
    assert calendar.get_filename() is None  # a body part, not a file
    assert attached.get_content_type() == "application/ics" and attached.get_filename() == "uitnodiging.ics"  # Dutch
    assert calendar.get_payload(decode=True) == attached.get_payload(decode=True) == attachment.data


def test_a_change_notice_is_a_request_with_the_raised_sequence_and_each_recipient_as_attendee():
    store, mailer = InMemoryRepository(), RecordingMailer()
    events.create_event(store, webinar_data(), actor="t", base_url=BASE, now=PINNED_NOW)
    from chalicelib.services import subscribe

    for address in ("an@example.be", "bo@example.be"):
        subscribe.subscribe(store, mailer, {"email": address, "name": address[:2], "event_ids": ["webinar-2027-01-14"],
                                            "language": "nl", "consent": True}, base_url=BASE, key=KEY,
                            settings=SETTINGS, now=PINNED_NOW)
        token = re.search(r"/confirm/([\w-]+)", mailer.to(address)[-1].text).group(1)
        subscribe.confirm(store, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS, now=PINNED_NOW)
    change = events.change_event(store, "webinar-2027-01-14", {"starts_at": "2027-01-21T10:00:00+01:00",
                                                               "ends_at": "2027-01-21T11:00:00+01:00"},
                                 actor="t", base_url=BASE, now=PINNED_NOW)
    planning.after_event_change(store, change, settings=SETTINGS, now=PINNED_NOW)
    mailer.sent.clear()
    send_due(store, mailer, base_url=BASE, key=KEY, now=PINNED_NOW + timedelta(minutes=1), sleep=lambda s: None)
    notices = {m.to_email: m for m, _ in mailer.sent if m.kind == "event_changed"}
    assert sorted(notices) == ["an@example.be", "bo@example.be"]
    for address, mail in notices.items():
        [attachment] = mail.attachments
        p = props(attachment.data)
        assert attachment.method == "REQUEST" and p["SEQUENCE"] == ["SEQUENCE:1"]
        assert p["ATTENDEE"][0].endswith(f":mailto:{address}")
        assert p["DTSTART"] == ["DTSTART;TZID=Europe/Brussels:20270121T100000"]


@pytest.mark.parametrize("start, end", [
    ("2027-03-28T00:30:00Z", "2027-03-28T01:30:00Z"),  # 01:30 CET - 03:30 CEST: across the spring change
    ("2027-10-31T00:30:00Z", "2027-10-31T01:45:00Z"),  # both in the repeated autumn hour
])
def test_dst_instants_agree_in_every_reader_of_an_invitation(start, end):
    event = webinar(starts_at=start, ends_at=end)
    body = invite(event)
    py, js, vo = parse_three(body)
    want = [datetime.fromisoformat(t.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S.000Z") for t in (start, end)]
    assert [js["events"][0]["start"], js["events"][0]["end"]] == want
    assert [py["events"][0]["start"], py["events"][0]["end"]] == want
    import vobject

    vevent = vobject.readOne(body.decode()).vevent
    assert [vevent.dtstart.value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            vevent.dtend.value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")] == want

"""What single-event files and mail attachments hold, and what the mails that carry them promise."""

from __future__ import annotations

import email
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.render import mails
from chalicelib.services import events
from chalicelib.services import manage
from chalicelib.services import public_feed
from chalicelib.services import subscribe
from chalicelib import times
from chalicelib.render.ical import build_calendar
from tests.fakes import RecordingMailer
from chalicelib.input.event import build_event
from chalicelib.model.person import Person
from chalicelib.model.send import Send
from tests.fakes import InMemoryRepository
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data
from tests.feed_support import parse_both
from tests.support.mails import a_tick  # a tick to render mails with, same base URL

BASE = "https://events.example.be"
WEBINAR = "webinar-2027-01-14"
DAY = "smart-region-dag-2027"
# Calendar-level properties that make a file a calendar to subscribe to (MS-OXCICAL: omitted for one appointment).
FEED_PROPERTIES = ("NAME", "X-WR-CALNAME", "X-WR-CALDESC", "REFRESH-INTERVAL", "X-PUBLISHED-TTL")


def calendar_lines(body: bytes) -> list[str]:
    """The unfolded lines of the VCALENDAR itself, outside its components."""
    lines, depth = [], 0
    for line in body.decode().replace("\r\n ", "").split("\r\n"):
        if line.startswith("BEGIN:"):
            depth += 1
        elif line.startswith("END:"):
            depth -= 1
        elif depth == 1:
            lines.append(line)
    return lines


def feed_properties(body: bytes) -> set[str]:
    return {line.split(":")[0].split(";")[0] for line in calendar_lines(body)} & set(FEED_PROPERTIES)


@pytest.fixture
def repo():
    store = InMemoryRepository()
    events.create_event(store, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(store, day_data(), actor="test", base_url=SETTINGS.base_url)
    return store


def register(repo, mailer, address, event_ids, language="nl"):
    subscribe.subscribe(repo, mailer, {"email": address, "name": "An Peeters", "event_ids": list(event_ids),
                                           "language": language, "consent": True}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    token = re.search(r"/confirm/([\w-]+)", mailer.to(address)[-1].text).group(1)
    return subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


# ------------------------------------------------ calendar-level properties


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_only_subscription_feeds_are_named_calendars(repo, lang):
    mailer = RecordingMailer()
    register(repo, mailer, "an@example.be", [WEBINAR], language=lang)
    feed_token = re.search(r"/feeds/([\w-]+)\.ics", mailer.to("an@example.be")[-1].text).group(1)
    personal = manage.read_personal_feed(repo, feed_token, base_url=BASE, key=KEY).body
    public = public_feed.render_public_feed(repo.list_events(), lang, PINNED_NOW, BASE)
    assert feed_properties(public) == feed_properties(personal) == set(FEED_PROPERTIES)

    download = public_feed.read_event_calendar(events.get_public_event(repo, WEBINAR), lang, base_url=BASE).body
    event = repo.get_event(WEBINAR)
    invite = mails.invitations([event], lang, BASE, email="an@example.be", name="An", stamp=PINNED_NOW)[0].data
    cancelled = mails.invitations([event], lang, BASE, email="an@example.be", name="An", stamp=PINNED_NOW,
                                  method="CANCEL")[0].data
    for single in (download, invite, cancelled):
        assert feed_properties(single) == set()
        assert not any(line.startswith("DESCRIPTION") for line in calendar_lines(single))
        assert "VERSION:2.0" in calendar_lines(single) and "BEGIN:VEVENT" in single.decode()
    assert "METHOD:REQUEST" in calendar_lines(invite) and "METHOD:CANCEL" in calendar_lines(cancelled)


def test_a_calendar_with_a_method_is_never_a_feed():
    event = build_event(webinar_data(), existing=None, now=PINNED_NOW)
    with pytest.raises(ValueError):
        build_calendar([event], lang="nl", base_url=BASE, include_join_link=True, method="REQUEST", feed=True)


def test_a_confirmation_of_several_events_attaches_one_file_per_event(repo):
    mailer = RecordingMailer()
    register(repo, mailer, "an@example.be", [WEBINAR, DAY])
    mail, raw = mailer.sent[-1]
    assert mail.kind == "confirmed"
    names = [a.filename for a in mail.attachments]
    assert len(names) == len(set(names)) == 2
    parts = [p for p in email.message_from_bytes(raw).walk() if p.get_content_type() == "text/calendar"]
    # Files only: an iMIP message is about one event, so several are not the mail's calendar alternative.
    assert [p.get_filename() for p in parts] == names
    uids = []
    for part, attachment in zip(parts, mail.attachments):
        assert part.get_param("method") == "REQUEST"
        body = part.get_payload(decode=True)
        assert body == attachment.data
        py, js = parse_both(body)
        assert py["method"] == "REQUEST" and len(js["events"]) == 1 and feed_properties(body) == set()
        uids.append(js["events"][0]["uid"])
        if js["events"][0]["uid"].startswith(WEBINAR):
            assert js["events"][0]["conference"] == "https://meet.example.org/sro"  # the join link, as before
    assert sorted(uids) == sorted(f"{e}@events.smartregion.vlaanderen.be" for e in (WEBINAR, DAY))
    assert all(name.endswith(".ics") and any(e in name for e in (WEBINAR, DAY)) for name in names)
    assert "invite.ics" not in mail.text + mail.html  # the mail does not name a file it does not carry


def test_a_confirmation_of_one_event_keeps_its_one_invite(repo):
    mailer = RecordingMailer()
    register(repo, mailer, "an@example.be", [WEBINAR])
    mail, _ = mailer.sent[-1]
    # Named in the reader's language (register() subscribes in Dutch).
    assert [a.filename for a in mail.attachments] == ["uitnodiging.ics"]
    assert "uitnodiging.ics" in mail.text and "uitnodiging.ics" in mail.html


# ------------------------------------------------------- the October fold


def brussels(start: str, end: str):
    return build_event(webinar_data(timezone="Europe/Brussels", starts_at=start, ends_at=end),
                       existing=None, now=PINNED_NOW)


def read_back(body: bytes) -> list[tuple[datetime, datetime]]:
    from icalendar import Calendar

    return [(v.decoded("DTSTART").astimezone(timezone.utc), v.decoded("DTEND").astimezone(timezone.utc))
            for v in Calendar.from_ical(body).walk("VEVENT")]


@pytest.mark.parametrize("start, end", [
    ("2027-10-31T00:30:00Z", "2027-10-31T01:45:00Z"),  # 02:30 CEST - 02:45 CET: both in the repeated hour
    ("2027-10-31T00:30:00Z", "2027-10-31T01:30:00Z"),  # 02:30 CEST - 02:30 CET: the same wall time
    ("2027-10-31T00:15:00Z", "2027-10-31T03:00:00Z"),  # only the start is in the repeated hour
    ("2027-10-30T23:00:00Z", "2027-10-31T01:15:00Z"),  # only the end is
])
@pytest.mark.parametrize("method", [None, "REQUEST", "CANCEL"])
def test_times_in_the_repeated_hour_come_back_as_the_exact_instants(start, end, method):
    event = brussels(start, end)
    body = build_calendar([event], lang="nl", base_url=BASE, include_join_link=False, method=method)
    expected = (datetime.fromisoformat(start.replace("Z", "+00:00")), datetime.fromisoformat(end.replace("Z", "+00:00")))
    assert read_back(body) == [expected]
    py, js = parse_both(body)  # and ical.js agrees
    assert (js["events"][0]["start"], js["events"][0]["end"]) == tuple(
        t.strftime("%Y-%m-%dT%H:%M:%S.000Z") for t in expected)
    lines = body.decode().split("\r\n")
    for name, instant in zip(("DTSTART", "DTEND"), expected):
        wall = instant.astimezone(ZoneInfo("Europe/Brussels"))
        if wall.date() == date(2027, 10, 31) and wall.hour == 2:  # 02:00-02:59 happens twice that night
            assert f"{name}:{instant.strftime('%Y%m%dT%H%M%SZ')}" in lines
        else:
            assert f"{name};TZID=Europe/Brussels:{wall.strftime('%Y%m%dT%H%M%S')}" in lines


def test_times_next_to_the_repeated_hour_keep_their_zone():
    event = brussels("2027-10-30T23:59:00Z", "2027-10-31T02:00:00Z")  # 01:59 CEST - 03:00 CET
    lines = build_calendar([event], lang="nl", base_url=BASE, include_join_link=False).decode().split("\r\n")
    assert "DTSTART;TZID=Europe/Brussels:20271031T015900" in lines
    assert "DTEND;TZID=Europe/Brussels:20271031T030000" in lines


# ------------------------------------------- what change and cancel mails say


def notice(kind: str, lang: str):
    store = InMemoryRepository()
    event = events.create_event(store, webinar_data(), actor="test", now=PINNED_NOW, base_url=SETTINGS.base_url)
    if kind == "cancel":
        event = events.cancel_event(store, event.id, actor="test", now=PINNED_NOW, base_url=SETTINGS.base_url).after
    before = {"starts_at": times.to_utc_iso(event.starts_at - timedelta(days=7)),
              "ends_at": times.to_utc_iso(event.ends_at - timedelta(days=7)),
              "timezone": event.timezone, "location": "", "online_url": ""}
    person = Person(id="a" * 64, email="an@example.be", name="An", organisation="", language=lang,
                    created_at=PINNED_NOW, updated_at=PINNED_NOW)
    send = Send(event_id=event.id, person_id=person.id, kind=kind, detail="2" if kind == "change" else "",
                due=PINNED_NOW, cutoff=event.starts_at,
                details={"material": ["starts_at"], "before": before} if kind == "change" else {})
    links = mails.person_links(person.id, BASE, KEY)
    return a_tick().render(send, event, lang, person.email, person.name, links), links


# Each a claim that the attachment changes or removes every entry by itself, whatever made it.
CLAIMS = [r"do nothing else", r"need do nothing", r"hoeft (verder )?niets", r"every calendar"]


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("kind, attachment", [("change", "invite.ics"), ("cancel", "cancelled.ics")])
def test_change_and_cancel_mails_say_what_the_invitation_does_and_what_it_cannot(kind, attachment, lang):
    if lang == "nl":  # the file is named in the reader's language
        attachment = {"invite.ics": "uitnodiging.ics", "cancelled.ics": "geannuleerd.ics"}[attachment]
    mail, links = notice(kind, lang)
    assert [a.filename for a in mail.attachments] == [attachment]  # the attachment stays
    for body in (mail.text, mail.html):
        for claim in CLAIMS:
            assert not re.search(claim, body), (claim, body)
        assert attachment in body
        # The invitation fixes the entry it made; one added with a link or by hand is the person's to change.
        assert ("invitation" if lang == "en" else "uitnodiging") in body
        assert ("Google or Outlook link" if lang == "en" else "link voor Google of Outlook") in body
        # The personal feed, which does update itself: offered with a change; a cancellation only says so.
        assert (links.feed in body) == (kind == "change")
        assert ("agendafeed" if lang == "nl" else "calendar feed") in body
        # ... with the truth about how late Google sees it.
        assert ("8 to 24 hours" if lang == "en" else "8 tot 24 uur") in body


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("kind", ["change"])
def test_the_personal_feed_is_offered_to_subscribe_to_never_as_a_file_to_click(kind, lang):
    # A click on the https .ics imports a copy that never updates (Outlook, iPhone): the link subscribes
    # (webcal), and the https address is given as text for Outlook's "Subscribe from web".
    # The cancellation offers no feed at all (tests/unit/test_mail_links.py).
    mail, links = notice(kind, lang)
    assert f'href="{links.webcal}"' in mail.html and f'href="{links.feed}"' not in mail.html
    assert links.feed in mail.html and links.webcal in mail.text and links.feed in mail.text
    assert ("Subscribe from web" if lang == "en" else "Abonneren vanaf het web") in mail.text + mail.html

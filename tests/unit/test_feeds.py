"""The pure builder: every calendar it makes reads the same in icalendar and in ical.js."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters import keys as link_keys
from chalicelib.render import ical
from chalicelib.render import mails
from chalicelib.input.event import build_event
from tests.conftest import PINNED_NOW, day_data, webinar_data
from tests.feed_support import parse_both

BASE = "https://events.example.be"
TRICKY = "Komma, puntkomma; backslash \\ en\nnieuwe lijn — café Œuvre «ü» 日本語の説明 😀🇧🇪 done"
ONE_LINE = TRICKY.replace("\n", " ")  # a title is one line (issue 21, item 10)


def make(**overrides):
    return build_event(webinar_data(**overrides), existing=None, now=PINNED_NOW)


def build(events, **kwargs):
    options = {"lang": "nl", "base_url": BASE, "include_join_link": False, **kwargs}
    return ical.build_calendar(events, **options)


def utc(text):
    return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.parametrize("local_start, local_end", [
    # The night of 27-28 March 2027: clocks go from 02:00 CET to 03:00 CEST.
    ("2027-03-27T10:00:00+01:00", "2027-03-27T11:00:00+01:00"),
    ("2027-03-28T01:30:00+01:00", "2027-03-28T03:30:00+02:00"),
    ("2027-03-28T10:00:00+02:00", "2027-03-28T11:00:00+02:00"),
    # The night of 30-31 October 2027: from 03:00 CEST back to 02:00 CET.
    ("2027-10-30T10:00:00+02:00", "2027-10-30T11:00:00+02:00"),
    ("2027-10-31T01:30:00+02:00", "2027-10-31T04:00:00+01:00"),
    ("2027-10-31T10:00:00+01:00", "2027-10-31T11:00:00+01:00"),
])
def test_utc_instants_are_right_on_both_sides_of_the_dst_changes(local_start, local_end):
    event = make(starts_at=local_start, ends_at=local_end)
    py, js = parse_both(build([event]))
    for parsed in (py, js):
        assert parsed["events"][0]["start"] == utc(local_start)
        assert parsed["events"][0]["end"] == utc(local_end)


def test_a_year_of_events_lands_on_the_right_instants_in_icaljs():
    events = [make(id=f"e{month}", starts_at=f"2027-{month:02d}-15T09:00:00", ends_at=f"2027-{month:02d}-15T10:00:00")
              for month in range(1, 13)]
    _, js = parse_both(build(events))
    hours = [e["start"][11:13] for e in js["events"]]
    assert hours == ["08", "08", "08"] + ["07"] * 7 + ["08", "08"]


def test_vtimezone_uses_yearly_rules_not_rdate_lists():
    text = build([make()]).decode()
    zone = text[text.index("BEGIN:VTIMEZONE"):text.index("END:VTIMEZONE")]
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in zone
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in zone
    assert "RDATE" not in zone
    assert "DTSTART:19700329T020000" in zone and "DTSTART:19701025T030000" in zone


def test_zone_without_weekday_rules_still_gets_a_vtimezone():
    event = make(timezone="Asia/Tokyo", starts_at="2027-01-14T10:00:00", ends_at="2027-01-14T11:00:00")
    py, js = parse_both(build([event]))
    assert js["events"][0]["start"] == "2027-01-14T01:00:00.000Z"
    assert "Asia/Tokyo" in js["timezones"]


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_texts_with_special_characters_come_back_exactly(lang):
    event = make(title={"nl": "Titel; met, " + ONE_LINE[:60], "en": "Title; with, " + ONE_LINE[:60]},
                 description={"nl": TRICKY * 3, "en": TRICKY * 2})
    py, js = parse_both(build([event], lang=lang, include_join_link=False))
    for parsed in (py, js):
        assert parsed["events"][0]["summary"] == event.title[lang]
        assert parsed["events"][0]["description"] == event.description[lang]


def test_location_with_commas_comes_back_exactly():
    event = build_event(day_data(location={"name": "Herman Teirlinck; zaal 1", "address": "Havenlaan 88, 1000 Brussel"}),
                        existing=None, now=PINNED_NOW)
    py, js = parse_both(build([event]))
    assert js["events"][0]["location"] == "Herman Teirlinck; zaal 1, Havenlaan 88, 1000 Brussel"


def test_lines_fold_at_75_octets_without_splitting_a_character():
    event = make(title={"nl": "😀é日" * 60}, description={"nl": ("ü日😀a" * 200)})
    body = build([event])
    assert body.endswith(b"\r\n")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # a split character would not decode
    assert b"\n" not in body.replace(b"\r\n", b"")
    py, js = parse_both(body)
    assert js["events"][0]["summary"] == event.title["nl"]


def test_calendar_properties_of_a_subscription_feed():
    text = build([make()]).decode()
    lines = text.split("\r\n")
    assert "VERSION:2.0" in lines
    assert "PRODID:" + ical.PRODID in lines
    assert "NAME:Smart Region Office – evenementen" in lines
    assert "X-WR-CALNAME:Smart Region Office – evenementen" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert "X-PUBLISHED-TTL:PT1H" in lines
    assert not any(line.startswith("METHOD") for line in lines)


def test_event_properties():
    event = replace(make(), sequence=3, updated_at=PINNED_NOW + timedelta(hours=2))
    text = build([event]).decode()
    unfolded = text.replace("\r\n ", "")
    lines = unfolded.split("\r\n")
    assert "UID:webinar-2027-01-14@events.smartregion.vlaanderen.be" in lines
    assert "DTSTAMP:20261125T140000Z" in lines
    assert "LAST-MODIFIED:20261125T140000Z" in lines
    assert "SEQUENCE:3" in lines
    assert "STATUS:CONFIRMED" in lines
    assert "DTSTART;TZID=Europe/Brussels:20270114T100000" in lines
    assert "URL;VALUE=URI:https://events.example.be/events/webinar-2027-01-14" in lines
    assert 'ORGANIZER;CN="Smart Region Office":mailto:smartregionoffice@vlaanderen.be' in lines


def test_uid_does_not_depend_on_base_url():
    a = parse_both(build([make()], base_url="https://a.example"))[1]
    b = parse_both(build([make()], base_url="https://b.example"))[1]
    assert a["events"][0]["uid"] == b["events"][0]["uid"] == ical.event_uid("webinar-2027-01-14")


def test_same_events_give_the_same_bytes_whatever_the_clock(clock):
    events = [make(), build_event(day_data(), existing=None, now=PINNED_NOW)]
    first = build(events)
    clock.set(PINNED_NOW + timedelta(days=3))
    assert build(list(reversed(events))) == first
    assert ical.feed_etag(first) == ical.feed_etag(build(events))


def test_a_change_changes_the_etag():
    event = make()
    changed = build_event({"title": "Nieuw"}, existing=event, now=PINNED_NOW + timedelta(minutes=1))
    assert ical.feed_etag(build([event])) != ical.feed_etag(build([changed]))


def test_join_link_only_with_include_join_link():
    event = make()
    public = build([event], include_join_link=False)
    assert b"meet.example.org" not in public
    assert b"CONFERENCE" not in public
    py, js = parse_both(build([event], include_join_link=True))
    for parsed in (py, js):
        assert parsed["events"][0]["conference"] == "https://meet.example.org/sro"
        assert parsed["events"][0]["description"] == "Missie en strategie\n\nDeelnemen: https://meet.example.org/sro"
    english = parse_both(build([event], lang="en", include_join_link=True))[1]
    assert english["events"][0]["description"] == "Mission and strategy\n\nJoin: https://meet.example.org/sro"


def test_cancelled_event_has_status_cancelled_and_says_so():
    event = replace(make(), status="cancelled", cancelled_at=PINNED_NOW, sequence=1)
    py, js = parse_both(build([event]))
    assert js["events"][0]["status"] == "CANCELLED"
    assert js["events"][0]["summary"] == "Geannuleerd: Webinar Smart Region"
    assert js["events"][0]["sequence"] == 1


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_mail_attachments_carry_their_method(method):
    py, js = parse_both(build([make()], method=method, include_join_link=True))
    assert js["method"] == py["method"] == method
    assert js["events"][0]["status"] == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")


def test_name_overrides_the_calendar_name():
    _, js = parse_both(build([make()], name="Mijn evenementen"))
    assert js["name"] == js["x_wr_calname"] == "Mijn evenementen"


def test_empty_calendar_is_valid():
    py, js = parse_both(build([]))
    assert js["events"] == [] and js["name"]


def test_an_empty_calendar_keeps_the_brussels_zone_so_it_holds_a_component():
    # RFC 5545 3.6: a VCALENDAR holds at least one component; a personal feed whose events are all past is empty.
    body = build([])
    _, js = parse_both(body)
    assert js["timezones"] == ["Europe/Brussels"]
    lines = body.decode().split("\r\n")
    assert "BEGIN:VTIMEZONE" in lines and "TZID:Europe/Brussels" in lines
    from icalendar import Calendar

    assert [c.name for c in Calendar.from_ical(body).subcomponents] == ["VTIMEZONE"]


@pytest.mark.parametrize("events", [[], "one"])
def test_no_calendar_says_x_wr_timezone(events):
    # Every time carries its TZID (or is UTC): readers that apply X-WR-TIMEZONE read the UTC end of an event in
    # the repeated autumn hour as wall time, and the event as zero minutes long.
    body = build([] if events == [] else [make()])
    assert b"X-WR-TIMEZONE" not in body


def test_unknown_language_or_method_is_refused():
    with pytest.raises(ValueError):
        build([make()], lang="fr")
    with pytest.raises(ValueError):
        build([make()], method="PUBLISH")  # mails carry iMIP (REQUEST, CANCEL); feeds no METHOD


def test_public_feed_keeps_cancelled_events_for_30_days():
    event = replace(make(), status="cancelled", cancelled_at=PINNED_NOW)
    assert ical.in_public_feed(event, PINNED_NOW + timedelta(days=30) - timedelta(seconds=1))
    assert not ical.in_public_feed(event, PINNED_NOW + timedelta(days=30))
    assert not ical.in_public_feed(replace(make(), status="draft"), PINNED_NOW)


# ------------------------------------------------------- add to calendar


def test_google_link_has_utc_times_and_texts():
    event = build_event(day_data(), existing=None, now=PINNED_NOW)
    link = ical.add_to_calendar_links(event, lang="en", base_url=BASE)["google"]
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "calendar.google.com", "/calendar/render")
    query = parse_qs(parts.query)
    assert query["action"] == ["TEMPLATE"]
    assert query["text"] == ["Smart Region Day"]
    assert query["dates"] == ["20270603T070000Z/20270603T150000Z"]
    assert query["location"] == ["Herman Teirlinckgebouw, Havenlaan 88, 1000 Brussel"]
    assert f"{BASE}/events/smart-region-dag-2027" in query["details"][0]
    assert "+" not in parts.query


@pytest.mark.parametrize("key, host", [("outlook", "outlook.live.com"), ("office365", "outlook.office.com")])
def test_outlook_links(key, host):
    event = make(title={"nl": ONE_LINE[:40]})
    link = ical.add_to_calendar_links(event, lang="nl", base_url=BASE)[key]
    parts = urlsplit(link)
    assert parts.netloc == host and parts.path == "/calendar/0/action/compose"
    query = parse_qs(parts.query)
    assert query["rru"] == ["addevent"]
    assert query["subject"] == [event.title["nl"]]
    assert query["startdt"] == ["2027-01-14T09:00:00Z"] and query["enddt"] == ["2027-01-14T10:00:00Z"]
    assert "+" not in parts.query


def test_links_never_carry_the_join_link():
    links = ical.add_to_calendar_links(make(), lang="nl", base_url=BASE)
    assert not any("meet.example.org" in link for link in links.values())


@pytest.mark.parametrize("lang, label", [("nl", "Deelnemen"), ("en", "Join")])
def test_links_for_a_seat_carry_the_join_link_first_and_as_a_webinars_place(lang, label):
    public = ical.add_to_calendar_links(make(), lang=lang, base_url=BASE)
    seat = ical.add_to_calendar_links(make(), lang=lang, base_url=BASE, include_join_link=True)
    assert public.for_seat() == seat and seat.for_seat() is seat
    assert not any("meet.example.org" in link for link in public.values())  # for_seat() left them as they were
    for key, text in (("google", "details"), ("outlook", "body"), ("office365", "body")):
        query = parse_qs(urlsplit(seat[key]).query)
        assert query[text][0].startswith(f"{label}: https://meet.example.org/sro\n\n")
        assert f"{BASE}/events/webinar-2027-01-14" in query[text][0]
        assert query["location"] == ["https://meet.example.org/sro"]
        assert parse_qs(urlsplit(public[key]).query)["location"] == ["Online"]
    assert seat["ics"] == public["ics"]  # a public download: the mails' attachments carry the join link
    assert seat.page == public.page == f"{BASE}/events/webinar-2027-01-14"
    assert seat.with_join_link and not public.with_join_link


def test_links_for_a_seat_keep_the_address_of_an_event_in_person():
    streamed = build_event(day_data(online_url="https://meet.example.org/day"), existing=None, now=PINNED_NOW)
    query = parse_qs(urlsplit(ical.add_to_calendar_links(streamed, lang="nl", base_url=BASE,
                                                          include_join_link=True)["google"]).query)
    assert query["location"] == ["Herman Teirlinckgebouw, Havenlaan 88, 1000 Brussel"]
    assert query["details"][0].startswith("Deelnemen: https://meet.example.org/day\n\n")
    plain = build_event(day_data(), existing=None, now=PINNED_NOW)  # nothing to join: the public links
    links = ical.add_to_calendar_links(plain, lang="nl", base_url=BASE)
    assert links.for_seat() is links and links.for_seat() == ical.add_to_calendar_links(
        plain, lang="nl", base_url=BASE, include_join_link=True)


def test_ics_link_and_webcal_form():
    links = ical.add_to_calendar_links(make(), lang="en", base_url=BASE)
    assert links["ics"] == f"{BASE}/events/webinar-2027-01-14/calendar.ics?lang=en"
    assert ical.webcal_url(f"{BASE}/calendar.ics?lang=en") == "webcal://events.example.be/calendar.ics?lang=en"
    assert ical.webcal_url(ical.public_feed_url(BASE)) == "webcal://events.example.be/calendar.ics"
    with pytest.raises(ValueError):
        ical.webcal_url("ftp://example.be/x.ics")


@pytest.mark.parametrize("base", [BASE, "https://abc.execute-api.eu-west-1.amazonaws.com/api", "http://127.0.0.1:8000"])
def test_a_persons_webcal_link_is_their_feed_link_in_webcal_form(base, monkeypatch):
    from chalicelib.render import ical

    monkeypatch.setenv("TOKEN_KEY", "feeds-test-key")
    links = mails.person_links("A" * 22, base, link_keys.signing_key())
    assert links.feed.startswith(f"{base}/feeds/") and links.feed.endswith(".ics")
    assert links.webcal == ical.webcal_url(links.feed)
    assert mails.person_links("A" * 22, base, link_keys.signing_key()) == links  # the key given or read: the same


def test_add_to_calendar_links_carry_at_most_a_thousand_characters_of_description():
    from chalicelib.render import ical
    from chalicelib.input.event import build_event

    event = build_event(webinar_data(description={"nl": "woord " * 1600}), existing=None, now=PINNED_NOW)
    links = ical.add_to_calendar_links(event, lang="nl", base_url="https://events.example.be")
    assert all(len(links[k]) < 4000 for k in ("google", "outlook", "office365"))
    assert "events.example.be%2Fevents%2Fwebinar-2027-01-14" in links["google"]  # the page has the rest

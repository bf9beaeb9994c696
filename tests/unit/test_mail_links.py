"""The links in the mails: calendar links with the join link for a seat, personal links said to be personal.

- The Google and Outlook links of a mail to someone with a seat (confirmed,
  reminder, change notice, seat given) carry the join link, in the details
  and, for a webinar, as the place; the public ones (the event's page, its
  .ics download, its JSON) never do.
- The personal feed's https address, printed as text in the HTML, wraps.
- A mail that carries the person's own links says, near the manage link,
  that they are personal, and gives the event's public page to share.
- The cancellation offers no feed to subscribe to and no map to the venue.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.render import ical
from chalicelib.render import mails as mails_module
from chalicelib.services import events
from chalicelib.services import mailing
from chalicelib.services import privacy
from chalicelib.services import public_feed
from chalicelib.services import subscribe
from tests.fakes import RecordingMailer
from chalicelib.input.event import build_event
from tests.fakes import InMemoryRepository
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data
from tests.support.mails import a_tick, event_for, person, send_for

BASE = "https://events.example.be"
JOIN = "https://meet.example.org/sro"
STREAM = "https://meet.example.org/day"
WEBINAR_PAGE = f"{BASE}/events/webinar-2027-01-14"
DAY_PAGE = f"{BASE}/events/smart-region-dag-2027"
JOIN_LABEL = {"nl": "Deelnemen", "en": "Join"}
PERSONAL = {"nl": "De links in deze mail zijn persoonlijk", "en": "The links in this mail are personal"}
MANAGE = {"nl": "Je inschrijvingen beheren", "en": "Manage your registrations"}
CALENDAR_LINK = re.compile(r'https://(?:calendar\.google\.com|outlook\.live\.com|outlook\.office\.com)/[^\s"<]+')


def calendar_links_in(body: str) -> list[dict[str, list[str]]]:
    """The query of every Google and Outlook "add to calendar" link in a mail's text or HTML."""
    found = [parse_qs(urlsplit(html_lib.unescape(link)).query) for link in CALENDAR_LINK.findall(body)]
    assert len(found) == 3, body  # Google, Outlook (Microsoft 365), Outlook (personal account)
    return found


def details(query: dict[str, list[str]]) -> str:
    return (query.get("details") or query["body"])[0]


def tick_mail(kind: str, lang: str, data=webinar_data, tick=None, **details_extra):
    event = event_for(kind, data)
    someone = person(1, "An", lang)
    send = send_for(kind, event, someone.id)
    if details_extra:
        send = replace(send, details={**send.details, **details_extra})
    return (tick or a_tick()).build(send, event, someone), mails_module.person_links(someone.id, BASE, KEY)


def confirmed_mail(lang: str, event_ids=("webinar-2027-01-14",)):
    """The mail a confirm link sends, and the person's links."""
    repo = InMemoryRepository()
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    mailer = RecordingMailer()
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An Peeters", "event_ids": list(event_ids),
                                           "language": lang, "consent": True}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    token = re.search(r"/confirm/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    mail = mailer.sent[-1][0]
    assert mail.kind == "confirmed"
    return mail, mails_module.person_links(privacy.find_person(repo, "an@example.be", key=KEY), BASE, KEY)


def seat_mails(lang: str):
    """Each mail that goes to someone with a seat for the webinar."""
    yield "confirmed", confirmed_mail(lang)[0]
    for kind in ("reminder", "change", "seat"):
        yield kind, tick_mail(kind, lang)[0]


# ------------------------------------------------------------ calendar links


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_calendar_links_of_a_seat_carry_the_join_link(lang):
    for kind, mail in seat_mails(lang):
        if kind == "change":
            continue  # no links to add the event (below)
        for body in (mail.text, mail.html):
            for query in calendar_links_in(body):
                assert details(query).startswith(f"{JOIN_LABEL[lang]}: {JOIN}\n\n"), (kind, query)
                assert WEBINAR_PAGE in details(query)  # and the page, for the rest
                assert query["location"] == [JOIN], (kind, query)  # a webinar's place is where it is joined


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("seat", [True, False])
def test_a_change_notice_offers_no_add_to_calendar_links_that_would_make_a_second_copy(lang, seat):
    # Pressed by someone who has the event (from the confirmation), they add a copy at the new time next to the
    # old one. The attached invitation updates the entry it made, or adds one where there is none.
    mail, _ = tick_mail("change", lang, **({} if seat else {"seat": False}))
    for body in (mail.text, mail.html):
        assert not CALENDAR_LINK.findall(body)
        assert "calendar.google.com" not in body and "outlook.live.com" not in body
        assert (("uitnodiging.ics" if lang == "nl" else "invite.ics") in body) == seat  # named in their language


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_public_calendar_links_and_the_event_page_never_carry_the_join_link(lang):
    event = build_event(webinar_data(), existing=None, now=PINNED_NOW)
    public = ical.add_to_calendar_links(event, lang=lang, base_url=BASE)
    seat = public.for_seat()
    # Asked for a seat's links, the public ones stay as they were.
    assert not any("meet.example.org" in link for link in public.values())
    assert all(details(parse_qs(urlsplit(seat[k]).query)).startswith(f"{JOIN_LABEL[lang]}: {JOIN}")
               for k in ("google", "outlook", "office365"))
    assert public.page == seat.page == WEBINAR_PAGE
    assert not public.with_join_link and seat.with_join_link

    store = InMemoryRepository()
    events.create_event(store, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    download = public_feed.read_event_calendar(events.get_public_event(store, "webinar-2027-01-14"), lang, base_url=BASE).body
    assert JOIN.encode() not in download


def test_the_events_page_and_its_json_have_no_join_link(client, staff_headers):
    """The public side is unchanged: its page, its JSON and its .ics never hold the join link."""
    assert client.http.post("/staff/events", headers=staff_headers,
                            body=json.dumps(webinar_data())).status_code == 201
    browser = {"Accept": "text/html"}
    for path, headers in (("/events/webinar-2027-01-14?lang=en", browser), ("/events/webinar-2027-01-14", browser),
                          ("/events/webinar-2027-01-14", {"Accept": "application/json"}),
                          ("/events/webinar-2027-01-14/calendar.ics", {}), ("/calendar.ics", {})):
        answer = client.http.get(path, headers=headers)
        assert answer.status_code == 200 and JOIN.encode() not in answer.body, path


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_someone_waiting_gets_no_join_link_from_a_tick_that_mailed_a_seat_first(lang):
    """The tick keeps one set of calendar links per event and language: the seat's join link stays with the seat."""
    tick = a_tick()
    seated, _ = tick_mail("change", lang, tick=tick)
    assert JOIN in seated.text and JOIN in seated.html
    waiting, _ = tick_mail("change", lang, tick=tick, seat=False)
    for body in (waiting.text, waiting.html):
        assert JOIN not in body and "meet.example.org" not in body
        assert not CALENDAR_LINK.search(body)
    reminder, _ = tick_mail("reminder", lang, tick=tick)  # and a seat after them has it again
    assert all(query["location"] == [JOIN] for query in calendar_links_in(reminder.text))


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_an_event_in_person_that_is_streamed_keeps_its_address_as_the_place(lang):
    mail, _ = tick_mail("reminder", lang, lambda: day_data(online_url=STREAM))
    for query in calendar_links_in(mail.text) + calendar_links_in(mail.html):
        assert query["location"] == ["Herman Teirlinckgebouw, Havenlaan 88, 1000 Brussel"]
        assert details(query).startswith(f"{JOIN_LABEL[lang]}: {STREAM}\n\n")
    without, _ = tick_mail("reminder", lang, day_data)  # not streamed: nothing to join
    for query in calendar_links_in(without.text):
        assert "meet.example.org" not in details(query) and JOIN_LABEL[lang] not in details(query)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_mail_with_an_invite_offers_it_for_the_ics_and_a_reminder_the_download(lang):
    attached = {"nl": "open de bijlage", "en": "open the attached"}[lang]
    for kind, mail in seat_mails(lang):
        download = f'{WEBINAR_PAGE}/calendar.ics'
        if kind == "reminder":
            assert not mail.attachments and download in mail.text and f'href="{download}' in mail.html
        elif kind == "change":
            [invite] = mail.attachments
            assert invite.filename in mail.text and invite.filename in mail.html
            assert download not in mail.text + mail.html
        else:
            [invite] = mail.attachments
            assert f"{attached} {invite.filename}" in mail.text and f"{attached} {invite.filename}" in mail.html
            assert download not in mail.text + mail.html


# ------------------------------------------------------- the feed's address


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_feed_address_in_the_html_wraps(lang):
    mails = [confirmed_mail(lang), tick_mail("change", lang)]
    for mail, links in mails:
        printed = [m.start() for m in re.finditer(re.escape(f">{links.feed}<"), mail.html)]
        wrapped = list(re.finditer(r'<(\w+) style="([^"]*)">' + re.escape(links.feed) + r"</\1>", mail.html))
        assert printed and len(wrapped) == len(printed), mail.html
        for element in wrapped:
            style = element.group(2).replace(" ", "")
            assert "word-break:break-all" in style and "overflow-wrap:anywhere" in style


# ------------------------------------------------- the links are personal


def assert_personal_note(mail, lang: str, pages: list[str]) -> None:
    # Text: after the signature, before the manage link.
    footer = mail.text[mail.text.rindex("\n--\n"):]
    note = footer.index(PERSONAL[lang])
    assert note < footer.index(MANAGE[lang])
    assert footer.count(PERSONAL[lang]) == 1 and mail.text.count(PERSONAL[lang]) == 1
    assert all(note < footer.index(page) < footer.index(MANAGE[lang]) for page in pages)
    assert ("collega" if lang == "nl" else "colleague") in footer
    # HTML: in the footer's cell, before the manage link; the pages as links.
    cell = mail.html[mail.html.rindex("font-size:13px"):]
    assert PERSONAL[lang] in cell and cell.index(PERSONAL[lang]) < cell.index(MANAGE[lang])
    assert mail.html.count(PERSONAL[lang]) == 1
    for page in pages:
        assert f'href="{page}"' in cell and cell.index(f'href="{page}"') < cell.index(MANAGE[lang])


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("kind, data, page, extra", [
    ("reminder", webinar_data, WEBINAR_PAGE, {}),
    ("change", webinar_data, WEBINAR_PAGE, {}),
    ("change", day_data, DAY_PAGE, {"seat": False}),  # someone waiting
    ("seat", day_data, DAY_PAGE, {}),
    ("open", webinar_data, WEBINAR_PAGE, {}),  # its Register link registers the person it was sent to
], ids=["reminder", "change", "change to someone waiting", "seat given", "registration open"])
def test_mails_with_personal_links_say_so_and_give_the_page_to_share(kind, data, page, extra, lang):
    mail, _ = tick_mail(kind, lang, data, **extra)
    assert_personal_note(mail, lang, [page])


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_confirmation_says_its_links_are_personal(lang):
    mail, _ = confirmed_mail(lang)
    assert_personal_note(mail, lang, [WEBINAR_PAGE])
    several, _ = confirmed_mail(lang, ("webinar-2027-01-14", "smart-region-dag-2027"))
    assert_personal_note(several, lang, [WEBINAR_PAGE, DAY_PAGE])
    # Only on the waiting list: no calendar links, so no page at hand; the note still says it.
    event = build_event(day_data(), existing=None, now=PINNED_NOW)
    waiting = mails_module.build_mail("confirmed", lang, to_email="an@example.be", to_name="An",
                                       links=mails_module.person_links("a" * 64, BASE, KEY), name="An",
                                       outcomes=[mailing.Outcome(event, "waitlisted")], calendar_links={})
    assert_personal_note(waiting, lang, [])


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_cancellation_carries_no_personal_note(lang):
    for seat in (True, False):
        mail, _ = tick_mail("cancel", lang, **({} if seat else {"seat": False}))
        assert PERSONAL[lang] not in mail.text + mail.html


# ------------------------------------------------------------ cancellation


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("data", [webinar_data, lambda: day_data(online_url=STREAM)], ids=["webinar", "in person"])
@pytest.mark.parametrize("seat", [True, False])
def test_the_cancellation_offers_no_feed_and_no_map(data, seat, lang):
    mail, links = tick_mail("cancel", lang, data, **({} if seat else {"seat": False}))
    for body in (mail.text, mail.html):
        assert links.feed not in body and links.webcal not in body and "webcal:" not in body
        assert "/feeds/" not in body
        assert "openstreetmap" not in body and ("Kaart" if lang == "nl" else "Map") not in body
        assert ("geannuleerd" if lang == "nl" else "cancelled") in body
        assert links.manage in body  # the footer stays
    if data is not webinar_data:
        assert "Herman Teirlinckgebouw" in mail.text  # which event it was: its place, without the way there
    assert bool(mail.attachments) == seat
    if seat:  # who had the invite still hears what to do with their calendar
        named = "geannuleerd.ics" if lang == "nl" else "cancelled.ics"
        assert named in mail.text and named in mail.html and [a.filename for a in mail.attachments] == [named]

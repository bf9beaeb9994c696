"""The HTML pages at the HTTP edge: languages, security headers, the stylesheet, the outbox's stage."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.adapters import outbox
from chalicelib.render import pages
from tests.conftest import day_data, webinar_data

PAGES = ["/", "/privacy"]


@pytest.fixture
def published(client, staff_headers):
    for data in (webinar_data(), day_data(registration_opens_at="2027-03-01T09:00:00+01:00")):
        assert client.http.post("/staff/events", headers=staff_headers, body=json.dumps(data)).status_code == 201


def html(response) -> str:
    return response.body.decode("utf-8")


def test_front_page_is_dutch_by_default(client, published):
    response = client.http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="nl">' in html(response)


def test_accept_language_picks_english(client, published):
    assert '<html lang="en">' in html(client.http.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}))


def test_query_beats_accept_language(client, published):
    assert '<html lang="nl">' in html(client.http.get("/?lang=nl", headers={"Accept-Language": "en"}))
    assert '<html lang="en">' in html(client.http.get("/?lang=en", headers={"Accept-Language": "nl-BE"}))


def test_unknown_language_falls_back_to_dutch(client, published):
    assert '<html lang="nl">' in html(client.http.get("/?lang=fr", headers={"Accept-Language": "de, fr"}))


@pytest.mark.parametrize("lang, other", [("nl", "en"), ("en", "nl")])
def test_every_page_links_to_the_other_language(client, published, lang, other):
    for path in PAGES:
        assert f'href="{path}?lang={other}" hreflang="{other}"' in html(client.http.get(f"{path}?lang={lang}"))


def test_front_page_lists_events_in_brussels_time(client, published):
    page = html(client.http.get("/?lang=en"))
    assert "Smart Region webinar" in page
    assert "Thursday 14 January 2027, 10:00–11:00" in page  # 09:00 UTC
    assert "Thursday 3 June 2027, 09:00–17:00" in page  # 07:00 UTC, summer time
    assert "Online" in page
    assert "Havenlaan 88, 1000 Brussel" in page
    assert "Opens on Mon 1 Mar 2027, 09:00" in page  # short on a card
    day = html(client.http.get("/events/smart-region-dag-2027?lang=en", headers={"Accept": "text/html"}))
    assert "Opens on Monday 1 March 2027, 09:00 (Belgian time)" in day


def test_full_event_offers_the_waiting_list(published, dynamodb_repo, clock):
    from dataclasses import replace

    event = dynamodb_repo.get_event("smart-region-dag-2027")
    full = replace(event, registration_opens_at=None, seats_taken=event.capacity)
    assert pages.registration_state(full, clock()) == "full"
    assert pages.registration_state(replace(full, seats_taken=0), clock()) == "open"
    assert pages.registration_state(event, clock()) == "soon"


@pytest.mark.parametrize("path", PAGES)
def test_html_pages_carry_the_security_headers(client, published, path):
    response = client.http.get(path)
    for name, value in pages.SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_style_or_script(client, published, path):
    page = html(client.http.get(path))
    assert "<script" not in page
    assert "style=" not in page
    assert "<style" not in page


def test_front_page_form_has_a_hidden_honeypot_and_a_consent_link(client, published):
    page = html(client.http.get("/"))
    assert '<div class="trap" aria-hidden="true">' in page
    assert 'name="website"' in page and 'tabindex="-1"' in page
    assert 'href="/privacy?lang=nl"' in page
    assert '<fieldset id="field-event_ids"' in page and "<legend>" in page


def test_stylesheet_is_served_cacheable(client):
    response = client.http.get("/static/site.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert "immutable" in response.headers["Cache-Control"]
    again = client.http.get("/static/site.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_the_favicon_is_the_offices_icon_not_a_403(client):
    """Browsers ask for /favicon.ico on every page load; it answered 403 (no such route)."""
    response = client.http.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert response.body.startswith(b"<svg") and b"#ffe615" in response.body
    assert "max-age" in response.headers["Cache-Control"]
    assert client.http.get("/favicon.ico", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    page = html(client.http.get("/"))
    assert '<link rel="icon" href="/static/favicon.svg?v=' in page
    assert client.http.get("/static/favicon.svg").status_code == 200


def test_only_known_static_files_are_served(client):
    assert client.http.get("/static/..%2Fapp.py").status_code == 404
    assert client.http.get("/static/nothing.css").status_code == 404


def test_outbox_is_missing_outside_the_local_stage(client, monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    assert client.http.get("/outbox").status_code == 404


def test_outbox_needs_the_local_emulator(client):
    # the test client runs the local stage, but moto in-process has no server to ask
    assert client.http.get("/outbox").status_code == 404


RAW = (
    "From: smartregionoffice@vlaanderen.be\r\nTo: an@example.be\r\nSubject: Bevestig je inschrijving\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Bevestig via https://events.example/confirm/abc. Of beheer: https://events.example/manage/xyz\r\n"
)


def test_outbox_reads_moto_raw_messages_with_their_links():
    data = {"ses": {"RawMessage": [{"id": "m1", "source": "smartregionoffice@vlaanderen.be",
                                    "destinations": ["an@example.be"], "raw_data": RAW}]}}
    [mail] = outbox.parse(data)
    assert mail.subject == "Bevestig je inschrijving"
    assert mail.recipients == ["an@example.be"]
    assert mail.links == ["https://events.example/confirm/abc", "https://events.example/manage/xyz"]
    assert ("https://events.example/confirm/abc", True) in mail.segments()
    assert "Bevestig je inschrijving" in outbox.format_text([mail])


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_events_url_is_its_page_in_a_browser_and_json_for_anything_else(client, published):
    # The URL calendars show as the event's ("More information"), from the .ics and add-to-calendar links.
    page = client.http.get("/events/smart-region-dag-2027?lang=en", headers=BROWSER)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Vary"] == "Accept, Accept-Language"  # the language comes from Accept-Language too
    text = html(page)
    assert "<h1>Smart Region Day</h1>" in text and "Herman Teirlinckgebouw" in text
    assert 'href="/?lang=en&amp;event=smart-region-dag-2027#subscribe"' in text
    for accept in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}, {"Accept": "text/html;q=0.5, application/json"}):
        answer = client.http.get("/events/smart-region-dag-2027", headers=accept)
        assert answer.headers["Content-Type"].startswith("application/json"), accept
        assert json.loads(answer.body)["id"] == "smart-region-dag-2027"
    missing = client.http.get("/events/nope", headers=BROWSER)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/html")
    assert missing.headers["Vary"] == "Accept, Accept-Language"


def test_the_register_link_of_an_events_page_ticks_it_in_the_form(client, published):
    text = html(client.http.get("/?lang=en&event=smart-region-dag-2027"))
    box = re.search(r'<input type="checkbox"[^>]*value="smart-region-dag-2027"[^>]*>', text).group(0)
    assert "checked" in box
    other = re.search(r'<input type="checkbox"[^>]*value="webinar-2027-01-14"[^>]*>', text).group(0)
    assert "checked" not in other
    boxes = re.findall(r'<input type="checkbox"[^>]*>', html(client.http.get("/?event=<script>")))
    assert boxes and not any("checked" in box for box in boxes)


def test_the_privacy_notice_names_who_is_responsible_the_basis_and_where_to_complain(client):
    for lang, words in (("nl", ("Wie is verantwoordelijk", "toestemming", "Vlaamse Toezichtcommissie")),
                        ("en", ("Who is responsible", "consent", "Vlaamse Toezichtcommissie"))):
        page = html(client.http.get(f"/privacy?lang={lang}"))
        assert all(word in page for word in words), lang
        assert 'href="https://www.vlaamsetoezichtcommissie.be"' in page


def test_the_privacy_notice_says_what_the_calendar_and_map_links_send_where(client):
    """The mails' add-to-calendar links carry the join link to Google or Microsoft when pressed: the notice says so."""
    for lang, words in (("nl", ("Links naar andere diensten", "Google Agenda", "Outlook", "deel te nemen", "OpenStreetMap")),
                        ("en", ("Links to other services", "Google Calendar", "Outlook", "link to join", "OpenStreetMap"))):
        page = html(client.http.get(f"/privacy?lang={lang}"))
        assert all(word in page for word in words), lang


def test_an_event_description_keeps_its_paragraphs_and_line_breaks_escaped(client, staff_headers):
    data = webinar_data(description={"nl": "Eerste alinea.\n\nTweede <b>alinea</b>\nnieuwe regel", "en": "One"})
    assert client.http.post("/staff/events", headers=staff_headers, body=json.dumps(data)).status_code == 201
    page = html(client.http.get("/events/webinar-2027-01-14", headers=BROWSER))
    assert "<p>Eerste alinea.</p>\n<p>Tweede &lt;b&gt;alinea&lt;/b&gt;<br>\nnieuwe regel</p>" in page
    # The front page's card holds its start only, with a link to the rest.
    front = html(client.http.get("/"))
    assert '<p class="summary">Eerste alinea.</p>' in front and "Tweede" not in front


# ------------------------------------------------ the front page, as a person scans it


def _cards(page: str) -> list[str]:
    return re.findall(r'<li class="event[^"]*" id="event-[^"]+">.*?</li>', page, re.S)


def test_the_smart_region_day_comes_first_and_stands_out_then_the_webinars(client, published, staff_headers):
    """Three equal cards in date order: the main event did not stand out. Now the day, then the webinars."""
    later = webinar_data(id="webinar-2027-02-25", starts_at="2027-02-25T14:00:00+01:00",
                         ends_at="2027-02-25T15:00:00+01:00")
    assert client.http.post("/staff/events", headers=staff_headers, body=json.dumps(later)).status_code == 201
    page = html(client.http.get("/"))
    cards = _cards(page)
    assert [re.search(r'id="event-([^"]+)"', c).group(1) for c in cards] == [
        "smart-region-dag-2027", "webinar-2027-01-14", "webinar-2027-02-25"]
    assert cards[0].startswith('<li class="event event-featured"') and '<h2 class="event-title">' in cards[0]
    assert all('<h3 class="event-title">' in card for card in cards[1:])
    assert page.index('<h2 id="webinars">Webinars</h2>') > page.index(cards[0])
    # A way to the form near the top, for a phone.
    assert page.index('href="#subscribe"') < page.index(cards[0])


def test_each_card_has_a_short_text_a_more_link_and_a_register_action_that_ticks_its_event(client, published, staff_headers):
    long_text = ("Vlaanderen positioneert zich als een slimme regio waarin data en technologie ingezet worden om "
                 "maatschappelijke problemen aan te pakken. " * 3) + "\n\nTweede alinea."
    change = {"description": {"nl": long_text, "en": "Short."}}
    assert client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                             body=json.dumps(change)).status_code == 200
    page = html(client.http.get("/"))
    day, webinar = _cards(page)
    summary = re.search(r'<p class="summary">(.*?)</p>', webinar, re.S).group(1)
    assert len(summary) <= 180 and summary.endswith("aan te pakken.") and "Tweede" not in webinar
    assert re.search(r'<a class="more" href="/events/webinar-2027-01-14\?lang=nl">Meer<span class="visually-hidden">: '
                     r'Webinar Smart Region</span></a>', webinar)
    # Open: "Inschrijven", to the form with this event ticked.
    assert re.search(r'<a class="button" href="/\?lang=nl&amp;event=webinar-2027-01-14#subscribe">Inschrijven'
                     r'<span class="visually-hidden">: Webinar Smart Region</span></a>', webinar)
    # Not open yet: no "Inschrijven", but the mail when it opens, through the same form.
    assert re.search(r'<a class="button" href="/\?lang=nl&amp;event=smart-region-dag-2027#subscribe">'
                     r'Mail me als de inschrijving opent<span', day)
    assert ">Inschrijven<" not in day
    ticked = html(client.http.get("/?lang=nl&event=webinar-2027-01-14"))
    assert re.search(r'value="webinar-2027-01-14" checked', ticked)


def test_the_event_page_styles_its_facts_links_a_map_and_offers_no_registration_before_it_opens(client, published):
    page = html(client.http.get("/events/smart-region-dag-2027", headers=BROWSER))
    assert '<div class="event-page">' in page and '<dl class="event-facts">' in page
    assert ('href="https://www.openstreetmap.org/search?query=Herman%20Teirlinckgebouw%2C%20Havenlaan%2088%2C%201000'
            '%20Brussel">Kaart') in page
    assert ">Inschrijven" not in page and "Mail me als de inschrijving opent" in page
    webinar = html(client.http.get("/events/webinar-2027-01-14", headers=BROWSER))
    assert ">Inschrijven<span" in webinar and "openstreetmap" not in webinar


def test_the_check_your_mail_page_says_the_mail_limit_and_what_to_do_then(client, monkeypatch):
    """It said "fill in the form again" while a fourth mail in an hour is silently held back."""
    monkeypatch.setenv("CONFIRMATION_MAILS_PER_HOUR", "3")
    monkeypatch.setenv("CONFIRMATION_MAILS_PER_DAY", "6")
    for lang, words in (("en", ("at most 3 confirmation emails an hour and 6 a day",
                                "filling in the form again sends nothing until", "spam folder")),
                        ("nl", ("hoogstens 3 bevestigingsmails per uur en 6 per dag",
                                "het formulier opnieuw invullen niets meer", "ongewenste e-mail"))):
        page = html(client.http.get(f"/subscriptions/sent?lang={lang}"))
        assert all(word in page for word in words), lang
        assert 'href="mailto:smartregionoffice@vlaanderen.be"' in page.split("<main")[1].split("</main>")[0]

"""In a real browser: Debian's Chromium driven by Playwright against the live server.

A person subscribes from a phone (360 x 740), reads the mail in the outbox,
confirms, manages and cancels; and axe-core (WCAG 2.1 A and AA) finds no
violation on any public page. In CI these run, never skip.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.request
from urllib.parse import urlencode

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from tests.browser_support import axe_violations, running_chromium  # noqa: E402

PHONE = {"width": 360, "height": 740}
WEBINAR = "webinar-2027-01-14"
_addresses = itertools.count(1)


browser = pytest.fixture(scope="module", name="browser")(running_chromium)


@pytest.fixture
def page(browser):
    """A phone without JavaScript: the pages must work without it (they have none)."""
    context = browser.new_context(viewport=PHONE, locale="nl-BE", java_script_enabled=False)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def audit_page(browser):
    """A phone with JavaScript on, which axe-core itself needs (the pages' CSP still forbids theirs)."""
    context = browser.new_context(viewport=PHONE, locale="nl-BE")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def new_address(label: str) -> str:
    return f"{label}-{next(_addresses)}@example.be"


def mail_link(live_server, address: str, path: str, count: int = 1) -> str:
    """The first link to ``path`` in the newest mail to ``address`` (once ``count`` mails arrived)."""
    mails = live_server.wait_for_mail(address, count)
    assert len(mails) >= count, f"{count} mail(s) to {address} expected, got {len(mails)}"
    links = [link for link in mails[0].links if path in link and link.startswith(live_server.url)]
    assert links, f"no {path} link in {mails[0].subject!r}: {mails[0].links}"
    return links[0]


def subscribe_over_http(live_server, address: str, event_ids=(WEBINAR,), name: str = "Axe Tester") -> None:
    body = urlencode({"name": name, "email": address, "event_ids": list(event_ids),
                      "consent": "on", "language": "nl"}, doseq=True).encode()
    request = urllib.request.Request(f"{live_server.url}/subscriptions", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # the 303 to "check your mail", followed
        assert answer.status == 200 and "/subscriptions/sent" in answer.url


def confirm_over_http(live_server, confirm_url: str) -> None:
    request = urllib.request.Request(confirm_url, data=b"", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def press(control) -> None:
    """Press a button or link that loads a new page, and wait until that page has loaded."""
    with control.page.expect_navigation(wait_until="load"):
        control.click()


def fits_the_screen(page) -> bool:
    """Whether the page needs no sideways scrolling on the phone."""
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# --------------------------------------------------------------- the journey


def test_subscribe_confirm_manage_and_cancel_on_a_phone(page, live_server):
    address = new_address("journey")
    page.goto(f"{live_server.url}/")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert fits_the_screen(page)

    page.get_by_label("Naam (verplicht)").fill("An Peeters")
    page.get_by_label("E-mailadres (verplicht)").fill(address)
    page.get_by_label("Organisatie").fill("Stad Gent")
    page.locator(f'input[name="event_ids"][value="{WEBINAR}"]').check()
    page.locator(f'textarea[name="question-{WEBINAR}"]').fill("Hoe sluit onze stad aan?")  # one per webinar
    page.locator("#field-consent").check()
    press(page.get_by_role("button", name="Inschrijven"))
    assert page.get_by_role("heading", level=1).inner_text() == "Bekijk je mailbox"
    assert page.url.endswith("/subscriptions/sent?lang=nl")  # a reload sends no second mail
    page.reload()
    assert len(live_server.wait_for_mail(address)) == 1

    page.goto(mail_link(live_server, address, "/confirm/"))
    press(page.get_by_role("button", name="Mijn inschrijving bevestigen"))
    assert page.get_by_role("heading", level=1).inner_text() == "Inschrijving bevestigd"
    assert fits_the_screen(page)

    page.goto(mail_link(live_server, address, "/manage/", count=2))
    assert page.get_by_role("heading", level=1).inner_text() == "Je inschrijvingen"
    assert fits_the_screen(page)
    press(page.get_by_role("button", name=re.compile("Deze inschrijving annuleren")).first)
    press(page.get_by_role("button", name="Ja, annuleer mijn inschrijving"))
    # Redirect after POST: the manage page, saying what was cancelled; a reload asks nothing.
    assert page.get_by_role("heading", level=1).inner_text() == "Je inschrijvingen"
    assert "is geannuleerd" in page.locator(".notice").inner_text()
    page.reload()
    assert "Geannuleerd" in page.locator("main").inner_text()


def test_no_page_scrolls_sideways_at_320_px_with_a_long_address_and_a_long_url(browser, live_server):
    token = live_server.cli("staff-token", "create", "browser-tester").strip().splitlines()[-1]
    url = "https://meet.example.org/" + "averylongpathwithoutanybreak" * 4 + "?session=" + "0123456789" * 4
    event = {"id": "webinar-2028-05-04-narrow", "kind": "webinar", "status": "published",
             "title": {"nl": "Webinar met een lange link"}, "timezone": "America/New_York",
             "description": {"nl": f"Lees eerst {url} en dan de rest."},
             "starts_at": "2028-05-04T10:00", "ends_at": "2028-05-04T11:00", "online_url": url}
    request = urllib.request.Request(f"{live_server.url}/staff/events", data=json.dumps(event).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201
    address = f"{'averylonglocalpartwithoutanybreak' * 2}{next(_addresses)}@{'subdomain' * 6}.example.be"
    subscribe_over_http(live_server, address, event_ids=[WEBINAR, event["id"]], name="Anneliese" * 12)
    confirm = mail_link(live_server, address, "/confirm/")
    confirm_over_http(live_server, confirm)
    manage = mail_link(live_server, address, "/manage/", count=2)
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    try:
        for path in ("/?lang=en", f"/events/{event['id']}?lang=en", manage, f"{manage}?lang=en"):
            page.goto(path if path.startswith("http") else live_server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{path} is {width} px wide at 320 px"
        assert address in page.locator("main").inner_text()
    finally:
        context.close()


# A word broken across two lines has two boxes. Words are split at spaces and at the marks a line may break
# after (dashes, slashes, colons of a time), so "09:00–17:00" on two lines is no mid-word break.
BROKEN_WORDS = """() => {
    const broken = [];
    const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        const re = /[^\\s\\-\\u2013\\/:]+/g;
        let match;
        while ((match = re.exec(node.data)) !== null) {
            const range = document.createRange();
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
            if (tops.size > 1) broken.push(match[0]);
        }
    }
    return broken;
}"""


@pytest.mark.parametrize("width,lang", [(1280, "nl"), (1280, "en"), (360, "nl"), (360, "en")])
def test_no_word_breaks_mid_word_on_the_front_page_or_an_events_page(browser, live_server, width, lang):
    """At 1280 px three 290 px cards broke "Herman Teirlinckgebou / w" and "smartregionoffice@vlaanderen. / be"."""
    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=True)
    page = context.new_page()
    try:
        for path in (f"/?lang={lang}", f"/events/smart-region-dag-2027?lang={lang}", f"/events/{WEBINAR}?lang={lang}"):
            page.goto(live_server.url + path)
            assert page.evaluate(BROKEN_WORDS) == [], f"{path} at {width} px"
            assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


def test_the_front_page_shows_the_day_first_and_wide_and_reaches_the_form_in_one_tap(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/?lang=nl")
        day = page.locator("#event-smart-region-dag-2027").bounding_box()
        webinar = page.locator(f"#event-{WEBINAR}").bounding_box()
        assert day["y"] + day["height"] <= webinar["y"] and day["width"] > 1.5 * webinar["width"]
        # The register action of a card leads to the form with its event ticked.
        press(page.locator(f"#event-{WEBINAR}").get_by_role("link", name=re.compile("^Inschrijven")))
        assert page.locator(f'input[name="event_ids"][value="{WEBINAR}"]').is_checked()
        assert page.locator("#subscribe").bounding_box()["y"] <= 1  # scrolled to the form
    finally:
        context.close()


def test_on_a_phone_the_form_is_one_tap_from_the_first_screen(page, live_server):
    page.goto(f"{live_server.url}/")
    to_form = page.get_by_role("link", name="Naar het inschrijvingsformulier")
    box = to_form.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"]
    to_form.click()
    page.wait_for_timeout(200)
    assert abs(page.locator("#subscribe").bounding_box()["y"]) <= 1


def test_form_shows_errors_beside_fields_and_keeps_values(page, live_server):
    page.goto(f"{live_server.url}/?lang=en")
    page.get_by_label("Name (required)").fill("<b>An</b>")
    press(page.get_by_role("button", name="Register"))
    assert page.get_by_role("heading", name="Please correct the following").is_visible()
    assert page.get_by_label("Name (required)").input_value() == "<b>An</b>"
    described = page.get_by_label("Email address (required)").get_attribute("aria-describedby")
    assert "email-error" in described
    assert page.locator("#email-error").inner_text().endswith("Enter your email address.")


# ------------------------------------------------------------- the axe audit


def _form_with_errors(page, live):
    page.goto(f"{live.url}/")
    press(page.get_by_role("button", name="Inschrijven"))


def _check_your_mail(page, live):
    page.goto(f"{live.url}/?lang=en")
    page.get_by_label("Name (required)").fill("Axe Tester")
    page.get_by_label("Email address (required)").fill(new_address("axe-form"))
    page.locator(f'input[name="event_ids"][value="{WEBINAR}"]').check()
    page.locator("#field-consent").check()
    press(page.get_by_role("button", name="Register"))


def _confirm_page(page, live):
    address = new_address("axe-confirm")
    subscribe_over_http(live, address)
    page.goto(mail_link(live, address, "/confirm/"))


def _confirm_result(page, live):
    _confirm_page(page, live)
    press(page.get_by_role("button", name="Mijn inschrijving bevestigen"))


def _manage_page(page, live):
    address = new_address("axe-manage")
    subscribe_over_http(live, address)
    confirm_over_http(live, mail_link(live, address, "/confirm/"))
    page.goto(mail_link(live, address, "/manage/", count=2))


def _manage_page_offering_more(lang):
    """The manage page of someone registered for the webinar alone: the other events offered, one click each."""
    def open_page(page, live):
        _manage_page(page, live)
        page.goto(f"{page.url.split('?')[0]}?lang={lang}")
        assert page.locator("#more").count() == 1  # "Register for another event", with its buttons
    return open_page


def _cancel_question(page, live):
    _manage_page(page, live)
    press(page.get_by_role("button", name=re.compile("Deze inschrijving annuleren")).first)


def _gone_token(page, live):
    address = new_address("axe-gone")
    subscribe_over_http(live, address)
    link = mail_link(live, address, "/confirm/")
    confirm_over_http(live, link)
    page.goto(link)


def _unsubscribe_page(page, live):
    address = new_address("axe-unsubscribe")
    subscribe_over_http(live, address)
    page.goto(mail_link(live, address, "/unsubscribe/"))


PAGES = {
    "index nl": (lambda page, live: page.goto(f"{live.url}/?lang=nl"), 200),
    "index en": (lambda page, live: page.goto(f"{live.url}/?lang=en"), 200),
    "privacy": (lambda page, live: page.goto(f"{live.url}/privacy"), 200),
    "event page": (lambda page, live: page.goto(f"{live.url}/events/smart-region-dag-2027?lang=nl"), 200),
    "form with errors": (_form_with_errors, 400),
    "check your mail": (_check_your_mail, 200),
    "confirm page": (_confirm_page, 200),
    "confirm result": (_confirm_result, 200),
    "manage page": (_manage_page, 200),
    "manage page offering more nl": (_manage_page_offering_more("nl"), 200),
    "manage page offering more en": (_manage_page_offering_more("en"), 200),
    "cancel question": (_cancel_question, 200),
    "unsubscribe page": (_unsubscribe_page, 200),
    "token 404": (lambda page, live: page.goto(f"{live.url}/confirm/{'x' * 43}"), 404),
    "token 410": (_gone_token, 410),
    "outbox": (lambda page, live: page.goto(f"{live.url}/outbox"), 200),
}


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_axe_violations(audit_page, live_server, name):
    page = audit_page
    open_page, status = PAGES[name]
    responses = []
    page.on("response", lambda r: responses.append(r) if r.request.resource_type == "document" else None)
    open_page(page, live_server)
    assert responses and responses[-1].status == status
    assert fits_the_screen(page), f"{name} is wider than a 360 px phone"
    violations = axe_violations(page)
    report = [(v["id"], v["impact"], v["help"], [n["html"][:200] for n in v["nodes"]]) for v in violations]
    assert report == []

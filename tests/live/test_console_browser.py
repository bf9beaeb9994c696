"""The staff console in a real browser: Debian's Chromium driven by Playwright against the live server.

The journey: a staff member signs in through the link in the local outbox,
creates a webinar, previews it, publishes it, sees it on the public page; a
person registers and confirms; staff see the registration, write to the
registrants, and the message arrives once. And axe-core (WCAG 2.1 A and AA)
finds no violation on any console page, each of which fits a 360 px phone.

With ``CONSOLE_SCREENSHOTS=1`` the journey saves its screenshots to
docs/console/ (the pictures of docs/console.md).
"""

from __future__ import annotations

import itertools
import os
import re
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from tests.browser_support import REPO_ROOT, axe_violations, running_chromium  # noqa: E402

PHONE = {"width": 360, "height": 740}
SHOTS = REPO_ROOT / "docs" / "console"
_numbers = itertools.count(1)


browser = pytest.fixture(scope="module", name="browser")(running_chromium)


def press(control) -> None:
    """Press a button or link that loads a new page, and wait until that page has loaded."""
    with control.page.expect_navigation(wait_until="load"):
        control.click()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def staff_member(live_server, label: str) -> str:
    email = f"{label}-{next(_numbers)}@example.be"
    live_server.cli("staff", "add", email, f"Staff {label}", "--admin")
    return email


def shot(page, name: str) -> None:
    if os.environ.get("CONSOLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def mail_links(live_server, address: str, path: str, count: int = 1) -> list[str]:
    mails = live_server.wait_for_mail(address, count)
    assert len(mails) >= count, f"{count} mail(s) to {address} expected, got {len(mails)}"
    return [link for link in mails[0].links if path in link and link.startswith(live_server.url)]


def post_form(url: str, fields: dict) -> None:
    request = urllib.request.Request(url, data=urlencode(fields, doseq=True).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


# --------------------------------------------------------------- the journey


def test_a_staff_member_runs_a_webinar_from_the_console(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="en-GB", java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        staff = staff_member(live_server, "journey")
        page.goto(f"{live_server.url}/console")
        assert "/console/sign-in" in page.url
        shot(page, "sign-in")
        page.get_by_label("Email address").fill(staff)
        press(page.get_by_role("button", name="Mail me a sign-in link"))
        assert page.get_by_role("heading", level=1).inner_text() == "Check your mail"
        [link] = mail_links(live_server, staff, "/console/sign-in/")
        page.goto(link)
        press(page.get_by_role("button", name="Sign in"))
        assert page.get_by_role("heading", level=1).inner_text() == "Events"
        assert fits_the_screen(page)
        shot(page, "events")

        title = f"Journey webinar {next(_numbers)}"
        day = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%d")
        press(page.get_by_role("link", name="New event").first)
        page.get_by_label("Title in Dutch (required)").fill(title)
        page.get_by_label("Title in English").fill(title + " (en)")
        page.get_by_label("Description in Dutch").fill("Over de missie en de strategie.")
        page.locator("#field-start_date").fill(day)
        page.locator("#field-start_time").fill("10:00")
        page.locator("#field-end_time").fill("11:00")
        page.get_by_label("Join link").fill("https://meet.example.org/journey")
        page.get_by_label("Seats").fill("50")
        shot(page, "new-event")
        press(page.get_by_role("button", name="Save as draft"))
        assert page.get_by_role("heading", level=1).inner_text() == title + " (en)"
        event_path = re.search(r"/console/events/[a-z0-9-]+", page.url).group(0)
        event_id = event_path.rsplit("/", 1)[1]

        press(page.get_by_role("link", name="Preview the public page"))
        assert page.get_by_role("heading", level=1).inner_text() == title + " (en)"
        shot(page, "preview")
        page.goto(f"{live_server.url}{event_path}?lang=en")
        press(page.get_by_role("button", name="Publish"))
        assert "The event is published." in page.locator("main").inner_text()
        shot(page, "event")

        public = context.new_page()
        public.goto(f"{live_server.url}/events/{event_id}?lang=en")
        assert public.get_by_role("heading", level=1).inner_text() == title + " (en)"
        public.goto(f"{live_server.url}/?lang=en")
        assert title + " (en)" in public.locator("main").inner_text()
        public.close()

        person = f"journey-person-{next(_numbers)}@example.be"
        post_form(f"{live_server.url}/subscriptions", {"name": "Els Peeters", "email": person, "event_ids": [event_id],
                                                       "consent": "on", "language": "nl", "question": "Hoe begin ik?"})
        [confirm] = mail_links(live_server, person, "/confirm/")
        post_form(confirm, {})

        page.goto(f"{live_server.url}{event_path}/registrations?lang=en")
        main = page.locator("main").inner_text()
        assert "Els Peeters" in main and "Hoe begin ik?" in main and "Seat" in main
        assert fits_the_screen(page)
        shot(page, "registrations")

        page.goto(f"{live_server.url}{event_path}/messages?lang=en")
        page.get_by_label("Subject in Dutch").fill("Praktische info")
        page.get_by_label("Subject in English").fill("Practical information")
        page.get_by_label("Text in Dutch").fill("Test je microfoon vooraf.")
        page.get_by_label("Text in English").fill("Test your microphone beforehand.")
        press(page.get_by_role("button", name="Preview"))
        assert "Test je microfoon vooraf." in page.locator("#preview").evaluate("e => e.parentElement.innerText")
        shot(page, "message-preview")
        press(page.get_by_role("button", name="Send"))
        assert "goes out to 1 people" in page.locator("main").inner_text()

        later = (datetime.now(timezone.utc) + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ticks = [live_server.cli("send-due", "--now", later) for _ in range(2)]
        arrived = [m for m in live_server.mails_to(person) if "Praktische info" in m.subject]
        assert len(arrived) == 1, (ticks, [m.subject for m in live_server.mails_to(person)])
        assert "Test je microfoon vooraf." in arrived[0].text
    finally:
        context.close()


# ------------------------------------------------------------- the axe audit


@pytest.fixture(scope="module")
def signed_in(browser, live_server):
    """A phone with JavaScript on (axe needs it), signed in once, and a published event with a registration."""
    context = browser.new_context(viewport=PHONE, locale="nl-BE")
    context.set_default_timeout(15_000)
    staff = staff_member(live_server, "axe")
    page = context.new_page()
    page.goto(live_server.cli("staff", "sign-in-link", staff).strip().splitlines()[-1])
    press(page.get_by_role("button", name="Aanmelden"))
    page.close()
    person = f"axe-person-{next(_numbers)}@example.be"
    post_form(f"{live_server.url}/subscriptions", {"name": "Axe Person", "email": person,
                                                   "event_ids": ["webinar-2027-01-14"], "consent": "on",
                                                   "language": "nl"})
    yield context, staff, person
    context.close()


EVENT = "/console/events/webinar-2027-01-14"


def _form_errors(page, live, staff, person):
    page.goto(f"{live.url}/console/events/new")
    press(page.get_by_role("button", name="Bewaren als ontwerp"))


def _message_preview(page, live, staff, person):
    page.goto(f"{live.url}{EVENT}/messages")
    for name, text in (("Onderwerp in het Nederlands", "Info"), ("Onderwerp in het Engels", "Info"),
                       ("Tekst in het Nederlands", "Tekst"), ("Tekst in het Engels", "Text")):
        page.get_by_label(name).fill(text)
    press(page.get_by_role("button", name="Voorbeeld"))


def _sign_in_errors(page, live, staff, person):
    page.goto(f"{live.url}/console/sign-in")
    page.get_by_label("E-mailadres").fill("geen adres")
    press(page.get_by_role("button", name="Mail me een aanmeldlink"))


PAGES = {
    "sign-in": (lambda page, live, staff, person: page.goto(f"{live.url}/console/sign-in"), 200),
    "sign-in with an error": (_sign_in_errors, 400),
    "check your mail": (lambda page, live, staff, person: page.goto(f"{live.url}/console/sign-in-sent"), 200),
    "sign-in button": (lambda page, live, staff, person: page.goto(
        live.cli("staff", "sign-in-link", staff).strip().splitlines()[-1]), 200),
    "link spent": (lambda page, live, staff, person: page.goto(f"{live.url}/console/sign-in/{'A' * 43}"), 410),
    "events": (lambda page, live, staff, person: page.goto(f"{live.url}/console"), 200),
    "events in English": (lambda page, live, staff, person: page.goto(f"{live.url}/console?lang=en"), 200),
    "new event": (lambda page, live, staff, person: page.goto(f"{live.url}/console/events/new"), 200),
    "new event with errors": (_form_errors, 400),
    "event": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}"), 200),
    "edit": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}/edit"), 200),
    "preview": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}/preview"), 200),
    "copy": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}/copy"), 200),
    "cancel": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}/cancel"), 200),
    "registrations": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}/registrations"), 200),
    "messages": (lambda page, live, staff, person: page.goto(f"{live.url}{EVENT}/messages"), 200),
    "message preview": (_message_preview, 200),
    "people": (lambda page, live, staff, person: page.goto(f"{live.url}/console/people"), 200),
    "a person's report": (lambda page, live, staff, person: page.goto(
        f"{live.url}/console/people?email={person}"), 200),
    "audit log": (lambda page, live, staff, person: page.goto(f"{live.url}/console/audit"), 200),
    "audit log in English": (lambda page, live, staff, person: page.goto(f"{live.url}/console/audit?lang=en"), 200),
    "a person's report in English": (lambda page, live, staff, person: page.goto(
        f"{live.url}/console/people?email={person}&lang=en"), 200),
    "staff": (lambda page, live, staff, person: page.goto(f"{live.url}/console/staff"), 200),
}


@pytest.mark.parametrize("name", PAGES)
def test_console_page_has_no_axe_violations(signed_in, live_server, name):
    context, staff, person = signed_in
    page = context.new_page()
    try:
        open_page, status = PAGES[name]
        responses = []
        page.on("response", lambda r: responses.append(r) if r.request.resource_type == "document" else None)
        open_page(page, live_server, staff, person)
        assert responses and responses[-1].status == status
        assert fits_the_screen(page), f"{name} is wider than a 360 px phone"
        violations = axe_violations(page)
        report = [(v["id"], v["impact"], v["help"], [n["html"][:200] for n in v["nodes"]]) for v in violations]
        assert report == []
    finally:
        page.close()


@pytest.mark.parametrize("width", [PHONE["width"], 1280])
def test_the_event_pages_list_of_what_you_can_do_has_one_action_a_line(signed_in, live_server, width):
    """The list's items stood side by side, each bullet over the end of the link before it."""
    context, staff, person = signed_in
    page = context.new_page()
    try:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}{EVENT}")
        items = page.locator("main h2 + ul > li")
        boxes = [items.nth(i).bounding_box() for i in range(items.count())]
        assert len(boxes) >= 4
        for above, below in zip(boxes, boxes[1:]):
            assert below["y"] >= above["y"] + above["height"] - 1, (width, boxes)
    finally:
        page.close()


def test_the_audit_log_shows_every_entry_whole_on_a_phone(signed_in, live_server):
    """Each entry stacked within the 360 px screen, its details included: no box to scroll sideways (the
    table scrolled inside one, its details past the edge)."""
    context, staff, person = signed_in
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/console/audit")
        assert page.locator("main li dl").count() >= 1
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 || e.scrollWidth > e.clientWidth + 1)
            .map(e => e.tagName + '.' + e.className)""")
        assert wide == []
    finally:
        page.close()

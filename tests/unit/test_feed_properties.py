"""Any text survives the feed: icalendar and ical.js read back exactly what was written (hypothesis).

ical.js runs in one node process for every example (tests/js/parse_ics_lines.cjs,
one calendar per line), so thousands of calendars parse in seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.errors import DomainError
from chalicelib.render.ical import build_calendar
from chalicelib.input.event import build_event
from tests.conftest import PINNED_NOW, day_data
from tests.feed_support import ROOT

LINES_SCRIPT = ROOT / "tests" / "js" / "parse_ics_lines.cjs"


class IcalJs:
    """A node process running ical.js: one calendar in, one JSON answer out, per line."""

    def __init__(self):
        node = shutil.which("node")
        if node is None or not (ROOT / "node_modules" / "ical.js").exists():
            pytest.skip("node and node_modules/ical.js are needed (make node_modules)")
        self.process = subprocess.Popen([node, str(LINES_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        cwd=ROOT, env={**os.environ, "TZ": "UTC"}, text=True, encoding="utf-8")
        self.parsed = 0

    def parse(self, body: bytes) -> list[dict]:
        self.process.stdin.write(json.dumps(body.decode("utf-8")) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer.get("error")
        self.parsed += 1
        return answer["events"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(10)


@pytest.fixture(scope="module")
def icaljs():
    parser = IcalJs()
    yield parser
    parser.close()
    print(f"ical.js parsed {parser.parsed} calendars in one process")


def read_with_icalendar(body: bytes) -> list[dict]:
    from icalendar import Calendar

    return [{name: None if vevent.get(name) is None else str(vevent.get(name))
             for name in ("summary", "description", "location")}
            for vevent in Calendar.from_ical(body).walk("VEVENT")]


def event_with(title: str, description: str, place: str, address: str):
    try:
        return build_event(day_data(title={"nl": title}, description={"nl": description},
                                    location={"name": place, "address": address}), existing=None, now=PINNED_NOW)
    except DomainError:
        assume(False)


PROPERTY = settings(max_examples=int(os.environ.get("FEED_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


# What a one-line field accepts: any character but surrogates and control characters, with tabs and the
# line breaks staff paste (which become "\n"). Generated as such rather than filtered with assume():
# refused ones made Hypothesis give up now and then (FailedHealthCheck: filter_too_much), failing the suite.
# The refusals themselves are tested in tests/edge/test_staff_input.py; descriptions (control characters
# dropped) still get any text but surrogates.
ONE_LINE = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(["\t", "\n", "\r", "\u2028"])
ANY_BUT_SURROGATES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@PROPERTY
@given(title=st.text(ONE_LINE, min_size=1, max_size=200), description=ANY_BUT_SURROGATES,
       place=st.text(ONE_LINE, min_size=1, max_size=100), address=st.text(ONE_LINE, max_size=100))
def test_any_text_survives_the_feed_in_icalendar_and_icaljs(icaljs, title, description, place, address):
    event = event_with(title, description, place, address)
    body = build_calendar([event], lang="nl", base_url="https://events.example.be", include_join_link=False)
    written = {"summary": event.title["nl"], "description": event.description.get("nl") or None,
               "location": event.location.one_line()}
    [py] = read_with_icalendar(body)
    [js] = icaljs.parse(body)
    assert py == written
    assert {k: js[k] for k in written} == written


@pytest.mark.parametrize("text", [
    "Line one\nline two", "a;b,c\\d", "Tab\there", "Émile & Zoë — “quotes” 🎉", "x" * 200,
    "carriage\r\nreturn", "lone\rreturn", "\u2028line separator", "trailing backslash\\",
])
def test_awkward_texts_survive_the_feed(icaljs, text):
    # A title and a place's name are one line (issue 21, item 10): they get the text with its breaks as spaces.
    one = re.sub(r"[\r\n\u2028\u2029]+", " ", text).strip()
    test_any_text_survives_the_feed_in_icalendar_and_icaljs.hypothesis.inner_test(
        icaljs, one, text, one[:100], text[:100])


def test_lone_carriage_return_in_event_text_comes_back_from_calendar_apps_as_written(icaljs):
    # Found by the property above: "a\rb" was stored as written, and every
    # calendar app read "a\nb" (iCalendar TEXT knows only "\n").
    # (A title and a place's name are one line now; the description and the address still take line breaks.)
    event = event_with("a b", "c\r\nd\re", "f", "g\rh")
    assert (event.description["nl"], event.location.address) == ("c\nd\ne", "g\nh")
    body = build_calendar([event], lang="nl", base_url="https://events.example.be", include_join_link=False)
    [js] = icaljs.parse(body)
    assert (js["summary"], js["description"], js["location"]) == ("a b", "c\nd\ne", "f, g\nh")

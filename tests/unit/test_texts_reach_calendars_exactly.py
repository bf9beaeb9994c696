"""Every text a staff member types reaches every calendar exactly: titles, descriptions and places, read back by
three independent readers (icalendar, vobject and Mozilla's ical.js), from the feeds, one event's download and the
mails' invitations (issue 19, item 1; decisions/0008)."""

from __future__ import annotations

import string

import pytest

from chalicelib.input.event import build_event
from chalicelib.render import ical
from tests.conftest import PINNED_NOW, day_data, webinar_data
from tests.feed_support import parse_three

BASE = "https://events.example.be"

# (title, description, place) as typed; CR and CR LF are stored as LF (input/event.py), all else as is.
HOSTILE = [
    "C:\\Nieuw",                                        # icalendar 7.3's vText made this "C:" + a line break
    "\\\\fileserver\\Netwerk\\Notulen",                 # a UNC share
    "".join(f"\\{c}" for c in string.ascii_letters),    # a backslash before every letter
    "a \\n b \\N c \\t d \\, e \\; f \\\\ g \\",          # escapes written out literally, and a backslash at the end
    'commas, semicolons; "double" and \'single\' quotes: colons',
    "first line\nsecond line\n\nafter an empty line",
    "tab\tbetween\twords",
    "emoji 😀🎉 and a family 👩‍👩‍👧‍👦 and CJK 日本語 and Ω",
    "4-byte 𝄞 characters 𝕳𝖊𝖑𝖑𝖔 at every place " + "𝄞" * 40,
]
# Enough text before a 4-byte character to put it across the 75-octet fold at each of its four bytes.
FOLDED = ["x" * n + "𝄞𝄞𝄞𝄞 " + "y" * n for n in range(60, 70)]


def one_line(text: str) -> str:
    """A title and a place's name are one line (input/event.py): the text with its line breaks as spaces."""
    return " ".join(text.replace("\r", "\n").split("\n")).strip()


def events(texts: list[str]):
    """One webinar per text (title and description) and one event in person (place name and address)."""
    made = []
    for i, text in enumerate(texts):
        made.append(build_event(webinar_data(id=f"webinar-{i}", title={"nl": one_line(text), "en": one_line(text)},
                                             description={"nl": text, "en": text}), existing=None, now=PINNED_NOW))
        made.append(build_event(day_data(id=f"day-{i}", title={"nl": one_line(text)},
                                         location={"name": one_line(text), "address": text}),
                                existing=None, now=PINNED_NOW))
    return made


def expected(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def check(body: bytes, made) -> None:
    readers = parse_three(body)
    by_uid = {ical.event_uid(e.id): e for e in made}
    for reader in readers:
        assert len(reader["events"]) == len(made)
        for read in reader["events"]:
            event = by_uid[read["uid"]]
            assert read["summary"] == event.title["nl"], (read["summary"], event.title)
            if event.kind == "webinar":
                assert read["description"].split("\n\nDeelnemen: ")[0] == event.description["nl"]
                assert read["location"] == "Online"
            else:
                assert read["location"] == f"{event.location.name}, {event.location.address}"


@pytest.mark.parametrize("texts", [HOSTILE, FOLDED], ids=["hostile", "folded"])
def test_hostile_texts_come_back_exactly_from_a_feed(texts):
    made = events(texts)
    check(ical.build_calendar(made, lang="nl", base_url=BASE, include_join_link=True), made)


@pytest.mark.parametrize("text", HOSTILE + FOLDED[:4])
@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_hostile_texts_come_back_exactly_from_an_invitation(text, method):
    for event in events([text]):
        body = ical.invitation(event, lang="nl", base_url=BASE, method=method, stamp=PINNED_NOW).for_attendee(
            "an@example.be", one_line(text))  # the name too: in CN, which cannot hold a double quote
        check(body, [event])


def test_line_breaks_of_other_systems_are_stored_and_written_as_one():
    made = events(["one\r\ntwo\rthree\nfour"])
    assert made[0].description["nl"] == made[1].location.address == "one\ntwo\nthree\nfour"
    check(ical.build_calendar(made, lang="nl", base_url=BASE, include_join_link=False), made)


@pytest.mark.parametrize("text", HOSTILE + FOLDED)
def test_every_line_is_folded_within_75_octets_on_character_boundaries(text):
    body = ical.build_calendar(events([text]), lang="nl", base_url=BASE, include_join_link=True)
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # no character split across lines
    invite = ical.invitation(events([text])[0], lang="nl", base_url=BASE, method="REQUEST",
                             stamp=PINNED_NOW).for_attendee("an@example.be", one_line(text))
    for line in invite.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")


def test_the_escaping_is_rfc_5545s():
    assert ical.escape_text("C:\\Nieuw, a; b\nc") == "C:\\\\Nieuw\\, a\\; b\\nc"
    assert ical.escape_text("\\N") == "\\\\N"

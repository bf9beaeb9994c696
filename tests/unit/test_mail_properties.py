"""Name and subject survive the mail builder exactly (hypothesis), read by a strict RFC 2047 decoder.

tests/unit/test_properties.py checks that no name or subject adds a header and
compares the text without white space, because Python's own parser keeps a
space between adjacent encoded words where RFC 2047 (and mail clients) drop
it. Here the raw headers are decoded as RFC 2047 says, and what comes back is
exactly what ``one_line`` made of the input: no character lost or added.
"""

from __future__ import annotations

import base64
import quopri
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.model.mail import Mail
from chalicelib.render.mime import build_mime, one_line

STRICT = settings(max_examples=300, deadline=None)

EW = re.compile(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")


def decode_rfc2047(value: str) -> str:
    """Decode a header value as RFC 2047 says: white space between adjacent encoded words is dropped."""
    value = re.sub(r"\r?\n(?=[ \t])", "", value)  # unfold
    out, pos, last_was_ew = [], 0, False
    for m in EW.finditer(value):
        between = value[pos:m.start()]
        if not (last_was_ew and between.strip(" \t") == ""):
            out.append(between)
        charset, enc, text = m.groups()
        raw = base64.b64decode(text) if enc in "bB" else quopri.decodestring(text.replace("_", " ").encode(), header=True)
        out.append(raw.decode(charset))
        pos, last_was_ew = m.end(), True
    out.append(value[pos:])
    return "".join(out)


def header(raw: bytes, name: str) -> str:
    """The raw value of header ``name`` of a message, still folded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    m = re.search(rf"^{name}:[ ]?(.*?)(?=\r\n[^ \t])", head + "\r\nX", re.S | re.M)
    return m.group(1)


@STRICT
@given(name=st.text(max_size=120), subject=st.text(max_size=300))
def test_any_subject_reads_back_exactly_with_a_strict_rfc2047_reader(name, subject):
    mail = Mail(to_email="an@example.be", to_name=name, subject=subject, text="Hallo", html="<p>Hallo</p>",
                unsubscribe_url="https://events.example.be/unsubscribe/abc")
    raw = build_mime(mail, "smartregionoffice@vlaanderen.be")
    assert decode_rfc2047(header(raw, "Subject")) == one_line(subject, 250)


def display_name(to_header: str) -> str:
    """The display name of a To header for an@example.be (quoted string or encoded words)."""
    value = re.sub(r"\r?\n(?=[ \t])", "", to_header)
    if value == "an@example.be":
        return ""
    assert value.endswith("<an@example.be>"), value
    value = value[: -len("<an@example.be>")].rstrip(" ")
    if value.startswith('"') and value.endswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return decode_rfc2047(value)


@STRICT
@given(name=st.text(max_size=120))
def test_any_name_reads_back_exactly_with_a_strict_rfc2047_reader(name):
    mail = Mail(to_email="an@example.be", to_name=name, subject="S", text="Hallo", html="<p>Hallo</p>",
                unsubscribe_url="https://events.example.be/unsubscribe/abc")
    raw = build_mime(mail, "smartregionoffice@vlaanderen.be")
    assert display_name(header(raw, "To")) == one_line(name, 100)


def test_a_long_line_gets_soft_breaks_and_a_lone_dot_and_trailing_space_are_encoded():
    from chalicelib.render.mime import _text_part

    body = _text_part("x" * 200 + "\n.\nend \n", "plain").split(b"\r\n\r\n", 1)[1]
    lines = body.split(b"\r\n")
    assert lines[0].endswith(b"=") and len(lines[0]) == 76
    assert b"=2E" in lines and b"end=20" in lines

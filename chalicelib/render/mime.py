"""Mail: templates to MIME (text, HTML, .ics) to SES, one message per recipient.

Messages are written as raw MIME (``build_mime``) and sent raw through SES, so
custom headers and attachments survive. Every mail carries
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from email.header import Header
from email.utils import format_datetime, make_msgid

from chalicelib import times
from chalicelib.model.mail import Attachment, Mail

SENDER_NAME = "Smart Region Office"
REPLY_TO = "smartregionoffice@vlaanderen.be"
# Control characters, C1 controls and every character str.splitlines() breaks
# on: none may reach a header, where a line break would start a new one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(value: str, limit: int = 200) -> str:
    """Flatten text for a header: no CR, LF or other control character can add a header."""
    return _CONTROL.sub(" ", value or "").strip()[:limit]


_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f@<>()\[\]\\,;:\"]+@[^\s\x00-\x1f\x7f@<>()\[\]\\,;:\"]+")
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _header_text(value: str) -> str:
    """A header value as is when plain ASCII, else RFC 2047 encoded words (folded)."""
    if value.isascii() and "=?" not in value:
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _mailbox(name: str, address: str) -> str:
    """``"Name" <address>``: ASCII names as a quoted string, others as encoded words; no name, the address."""
    if not _ADDRESS.fullmatch(address) or not address.isascii():
        raise ValueError("not a mail address")
    if not name:
        return address
    if name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{_header_text(name)} <{address}>"


def _params(content_type: str) -> tuple[str, str]:
    """``text/calendar; method=PUBLISH`` → the type and its parameters, each value quoted."""
    kind, *params = [p.strip() for p in content_type.split(";")]
    if not re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", kind):
        raise ValueError(f"bad content type {kind!r}")
    out = ""
    for param in params:
        name, _, value = param.partition("=")
        value = value.strip().strip('"')
        if not _TOKEN.fullmatch(name.strip()) or not _TOKEN.fullmatch(value):
            raise ValueError(f"bad parameter {param!r}")
        out += f'; {name.strip()}="{value}"'
    return kind, out


def _text_part(text: str, subtype: str) -> bytes:
    """A UTF-8 text part, quoted-printable, ending in a line break, CRLF throughout."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    body = binascii.b2a_qp(text.encode("utf-8", "replace"), istext=True).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") + body


def _attachment_part(attachment: Attachment, content_type: str | None = None) -> bytes:
    kind, params = _params(content_type or attachment.content_type)
    if not _TOKEN.fullmatch(attachment.filename):
        raise ValueError("bad attachment file name")
    return (f"Content-Type: {kind}{params}\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n\r\n').encode("ascii") \
        + base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")


def _calendar_part(attachment: Attachment) -> bytes:
    """An iMIP calendar as the message's text/calendar alternative (RFC 6047 2.4), base64."""
    kind, params = _params(attachment.content_type)
    return (f"Content-Type: {kind}{params}\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode("ascii") \
        + base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")


def _multipart(subtype: str, parts: list[bytes]) -> tuple[str, bytes]:
    """The Content-Type and body of a multipart; "=_" can occur in neither quoted-printable nor base64."""
    boundary = "=_" + secrets.token_hex(16)
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return f'multipart/{subtype}; boundary="{boundary}"', body + b"--" + boundary.encode() + b"--\r\n"


def build_mime(mail: Mail, sender: str) -> bytes:
    """Return the raw RFC 5322 message: text and HTML alternatives, then any attachments.

    Written directly rather than through ``email.message``: the tick builds
    one message per recipient, and the standard library's header machinery
    cost four times the SES call itself. Every header value passes
    ``one_line`` (no CR or LF can start a header); non-ASCII text becomes RFC
    2047 encoded words; bodies are quoted-printable UTF-8, attachments
    base64. tests/unit/test_mail_properties.py reads it back with a strict reader.
    """
    alternatives = [_text_part(mail.text, "plain"), _text_part(mail.html, "html")]
    invitations = [a for a in mail.attachments if a.method]
    # One iMIP calendar (REQUEST or CANCEL) is also the text/calendar alternative, last, as Google Calendar and
    # Exchange send it: Outlook, Gmail and Apple Mail act on that part; its copy is attached as application/ics
    # ("open the attached invite.ics"). Several (one confirmation of several events) stay files, one per event
    # (decisions/0009).
    imip = invitations[0] if len(invitations) == 1 else None
    if imip is not None:
        alternatives.append(_calendar_part(imip))
    content_type, body = _multipart("alternative", alternatives)
    if mail.attachments:
        inner = f"Content-Type: {content_type}\r\n\r\n".encode("ascii") + body
        content_type, body = _multipart("mixed", [inner, *(
            _attachment_part(a, "application/ics" if a is imip else None) for a in mail.attachments)])
    unsubscribe = one_line(mail.unsubscribe_url, 900)
    if not unsubscribe.isascii():
        raise ValueError("the unsubscribe link must be ASCII")
    # One line (up to RFC 5322's 998 characters): a folded URL is not read as
    # one by mail clients, which then offer no unsubscribe button. A mail to
    # staff (a console sign-in link) is to no list, and has none.
    listed = (f"List-Unsubscribe: <{unsubscribe}>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click") \
        if unsubscribe else ()
    headers = (
        f"From: {SENDER_NAME} <{sender}>",
        f"To: {_mailbox(one_line(mail.to_name, 100), mail.to_email)}",
        f"Reply-To: {REPLY_TO}",
        f"Subject: {_header_text(one_line(mail.subject, 250))}",
        f"Date: {format_datetime(times.now())}",
        f"Message-ID: {make_msgid(domain=sender.rpartition('@')[2] or 'localhost')}",
        "Auto-Submitted: auto-generated",
        *listed,
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
    )
    return "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + body

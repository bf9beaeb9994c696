"""The mail the app has sent, as moto's server holds it: local trying-out only.

moto 5.2.5's server lists every model instance it tracks at
``GET {AWS_ENDPOINT_URL}/moto-api/data.json``. Mail sent through SES is under
``["ses"]["RawMessage"]`` (``id``, ``source``, ``destinations``, ``raw_data``:
the whole MIME message) and, for mail sent as Simple content, under
``["ses"]["Message"]`` (``id``, ``source``, ``subject``, ``body``,
``destinations``: ``{"ToAddresses": [...], ...}``). No send time is kept, so
it is read from the message's Date header. Standard library only.

``make run``'s moto (scripts/moto_local.py) answers the same shape, for SES
only and bounded to its newest mails, at ``GET /_local/outbox.json``: fast
whatever the table holds. ``read`` asks there first and falls back to
``data.json`` on a plain moto server.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime

LINK = re.compile(r"(?:https?|webcal)://[^\s<>\"']+")
TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True)
class OutboxMail:
    """One sent mail as a person would read it."""

    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    sent_at: datetime | None
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def links(self) -> list[str]:
        """Every link in the text, in order, once each."""
        return list(dict.fromkeys(_links(self.text)))

    def segments(self) -> list[tuple[str, bool]]:
        """The text cut into (piece, is_link) so a page can make the links clickable."""
        pieces: list[tuple[str, bool]] = []
        position = 0
        for start, end in _link_spans(self.text):
            if start > position:
                pieces.append((self.text[position:start], False))
            pieces.append((self.text[start:end], True))
            position = end
        if position < len(self.text):
            pieces.append((self.text[position:], False))
        return pieces


def _link_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in LINK.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in TRAILING:
            end -= 1
        spans.append((match.start(), end))
    return spans


def _links(text: str) -> list[str]:
    return [text[start:end] for start, end in _link_spans(text)]


LOCAL_OUTBOX_PATH = "/_local/outbox.json"


def fetch_data(endpoint_url: str, timeout: float = 5) -> dict:
    """Read the sent mail from moto's server: its bounded outbox, else its model data."""
    base = endpoint_url.rstrip('/')
    try:
        with urllib.request.urlopen(f"{base}{LOCAL_OUTBOX_PATH}", timeout=timeout) as answer:  # noqa: S310 - the local emulator
            return json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
    with urllib.request.urlopen(f"{base}/moto-api/data.json", timeout=timeout) as answer:  # noqa: S310 - the local emulator
        return json.loads(answer.read().decode("utf-8"))


def _text_body(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return part.get_content()
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return re.sub(r"<[^>]+>", "", part.get_content())
    return ""


def _once(addresses: list[str]) -> list[str]:
    """Each address once, in order: moto adds the message's own To ("An Peeters <an@example.be>") to the
    destinations the sender named (``an@example.be``). Kept with its name, where one came with it."""
    kept: dict[str, str] = {}
    for address in addresses:
        name, bare = parseaddr(address)
        key = (bare or address).lower()
        if key not in kept or (name and not parseaddr(kept[key])[0]):
            kept[key] = address
    return list(kept.values())


def _from_raw(item: dict) -> OutboxMail:
    raw = item.get("raw_data") or ""
    message = BytesParser(policy=policy.default).parsebytes(raw.encode("utf-8") if isinstance(raw, str) else raw)
    try:
        sent_at = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    recipients = _once(list(item.get("destinations") or []) or [str(message["To"] or "")])
    return OutboxMail(
        message_id=str(item.get("id", "")),
        sender=str(message["From"] or item.get("source", "")),
        recipients=recipients,
        subject=str(message["Subject"] or ""),
        sent_at=sent_at,
        text=_text_body(message),
        headers={k: str(v) for k, v in message.items()},
    )


def _from_simple(item: dict) -> OutboxMail:
    destinations = item.get("destinations") or {}
    recipients = _once([a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destinations.get(key, [])])
    return OutboxMail(message_id=str(item.get("id", "")), sender=str(item.get("source", "")),
                      recipients=recipients, subject=str(item.get("subject", "")), sent_at=None,
                      text=str(item.get("body", "")))


def parse(data: dict) -> list[OutboxMail]:
    """The mails in moto's model data, newest first."""
    ses = data.get("ses") or {}
    mails = [_from_raw(i) for i in ses.get("RawMessage", [])] + [_from_simple(i) for i in ses.get("Message", [])]
    # moto lists them in the order they were sent; a stable sort on the Date
    # header keeps that order for mails sent within the same second.
    indexed = list(enumerate(mails))
    indexed.sort(key=lambda pair: (pair[1].sent_at.timestamp() if pair[1].sent_at else 0, pair[0]), reverse=True)
    return [mail for _, mail in indexed]


def read(endpoint_url: str) -> list[OutboxMail]:
    """The mails moto's server at ``endpoint_url`` holds, newest first."""
    return parse(fetch_data(endpoint_url))


def format_text(mails: list[OutboxMail]) -> str:
    """The outbox as plain text, for the command line."""
    if not mails:
        return "no mail sent yet\n"
    blocks = []
    for mail in mails:
        when = mail.sent_at.isoformat() if mail.sent_at else "?"
        links = "".join(f"  {link}\n" for link in mail.links)
        blocks.append(
            f"=== {when}  to {', '.join(mail.recipients)}\n"
            f"Subject: {mail.subject}\n\n{mail.text.rstrip()}\n"
            + (f"\nLinks:\n{links}" if links else "")
        )
    return "\n".join(blocks)

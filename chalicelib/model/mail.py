"""A mail to send and the links it carries (plain data).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST; charset=utf-8"
    data: bytes
    # An iMIP calendar's METHOD (REQUEST or CANCEL): the only one of a mail is
    # also its text/calendar alternative, which mail apps act on (render/mime.py).
    method: str | None = None


@dataclass(frozen=True)
class Mail:
    """One message to one person."""

    to_email: str
    to_name: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    kind: str = "mail"
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


# --------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Links:
    """A person's lasting links, derived from their id."""

    manage: str
    unsubscribe: str
    feed: str
    webcal: str

"""Mail: templates to MIME (text, HTML, .ics) to SES, one message per recipient.

Messages are built with the standard library's ``email`` package and sent raw
through SES, so custom headers and attachments survive. Every mail carries
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from . import i18n, times

SENDER_NAME = "Smart Region Office"
REPLY_TO = "smartregionoffice@vlaanderen.be"
# Control characters, C1 controls and every character str.splitlines() breaks
# on: none may reach a header, where a line break would start a new one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class MailError(Exception):
    """Raised when a mail could not be handed to SES."""


class MailThrottled(MailError):
    """Raised when SES refuses for now (rate exceeded, throttled, unavailable): retry later."""


class MailRejected(MailError):
    """Raised when SES refuses this message for good (bad address, unverified sender): do not retry."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=PUBLISH"
    data: bytes


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


def one_line(value: str, limit: int = 200) -> str:
    """Flatten text for a header: no CR, LF or other control character can add a header."""
    return _CONTROL.sub(" ", value or "").strip()[:limit]


def render(template: str, lang: str, **context: Any) -> tuple[str, str]:
    """Render ``mail/<template>.txt`` and ``.html`` in ``lang``."""
    text = i18n.render(f"mail/{template}.txt", lang, **context)
    html = i18n.render(f"mail/{template}.html", lang, **context)
    return text, html


def build_mime(mail: Mail, sender: str) -> bytes:
    """Return the raw RFC 5322 message: text and HTML alternatives, then any attachments."""
    message = EmailMessage(policy=SMTP)
    message["From"] = str(Address(display_name=SENDER_NAME, addr_spec=sender))
    try:
        to = Address(display_name=one_line(mail.to_name, 100), addr_spec=mail.to_email)
    except (ValueError, IndexError):
        to = Address(addr_spec=mail.to_email)
    message["To"] = str(to)
    message["Reply-To"] = REPLY_TO
    message["Subject"] = one_line(mail.subject, 250)
    message["Date"] = format_datetime(times.now())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{one_line(mail.unsubscribe_url, 1000)}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for attachment in mail.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *params = [p.strip() for p in rest.split(";")]
        part_params = dict(p.split("=", 1) for p in params if "=" in p)
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype,
            filename=attachment.filename, params=part_params,
        )
    # Lines up to RFC 5322's 998 characters: with the default 78, a long
    # List-Unsubscribe URL is folded into RFC 2047 encoded words, which mail
    # clients do not read as a URL (and then offer no unsubscribe button).
    return message.as_bytes(policy=SMTP.clone(max_line_length=998))


class Mailer:
    """Sends one Mail; returns the provider's message id."""

    def send(self, mail: Mail) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class SesMailer(Mailer):
    """Sends raw MIME through SES (v1 SendRawEmail)."""

    THROTTLE_CODES = {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure",
                      "RequestTimeout", "TooManyRequestsException"}

    def __init__(self, client: Any, sender: str, configuration_set: str = ""):
        self.client = client
        self.sender = sender
        self.configuration_set = configuration_set

    def send(self, mail: Mail) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        raw = build_mime(mail, self.sender)
        kwargs: dict[str, Any] = {"Source": self.sender, "Destinations": [mail.to_email], "RawMessage": {"Data": raw}}
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        try:
            reply = self.client.send_raw_email(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            if code in self.THROTTLE_CODES or "rate exceeded" in message.lower():
                raise MailThrottled(code) from exc
            raise MailRejected(code) from exc
        except BotoCoreError as exc:
            raise MailThrottled(type(exc).__name__) from exc
        return reply["MessageId"]


class RecordingMailer(Mailer):
    """Keeps what would be sent, for tests; built MIME included, so header rules are exercised."""

    def __init__(self, sender: str = "smartregionoffice@vlaanderen.be"):
        self.sender = sender
        self.sent: list[tuple[Mail, bytes]] = []
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> str:
        raw = build_mime(mail, self.sender)
        with self._lock:
            self.sent.append((mail, raw))
            return f"recorded-{len(self.sent)}"

    def to(self, email: str) -> list[Mail]:
        return [m for m, _ in self.sent if m.to_email == email]

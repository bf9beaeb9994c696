"""Mail composition: the person's links, a mail from its templates, calendar attachments, and the texts of notices.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable

from chalicelib import times, tokens
from chalicelib.model import mail as mail_model
from chalicelib.model.event import Event
from chalicelib.model.mail import Attachment, Links, Mail
from chalicelib.model.person import Person
from chalicelib.model.send import Send
from chalicelib.render import i18n
from chalicelib.render.i18n import _babel_locale
from chalicelib.render.ical import Invitation, add_to_calendar_links, invitation, webcal_url


def render(template: str, lang: str, **context: Any) -> tuple[str, str]:
    """Render ``mail/<template>.txt`` and ``.html`` in ``lang``."""
    text = i18n.render(f"mail/{template}.txt", lang, **context)
    html = i18n.render(f"mail/{template}.html", lang, **context)
    return text, html


# ---------------------------------------------------------------- shapes


class _Shape:
    """A mail rendered with placeholders for the person's name and links, to fill in per recipient.

    Placeholders are random letters and digits, which neither HTML escaping
    nor any filter changes; they are replaced in one pass, so a name can never
    bring in another placeholder. Values go into the HTML escaped exactly as
    the templates' autoescaping does.
    """

    def __init__(self, mail: Mail, name_mark: str, link_marks: dict[str, str]):
        self.mail, self.name_mark, self.link_marks = mail, name_mark, link_marks
        # Each text split once at its placeholders: text, mark, text, mark, ..., text.
        pattern = re.compile("(" + "|".join([name_mark, *link_marks.values()]) + ")")
        self.pieces = {part: pattern.split(getattr(mail, part)) for part in ("subject", "text", "html", "unsubscribe_url")}

    @classmethod
    def make(cls, render: Callable[[str, Any], Mail]) -> "_Shape":
        from dataclasses import fields


        stem = "z" + secrets.token_hex(10)
        link_marks = {f.name: f"{stem}{f.name}" for f in fields(mail_model.Links)}
        mail = render(f"{stem}name", mail_model.Links(**link_marks))
        return cls(mail, f"{stem}name", link_marks)

    def fill(self, email: str, name: str, links: Any) -> Mail:
        from markupsafe import escape

        values = {self.name_mark: name, **{mark: getattr(links, f) for f, mark in self.link_marks.items()}}
        html_values = {mark: str(escape(value)) for mark, value in values.items()}

        def filled(part: str, chosen: dict[str, str]) -> str:
            pieces = list(self.pieces[part])
            pieces[1::2] = [chosen[mark] for mark in pieces[1::2]]
            return "".join(pieces)

        return replace(self.mail, to_email=email, to_name=name, subject=filled("subject", values),
                       text=filled("text", values), html=filled("html", html_values),
                       unsubscribe_url=filled("unsubscribe_url", values))


# ---------------------------------------------------------------- wording


def _interval(offset: timedelta, lang: str) -> str:
    """The offset in words, exactly: in the largest of days, hours and minutes that divides it (90 minutes, not 2 hours)."""
    from babel.dates import format_timedelta


    seconds = int(offset.total_seconds())
    count = next(seconds // unit for unit in (86400, 3600, 60, 1) if seconds % unit == 0)
    # Babel takes the first unit, from years down, that reaches ``threshold``
    # times one: at ``count`` only the exact unit (or a larger one, never
    # reached below it) does, and it is then a whole number, not rounded.
    return format_timedelta(offset, threshold=count, locale=_babel_locale(lang))


_LABELS = {"starts_at": "time", "ends_at": "time", "timezone": "time", "location": "place", "online_url": "join link"}


def _changed(material: list[str]) -> list[str]:
    """What changed, in words the mail translates: time, place, join link."""
    found = []
    for name in material:
        label = _LABELS.get(name)
        if label and label not in found:
            found.append(label)
    return found


def _before(snapshot: dict[str, Any]) -> dict[str, Any]:
    out = dict(snapshot)
    for name in ("starts_at", "ends_at"):
        if snapshot.get(name):
            out[name] = times.from_utc_iso(snapshot[name])
    return out


def person_links(person: Person | str, base_url: str, key: bytes) -> Links:
    """Return the manage, unsubscribe and personal feed links of a person (``key``: the link signing key).

    ``person``: the profile, whose link salt the links carry; or a person id alone, for a profile without
    one (made before salts).
    """
    person_id, salt = (person, "") if isinstance(person, str) else (person.id, person.link_salt)

    def token(purpose: str) -> str:
        return tokens.person_token(purpose, person_id, key, salt)

    feed_path = f"/feeds/{token('feed')}.ics"
    return Links(
        manage=f"{base_url}/manage/{token('manage')}",
        unsubscribe=f"{base_url}/unsubscribe/{token('unsubscribe')}",
        feed=base_url + feed_path,
        webcal=_webcal_base(base_url) + feed_path,
    )


@functools.lru_cache(maxsize=8)
def _webcal_base(base_url: str) -> str:
    """The webcal:// form of the base URL, to which a feed's path is added (the tick makes one per mail)."""

    return webcal_url(base_url)


# ----------------------------------------------------------------- mails


def build_mail(template: str, lang: str, *, to_email: str, to_name: str, links: Links,
               attachments: tuple[Attachment, ...] = (), **context: Any) -> Mail:
    """Render ``mail/<template>`` (subject, text, HTML) in ``lang`` into one Mail to one person."""
    subject = i18n.render(f"mail/{template}_subject.txt", lang, **context).strip()
    text, html = render(template, lang, links=links, **context)
    return Mail(to_email=to_email, to_name=to_name, subject=subject, text=text, html=html,
                unsubscribe_url=links.unsubscribe, kind=template, attachments=attachments)


def invitation_attachment(made: Invitation, email: str, name: str, filename: str | None = None,
                          lang: str = "en") -> Attachment:
    """An iMIP calendar (REQUEST or CANCEL) for one recipient, who is its ATTENDEE (decisions/0009).

    Named in ``lang`` (``i18n.attachment_name``): ``invite.ics`` / ``uitnodiging.ics`` for a REQUEST,
    ``cancelled.ics`` / ``geannuleerd.ics`` for a CANCEL; the only one of a mail is also the mail's
    text/calendar alternative (render/mime.py).
    """
    method = made.method
    return Attachment(filename=filename or i18n.attachment_name(method, lang),
                      content_type=f"text/calendar; method={method}; charset=utf-8",
                      data=made.for_attendee(email, name), method=method)


def invitations(events: list[Event], lang: str, base_url: str, *, email: str, name: str, stamp: datetime,
                method: str = "REQUEST") -> tuple[Attachment, ...]:
    """One invitation per event (REQUEST, with the join link; or CANCEL), each with the recipient as ATTENDEE.

    One event: ``invite.ics`` (or ``cancelled.ics``), which is also the mail's
    iMIP part. Several: ``invite-<event id>.ics`` each, as files only: an
    iMIP message is about one event, and Outlook imports only the first event
    of a file with several.
    """
    if len(events) == 1:
        return (invitation_attachment(invitation(events[0], lang=lang, base_url=base_url, method=method,
                                                 stamp=stamp), email, name, lang=lang),)
    return tuple(invitation_attachment(invitation(e, lang=lang, base_url=base_url, method=method, stamp=stamp),
                                       email, name, filename=i18n.attachment_name(method, lang, e.id))
                 for e in events)


# ------------------------------------------------------- the tick's mails

SEND_TEMPLATES = {"reminder": "reminder", "change": "event_changed", "cancel": "event_cancelled",
                  "open": "registration_open", "seat": "seat_given", "message": "staff_message"}
# The iMIP calendar a send carries, by kind: only to someone with a seat (``details["seat"]`` is False for
# someone waiting or interested, who has no calendar entry from us).
SEND_METHODS = {"change": "REQUEST", "seat": "REQUEST", "cancel": "CANCEL"}


def send_method(send: Send) -> str | None:
    """The METHOD of the invitation ``send`` carries, or None."""
    return SEND_METHODS.get(send.kind) if send.details.get("seat", True) else None


def render_send(send: Send, event: Event, lang: str, *, email: str, name: str, links: Links,
                calendar_links: Any, attachments: tuple[Attachment, ...]) -> Mail:
    """The mail of one send (a reminder, a notice, a seat, an opening, a staff message) to one person."""
    context: dict[str, Any] = {"name": name, "event": event, "calendar_links": calendar_links,
                               "seat": send.details.get("seat", True)}
    if send.kind == "reminder":
        offset = times.parse_duration(send.detail, "reminders")
        context["starts_in"] = _interval(offset, lang)
        context["starts_tomorrow"] = offset == timedelta(days=1)  # "begint morgen", not "begint over 1 dag"
    elif send.kind == "change":
        context["changed"] = _changed(send.details.get("material", []))
        context["before"] = _before(send.details.get("before") or {})
    elif send.kind == "open":
        context["register_url"] = f"{links.manage}/events/{event.id}/register"
    elif send.kind == "message":
        context["message"] = send.details
    return build_mail(SEND_TEMPLATES[send.kind], lang, to_email=email, to_name=name, links=links,
                      attachments=attachments, **context)


def add_links(event: Event, lang: str, base_url: str) -> dict[str, str]:

    return add_to_calendar_links(event, lang=lang, base_url=base_url)

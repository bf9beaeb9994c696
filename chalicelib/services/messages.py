"""Staff write to the people of an event: one message, planned as one send per registrant, sent by the tick.

The tick sends it like any notice: within SES's rate, once per person (the
send's key holds the message's id, and a claim is conditional), never to
someone who stopped all mail or was erased (the person is read at send time),
with the one-click unsubscribe headers every mail carries. What staff wrote
travels on each send, so the tick reads nothing more to send it.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.input.message import StaffMessage, build_message
from chalicelib.model.mail import Links, Mail
from chalicelib.model.person import AuditEntry
from chalicelib.model.send import message_send
from chalicelib.ports import Repository
from chalicelib.render import mails
from chalicelib.services.events import get_event
from chalicelib.services.planning import put_planned


MESSAGE_ID = re.compile(r"\A[0-9]{8}T[0-9]{6}-[0-9a-f]{6}\Z")


def new_message_id(now: datetime) -> str:
    """An id that sorts by time and does not repeat: 20270110T093000-3f9a1c."""
    return f"{now.astimezone(times.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def write_to_people(repo: Repository, event_id: str, data: Any, *, actor: str,
                    now: datetime | None = None, message_id: str | None = None) -> dict[str, Any]:
    """Plan ``data`` (audience, subject, text) for every registrant of the event in the audience; audited.

    Returns the message's id and how many people it was planned for. Each
    call is a new message (sending the same text twice reaches people twice),
    unless it names the ``message_id`` of one planned already: the console's
    form carries an id made when the form was shown, so a form sent twice (a
    double click, a browser sending again on a slow line) plans nothing more
    for the people it was planned for, and is not audited again. An id not
    of ``new_message_id``'s shape is ignored (a new one is made).
    """
    now = now or times.now()
    event = get_event(repo, event_id)
    message = build_message(data)
    given = isinstance(message_id, str) and bool(MESSAGE_ID.match(message_id))
    message_id = message_id if given and isinstance(message_id, str) else new_message_id(now)
    regs = [r for r in repo.list_registrations(event.id) if r.status in message.audience]
    sends = [message_send(event, r, message_id, message.to_details(), now) for r in regs]
    planned = put_planned(repo, sends, overwrite=False)
    if given and sends and planned == 0:
        # This form was sent before: everyone in it has the message planned (or sent) already.
        return {"message_id": message_id, "event_id": event.id, "audience": list(message.audience),
                "recipients": len(sends)}
    repo.add_audit(AuditEntry(actor=actor, action="event.message", target=f"event:{event.id}", at=now,
                              details={"message_id": message_id, "audience": list(message.audience),
                                       "recipients": planned, "subject": message.subject["nl"]}))
    return {"message_id": message_id, "event_id": event.id, "audience": list(message.audience), "recipients": planned}


def preview(repo: Repository, event_id: str, data: Any, *, base_url: str) -> dict[str, dict[str, str]]:
    """The mail as a registrant reading Dutch, and one reading English, will get it (name and links as samples)."""
    event = get_event(repo, event_id)
    message = build_message(data)
    return {lang: _shown(_sample(event, message, lang, base_url)) for lang in ("nl", "en")}


def _sample(event, message: StaffMessage, lang: str, base_url: str) -> Mail:
    sample = f"{base_url}/manage/..."
    links = Links(manage=sample, unsubscribe=f"{base_url}/unsubscribe/...", feed=f"{base_url}/feeds/...",
                  webcal=f"{base_url}/feeds/...".replace("https://", "webcal://"))
    name = {"nl": "Voornaam Naam", "en": "First Last"}[lang]
    return mails.build_mail("staff_message", lang, to_email="", to_name=name, links=links, name=name, event=event,
                            calendar_links=mails.add_links(event, lang, base_url), message=message.to_details())


def _shown(mail: Mail) -> dict[str, str]:
    return {"subject": mail.subject, "text": mail.text, "html": mail.html}

"""Sending a mail now, on a request path: mail errors become Unavailable (503).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.errors import MailError, Unavailable
from chalicelib.model.event import Event
from chalicelib.model.mail import Attachment, Links
from chalicelib.model.person import Person
from chalicelib.ports import Mailer
from chalicelib.render.ical import event_page_url
from chalicelib.render.mails import add_links, build_mail, invitations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one registration: confirmed, waitlisted, interested, closed, cancelled (the event, by staff,
    before the confirm) or already (kept as it was).

    ``kept`` is the status an "already" one has (confirmed, waitlisted or
    interested): only a confirmed one is shown as registered, with its join link.
    """

    event: Event
    status: str
    kept: str = ""

    @property
    def standing(self) -> str:
        """Where the person stands now: the status, or for "already" the status kept."""
        return self.kept if self.status == "already" else self.status


def _send(mailer: Mailer, template: str, lang: str, *, to_email: str, to_name: str, links: Links,
          attachments: tuple[Attachment, ...] = (), required: bool = True, **context: Any) -> str | None:
    """Send one mail now. If SES fails: a ``required`` mail (what the person waits for) makes the request a 503
    to try again; any other is logged and let go, as what it reports is already done and shown."""
    try:
        return mailer.send(build_mail(template, lang, to_email=to_email, to_name=to_name, links=links,
                                      attachments=attachments, **context))
    except MailError as exc:
        if required:
            raise Unavailable(f"mail: {type(exc).__name__}") from exc
        log.warning("a %s mail could not be sent: %s", template, type(exc).__name__)
        return None


def _mail_outcomes(mailer: Mailer, person: Person, outcomes: list[Outcome], links: Links, base_url: str,
                   now: datetime) -> None:
    """The confirmation: what became of each registration; an invitation (iMIP REQUEST) for each seat."""
    if not person.receives_mail or not outcomes:
        return
    lang = person.language
    confirmed = [o.event for o in outcomes if o.standing == "confirmed"]  # the join link for these alone
    attachments = invitations(confirmed, lang, base_url, email=person.email, name=person.name, stamp=now)
    _send(mailer, "confirmed", lang, to_email=person.email, to_name=person.name, links=links,
          attachments=attachments, required=False, name=person.name, outcomes=outcomes,
          calendar_links={e.id: add_links(e, lang, base_url) for e in confirmed},
          # Every event still on, seat or not: "share the event page" names its link for the waiting and the
          # interested too.
          share_pages=[event_page_url(o.event, base_url) for o in outcomes if o.event.status == "published"])


def _mail_calendar_removal(mailer: Mailer, template: str, person: Person, events: list[Event], links: Links,
                           base_url: str, now: datetime) -> None:
    """A short mail with a CANCEL invitation per event, so the entries our invitations made leave the person's
    calendar: after they cancelled a seat (``registration_cancelled``) or had their data erased (``erased``).

    Only to someone who receives mail, and only for events that have not ended. Never required: what it
    reports is done and shown on the page already (decisions/0009).
    """
    events = [e for e in events if e.ends_at > now]
    if not person.receives_mail or not events:
        return
    lang = person.language
    attachments = invitations(events, lang, base_url, email=person.email, name=person.name, stamp=now,
                              method="CANCEL")
    _send(mailer, template, lang, to_email=person.email, to_name=person.name, links=links,
          attachments=attachments, required=False, name=person.name, events=events,
          files=[a.filename for a in attachments])

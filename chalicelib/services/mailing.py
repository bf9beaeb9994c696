"""Sending a mail now, on a request path: mail errors become Unavailable (503).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.errors import MailError, Unavailable
from chalicelib.model.event import Event
from chalicelib.model.mail import Attachment, Links
from chalicelib.model.person import MailSent, Person
from chalicelib.ports import Mailer, Repository
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


def _record_mail(repo: Repository | None, person: Person, kind: str, event_ids: list[str], message_id: str | None,
                 *, first: bool = False) -> None:
    """Keep for the person's access report that SES took this mail (``MailSent``), while their profile exists.

    The mail is out: a storage failure here is logged and let go, never a 503 that would have them ask again
    (and be mailed twice). ``first``: the request made the profile (``Repository.record_mail``).
    """
    if repo is None or person.expires_at is None:
        return
    if message_id is None:  # not sent: nothing to record, but the profile's expiry may have risen
        _keep_mails(repo, person)
        return
    try:
        # When SES took it: after the request's retries and pauses, as the tick records its own.
        repo.record_mail(MailSent(person_id=person.id, kind=kind, event_ids=tuple(event_ids), sent_at=times.now(),
                                  message_id=message_id, kept_until=person.expires_at), first=first)
    except Unavailable as exc:
        log.warning("a %s mail went out but could not be recorded: %s", kind, exc)


def _keep_mails(repo: Repository | None, person: Person | None) -> None:
    """Keep the person's recorded mails as long as their profile (whose expiry may have risen), where no mail is
    recorded to do it; a storage failure is logged and let go, as what the request did is done."""
    if repo is None or person is None or person.expires_at is None:
        return
    try:
        repo.keep_mails(person.id, person.expires_at)
    except Unavailable as exc:
        log.warning("the mail records could not be kept as long as the profile: %s", exc)


def _mail_outcomes(mailer: Mailer, person: Person, outcomes: list[Outcome], links: Links, base_url: str,
                   now: datetime, *, repo: Repository | None = None) -> None:
    """The confirmation: what became of each registration; an invitation (iMIP REQUEST) for each seat.

    With ``repo``, the mail is recorded for the person's access report (``_record_mail``)."""
    if not person.receives_mail or not outcomes:
        _keep_mails(repo, person)  # their profile's expiry may have risen: so do its mails'
        return
    lang = person.language
    confirmed = [o.event for o in outcomes if o.standing == "confirmed"]  # the join link for these alone
    attachments = invitations(confirmed, lang, base_url, email=person.email, name=person.name, stamp=now)
    message_id = _send(mailer, "confirmed", lang, to_email=person.email, to_name=person.name, links=links,
          attachments=attachments, required=False, name=person.name, outcomes=outcomes,
          calendar_links={e.id: add_links(e, lang, base_url) for e in confirmed},
          # Every event still on, seat or not: "share the event page" names its link for the waiting and the
          # interested too.
          share_pages=[event_page_url(o.event, base_url) for o in outcomes if o.event.status == "published"])
    _record_mail(repo, person, "confirmed", [o.event.id for o in outcomes], message_id)


def _mail_calendar_removal(mailer: Mailer, template: str, person: Person, events: list[Event], links: Links,
                           base_url: str, now: datetime, *, repo: Repository | None = None) -> None:
    """A short mail with a CANCEL invitation per event, so the entries our invitations made leave the person's
    calendar: after they cancelled a seat (``registration_cancelled``) or had their data erased (``erased``).

    Only to someone who receives mail, and only for events that have not ended. Never required: what it
    reports is done and shown on the page already (decisions/0009). With ``repo``, recorded for the access
    report (an erasure passes none: the profile is gone).
    """
    events = [e for e in events if e.ends_at > now]
    if not person.receives_mail or not events:
        return
    lang = person.language
    attachments = invitations(events, lang, base_url, email=person.email, name=person.name, stamp=now,
                              method="CANCEL")
    message_id = _send(mailer, template, lang, to_email=person.email, to_name=person.name, links=links,
                       attachments=attachments, required=False, name=person.name, events=events,
                       files=[a.filename for a in attachments])
    _record_mail(repo, person, template, [e.id for e in events], message_id)

"""The rights of access and erasure.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib import times, tokens
from chalicelib.errors import Conflict, NotFound, RegistrationsPlaced
from chalicelib.input.subscription import normalise_email
from chalicelib.model.person import AuditEntry, ConfirmToken, Person, Registration
from chalicelib.ports import Mailer, Repository
from chalicelib.render.mails import person_links
from chalicelib.services.mailing import _mail_calendar_removal
from chalicelib.services.people import RETRIES, _events_by_id, person_for_token
from chalicelib.services.seats import promote_waiting


def erase(repo: Repository, person: Person, *, now: datetime | None = None, mailer: Mailer | None = None,
          base_url: str = "", key: bytes = b"") -> int:
    """Erase a person everywhere; their seats go to the people waiting.

    With ``mailer``: once erased, someone who had seats is mailed a CANCEL
    invitation for each event not yet over, so the entries our invitations
    made leave their calendar. The address is taken from the profile read
    before the erasure and used for that one mail only (decisions/0009).

    Return how many of their mails a tick was sending at that moment (claimed sends, deleted with the rest):
    those may still arrive, within the tick's minute. The answer says so (issue 21, item 7).
    """
    now = now or times.now()
    regs = repo.get_registrations(person.id, sorted(person.event_ids))
    events = _events_by_id(repo) if mailer is not None else {}
    seated = [events[e] for e, r in regs.items() if r.status == "confirmed" and e in events]
    freed = _cancel_each(repo, person.id, regs, now)
    on_its_way = 0
    current = person
    for attempt in range(RETRIES):
        current = repo.get_person(person.id) or current
        try:
            on_its_way = repo.erase_person(current)
            break
        except RegistrationsPlaced as placed:
            # Placed since they were cancelled (a one-click register at that moment): the profile is gone, these
            # stand; each is cancelled, its seat given back, and the erasure run again.
            again = repo.get_registrations(person.id, placed.event_ids)
            seated += [events[e] for e, r in again.items() if r.status == "confirmed" and e in events]
            freed += _cancel_each(repo, person.id, again, now)
            if attempt == RETRIES - 1:
                raise
        except Conflict:
            if attempt == RETRIES - 1:
                raise
    for event_id in freed:
        promote_waiting(repo, event_id, now=now)
    if mailer is not None and seated:
        _mail_calendar_removal(mailer, "erased", person, seated, person_links(person, base_url, key), base_url, now)
    return on_its_way


def _cancel_each(repo: Repository, person_id: str, regs: dict[str, Registration], now: datetime) -> list[str]:
    """Cancel each registration not cancelled yet, conditioned on the status read (a seat given back if it held
    one): one promoted or confirmed meanwhile is read again, so its seat is never deleted still counted. Return
    the events whose seat was given back."""
    freed = []
    for event_id, reg in regs.items():
        for attempt in range(RETRIES):
            if reg.status == "cancelled":
                break
            try:
                repo.move_registration(replace(reg, status="cancelled", cancelled_at=now, updated_at=now),
                                       expect=(reg.status,), seat_change=-1 if reg.status == "confirmed" else 0)
            except Conflict:
                fresh = repo.get_registrations(person_id, [event_id]).get(event_id)
                if fresh is None:
                    break
                if attempt == RETRIES - 1:
                    raise
                reg = fresh
                continue
            if reg.status == "confirmed":
                freed.append(event_id)
            break
    return freed


def erase_by_token(repo: Repository, token: str, *, key: bytes, now: datetime | None = None,
                   mailer: Mailer | None = None, base_url: str = "") -> int:
    """The manage page's "erase my data"; how many mails were on their way (``erase``)."""
    return erase(repo, person_for_token(repo, "manage", token, key=key), now=now, mailer=mailer, base_url=base_url,
                 key=key)


def find_person(repo: Repository, email: Any, *, key: bytes) -> Person:
    """Return the person with this address, for staff; NotFound otherwise."""
    address = normalise_email(email)
    person = repo.get_person(tokens.person_id_for(address.lower(), key))
    if person is None:
        raise NotFound("email: no data is held on this address")
    return person


def export_person(repo: Repository, person: Person) -> dict[str, Any]:
    """Every piece of data held on a person (right of access)."""
    events = _events_by_id(repo)
    regs = repo.get_registrations(person.id, sorted(person.event_ids))
    return {
        "email": person.email, "name": person.name, "organisation": person.organisation,
        "language": person.language,
        "created_at": times.format_instant(person.created_at),
        "confirmed_at": times.format_instant(person.confirmed_at),
        "mail_stopped_at": times.format_instant(person.mail_stopped_at),
        "mail_stopped_reason": person.mail_stopped_reason,
        "confirmation_mails_last_day": len(person.confirm_mails),
        "kept_until": times.format_instant(person.expires_at),
        "registrations": [
            {"event_id": r.event_id,
             "event_title": events[r.event_id].title_in(person.language) if r.event_id in events else None,
             "status": r.status, "name": r.name, "organisation": r.organisation, "question": r.question,
             "language": r.language, "registered_at": times.format_instant(r.registered_at),
             "confirmed_at": times.format_instant(r.confirmed_at),
             "waitlisted_at": times.format_instant(r.waitlisted_at),
             "cancelled_at": times.format_instant(r.cancelled_at),
             "kept_until": times.format_instant(r.expires_at)}
            for r in sorted(regs.values(), key=lambda r: r.registered_at)
        ],
        # Every mail sent to them, in the order it went out, then those planned.
        "mails": _mails(repo, person),
        "confirm_links": [
            {"event_ids": list(t.event_ids), "created_at": times.format_instant(t.created_at),
             "valid_until": times.format_instant(t.expires_at), "used_at": times.format_instant(t.used_at)}
            for t in _confirm_tokens(repo, person)
        ],
    }


def _mails(repo: Repository, person: Person) -> list[dict[str, Any]]:
    """Every mail sent to ``person``, oldest first, with the time it went out; then the ones planned or not sent.

    The tick's mails (reminders, notices, messages) are stored sends, with the moment SES took each. The mails
    a request sent at once (the confirmation request, "already registered", the confirmation of a link or of a
    one-click register, the mail after cancelling a seat) are recorded as SES takes them (``MailSent``).
    """
    found: list[dict[str, Any]] = [
        {"kind": m.kind, "event_id": m.event_ids[0] if len(m.event_ids) == 1 else None,
         "event_ids": list(m.event_ids), "detail": "", "state": "sent", "due": None, "settled_at": None,
         "reason": None, "ses_message_id": m.message_id, "sent_at": times.format_instant(m.sent_at),
         "_at": m.sent_at}
        for m in repo.list_mails(person.id)
    ]
    planned = []
    for event_id in sorted(person.event_ids):
        for send in repo.list_sends(event_id, person.id):
            entry = {"kind": send.kind, "event_id": send.event_id, "event_ids": [send.event_id], "detail": send.detail,
                     "state": send.state, "due": times.format_instant(send.due),
                     "settled_at": times.format_instant(send.settled_at), "reason": send.reason,
                     "ses_message_id": send.message_id}
            if send.state == "sent":
                at = send.sent_at or send.settled_at
                found.append({**entry, "sent_at": times.format_instant(at), "_at": at})
            else:
                planned.append({**entry, "sent_at": None, "_at": send.due})
    found.sort(key=lambda m: m["_at"])
    planned.sort(key=lambda m: m["_at"])
    return [{k: v for k, v in m.items() if k != "_at"} for m in found + planned]


def _confirm_tokens(repo: Repository, person: Person) -> list[ConfirmToken]:
    found = repo.get_confirm_tokens(sorted(person.all_token_hashes))
    return sorted(found.values(), key=lambda t: (t.created_at, t.token_hash))


# ----------------------------------------------------- staff, on a person's behalf


def _audit_subscriber(repo: Repository, action: str, found: bool, *, actor: str, now: datetime) -> None:
    # Whether someone was found, never who: an unknown address is audited too, so probing
    # which addresses are known leaves a trace.
    repo.add_audit(AuditEntry(actor=actor, action=action, target="subscriber", at=now, details={"found": found}))


def _subscriber(repo: Repository, email: Any, action: str, *, actor: str, now: datetime, key: bytes) -> Person:
    """The person of ``email``, for a lookup or an erasure; NotFound (audited as such) when there is none."""
    try:
        return find_person(repo, email, key=key)
    except NotFound:
        _audit_subscriber(repo, action, False, actor=actor, now=now)
        raise


def access_for_staff(repo: Repository, email: Any, *, actor: str, key: bytes,
                     now: datetime | None = None) -> dict[str, Any]:
    """The right of access, asked of staff: everything held about ``email``, audited (found or not, never who)."""
    now = now or times.now()
    person = _subscriber(repo, email, "subscriber.access", actor=actor, now=now, key=key)
    _audit_subscriber(repo, "subscriber.access", True, actor=actor, now=now)
    return export_person(repo, person)


def erase_for_staff(repo: Repository, email: Any, *, actor: str, key: bytes, now: datetime | None = None,
                    mailer: Mailer | None = None, base_url: str = "") -> int:
    """The right to erasure, asked of staff: ``email`` erased, audited (found or not, never who); how many
    mails were on their way (``erase``)."""
    now = now or times.now()
    person = _subscriber(repo, email, "subscriber.erase", actor=actor, now=now, key=key)
    on_its_way = erase(repo, person, mailer=mailer, base_url=base_url, key=key)
    _audit_subscriber(repo, "subscriber.erase", True, actor=actor, now=now)
    return on_its_way

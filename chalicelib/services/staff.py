"""Staff tokens: issue (with an expiry, 90 days unless said), verify, revoke, list, note their use;
registrations for staff and their exports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import times
from chalicelib.errors import DomainError, InvalidInput, Unauthorized
from chalicelib.input.staff import check_name
from chalicelib.model.event import Event
from chalicelib.model.person import (
    STAFF_TOKEN_DAYS,
    STAFF_TOKEN_DAYS_MAX,
    STAFF_TOKEN_USE_RECORDED_EVERY,
    AuditEntry,
    StaffToken,
)
from chalicelib.ports import Repository
from chalicelib.render import i18n, spreadsheet
from chalicelib.tokens import looks_like_token, new_token, same_hash, token_hash


def issue_token(repo: Repository, name: str, now: datetime | None = None, *, days: int = STAFF_TOKEN_DAYS) -> str:
    """Create a token for staff member ``name``, working ``days`` days (90 unless said), and return it; only its
    hash is kept."""
    check_name(name)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= STAFF_TOKEN_DAYS_MAX:
        raise InvalidInput("days", "out_of_range", f"must be a whole number of days from 1 to {STAFF_TOKEN_DAYS_MAX}",
                           minimum=1, maximum=STAFF_TOKEN_DAYS_MAX)
    now = now or times.now()
    token, digest = new_token()
    repo.add_staff_token(StaffToken(name=name, token_hash=digest, created_at=now,
                                    valid_until=now + timedelta(days=days)))
    return token


def list_tokens(repo: Repository, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every staff token (never the token, a short id of its hash): whose, made, last used, expires, its state."""
    now = now or times.now()
    return [{"id": t.token_hash[:8], "name": t.name, "made": times.format_instant(t.created_at),
             "last_used": times.format_instant(t.last_used_at), "expires": times.format_instant(t.expires_at),
             "state": t.state(now)} for t in repo.list_staff_tokens()]


def record_use(repo: Repository, header: str | None, now: datetime | None = None) -> None:
    """Note that the Bearer token of ``header`` let a request in (``last_used_at``, at most one write an hour).

    Best effort: a failure to note it never fails the request it let in.
    """
    if not isinstance(header, str):
        return
    token = header.strip().partition(" ")[2].strip()
    if not looks_like_token(token):
        return
    now = now or times.now()
    try:
        repo.record_staff_token_use(token_hash(token), now,
                                    unless_since=now - timedelta(seconds=STAFF_TOKEN_USE_RECORDED_EVERY))
    except DomainError:
        pass


def revoke_tokens(repo: Repository, name: str, now: datetime | None = None) -> int:
    """Revoke every token of ``name``; return how many were live."""
    check_name(name)
    return repo.revoke_staff_tokens(name, now or times.now())


def verify_authorization(repo: Repository, header: str | None, now: datetime | None = None) -> str:
    """Return the staff member's name for an ``Authorization: Bearer`` header, or raise Unauthorized."""
    if not isinstance(header, str):
        raise Unauthorized("missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not looks_like_token(token):
        raise Unauthorized("malformed Authorization header; expected: Bearer <token>")
    digest = token_hash(token)
    stored = repo.get_staff_token(digest)
    # The lookup is by hash, so an attacker learns nothing from timing; the
    # comparison below guards against a storage layer that matched loosely.
    if stored is None or not same_hash(stored.token_hash, digest):
        raise Unauthorized("unknown token")
    if stored.revoked_at is not None:
        raise Unauthorized("revoked token")
    if stored.expires_at <= (now or times.now()):
        raise Unauthorized("expired token")
    return stored.name


REGISTRATION_COLUMNS = ("name", "email", "organisation", "status", "question", "registered_at")


def N_(text: str) -> str:
    """Mark a text for translation where it is defined; it is translated where written out."""
    return text


# The .xlsx is for people: its headers and statuses in the staff member's language (the CSV keeps
# REGISTRATION_COLUMNS and the statuses as they are, for programs).
XLSX_HEADERS = {"name": N_("Name"), "email": N_("Email address"), "organisation": N_("Organisation"),
                "status": N_("Status"), "question": N_("Question"), "registered_at": N_("Registered on")}
XLSX_STATUSES = {"pending": N_("Not confirmed"), "confirmed": N_("Confirmed"), "waitlisted": N_("On the waiting list"),
                 "interested": N_("Interested"), "cancelled": N_("Cancelled")}


def registrations_for_staff(repo: Repository, event: Event, *, pending: bool = False) -> list[dict[str, Any]]:
    """The registrations of an event, oldest first, as staff read them.

    Unconfirmed ones (``pending``: anyone can type anything into the form) only when asked for.
    """
    rows = []
    for reg in repo.list_registrations(event.id):
        if reg.status == "pending" and not pending:
            continue
        rows.append({
            "name": reg.name, "email": reg.email, "organisation": reg.organisation, "status": reg.status,
            "question": reg.question, "language": reg.language,
            "registered_at": times.format_instant(reg.registered_at, event.timezone),
            "confirmed_at": times.format_instant(reg.confirmed_at, event.timezone),
            "waitlisted_at": times.format_instant(reg.waitlisted_at, event.timezone),
        })
    return rows


def counts(repo: Repository, event: Event) -> dict[str, int]:
    """How many registrations of each status an event has."""
    result = {"confirmed": 0, "pending": 0, "waitlisted": 0, "interested": 0, "cancelled": 0}
    for reg in repo.list_registrations(event.id):
        result[reg.status] = result.get(reg.status, 0) + 1
    return result


def _neutralise(cell: Any) -> str:
    """A cell no spreadsheet program runs as a formula, whatever it splits on (``render/spreadsheet.neutralise``)."""
    return spreadsheet.neutralise(cell)


def registrations_csv(rows: list[dict[str, Any]], *, excel: bool = False) -> str:
    """CSV of registrations for programs: RFC 4180 (commas, CRLF, UTF-8), the stable headers of
    REGISTRATION_COLUMNS, every cell neutralised after each separator and line break.

    ``excel``: ";" and a byte order mark, as Belgian Excel opens a CSV; ``registrations_xlsx`` is the
    download for people.
    """
    return spreadsheet.csv_text(REGISTRATION_COLUMNS, ([row[c] for c in REGISTRATION_COLUMNS] for row in rows),
                                excel=excel)


def _for_people(column: str, value: Any, language: str) -> Any:
    if column == "status":
        return i18n.gettext(XLSX_STATUSES[value], language) if value in XLSX_STATUSES else value
    if column == "registered_at" and isinstance(value, str):
        return value[:16].replace("T", " ")  # "2027-01-14 10:00", in the event's time zone
    return value


def registrations_xlsx(rows: list[dict[str, Any]], *, language: str = "nl", title: str = "") -> bytes:
    """An .xlsx of registrations for people: headers and statuses in ``language``, every cell text (never a
    formula), nothing altered. ``title``: the sheet's name (an event's title, cut to Excel's 31 characters)."""
    header = [i18n.gettext(XLSX_HEADERS[c], language) for c in REGISTRATION_COLUMNS]
    return spreadsheet.xlsx(header, ([_for_people(c, row[c], language) for c in REGISTRATION_COLUMNS] for row in rows),
                            sheet=title or i18n.gettext(N_("Registrations"), language))


def read_registrations(repo: Repository, event: Event, *, actor: str, format: str,
                       now: datetime | None = None, pending: bool = False) -> list[dict[str, Any]]:
    """The registrations of ``event`` for staff, the read audited; unconfirmed ones only with ``pending``.

    Who took the list of addresses, of which event, how many, in which format:
    the audit says, never the addresses.
    """
    rows = registrations_for_staff(repo, event, pending=pending)
    details: dict[str, Any] = {"format": format, "rows": len(rows)}
    if pending:
        details["pending"] = "include"
    repo.add_audit(AuditEntry(actor=actor, action="registrations.read", target=f"event:{event.id}",
                              at=now or times.now(), details=details))
    return rows

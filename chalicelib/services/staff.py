"""Staff tokens: issue, verify, revoke.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.errors import Unauthorized
from chalicelib.input.staff import check_name
from chalicelib.model.event import Event
from chalicelib.model.person import AuditEntry, StaffToken
from chalicelib.ports import Repository
from chalicelib.tokens import looks_like_token, new_token, same_hash, token_hash


def issue_token(repo: Repository, name: str, now: datetime | None = None) -> str:
    """Create a token for staff member ``name`` and return it; only its hash is kept."""
    check_name(name)
    token, digest = new_token()
    repo.add_staff_token(StaffToken(name=name, token_hash=digest, created_at=now or times.now()))
    return token


def revoke_tokens(repo: Repository, name: str, now: datetime | None = None) -> int:
    """Revoke every token of ``name``; return how many were live."""
    check_name(name)
    return repo.revoke_staff_tokens(name, now or times.now())


def verify_authorization(repo: Repository, header: str | None) -> str:
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
    return stored.name


REGISTRATION_COLUMNS = ("name", "email", "organisation", "status", "question", "registered_at")


def registrations_for_staff(repo: Repository, event: Event) -> list[dict[str, Any]]:
    """Every registration of an event, oldest first, as staff read it."""
    rows = []
    for reg in repo.list_registrations(event.id):
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
    text = "" if cell is None else str(cell)
    # A spreadsheet runs a cell starting with = + - @ (or a tab/CR) as a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def registrations_csv(rows: list[dict[str, Any]], *, excel: bool = False) -> str:
    """CSV of registrations (RFC 4180: commas, UTF-8), with cells that could run as formulas neutralised.

    ``excel``: for Excel as staff in Belgium open it. Excel with Dutch
    (Belgium) or French (Belgium) settings splits on ";", its list
    separator, and reads a file as UTF-8 only after a byte order mark:
    without them a double-clicked export puts each row in one cell and shows
    "Zoë" as "ZoÃ«". Programs reading CSV expect neither.
    """
    buffer = io.StringIO()
    if excel:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n")
    writer.writerow(REGISTRATION_COLUMNS)
    for row in rows:
        writer.writerow([_neutralise(row[c]) for c in REGISTRATION_COLUMNS])
    return buffer.getvalue()


def read_registrations(repo: Repository, event: Event, *, actor: str, format: str,
                       now: datetime | None = None) -> list[dict[str, Any]]:
    """The registrations of ``event`` for staff, the read audited.

    Who took the list of addresses, of which event, how many, in which format:
    the audit says, never the addresses.
    """
    rows = registrations_for_staff(repo, event)
    repo.add_audit(AuditEntry(actor=actor, action="registrations.read", target=f"event:{event.id}",
                              at=now or times.now(), details={"format": format, "rows": len(rows)}))
    return rows

"""Staff tokens: issue, verify, revoke."""

from __future__ import annotations

import re
from datetime import datetime

from . import times
from .errors import InvalidInput, Unauthorized
from .models import StaffToken
from .storage import Repository
from .tokens import looks_like_token, new_token, same_hash, token_hash

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def check_name(name: str) -> str:
    """Return ``name`` if it can name a staff member, else raise InvalidInput."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidInput("name", "must be 1 to 64 letters, digits, dots, hyphens, underscores or @")
    return name


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

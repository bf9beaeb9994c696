"""The one token helper: make a secret, keep only its hash, compare in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# token_urlsafe(32) gives 43 characters of [A-Za-z0-9_-]; accept a little
# slack so a future longer token still parses, refuse anything else unread.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def new_token() -> tuple[str, str]:
    """Return a fresh secret token and the SHA-256 hash to store in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """Return the hex SHA-256 of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: object) -> bool:
    """Whether ``value`` has the shape of a token (checked before any lookup)."""
    return isinstance(value, str) and bool(TOKEN_SHAPE.match(value))


def same_hash(a: str, b: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))

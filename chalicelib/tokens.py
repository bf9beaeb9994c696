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


# ------------------------------------------------------------ person links
#
# Links that must work for as long as the person is known (manage page,
# personal feed, one-click unsubscribe) are derived, not stored: an HMAC of
# (purpose, person id, the profile's link salt) under a key kept outside the
# table (SSM Parameter Store, SecureString). A copy of the table therefore
# holds no working link, a reminder mail needs no extra write to carry one,
# and erasing the person kills every link at once (the lookup finds no
# profile). The salt is random, made with the profile: the same address
# subscribed again after an erasure has the same person id, but a new salt,
# so the erased profile's links do not work for the new one. The link
# carries the salt, so a genuine link of an erased person is still told from
# a forged one. Profiles made before salts have none (""): their links are
# as they were, without it.

class LinkKeys(bytes):
    """The link key as the services take it (``key=``), with the keys person links are signed with.

    As bytes it is the *id key*: person ids, address hashes and the limits' keyed hashes are made with it,
    and it never changes (a new one would make every person and suppression unknown). ``signing`` is the
    key new person links are signed with; ``accepted`` every key a link may be signed with, ``signing``
    first. A rotation (``cli link-key rotate``) adds a new signing key and keeps the old one accepted for
    an overlap, so links mailed before it keep working until that key is retired. Plain bytes are a key
    that does all three.
    """

    signing: bytes
    accepted: tuple[bytes, ...]

    def __new__(cls, id_key: bytes, signing: bytes | None = None, accepted: "tuple[bytes, ...] | list[bytes]" = ()):
        made = super().__new__(cls, id_key)
        made.signing = signing or bytes(id_key)
        made.accepted = tuple(dict.fromkeys([made.signing, *accepted]))
        return made


def _signing(key: bytes) -> bytes:
    return getattr(key, "signing", key)


def _accepted(key: bytes) -> tuple[bytes, ...]:
    return getattr(key, "accepted", (key,))


PURPOSE_CODES = {"manage": "m", "feed": "f", "unsubscribe": "u"}
PERSON_ID_LENGTH = 22  # 16 bytes, base64url without padding
MAC_LENGTH = 43  # 32 bytes, base64url without padding


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def person_id_for(email: str, key: bytes) -> str:
    """Return the stable id of the person with this (normalised) address (under the id key: never rotated)."""
    return _b64(hmac.digest(bytes(key), f"person:{email}".encode("utf-8"), "sha256")[:16])


def new_link_salt() -> str:
    """A fresh link salt for a new profile (11 characters of [A-Za-z0-9_-])."""
    return secrets.token_urlsafe(8)


def person_token(purpose: str, person_id: str, key: bytes, salt: str = "") -> str:
    """Return the link token of ``purpose`` for a person whose profile has this link salt ("" : none), signed
    with the key's signing key (``LinkKeys.signing``)."""
    return _signed(purpose, person_id, _signing(key), salt)


def _signed(purpose: str, person_id: str, signing: bytes, salt: str) -> str:
    code = PURPOSE_CODES[purpose]
    message = f"{purpose}:{person_id}:{salt}" if salt else f"{purpose}:{person_id}"
    mac = hmac.digest(signing, message.encode("utf-8"), "sha256")
    return f"{person_id}{code}{salt}{_b64(mac)}"


def read_person_token(purpose: str, token: object, key: bytes) -> tuple[str, str] | None:
    """Return the (person id, link salt) a link token of ``purpose`` stands for, or None if it is not genuine.

    The salt is to be compared with the profile's: a genuine link whose salt is not the profile's is a link
    of an earlier profile of the same address, since erased.
    """
    if not looks_like_token(token):
        return None
    assert isinstance(token, str)
    if len(token) < PERSON_ID_LENGTH + 1 + MAC_LENGTH:
        return None
    person_id = token[:PERSON_ID_LENGTH]
    salt = token[PERSON_ID_LENGTH + 1:len(token) - MAC_LENGTH]
    # Every accepted key is tried, each compared in constant time: a link signed before a rotation still works.
    matches = [hmac.compare_digest(_signed(purpose, person_id, k, salt).encode("ascii"), token.encode("ascii"))
               for k in _accepted(key)]
    return (person_id, salt) if any(matches) else None


def same_salt(a: str, b: str) -> bool:
    """Whether two link salts are the same (ASCII; compared in constant time, as every link part is)."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


def address_hash(address: str, key: bytes) -> str:
    """Return the keyed hash of an address, trimmed and lower-cased: HMAC-SHA-256 under the link signing key.

    Keyed, so that a copy of the table cannot be tested against a list of
    known addresses (a plain hash could be).
    """

    text = f"suppression:{address.strip().lower()}".encode("utf-8")
    return hmac.digest(bytes(key), text, "sha256").hex()


def keyed_hash(purpose: str, text: str, key: bytes) -> str:
    """Return the keyed hash of ``text`` for ``purpose`` (a mailbox, a client's source IP): HMAC-SHA-256, hex.

    Keyed, so that a copy of the table cannot be tested against a list of addresses or IPs.
    """
    return hmac.digest(bytes(key), f"{purpose}:{text}".encode("utf-8"), "sha256").hex()

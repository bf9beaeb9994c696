"""The link key: person ids and the HMAC keys that sign person links, read from SSM (or TOKEN_KEY) once per process.

The SecureString parameter ``TOKEN_KEY_PARAMETER`` holds either one secret (as ``cli bootstrap`` makes it:
the id key and the signing key at once), or, once the signing key was rotated (``cli link-key rotate``),
JSON::

    {"id": "<the first secret, for ever>",
     "links": [{"key": "<newest: signs new links>", "made": "<utc iso>"},
               {"key": "<older>", "made": "...", "until": "<utc iso: accepted until then>"}]}

Person ids, address hashes and the limits' keyed hashes are made with the id key, which never changes: a
new one would make every person and suppression unknown. Links are signed with the newest link key and
read with any link key not past its ``until`` (``tokens.LinkKeys``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta

from chalicelib import config, times
from chalicelib.adapters import aws
from chalicelib.tokens import LinkKeys

_key_cache: dict[str, str] = {}  # parameter name: its value, read once per process


def _derived(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def keys_from_parameter(value: str, now: datetime) -> LinkKeys:
    """The keys a parameter's value holds, as of ``now``: link keys past their ``until`` are left out."""
    if not value.lstrip().startswith("{"):
        return LinkKeys(_derived(value))
    data = json.loads(value)
    live = [entry for entry in data.get("links", [])
            if not entry.get("until") or times.from_utc_iso(entry["until"]) > now]
    if not live:  # every signing key retired: the id key signs, as before any rotation
        return LinkKeys(_derived(data["id"]))
    accepted = [_derived(entry["key"]) for entry in live]
    return LinkKeys(_derived(data["id"]), signing=accepted[0], accepted=accepted)


def rotated_parameter(value: str, now: datetime, overlap: timedelta) -> str:
    """The parameter's value after a rotation: a new signing key; every key signing until now is accepted for
    ``overlap`` more (links mailed before keep working), keys already past their ``until`` dropped."""
    if value.lstrip().startswith("{"):
        data = json.loads(value)
    else:
        data = {"id": value, "links": [{"key": value, "made": None}]}
    until = times.to_utc_iso(now + overlap)
    kept = []
    for entry in data.get("links", []):
        if entry.get("until") and times.from_utc_iso(entry["until"]) <= now:
            continue  # retired
        kept.append({**entry, "until": entry.get("until") or until})
    new = {"key": secrets.token_urlsafe(48), "made": times.to_utc_iso(now)}
    return json.dumps({"id": data["id"], "links": [new, *kept]}, separators=(",", ":"))


def describe_parameter(value: str, now: datetime) -> list[dict[str, str | None]]:
    """Each link key without its secret: a fingerprint, when made, accepted until, and its part now."""
    if not value.lstrip().startswith("{"):
        return [{"fingerprint": _derived(value).hex()[:12], "made": None, "until": None, "role": "signs and reads"}]
    rows = []
    for index, entry in enumerate(json.loads(value).get("links", [])):
        retired = bool(entry.get("until")) and times.from_utc_iso(entry["until"]) <= now
        rows.append({"fingerprint": _derived(entry["key"]).hex()[:12], "made": entry.get("made"),
                     "until": entry.get("until"),
                     "role": "retired" if retired else ("signs and reads" if index == 0 else "reads")})
    return rows


def signing_key() -> LinkKeys:
    """Return the keys for person ids and person links, read once per process.

    ``TOKEN_KEY`` (tests, local runs) wins; otherwise the SecureString
    parameter named by ``TOKEN_KEY_PARAMETER`` (created by ``cli bootstrap``).
    A process reads the parameter once: after a rotation, a running Lambda
    signs with the old key (still accepted) until it is started afresh.
    A link key's ``until`` is checked against the clock at every call.
    """

    direct = config.get("TOKEN_KEY")
    if direct:
        return keys_from_parameter(direct, times.now())
    name = config.get("TOKEN_KEY_PARAMETER")
    if name not in _key_cache:
        reply = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
        _key_cache[name] = reply["Parameter"]["Value"]
    return keys_from_parameter(_key_cache[name], times.now())

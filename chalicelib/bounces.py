"""SES bounces and complaints, as SNS brings them: addresses that must get no more mail.

A permanent bounce or a complaint records a suppression and stops all mail to
the person with that address (``subscriptions.stop_all_mail``, reason
"bounce" or "complaint"; their registrations stay). The tick reads the
person before every send and skips, recorded, anyone whose mail is stopped.
Transient bounces and delivery notices change nothing.

Both SES formats are read: configuration-set event publishing (``eventType``)
and identity notifications (``notificationType``).

Only the SHA-256 of the normalised address is stored, never the address:

================================  ==============  ======================
PK                                SK              attributes
================================  ==============  ======================
``SUPPRESSION#<sha256(address)>``  ``SUPPRESSION``  reason, at (UTC ISO)
================================  ==============  ======================

Access patterns: record (PutItem), check (GetItem).
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Protocol

from . import times


def address_hash(address: str) -> str:
    """Return the hex SHA-256 of an address, trimmed and lower-cased."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


class SuppressionStore(Protocol):
    def suppress(self, digest: str, reason: str) -> None:
        """Record that the address with this hash gets no more mail."""

    def is_suppressed(self, digest: str) -> bool:
        """Whether the address with this hash gets no more mail."""


class InMemorySuppressions:
    """A fake for tests."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def suppress(self, digest: str, reason: str) -> None:
        self.reasons[digest] = reason

    def is_suppressed(self, digest: str) -> bool:
        return digest in self.reasons


class DynamoDBSuppressions:
    """Suppressions on the service's table."""

    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

    def suppress(self, digest: str, reason: str) -> None:
        self.client.put_item(TableName=self.table, Item={
            "PK": {"S": f"SUPPRESSION#{digest}"}, "SK": {"S": "SUPPRESSION"},
            "reason": {"S": reason}, "at": {"S": times.to_utc_iso(times.now())},
        })

    def is_suppressed(self, digest: str) -> bool:
        reply = self.client.get_item(TableName=self.table, Key={
            "PK": {"S": f"SUPPRESSION#{digest}"}, "SK": {"S": "SUPPRESSION"}})
        return "Item" in reply


def _recipients(entries: Iterable[Any]) -> list[str]:
    return [e["emailAddress"] for e in entries or []
            if isinstance(e, dict) and isinstance(e.get("emailAddress"), str)]


def suppressions_in(message: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (address, reason) for each recipient that must get no more mail."""
    kind = message.get("eventType") or message.get("notificationType")
    if kind == "Bounce":
        bounce = message.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return []
        return [(a, "bounce") for a in _recipients(bounce.get("bouncedRecipients"))]
    if kind == "Complaint":
        complaint = message.get("complaint") or {}
        return [(a, "complaint") for a in _recipients(complaint.get("complainedRecipients"))]
    return []


def handle_ses_notification(message: dict[str, Any], store: SuppressionStore, repo: Any = None) -> int:
    """Record a suppression for each permanently bounced or complaining recipient, and stop all mail to them.

    With ``repo``, the person with that address (if any) is marked
    ``mail_stopped_reason`` "bounce" or "complaint": the tick then skips every
    reminder and notice to them, recorded. Transient bounces and deliveries
    change nothing. Return how many recipients were stopped.
    """
    found = suppressions_in(message) if isinstance(message, dict) else []
    for address, reason in found:
        store.suppress(address_hash(address), reason)
        if repo is not None:
            _stop_person(repo, address, reason)
    return len(found)


def _stop_person(repo: Any, address: str, reason: str) -> None:
    from . import subscriptions, tokens
    from .errors import DomainError

    try:
        person_id = tokens.person_id_for(subscriptions.normalise_email(address).lower(), tokens.signing_key())
    except DomainError:
        return  # not an address we could have mailed
    person = repo.get_person(person_id)
    if person is not None:
        subscriptions.stop_all_mail(repo, person, reason)

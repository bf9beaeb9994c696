"""SES bounces and complaints, as SNS brings them: addresses that must get no more mail.

A permanent bounce or a complaint records a suppression and stops all mail to
the person with that address (``manage.stop_all_mail``, reason
"bounce" or "complaint"; their registrations stay). The tick reads the
people of each batch of sends (at most 5 seconds of sending) when it starts
it, and skips, recorded, anyone whose mail is stopped.
Transient bounces and delivery notices change nothing.

Both SES formats are read: configuration-set event publishing (``eventType``)
and identity notifications (``notificationType``).

Only a keyed hash of the normalised address is stored (HMAC-SHA-256 under
the link signing key, ``address_hash``), never the address:

================================  ==============  ======================
PK                                SK              attributes
================================  ==============  ======================
``SUPPRESSION#<hmac(address)>``   ``SUPPRESSION``  reason, at (UTC ISO)
================================  ==============  ======================

Access patterns: record (PutItem), check (GetItem), both on the repository
(``Repository.suppress``, ``Repository.suppression``).
"""

from __future__ import annotations

from typing import Any

from chalicelib import tokens
from chalicelib.errors import DomainError
from chalicelib.input import subscription
from chalicelib.services import manage
from chalicelib.tokens import address_hash


def _recipients(entries: Any) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [e["emailAddress"] for e in entries if isinstance(e, dict) and isinstance(e.get("emailAddress"), str)]


def suppressions_in(message: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (address, reason) for each recipient that must get no more mail."""
    kind = message.get("eventType") or message.get("notificationType")
    if kind == "Bounce":
        bounce = _object(message.get("bounce"))
        if bounce.get("bounceType") != "Permanent":
            return []
        return [(a, "bounce") for a in _recipients(bounce.get("bouncedRecipients"))]
    if kind == "Complaint":
        complaint = _object(message.get("complaint"))
        return [(a, "complaint") for a in _recipients(complaint.get("complainedRecipients"))]
    return []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def handle_ses_notification(message: dict[str, Any], repo: Any, *, key: bytes) -> int:
    """Record a suppression for each permanently bounced or complaining recipient, and stop all mail to them.

    The person with that address (if any) is marked ``mail_stopped_reason``
    "bounce" or "complaint": the tick then skips every reminder and notice to
    them, recorded. The suppression outlives the person: a form sent later
    for that address mails it nothing (``subscribe.subscribe``).
    Transient bounces and deliveries change nothing. Return how many
    recipients were stopped.
    """
    found = suppressions_in(message) if isinstance(message, dict) else []
    for address, reason in found:
        repo.suppress(address_hash(address, key), reason)
        _stop_person(repo, address, reason, key)
    return len(found)


def _stop_person(repo: Any, address: str, reason: str, key: bytes) -> None:

    try:
        person_id = tokens.person_id_for(subscription.normalise_email(address).lower(), key)
    except DomainError:
        return  # not an address we could have mailed
    person = repo.get_person(person_id)
    if person is not None:
        manage.stop_all_mail(repo, person, reason)

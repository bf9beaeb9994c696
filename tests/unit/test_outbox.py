"""The local outbox (chalicelib/adapters/outbox.py), read from moto's data."""

from __future__ import annotations

from email.message import EmailMessage

from chalicelib.adapters import outbox


def _raw(to: str) -> str:
    message = EmailMessage()
    message["From"] = "smartregionoffice@vlaanderen.be"
    message["To"] = to
    message["Subject"] = "Bevestig je inschrijving"
    message["Date"] = "Wed, 25 Nov 2026 12:00:00 +0000"
    message.set_content("Hallo")
    return message.as_string()


def test_the_outbox_lists_each_recipient_once():
    """moto adds the message's To to the destinations the sender named: the outbox showed each address twice."""
    data = {"ses": {"RawMessage": [{"id": "1", "source": "smartregionoffice@vlaanderen.be",
                                    "destinations": ["an@example.be", "An@example.be"], "raw_data": _raw("an@example.be")}],
                    "Message": [{"id": "2", "source": "x@example.be", "subject": "s", "body": "b",
                                 "destinations": {"ToAddresses": ["bo@example.be"], "CcAddresses": ["bo@example.be"]}}]}}
    mails = outbox.parse(data)
    assert sorted(m.recipients for m in mails) == [["an@example.be"], ["bo@example.be"]]


def test_the_outbox_lists_a_named_recipient_once_with_their_name():
    """moto adds "An Peeters <an@example.be>" (the To) to ``an@example.be`` (the destination): listed twice."""
    data = {"ses": {"RawMessage": [{"id": "1", "source": "smartregionoffice@vlaanderen.be",
                                    "destinations": ["an@example.be", "An Peeters <an@example.be>"],
                                    "raw_data": _raw("An Peeters <an@example.be>")}]}}
    [mail] = outbox.parse(data)
    assert mail.recipients == ["An Peeters <an@example.be>"]

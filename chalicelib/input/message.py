"""Validation of a staff message to the people of an event (``POST /staff/events/{id}/messages``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidInput
from chalicelib.input.event import checked_text

AUDIENCES = ("confirmed", "waitlisted", "interested")  # registration statuses staff may write to
SUBJECT_MAX = 150
TEXT_MAX = 5000
FIELDS = ("audience", "subject", "text")


@dataclass(frozen=True)
class StaffMessage:
    """What staff write: to whom (registration statuses), and a subject and text in Dutch and in English."""

    audience: tuple[str, ...]
    subject: dict[str, str]
    text: dict[str, str]

    def to_details(self) -> dict[str, Any]:
        return {"audience": list(self.audience), "subject": dict(self.subject), "text": dict(self.text)}

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> "StaffMessage":
        return cls(audience=tuple(details["audience"]), subject=dict(details["subject"]), text=dict(details["text"]))


def _both_languages(value: Any, field: str, max_length: int, *, multiline: bool) -> dict[str, str]:
    if value is None:
        raise InvalidInput(field, "required", "is required, in Dutch and in English (nl, en)")
    if not isinstance(value, dict):
        raise InvalidInput(field, "wrong_type", "must be an object with nl and en texts", expected="object")
    unknown = sorted(str(k) for k in value if k not in ("nl", "en"))
    if unknown:
        raise InvalidInput(field, "not_one_of", f"languages must be nl or en, not {unknown[0]!r}", allowed=("nl", "en"))
    return {lang: checked_text(value.get(lang), f"{field}.{lang}", max_length, True, multiline=multiline)
            for lang in ("nl", "en")}


def build_message(data: Any) -> StaffMessage:
    """A StaffMessage from a JSON body, or InvalidInput naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise InvalidInput("body", "wrong_type", "must be a JSON object", expected="object")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], "unknown_field", "is not a field of a message", name=unknown[0])
    audience = data.get("audience")
    if audience is None or audience == []:
        raise InvalidInput("audience", "required", f"is required: one or more of {', '.join(AUDIENCES)}")
    if not isinstance(audience, list) or not all(isinstance(a, str) for a in audience):
        raise InvalidInput("audience", "wrong_type", "must be a list of texts", expected="list")
    wrong = [a for a in audience if a not in AUDIENCES]
    if wrong:
        raise InvalidInput("audience", "not_one_of", f"must be one or more of {', '.join(AUDIENCES)}, not {wrong[0]!r}",
                           allowed=AUDIENCES)
    if len(set(audience)) != len(audience):
        raise InvalidInput("audience", "not_unique", "names a status twice")
    # A subject is one line: a line break in a mail's subject would be a header of its own.
    subject = _both_languages(data.get("subject"), "subject", SUBJECT_MAX, multiline=False)
    for lang, line in subject.items():
        if "\n" in line:
            raise InvalidInput(f"subject.{lang}", "not_one_line", "must be one line")
    text = _both_languages(data.get("text"), "text", TEXT_MAX, multiline=True)
    return StaffMessage(audience=tuple(a for a in AUDIENCES if a in audience), subject=subject, text=text)

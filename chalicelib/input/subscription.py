"""Validation of the subscription form and its JSON twin: address, name, organisation, question, events, consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidInput, InvalidInputs
from chalicelib.input import event
from chalicelib.model.event import ID_PATTERN, LANGUAGES

NAME_MAX = 200
ORGANISATION_MAX = 200
QUESTION_MAX = 2_000
EMAIL_MAX = 254
EVENT_IDS_MAX = 20
TRUE_WORDS = {"true", "on", "yes", "1", "ja"}


# ----------------------------------------------------------------- input


@dataclass(frozen=True)
class SubscriptionRequest:
    """A validated form or JSON submission."""

    email: str
    name: str
    organisation: str
    event_ids: tuple[str, ...]
    question: str
    language: str
    honeypot: bool = False
    # The question for each webinar's Q&A, by event id (``questions``); ``question`` alone (the JSON API's
    # older field) goes to every webinar chosen, never to an event in person.
    questions: tuple[tuple[str, str], ...] = ()

    def question_for(self, event_id: str, kind: str) -> str:
        """The question asked for one event: its own, else ``question`` for a webinar; none for a day in person."""
        own = dict(self.questions)
        if event_id in own:
            return own[event_id] if kind == "webinar" else ""
        return self.question if kind == "webinar" else ""


def normalise_email(value: Any) -> str:
    """Return the address in normal form, or raise InvalidInput("email", ...)."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("email", "required", "is required")
    if len(value) > EMAIL_MAX:
        raise InvalidInput("email", "too_long", f"must be at most {EMAIL_MAX} characters", limit=EMAIL_MAX)
    try:
        # SES takes ASCII addresses only: a domain in other letters is sent
        # as its punycode (xn--) form, a name part in them is refused.
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput("email", "invalid_email", f"is not a valid address ({exc})", reason=str(exc)) from exc
    return result.ascii_email or result.normalized


def mailbox(address: str) -> str:
    """The mailbox an address delivers to: without its ``+tag`` and case-folded (``An+x@Example.be`` -> ``an@example.be``).

    The confirmation-mail limits count per mailbox: ``victim+0@`` ... ``victim+49@`` all land in one.
    """
    local, _, domain = address.strip().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}".casefold()


def _one_line_text(value: Any, field: str, limit: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(field, "wrong_type", "must be text", expected="text")
    event.text_as_unicode(value, field)
    value = event.INVISIBLE.sub("", value).strip()  # "A\u200bn" would pass for "An"
    if required and not value:
        raise InvalidInput(field, "required", "is required")
    if any(ord(c) < 32 or "\x7f" <= c <= "\x9f" or c in "\u2028\u2029" for c in value) or \
            event.BIDI_CONTROLS.search(value):
        raise InvalidInput(field, "not_one_line", "must be on one line, without control characters or characters "
                                                  "that change the direction of the text")
    if len(value) > limit:
        raise InvalidInput(field, "too_long", f"must be at most {limit} characters (got {len(value)})", limit=limit)
    return value


def _question(value: Any) -> str:
    if value is None:
        return ""
    # As an event's description: line breaks become "\n", other control characters are dropped.
    return event.checked_text(value, "question", QUESTION_MAX, False, multiline=True)


def _questions(value: Any) -> tuple[tuple[str, str], ...]:
    """``{"<event id>": "<question>", ...}``: one question per webinar; empty ones are left out."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InvalidInput("questions", "wrong_type", "must be an object of event id to question", expected="object")
    if len(value) > EVENT_IDS_MAX:
        raise InvalidInput("questions", "too_many", f"at most {EVENT_IDS_MAX} questions", limit=EVENT_IDS_MAX)
    found = []
    for event_id, text in value.items():
        if not isinstance(event_id, str) or not ID_PATTERN.match(event_id):
            raise InvalidInput("questions", "invalid_id", f"{str(event_id)[:80]!r} is not an event id")
        checked = _question(text)
        if checked:
            found.append((event_id, checked))
    return tuple(sorted(found))


def _event_ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInput("event_ids", "wrong_type", "must be a list of event ids, like [\"webinar-2027-01-14\"]",
                           expected="list")
    if not isinstance(value, list) or not value:
        raise InvalidInput("event_ids", "required", "choose at least one event")
    if len(value) > EVENT_IDS_MAX:
        raise InvalidInput("event_ids", "too_many", f"at most {EVENT_IDS_MAX} events at once", limit=EVENT_IDS_MAX)
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not ID_PATTERN.match(item):
            raise InvalidInput("event_ids", "invalid_id", f"{str(item)[:80]!r} is not an event id")
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _consent(value: Any) -> bool:
    if value is True:
        return True
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS


def parse_subscription(data: Any) -> SubscriptionRequest:
    """Validate a submission; raise InvalidInputs listing every problem with its field."""
    if not isinstance(data, dict):
        raise InvalidInputs([InvalidInput("body", "wrong_type", "must be a JSON object", expected="object")])
    problems: list[InvalidInput] = []
    values: dict[str, Any] = {}
    checks = {
        "email": lambda: normalise_email(data.get("email")),
        "name": lambda: _one_line_text(data.get("name"), "name", NAME_MAX, True),
        "organisation": lambda: _one_line_text(data.get("organisation"), "organisation", ORGANISATION_MAX, False),
        "event_ids": lambda: _event_ids(data.get("event_ids")),
        "question": lambda: _question(data.get("question")),
        "questions": lambda: _questions(data.get("questions")),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except InvalidInput as problem:
            problems.append(problem)
    language = data.get("language") or "nl"
    if language not in LANGUAGES:
        problems.append(InvalidInput("language", "not_one_of", "must be nl or en", allowed=LANGUAGES))
    if not _consent(data.get("consent")):
        problems.append(InvalidInput("consent", "required", "is required: agree to the privacy notice to subscribe"))
    if problems:
        raise InvalidInputs(problems)
    honeypot = data.get("website")
    return SubscriptionRequest(
        language=language, honeypot=bool(isinstance(honeypot, str) and honeypot.strip()), **values,
    )

"""Every domain error of the service, each saying when it is raised. Only ``chalicelib/http`` turns them into HTTP answers."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

# The codes an InvalidInput carries: what was wrong, for a machine (the form
# chooses its sentence by it). The English message is for developers,
# and is what the JSON API answers; it may be reworded, the codes may not.
INPUT_CODES = {
    "required": "missing or empty; nothing to check",
    "wrong_type": "not the JSON type the field takes (params: expected = text, list, object, whole number)",
    "not_unicode": "not text UTF-8 can write (a lone UTF-16 surrogate, bytes that are not UTF-8)",
    "control_characters": "holds a control character (a NUL; others where line breaks alone are allowed)",
    "not_one_line": "a one-line field (a name, an organisation) holds a line break or control character",
    "too_long": "longer than allowed (params: limit; unit, when not characters)",
    "too_many": "more items than allowed (params: limit)",
    "out_of_range": "a number, instant or duration outside its range (params: minimum, maximum)",
    "not_one_of": "not one of a few allowed values (params: allowed)",
    "unknown_field": "a field, or a field of an object, the service does not know (params: name)",
    "read_only": "a field that cannot be changed once set",
    "invalid_email": "not an email address (params: reason, email_validator's)",
    "invalid_id": "not an id of the right shape (lower-case letters, digits, hyphens)",
    "invalid_name": "not a staff name (letters, digits, dots, hyphens, underscores, @)",
    "invalid_url": "not an https:// address",
    "invalid_time": "not an ISO 8601 date and time, or one that does not exist",
    "invalid_time_zone": "not an IANA time zone name",
    "invalid_duration": "not an ISO 8601 duration",
    "invalid_json": "a body that is not JSON",
    "not_after": "must come after another field (params: other)",
    "not_before": "must come before another field (params: other)",
    "not_unique": "a value given twice where each may be given once (params: value, when known)",
    "unknown_event": "no event (not shown, or not there) with that id (params: event_id)",
    "not_open": "registration for the event is not open (params: event_id)",
}


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """Raised when a request's data breaks a rule; names the field at fault, and says how by a code.

    ``InvalidInput(field, code, message, **params)``: ``code`` is one of
    ``INPUT_CODES``, ``params`` what a sentence about it needs (``limit=200``),
    ``message`` the English text for developers (the JSON API's, after
    "field: ").
    """

    def __init__(self, field: str, code: str, message: str, **params: Any):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.params = params
        self.problem = message


class BodyTooLarge(DomainError):
    """Raised when a request body is over 64 KiB (``http/request.raw_form_body``): a 413."""


class InvalidInputs(DomainError):
    """Raised when a form has several problems at once, so a page can show each beside its field."""

    def __init__(self, problems: list[InvalidInput]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @property
    def by_field(self) -> dict[str, str]:
        """The English message of each field's problem."""
        return {p.field: p.problem for p in self.problems}

    @property
    def codes(self) -> dict[str, str]:
        """The code of each field's problem."""
        return {p.field: p.code for p in self.problems}


class NotFound(DomainError):
    """Raised when the thing asked for does not exist (or may not be shown)."""


class ErasedPersonLink(NotFound):
    """Raised for a genuine person link (its HMAC holds) whose person no longer exists: erased, or expired with it.

    Told apart from a forged or mistyped link (plain NotFound): its page says the
    data is erased and there is nothing more to do, not "check the link".
    """


class Conflict(DomainError):
    """Raised when a write would break uniqueness or a state rule (id taken, event cancelled)."""


class AwaitingConfirmation(Conflict):
    """Raised when a registration waits for its confirm link: nothing else may act on what was typed for it."""


class RegistrationsPlaced(Conflict):
    """Raised by an erasure that found registrations placed since it cancelled them (a one-click register at
    that moment): the profile is gone, and those registrations are left standing for the caller to cancel, so
    that a seat they hold is given back, before the erasure is run again.
    """

    def __init__(self, event_ids: list[str]) -> None:
        super().__init__(f"registrations: placed meanwhile: {', '.join(event_ids)}")
        self.event_ids = event_ids


class EventChanged(Conflict):
    """Raised when a move worked out from the event as read (``event_seen``) meets the event changed since.

    The caller reads the event again and works the move out anew.
    """


class Gone(DomainError):
    """Raised when a token existed but has expired or was used already."""


class LinkUsed(Gone):
    """Raised for a confirm link used already, and done: the person it was for can be pointed to their own page."""

    def __init__(self, message: str, *, person_id: str):
        super().__init__(message)
        self.person_id = person_id


class Unauthorized(DomainError):
    """Raised when a staff token is missing, malformed, unknown or revoked."""


class Forbidden(DomainError):
    """Raised when a signed-in staff member may not do what they asked (a console post without its CSRF token,
    an admin's action by someone who is not one): 403, and nothing changed."""


class TooManyRequests(DomainError):
    """Raised when an address or client asks for more than its share (confirmation mails per hour)."""


class MailLimitReached(TooManyRequests):
    """Raised when no confirmation mail went out: the address has had its share of them for the hour or the day.

    ``period``: "hour" or "day", the limit that holds longest; ``retry_after``:
    whole seconds until a mail would go out again. Only what proves the
    address (a mailed link held: the resend buttons) may be told this; the
    form answers every address alike.
    """

    def __init__(self, period: str, wait: timedelta):
        super().__init__(f"email: the confirmation mails of this {period} are used up; try again later")
        self.period = period
        self.retry_after = max(1, math.ceil(wait.total_seconds()))


class AllowanceUsedUp(Conflict):
    """Raised by ``Repository.save_subscription`` when one of the confirmation-mail counts it was to take is used
    up (``allowance``): nothing was written. The service saves the submission again, without a mail."""

    def __init__(self, allowance: Any):
        super().__init__(f"email: the confirmation mails of this {allowance.period} are used up ({allowance.scope})")
        self.allowance = allowance


class Unavailable(DomainError):
    """Raised when a dependency (the table, SES) cannot be reached; the caller may retry."""


class PartialWrite(Unavailable):
    """Raised when the table fails partway through writes made one by one; ``held`` says, per write, what is known.

    True: it landed; False: its condition failed; None: not tried, or its answer was lost.
    """

    def __init__(self, message: str, held: list[bool | None]):
        super().__init__(message)
        self.held = held


class MailError(Exception):
    """Raised by a mailer when a mail could not be handed to SES; its subclasses say what to do next.

    Not a DomainError: no route answers it as such. The tick retries or gives
    up by subclass; a mail a request waits for becomes ``Unavailable`` (503).
    """


class MailThrottled(MailError):
    """Raised when SES refuses for now (rate exceeded, throttled, unavailable): retry later."""


class MailRejected(MailError):
    """Raised when SES refuses this message for good (bad address, unverified sender): do not retry."""


class MailUncertain(MailError):
    """Raised when SES may have taken the message but its answer was lost (a read timeout): never resend."""

"""Every domain error of the service, each saying when it is raised. Only ``chalicelib/http`` turns them into HTTP answers."""

import math
from datetime import timedelta


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """Raised when a request's data breaks a rule; names the field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
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
        return {p.field: p.problem for p in self.problems}


class NotFound(DomainError):
    """Raised when the thing asked for does not exist (or may not be shown)."""


class Conflict(DomainError):
    """Raised when a write would break uniqueness or a state rule (id taken, event cancelled)."""


class Gone(DomainError):
    """Raised when a token existed but has expired or was used already."""


class AwaitingConfirmation(Conflict):
    """A registration that waits for its confirm link: nothing else may act on what was typed for it."""


class LinkUsed(Gone):
    """A confirm link used already, and done: the person it was for can be pointed to their own page."""

    def __init__(self, message: str, *, person_id: str):
        super().__init__(message)
        self.person_id = person_id


class Unauthorized(DomainError):
    """Raised when a staff token is missing, malformed, unknown or revoked."""


class TooManyRequests(DomainError):
    """Raised when an address or client asks for more than its share (confirmation mails per hour)."""


class Unavailable(DomainError):
    """Raised when a dependency (the table, SES) cannot be reached; the caller may retry."""


class PartialWrite(Unavailable):
    """Raised when the table fails partway through writes made one by one; ``held`` says, per write, what is known.

    True: it landed; False: its condition failed; None: not tried, or its answer was lost.
    """

    def __init__(self, message: str, held: list[bool | None]):
        super().__init__(message)
        self.held = held


class EventChanged(Conflict):
    """A move worked out from the event as read (``event_seen``) met the event changed since: read it again."""


class MailError(Exception):
    """Raised when a mail could not be handed to SES."""


class MailThrottled(MailError):
    """Raised when SES refuses for now (rate exceeded, throttled, unavailable): retry later."""


class MailRejected(MailError):
    """Raised when SES refuses this message for good (bad address, unverified sender): do not retry."""


class MailUncertain(MailError):
    """Raised when SES may have taken the message but its answer was lost (a read timeout): never resend."""


class ErasedPersonLink(NotFound):
    """A genuine person link (its HMAC holds) whose person no longer exists: erased, or expired with their data.

    Told apart from a forged or mistyped link (plain NotFound): its page says the
    data is erased and there is nothing more to do, not "check the link".
    """


# -------------------------------------------------------------- subscribe


class MailLimitReached(TooManyRequests):
    """No confirmation mail went out: the address has had its share of them for the hour or the day.

    ``period``: "hour" or "day", the limit that holds longest; ``retry_after``:
    whole seconds until a mail would go out again. Only what proves the
    address (a mailed link held: the resend buttons) may be told this; the
    form answers every address alike.
    """

    def __init__(self, period: str, wait: timedelta):
        super().__init__(f"email: the confirmation mails of this {period} are used up; try again later")
        self.period = period
        self.retry_after = max(1, math.ceil(wait.total_seconds()))

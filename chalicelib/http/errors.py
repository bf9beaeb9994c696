"""The one table that turns domain errors into answers: JSON for the API, a page for the site.

``ERRORS`` is read in order; the first class an error is an instance of
decides. A JSON route answers ``{"Code", "Message"}`` with the status; a page
route answers the page of the same row (with its own status where a page
says something else than the API). Three kinds of page come before the
table: a person link whose person is erased, a link that expired or was
used (``Gone``, or ``NotFound`` on a token route), and a resend held back by
the mail limits.
"""

from __future__ import annotations

from typing import NamedTuple

from chalice import Response

from chalicelib.errors import (
    AwaitingConfirmation,
    BodyTooLarge,
    Conflict,
    DomainError,
    ErasedPersonLink,
    Forbidden,
    Gone,
    InvalidInput,
    InvalidInputs,
    LinkUsed,
    MailLimitReached,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from chalicelib.http.request import current, current_path, lang_query, page_language
from chalicelib.http.responses import N_, _, error_response, page
from chalicelib.wiring import get_keys, get_repo, get_settings


class ErrorRow(NamedTuple):
    cls: type[DomainError]
    status: int                # of the JSON answer
    code: str                  # the JSON answer's "Code"
    page_status: int           # of the page
    heading: str               # the page's heading and message (translated when shown)
    message: str


_BAD_REQUEST = (400, N_("Something is wrong with the request"), N_("We could not handle this request. Go back and try again."))

ERRORS = (
    ErrorRow(BodyTooLarge, 413, "RequestTooLargeError", 413, N_("Too much text"),
             N_("What you sent is too long. Shorten your question and try again.")),
    ErrorRow(InvalidInput, 400, "BadRequestError", *_BAD_REQUEST),
    ErrorRow(InvalidInputs, 400, "BadRequestError", *_BAD_REQUEST),
    ErrorRow(Unauthorized, 401, "UnauthorizedError", *_BAD_REQUEST),
    ErrorRow(Forbidden, 403, "ForbiddenError", 403, N_("Not allowed"),
             N_("This page did not accept what was sent, or you may not do this. Go back, reload the page and try "
                "again.")),
    ErrorRow(NotFound, 404, "NotFoundError", 404, N_("Page not found"), N_("We could not find what you asked for.")),
    ErrorRow(AwaitingConfirmation, 409, "ConflictError", 409, N_("Confirm your registration first"),
             N_("This registration waits for its confirmation: open the link in the email we sent you. "
                "If you did not ask for it, do nothing: it lapses by itself.")),
    ErrorRow(Conflict, 409, "ConflictError", 409, N_("That is not possible"),
             N_("This cannot be done any more, for example because the event was cancelled or has started.")),
    ErrorRow(Gone, 410, "GoneError", *_BAD_REQUEST),  # a page shows Gone as a link that expired (below)
    ErrorRow(TooManyRequests, 429, "TooManyRequestsError", 429, N_("Please wait a moment"),
             N_("We received many requests from you. Try again in a few minutes.")),
    ErrorRow(Unavailable, 503, "ServiceUnavailableError", 503, N_("Temporarily unavailable"),
             N_("Something is not working on our side. Try again in a few minutes.")),
)
_DEFAULT = ErrorRow(DomainError, 400, "BadRequestError", *_BAD_REQUEST)


def row_for(exc: DomainError) -> ErrorRow:
    return next((row for row in ERRORS if isinstance(exc, row.cls)), _DEFAULT)


def _retry_after(status: int) -> dict[str, str] | None:
    return {"Retry-After": "60"} if status in (429, 503) else None


def json_error(exc: DomainError) -> Response:
    """The JSON answer to a domain error."""
    row = row_for(exc)
    return error_response(row.status, row.code, exc.message, _retry_after(row.status))


def _page_of_token(token: str | None) -> str:
    """A page a GET can show for the request's link (the language switch of an error after a POST): its own, or "/"."""
    request = current()
    if request.method in ("GET", "HEAD"):
        return current_path()
    for prefix in ("/confirm/", "/manage/", "/unsubscribe/"):
        if token and request.path.startswith(prefix):
            return f"{prefix}{token}"
    return "/"


def _known(person_id: str):
    """The person, if they still exist; a table that fails now answers None (the page still shows its error)."""
    try:
        return get_repo().get_person(person_id)
    except DomainError:
        return None


def html_error(exc: DomainError) -> Response:
    """The page for a domain error raised by an HTML route."""
    request = current()
    token = (request.uri_params or {}).get("token")
    if isinstance(exc, ErasedPersonLink):
        return erased_link_page(404, switch_path=_page_of_token(token))
    if isinstance(exc, Gone) or (isinstance(exc, NotFound) and token):
        status = 410 if isinstance(exc, Gone) else 404
        resend = f"/confirm/{token}/resend?lang={page_language()}" if (
            status == 410 and request.path.startswith("/confirm/")) else None
        manage = None
        person = _known(exc.person_id) if isinstance(exc, LinkUsed) else None
        if person is not None:
            # A second press, or the mail's link opened again: it worked, and
            # their page is where to go (the mail that held this link has the
            # same manage link in its footer).
            from chalicelib.render.mails import person_links

            manage = person_links(person, get_settings().base_url, get_keys()).manage + lang_query()
            resend = None  # what it confirmed is confirmed: no new mail to offer for it
        return page("token_error.html", status, code=status, resend_url=resend, manage_url=manage,
                    switch_path=_page_of_token(token))
    if isinstance(exc, MailLimitReached):
        return mail_limit_page(exc, token)
    row = row_for(exc)
    return page("error.html", row.page_status, headers=_retry_after(row.page_status), heading=_(row.heading),
                message=_(row.message), switch_path="/")


def mail_limit_page(exc: MailLimitReached, token: str | None) -> Response:
    """The page of a resend button (a mailed link's, the manage page's) whose mail the limits held back.

    Its holder proved the address, so it tells the truth: nothing was sent, and when to try
    again. The form never says this (it answers every address alike).
    """
    if exc.period == "day":
        message = _("We have already sent you emails in the last 24 hours; to protect your mailbox we send no "
                    "more for now. Try again in a day.")
    else:
        message = _("We have sent you several emails in the last hour; to protect your mailbox we send no more "
                    "for now. Try again in an hour.")
    manage = f"/manage/{token}" + lang_query() if token and current().path.startswith("/manage/") else None
    return page("result.html", 429, headers={"Retry-After": str(exc.retry_after)}, switch_path=_page_of_token(token),
                heading=_("No new email for now"),
                paragraphs=[message, _("Did you not find our emails? Look in your spam folder.")],
                items=[], manage_url=manage)


def erased_link_page(status: int, *, switch_path: str) -> Response:
    """The page of a genuine link whose person is gone: their data is erased, and there is nothing more to do.

    Not "link not found, check that you copied it": the link's signature holds, so it
    was ours, and what it led to is gone. A forged or mistyped link stays "not found".
    """
    return page("result.html", status, switch_path=switch_path, heading=_("Your data is erased"),
                paragraphs=[_("There is nothing more to do: we no longer keep anything about you, so this link leads "
                              "nowhere any more and you get no more emails from us."),
                            _("Your data was erased at your request, or because we keep it only for a limited time "
                              "after your events.")],
                items=[], manage_url=None)

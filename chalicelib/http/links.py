"""Blueprint: the pages behind the links in mails: confirm, manage, unsubscribe, and the page after an erasure.

A GET never changes state (mail scanners follow links): every page that
acts has a button that POSTs. Where a POST destroys data (cancel, erase), a
first POST without ``confirm=yes`` shows a page asking to be sure. The
address of a button's post stays in the browser's bar: opened again as a GET
(a reload later, a bookmark, the language switch), it leads to the page the
button was on, never to a 405.
"""

from __future__ import annotations

from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib import times
from chalicelib.errors import ErasedPersonLink, InvalidInput, NotFound
from chalicelib.http.errors import erased_link_page
from chalicelib.http.request import (
    confirmed_step, current, current_path, form_fields, is_form_post, lang_query, page_language, raw_form_body,
)
from chalicelib.http.responses import N_, _, page, result_page, see_other
from chalicelib.http.routing import page_route
from chalicelib.model.event import LANGUAGES
from chalicelib.render import i18n, pages
from chalicelib.wiring import get_keys, get_mailer, get_repo, get_settings

links = Blueprint(__name__)

FORM_AND_PLAIN = [pages.FORM_CONTENT_TYPE, "multipart/form-data", "text/plain", "application/json"]


# ------------------------------------------------------------------ confirm


@page_route(links, "/confirm/{token}", methods=["GET"])
def confirm_page(token):
    from chalicelib.services import subscribe

    now = times.now()
    view = subscribe.inspect_confirm_token(get_repo(), token, now=now)
    return page("confirm.html", token=token, view=view, now=now)


@page_route(links, "/confirm/{token}", methods=["POST"], content_types=FORM_AND_PLAIN)
def confirm_registration(token):
    from chalicelib.services import subscribe

    settings = get_settings()
    result = subscribe.confirm(get_repo(), get_mailer(), token, base_url=settings.base_url, key=get_keys(),
                               settings=settings, now=times.now())
    return page("confirmed.html", switch_path="/", result=result, summary=pages.confirm_summary(result.outcomes))


@page_route(links, "/confirm/{token}/resend", methods=["POST"], content_types=FORM_AND_PLAIN)
def resend_confirmation(token):
    from chalicelib.services import subscribe

    settings = get_settings()
    subscribe.resend_confirmation(get_repo(), get_mailer(), token, base_url=settings.base_url, key=get_keys(),
                                  settings=settings, now=times.now())
    return see_other(f"/subscriptions/sent?lang={page_language()}")


def _back_to(prefix: str, token: str) -> Response:
    return see_other(f"{prefix}{quote(token, safe='')}{lang_query()}")


@page_route(links, "/confirm/{token}/resend", methods=["GET"])
def resend_address(token):
    return _back_to("/confirm/", token)


# ------------------------------------------------------------------- manage


@page_route(links, "/manage/{token}/events/{event_id}/cancel", methods=["GET"])
def cancel_address(token, event_id):
    return _back_to("/manage/", token)


@page_route(links, "/manage/{token}/stop", methods=["GET"])
def stop_address(token):
    return _back_to("/manage/", token)


@page_route(links, "/manage/{token}/erase", methods=["GET"])
def erase_address(token):
    return _back_to("/manage/", token)


@page_route(links, "/manage/{token}/resume", methods=["GET"])
def resume_address(token):
    return _back_to("/manage/", token)


@page_route(links, "/manage/{token}/resend", methods=["GET"])
def manage_resend_address(token):
    return _back_to("/manage/", token)


@page_route(links, "/manage/{token}/language", methods=["GET"])
def language_address(token):
    return _back_to("/manage/", token)


def _manage_path(token: str) -> str:
    return f"/manage/{token}"


# What a button of the manage page did, shown on the page it leads back to
# (post, redirect, get): ?done=<one of these>. The notice is worded from the
# state read, so a crafted ?done= cannot make the page claim what is not so.
MANAGE_DONE = ("mail", "language", "stopped", "cancelled", "cancelled_request")


@page_route(links, "/manage/{token}", methods=["GET"])
def manage_page(token):
    from chalicelib.services import manage

    view = manage.manage_view(get_repo(), token, base_url=get_settings().base_url, key=get_keys())
    params = current().query_params or {}
    done = params.get("done")
    # A cancel names its event: the notice is said only if that registration is cancelled indeed.
    cancelled, held_a_seat = None, False
    for event, registration in view.registrations:
        if event.id == params.get("event") and registration.status == "cancelled":
            # Only a seat held puts an entry in a calendar: a request to hear when registration opens did not.
            cancelled, held_a_seat = event, registration.confirmed_at is not None
    return page("manage.html", token=token, view=view, now=times.now(), done=done if done in MANAGE_DONE else None,
                cancelled_event=cancelled, held_a_seat=held_a_seat)


def _back_to_manage(token: str, done: str, event_id: str | None = None) -> Response:
    """303 to the manage page, saying what the button did (``MANAGE_DONE``)."""
    event = f"&event={quote(event_id, safe='')}" if event_id else ""
    return see_other(f"/manage/{quote(token, safe='')}{lang_query()}&done={done}{event}")


def _registration(token: str, event_id: str, *, unconfirmed_ok: bool = False, view=None):
    """The (event, registration) of this person for ``event_id``; NotFound when there is none.

    A pending one is acted on by its confirm link only; with ``unconfirmed_ok``
    (a cancel), also one whose link no longer works (``ManageView.unconfirmed``).
    ``view``: the person's ``ManageView``, when the caller read it already.
    """
    from chalicelib.services import manage

    view = view or manage.manage_view(get_repo(), token, base_url=get_settings().base_url, key=get_keys())
    for event, registration in view.registrations:
        if event.id == event_id and (registration.status != "pending" or
                                     (unconfirmed_ok and event_id in view.unconfirmed_ids)):
            return event, registration
    raise NotFound("event_id: you have no registration for this event")


@page_route(links, "/manage/{token}/events/{event_id}/cancel", methods=["POST"], content_types=FORM_AND_PLAIN)
def cancel_registration(token, event_id):
    from chalicelib.services import manage

    back = _manage_path(token) + lang_query()
    if not confirmed_step():
        event, registration = _registration(token, event_id, unconfirmed_ok=True)
        lang = page_language()
        # Said as it is for each: a seat to give back, a place in line, or only a mail when registration opens.
        about = {
            "pending": i18n.gettext("You are about to cancel your registration for %(title)s, which is not "
                                    "confirmed.", lang),
            "waitlisted": i18n.gettext("You are about to leave the waiting list for %(title)s.", lang),
            "interested": i18n.gettext("You are about to cancel your request for %(title)s: we will not mail you "
                                       "when registration opens.", lang),
        }.get(registration.status) or i18n.gettext(
            "You are about to cancel your registration for %(title)s. If the event is full, your seat goes to the "
            "next person on the waiting list.", lang)
        interested = registration.status == "interested"
        return page("are_you_sure.html", switch_path=_manage_path(token),
                    heading=_("Cancel this request?") if interested else _("Cancel this registration?"),
                    message=pages.with_title(about, event, lang),
                    button=_("Yes, cancel my request") if interested else _("Yes, cancel my registration"),
                    action=current().path.format(
                        token=token, event_id=event_id) + lang_query(), back_url=back)
    try:
        interested = _registration(token, event_id, unconfirmed_ok=True)[1].status == "interested"
    except NotFound:
        interested = False  # the service says what there is to cancel
    manage.cancel_registration(get_repo(), token, event_id, now=times.now(), key=get_keys(),
                               mailer=get_mailer(), base_url=get_settings().base_url)
    # Redirect after POST: a reload shows the manage page (saying what was cancelled), never "resubmit the form?".
    return _back_to_manage(token, "cancelled_request" if interested else "cancelled", event_id)


@page_route(links, "/manage/{token}/resend", methods=["POST"], content_types=FORM_AND_PLAIN)
def resend_from_manage(token):
    from chalicelib.services import subscribe

    # A fresh confirm link for the registrations whose link no longer works, to the person's own address.
    # Nothing to send (a reload after a send, whose link now works): back to the page, which says where they stand.
    if subscribe.resend_from_manage(get_repo(), get_mailer(), token, base_url=get_settings().base_url,
                                    now=times.now(), key=get_keys(), settings=get_settings()):
        return see_other(f"/subscriptions/sent?lang={page_language()}")
    return _back_to("/manage/", token)


@page_route(links, "/manage/{token}/events/{event_id}/register", methods=["GET"])
def register_page(token, event_id):
    from chalicelib.services import manage

    view = manage.manage_view(get_repo(), token, base_url=get_settings().base_url, key=get_keys())
    try:
        event, _registration_ = _registration(token, event_id, view=view)
    except NotFound:  # one offered on the manage page, with no registration yet
        event = next((e for e in view.offered if e.id == event_id), None)
        if event is None:
            raise
    lang = page_language()
    return page("button_page.html", heading=_("Register"),
                message=pages.with_title(i18n.gettext("Register for %(title)s.", lang), event, lang),
                button=_("Register me"), fields={}, action=current_path() + lang_query())


REGISTER_OUTCOMES = {
    "confirmed": (N_("You are registered"), N_("We have sent you an email with the details and the event for your calendar.")),
    "waitlisted": (N_("You are on the waiting list"), N_("This event is full. We mail you as soon as a seat is free for you.")),
    "interested": (N_("Registration is not open yet"), N_("We mail you when it opens.")),
    "already": (N_("You were already registered"), N_("Nothing has changed.")),
    "already_waitlisted": (N_("You were already on the waiting list"), N_("Nothing has changed. We mail you as soon as a seat is free for you.")),
    "closed": (N_("Registration is closed"), N_("You can no longer register for this event.")),
}


# The same outcomes for someone who stopped all mail: nothing is mailed, so nothing is promised by mail.
REGISTER_OUTCOMES_WITHOUT_MAIL = {
    "confirmed": N_("You get no emails from us: the details are on your page, and your personal calendar feed has "
                    "the event."),
    "waitlisted": N_("This event is full. You get no emails from us: check your page to see whether you got a seat."),
    "interested": N_("You get no emails from us: check your page to register once it opens."),
    "already_waitlisted": N_("Nothing has changed. You get no emails from us: check your page to see whether you "
                             "got a seat."),
}


@page_route(links, "/manage/{token}/events/{event_id}/register", methods=["POST"], content_types=FORM_AND_PLAIN)
def register_from_link(token, event_id):
    from chalicelib.services import manage, people

    outcome = manage.register_from_link(get_repo(), get_mailer(), token, event_id,
                                        base_url=get_settings().base_url, key=get_keys(), settings=get_settings(),
                                        now=times.now())
    shown = outcome.status
    if outcome.status == "already" and outcome.kept in ("waitlisted", "interested"):
        # On the list already, or asked already to hear when registration opens (a double click's other request).
        shown = "already_waitlisted" if outcome.kept == "waitlisted" else "interested"
    heading, text = REGISTER_OUTCOMES.get(shown, REGISTER_OUTCOMES["closed"])
    if shown in REGISTER_OUTCOMES_WITHOUT_MAIL and \
            not people.person_for_token(get_repo(), "manage", token, key=get_keys()).receives_mail:
        text = REGISTER_OUTCOMES_WITHOUT_MAIL[shown]
    return result_page(_(heading), pages.with_title("%(title)s", outcome.event, page_language()), _(text),
                       manage_url=_manage_path(token) + lang_query(), switch_path=_manage_path(token))


@page_route(links, "/manage/{token}/stop", methods=["POST"], content_types=FORM_AND_PLAIN)
def stop_mail(token):
    from chalicelib.services import manage

    try:
        manage.unsubscribe(get_repo(), token, purpose="manage", now=times.now(), key=get_keys())
    except ErasedPersonLink:  # erased: no mail goes out, which is what was asked
        return erased_link_page(200, switch_path=_manage_path(token))
    # Redirect after POST, as the other buttons do: the manage page says that mail is stopped.
    return _back_to_manage(token, "stopped")


@page_route(links, "/manage/{token}/resume", methods=["POST"], content_types=FORM_AND_PLAIN)
def resume_mail(token):
    from chalicelib.services import manage

    # Harmless, so one button without "are you sure?". A stop by a bounce or
    # complaint stays; the page it leads to says why.
    manage.resume_mail(get_repo(), token, now=times.now(), key=get_keys())
    return _back_to_manage(token, "mail")


@page_route(links, "/manage/{token}/language", methods=["POST"], content_types=FORM_AND_PLAIN)
def change_mail_language(token):
    from chalicelib.services import manage

    values = form_fields().get("language", []) if is_form_post() else []
    if len(set(values)) != 1:
        raise InvalidInput("language", "not_one_of", "choose nl or en", allowed=LANGUAGES)
    manage.set_mail_language(get_repo(), token, values[0], now=times.now(), key=get_keys())
    return _back_to_manage(token, "language")


@page_route(links, "/manage/{token}/erase", methods=["POST"], content_types=FORM_AND_PLAIN)
def erase_my_data(token):
    from chalicelib.services import manage, privacy

    if not confirmed_step():
        manage.manage_view(get_repo(), token, base_url=get_settings().base_url, key=get_keys())  # 404 for a bad link
        return page("are_you_sure.html", switch_path=_manage_path(token), heading=_("Erase all your data?"),
                    message=_("We erase your name, address, questions and every registration. Your seats go to the people on the waiting list. This cannot be undone."),
                    button=_("Yes, erase my data"), action=f"/manage/{token}/erase" + lang_query(),
                    back_url=_manage_path(token) + lang_query())
    try:
        privacy.erase_by_token(get_repo(), token, now=times.now(), key=get_keys(), mailer=get_mailer(),
                               base_url=get_settings().base_url)
    except ErasedPersonLink:
        pass  # erased already (a double click, a reload of the post): where the first one led
    return see_other(f"/erased{lang_query()}")


@page_route(links, "/erased", methods=["GET"])
def erased():
    # After an erase: a reload shows this again, not "link not found".
    return result_page(_("Your data is erased"), _("We no longer keep anything about you. You will get no more emails from us."),
                       _("An email we were already sending when you asked may still arrive in the next few minutes; "
                         "none is sent after that."),
                       switch_path="/erased")


# -------------------------------------------------------------- unsubscribe


def stop_warnings(view) -> list[str]:
    """What stopping all mail silences for this person (``ManageView.waiting``, ``.interested``), to say before."""
    notes = []
    if view.waiting:
        notes.append(_("You are on a waiting list: without emails you will not hear when a seat is free for you, "
                       "and you may get a seat without knowing it."))
    if view.interested:
        notes.append(_("Without emails you will not hear when registration opens for an event you are waiting for."))
    return notes


@page_route(links, "/unsubscribe/{token}", methods=["GET"])
def unsubscribe_page(token):
    from chalicelib.services import manage

    # 404 for a bad link; changes nothing
    view = manage.unsubscribe_view(get_repo(), token, base_url=get_settings().base_url, now=times.now(), key=get_keys())
    return page("button_page.html", heading=_("Stop all emails"),
                message=_("Press the button to receive no more emails from the Smart Region Office about its events. Your registrations stay."),
                notes=stop_warnings(view),
                button=_("Stop all emails"), fields={"List-Unsubscribe": "One-Click"},
                action=current_path() + lang_query())


@page_route(links, "/unsubscribe/{token}", methods=["POST"], content_types=FORM_AND_PLAIN)
def unsubscribe(token):
    from chalicelib.services import manage

    # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" (urlencoded or
    # multipart). The request itself is the intent; its body is not required.
    raw_form_body()
    try:
        manage.unsubscribe(get_repo(), token, now=times.now(), key=get_keys())
    except ErasedPersonLink:  # a genuine link, its person erased: nothing is left to unsubscribe, and no mail goes
        return erased_link_page(200, switch_path=current_path())
    return result_page(_("No more emails"), _("You get no more emails from us. Your registrations stay."),
                       switch_path=current_path())

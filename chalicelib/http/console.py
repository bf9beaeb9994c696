"""Blueprint: the staff console's sign-in by mail, its session cookie and CSRF check, and sign-out.

Every console route but the sign-in pages is registered with
``console_route``: without a live session a GET is sent to the sign-in page
(303) and anything else is refused (403); a POST must carry the session's
CSRF token (``csrf`` field), or it is refused (403) before the view runs, so
it changes nothing. ``tests/edge/test_console_auth.py`` walks the app's route
table to check that every /console route does so.

The session's token lives in a cookie: ``HttpOnly``, ``SameSite=Strict``,
``Path=/console``, ``Secure`` when the site is on https.
"""

from __future__ import annotations

import functools
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable
from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib import times
from chalicelib.errors import DomainError, Forbidden, Gone, InvalidInput, NotFound
from chalicelib.http.errors import row_for
from chalicelib.http.request import current, form_fields, is_form_post, lang_query, page_language
from chalicelib.http.responses import _, page, see_other
from chalicelib.model.console import SESSION_MAX, SignedIn
from chalicelib.render import pages
from chalicelib.wiring import get_mailer, get_repo, get_settings

console = Blueprint(__name__)

COOKIE = "sro_console"
FORM = [pages.FORM_CONTENT_TYPE]


# ------------------------------------------------------------------ helpers


def session_token() -> str | None:
    """The console cookie's value, if the request carries one."""
    header = current().headers.get("cookie") or ""
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


def cookie(value: str, max_age: int) -> str:
    secure = "; Secure" if get_settings().base_url.startswith("https://") else ""
    return f"{COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"


def field(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0] if values else default


# The last part of a POST-only address, whose page's language switch leads to the address without it.
_POST_ONLY = ("/preview", "/erase", "/remove", "/publish", "/sign-out")


def _get_twin(path: str) -> str:
    """A page a GET shows for the address a form posted to (the language switch of the page it answered)."""
    for suffix in _POST_ONLY:
        if path.endswith(suffix):
            return path[: -len(suffix)] or "/console"
    return path


def console_page(template: str, who: SignedIn | None, status: int = 200, **context: Any) -> Response:
    """A console page (``web/console/<template>``), never cached, with the member and CSRF token it needs."""
    from chalicelib.http.request import current_path

    switch = _get_twin(current_path()) if current().method != "GET" else None
    return page(f"console/{template}", status, switch_path=switch, who=who, csrf=who.csrf if who else "",
                **context)


def console_error(exc: DomainError, who: SignedIn | None = None) -> Response:
    row = row_for(exc)
    headers = {"Retry-After": "60"} if row.page_status in (429, 503) else None
    return console_page("error.html", who, row.page_status, headers=headers, heading=_(row.heading),
                        message=_(row.message))


def back_to(path: str, **query: str) -> Response:
    """303 to a console page, in the page's language."""
    extra = "".join(f"&{k}={quote(v, safe='')}" for k, v in query.items())
    return see_other(f"{path}{lang_query()}{extra}")


def console_route(blueprint: Blueprint, path: str, methods: list[str]) -> Callable:
    """Register a console route that only a live session reaches; a POST also needs the session's CSRF token.

    The view is called with the signed-in member (``SignedIn``) first, then
    the path's parameters; a POST's form fields are checked here, before it.
    """
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(**params: Any) -> Response:
            request = current()
            try:
                who = console_signed_in()
            except DomainError as exc:
                return console_error(exc)
            if who is None:
                if request.method in ("GET", "HEAD"):
                    return see_other(f"/console/sign-in{lang_query()}")
                # A form sent after the session ended (8 idle hours, 12 in all): nothing is saved; the browser's
                # Back button still holds what was typed.
                return console_page("error.html", None, 403, heading=_("You are signed out"), message=_(
                    "Your session ended (after 8 hours without use, or 12 hours in all), so nothing was saved. "
                    "Go back to copy what you typed, then sign in again."))
            try:
                if request.method == "POST":
                    sent = form_fields().get("csrf", []) if is_form_post() else []
                    from chalicelib.services import console as console_service

                    if len(sent) != 1 or not console_service.csrf_ok(who, sent[0]):
                        raise Forbidden("csrf: the form's token is missing or not this session's; reload the page")
                return view(who, **params)
            except DomainError as exc:
                return console_error(exc, who)
        content = {"content_types": FORM} if "POST" in methods else {}
        return blueprint.route(path, methods=methods, **content)(guarded)
    return register


def console_signed_in() -> SignedIn | None:
    from chalicelib.services import console as console_service

    return console_service.signed_in(get_repo(), session_token(), now=times.now())


# ------------------------------------------------------------------ sign-in


@console.route("/console/sign-in", methods=["GET"])
def sign_in_page():
    return page("console/sign_in.html", who=None, csrf="", values={}, errors={})


@console.route("/console/sign-in", methods=["POST"], content_types=FORM)
def request_sign_in():
    """Mail a link when the address is a staff member's; the same answer whether it is or not."""
    from chalicelib.services import console as console_service

    lang = page_language()
    try:
        address = field(form_fields(), "email") if is_form_post() else ""
        console_service.request_sign_in(get_repo(), get_mailer(), address, base_url=get_settings().base_url,
                                        lang=lang, now=times.now(), floor_ms=get_settings().form_answer_floor_ms)
    except InvalidInput:
        return page("console/sign_in.html", 400, who=None, csrf="", values={"email": address},
                    errors={"email": _("Enter a valid email address, like name@vlaanderen.be.")})
    except DomainError as exc:
        return console_error(exc)
    return see_other(f"/console/sign-in-sent{lang_query()}")


@console.route("/console/sign-in-sent", methods=["GET"])
def sign_in_sent():
    return page("console/sign_in_sent.html", who=None, csrf="")


@console.route("/console/sign-in/{token}", methods=["GET"])
def sign_in_link_page(token):
    """The link's page: a button (mail scanners open links; only the POST signs in)."""
    from chalicelib.services import console as console_service

    try:
        console_service.inspect_link(get_repo(), token, now=times.now())
    except (Gone, NotFound):
        return page("console/link_spent.html", 410, who=None, csrf="")
    except DomainError as exc:
        return console_error(exc)
    return page("console/sign_in_button.html", who=None, csrf="", action=f"/console/sign-in/{token}{lang_query()}")


@console.route("/console/sign-in/{token}", methods=["POST"], content_types=FORM)
def sign_in(token):
    from chalicelib.services import console as console_service

    try:
        session_token_, _who = console_service.sign_in(get_repo(), token, now=times.now())
    except (Gone, NotFound):
        return page("console/link_spent.html", 410, who=None, csrf="")
    except DomainError as exc:
        return console_error(exc)
    answer = see_other(f"/console{lang_query()}")
    answer.headers["Set-Cookie"] = cookie(session_token_, int(SESSION_MAX.total_seconds()))
    return answer


@console_route(console, "/console/sign-out", methods=["POST"])
def sign_out(who):
    from chalicelib.services import console as console_service

    console_service.sign_out(get_repo(), who, now=times.now())
    answer = see_other(f"/console/sign-in{lang_query()}")
    answer.headers["Set-Cookie"] = cookie("", 0)
    return answer

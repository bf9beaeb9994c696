"""The staff console's sign-in by mail: staff members, sign-in links, sessions, CSRF tokens.

No passwords. A staff member types their address; if it is on the list, a
link is mailed (single use, 15 minutes, at most 5 an hour), and the page
answers the same whether it is or not. The link's page shows a button (mail
scanners open links); its POST starts a session, whose token goes in a
cookie. Only hashes of links and sessions are stored. A session ends 8 hours
after its last use and 12 hours after it began, at sign-out, or at once when
its member is removed. Every form of the console carries the session's CSRF
token, derived from the session's token (so stored nowhere, and not derivable
from the stored hash).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime

from chalicelib import times
from chalicelib.errors import Conflict, Forbidden, Gone, MailError, NotFound
from chalicelib.input.staff import member_email, member_name
from chalicelib.model.console import (
    LINK_VALID,
    LINKS_PER_HOUR,
    ConsoleSession,
    SignedIn,
    SignInLink,
    StaffMember,
)
from chalicelib.model.mail import Links
from chalicelib.model.person import AuditEntry
from chalicelib.ports import Mailer, Repository
from chalicelib.render import mails
from chalicelib.tokens import looks_like_token, new_token, same_hash, token_hash

log = logging.getLogger(__name__)

_sleep = time.sleep
_monotonic = time.monotonic


# ------------------------------------------------------------- staff members


def add_member(repo: Repository, email: str, name: str, *, admin: bool = False, actor: str,
               now: datetime | None = None) -> StaffMember:
    """Put someone on the staff list (Conflict if they are on it); audited."""
    now = now or times.now()
    member = StaffMember(email=member_email(email), name=member_name(name), admin=bool(admin), added_at=now)
    repo.add_staff_member(member)
    repo.add_audit(AuditEntry(actor=actor, action="staff.add", target=f"staff:{member.email}", at=now,
                              details={"admin": member.admin}))
    return member


def remove_member(repo: Repository, email: str, *, actor: str, now: datetime | None = None) -> bool:
    """Take someone off the staff list: their sessions stop working at once; audited. False if not on it."""
    now = now or times.now()
    address = member_email(email)
    removed = repo.remove_staff_member(address)
    if removed:
        repo.add_audit(AuditEntry(actor=actor, action="staff.remove", target=f"staff:{address}", at=now))
    return removed


# ------------------------------------------------------------------ sign-in


def request_sign_in(repo: Repository, mailer: Mailer, email: str, *, base_url: str, lang: str = "nl",
                    now: datetime | None = None, floor_ms: int = 0) -> bool:
    """Mail a sign-in link if ``email`` is a staff member's and they had fewer than 5 this hour.

    Returns whether a link was mailed, for logs and tests only: the caller
    answers the same either way, and no sooner than ``floor_ms`` after the
    call began (the form's answer floor, ``FORM_ANSWER_FLOOR_MS``), so the
    time SES takes to mail a link does not tell a staff address from
    another. A malformed address is InvalidInput (field ``email``), at once:
    that says nothing about the list.
    """
    now = now or times.now()
    address = member_email(email)
    deadline = _monotonic() + floor_ms / 1000
    try:
        return _mail_link(repo, mailer, address, base_url=base_url, lang=lang, now=now)
    finally:
        left = deadline - _monotonic()
        if left > 0:
            _sleep(left)


def _mail_link(repo: Repository, mailer: Mailer, address: str, *, base_url: str, lang: str, now: datetime) -> bool:
    made = _new_link(repo, address, now)
    if made is None:
        return False
    member, token = made
    try:
        mailer.send(sign_in_mail(member, f"{base_url}/console/sign-in/{token}", lang))
    except MailError as exc:
        # Not a 503: the answer must not tell a listed address from another. The member asks again.
        log.warning("console sign-in: the link could not be mailed: %s", type(exc).__name__)
        return False
    return True


def sign_in_url(repo: Repository, email: str, *, base_url: str, now: datetime | None = None) -> str:
    """A sign-in link for a staff member, not mailed (``python -m chalicelib.cli staff sign-in-link``, make run)."""
    made = _new_link(repo, member_email(email), now or times.now())
    if made is None:
        raise Conflict("email: not a staff member, or 5 sign-in links this hour already")
    return f"{base_url}/console/sign-in/{made[1]}"


def _new_link(repo: Repository, address: str, now: datetime) -> tuple[StaffMember, str] | None:
    """Store a new sign-in link for the member with ``address``: (member, token), or None (not on the list, or
    at the limit of links an hour)."""
    for _ in range(3):
        member = repo.get_staff_member(address)
        if member is None:
            return None
        recent = member.links_in_last_hour(now)
        if len(recent) >= LINKS_PER_HOUR:
            log.info("console sign-in: link limit reached for a staff member")
            return None
        token, digest = new_token()
        link = SignInLink(token_hash=digest, email=address, created_at=now, expires_at=now + LINK_VALID)
        try:
            repo.add_sign_in_link(link, member=member, links_made=recent + (now,))
        except Conflict:
            continue  # another request for the same member at that moment: read again
        return member, token
    return None


def sign_in_mail(member: StaffMember, url: str, lang: str):
    """The mail with the sign-in link: to staff, so no unsubscribe link and no person links."""
    links = Links(manage="", unsubscribe="", feed="", webcal="")
    return mails.build_mail("console_sign_in", lang, to_email=member.email, to_name=member.name, links=links,
                            name=member.name, sign_in_url=url, minutes=int(LINK_VALID.total_seconds() // 60))


def inspect_link(repo: Repository, token: str, *, now: datetime | None = None) -> SignInLink:
    """The link behind ``token``, for its page (a GET changes nothing): NotFound if unknown, Gone if spent."""
    now = now or times.now()
    link = repo.get_sign_in_link(token_hash(token)) if looks_like_token(token) else None
    if link is None:
        raise NotFound("token: no such sign-in link")
    if not link.usable(now):
        raise Gone("token: this sign-in link has expired or was used already")
    return link


def sign_in(repo: Repository, token: str, *, now: datetime | None = None) -> tuple[str, SignedIn]:
    """Spend a sign-in link and start a session: (the session's token, for the cookie; who signed in).

    Gone if the link is used, expired, or its member is no longer on the list.
    """
    now = now or times.now()
    if not looks_like_token(token):
        raise NotFound("token: no such sign-in link")
    link = repo.use_sign_in_link(token_hash(token), now)
    member = repo.get_staff_member(link.email)
    if member is None or member.added_at > link.created_at:
        raise Gone("token: this sign-in link is of someone no longer on the staff list")
    session_token, digest = new_token()
    session = ConsoleSession(token_hash=digest, email=member.email, created_at=now, last_seen_at=now)
    repo.add_console_session(session)
    repo.add_audit(AuditEntry(actor=member.email, action="console.sign_in", target=f"staff:{member.email}", at=now))
    return session_token, SignedIn(session=session, member=member, csrf=csrf_token(session_token))


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from its token, which only the browser holds."""
    return token_hash(f"csrf:{session_token}")


def signed_in(repo: Repository, session_token: str | None, *, now: datetime | None = None) -> SignedIn | None:
    """Who holds this session token, or None: unknown, ended (idle, too old, signed out), or its member removed.

    A use is written at most every few minutes (``SESSION_TOUCH``), so the
    idle timeout counts from about the last request.
    """
    now = now or times.now()
    if not looks_like_token(session_token):
        return None
    assert isinstance(session_token, str)
    digest = token_hash(session_token)
    session, member = repo.get_console_session(digest)
    if session is None or not same_hash(session.token_hash, digest):
        return None
    if member is None or member.added_at > session.created_at:
        return None  # removed (and perhaps added again since): this session was of the one removed
    if not session.live(now):
        repo.end_console_session(digest)
        return None
    if session.needs_touch(now):
        repo.touch_console_session(session, now)
        session = replace(session, last_seen_at=now)
    return SignedIn(session=session, member=member, csrf=csrf_token(session_token))


def csrf_ok(who: SignedIn, sent: str | None) -> bool:
    """Whether a form's CSRF token is this session's."""
    return isinstance(sent, str) and len(sent) == len(who.csrf) and sent.isascii() and same_hash(who.csrf, sent)


def sign_out(repo: Repository, who: SignedIn, *, now: datetime | None = None) -> None:
    repo.end_console_session(who.session.token_hash)
    repo.add_audit(AuditEntry(actor=who.actor, action="console.sign_out", target=f"staff:{who.member.email}",
                              at=now or times.now()))


def require_admin(who: SignedIn) -> None:
    if not who.member.admin:
        raise Forbidden("admin: only a staff member with the admin role may do this")

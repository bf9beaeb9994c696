"""Blueprint: the console's people (the access report by address, erasure after typing the address again), the
audit log (newest first, by event or staff member) and the staff list (admins add and remove members)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import times
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.http.console import back_to, console_page, console_route, field
from chalicelib.http.request import current, form_fields, page_language
from chalicelib.http.responses import _
from chalicelib.model.event import ID_PATTERN
from chalicelib.render import console_audit, console_forms, pages
from chalicelib.wiring import get_keys, get_mailer, get_repo, get_settings

console_admin = Blueprint(__name__)

AUDIT_LIMIT = 200


def _query(name: str) -> str:
    params = current().query_params or {}
    values = params.getlist(name) if name in params else []
    return values[0].strip() if len(values) == 1 else ""


# -------------------------------------------------------------------- people


def _report_in_words(report: dict) -> dict:
    """The access report's events named with their day, and its mails in words, for the People page."""
    lang = page_language()
    names = console_forms.event_names(report, {e.id: e for e in get_repo().list_events()}, lang)
    return {"names": names, "mails": console_forms.mail_rows(report, lang, names)}


@console_route(console_admin, "/console/people", methods=["GET"])
def people(who):
    """Look a person up by address: everything held about them (the access report; the lookup is audited)."""
    from chalicelib.services import privacy

    email = _query("email")
    done = _query("done") == "erased"
    if not email:
        return console_page("people.html", who, email="", report=None, errors={}, done=done)
    try:
        report = privacy.access_for_staff(get_repo(), email, actor=who.actor, key=get_keys())
    except InvalidInput:
        return console_page("people.html", who, 400, email=email, report=None, done=False,
                            errors={"email": _("Enter a valid email address, like name@example.be.")})
    except NotFound:
        return console_page("people.html", who, 404, email=email, report=None, errors={}, done=False, unknown=True)
    return console_page("people.html", who, email=email, report=report, errors={}, done=False,
                        **_report_in_words(report))


@console_route(console_admin, "/console/people/erase", methods=["POST"])
def erase(who):
    """Erase a person, once the address is typed again exactly."""
    from chalicelib.input.subscription import normalise_email
    from chalicelib.services import privacy

    fields = form_fields()
    email, again = field(fields, "email").strip(), field(fields, "email_again").strip()
    try:
        same = normalise_email(email).lower() == normalise_email(again).lower()
    except InvalidInput:
        same = False
    if not same:
        report = privacy.access_for_staff(get_repo(), email, actor=who.actor, key=get_keys())
        return console_page("people.html", who, 400, email=email, report=report, done=False,
                            errors={"email_again": _("Type the same address again to erase this person.")},
                            again=again, **_report_in_words(report))
    privacy.erase_for_staff(get_repo(), email, actor=who.actor, key=get_keys(), mailer=get_mailer(),
                            base_url=get_settings().base_url)
    return back_to("/console/people", done="erased")


# --------------------------------------------------------------------- audit


@console_route(console_admin, "/console/audit", methods=["GET"])
def audit(who):
    """The audit log, newest first; ``?event=<id>`` or ``?actor=<who>`` narrow it."""
    event_id, actor = _query("event"), _query("actor")
    target = f"event:{event_id}" if event_id and ID_PATTERN.match(event_id) else None
    repo = get_repo()
    entries = repo.list_audit(AUDIT_LIMIT, actor=actor or None, target=target)
    events = {e.id: e for e in repo.list_events()} if any(e.target.startswith("event:") for e in entries) else {}
    rows = console_audit.entry_rows(entries, events, page_language())
    return console_page("audit.html", who, entries=rows, event_id=event_id if target else "", actor=actor,
                        limit=AUDIT_LIMIT)


# --------------------------------------------------------------------- staff


@console_route(console_admin, "/console/staff", methods=["GET"])
def staff_list(who):
    done = _query("done")
    return console_page("staff.html", who, members=get_repo().list_staff_members(), values={}, errors={},
                        done=done if done in ("added", "removed") else None)


@console_route(console_admin, "/console/staff", methods=["POST"])
def add_member(who):
    from chalicelib.errors import Conflict
    from chalicelib.services import console as console_service

    console_service.require_admin(who)
    fields = form_fields()
    values = {"email": field(fields, "email"), "name": field(fields, "name"), "admin": field(fields, "admin") == "yes"}
    try:
        console_service.add_member(get_repo(), values["email"], values["name"], admin=values["admin"],
                                   actor=who.actor, now=times.now())
    except InvalidInput as exc:
        errors = {exc.field: pages.describe_problem(exc.field, exc.code, exc.params, page_language())}
        return console_page("staff.html", who, 400, members=get_repo().list_staff_members(), values=values,
                            errors=errors, done=None)
    except Conflict:
        return console_page("staff.html", who, 400, members=get_repo().list_staff_members(), values=values,
                            errors={"email": _("This address is on the staff list already.")}, done=None)
    return back_to("/console/staff", done="added")


@console_route(console_admin, "/console/staff/remove", methods=["POST"])
def remove_member(who):
    from chalicelib.services import console as console_service

    from chalicelib.input.staff import member_email

    console_service.require_admin(who)
    email = member_email(field(form_fields(), "email"))  # as stored: trimmed, lower-cased
    if email == who.member.email:
        raise InvalidInput("email", "read_only", "you cannot remove yourself; ask another admin")
    if not console_service.remove_member(get_repo(), email, actor=who.actor, now=times.now()):
        raise NotFound("email: not on the staff list (another admin may have removed them)")
    return back_to("/console/staff", done="removed")

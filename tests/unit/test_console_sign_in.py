"""The console's sign-in by mail as a service, on both repositories: links, limits, sessions, CSRF, removal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from chalicelib.model.console import LINKS_PER_HOUR
from chalicelib.services import console
from tests.conftest import PINNED_NOW
from tests.fakes import RecordingMailer

STAFF = "an.staff@vlaanderen.be"
BASE = "https://events.example.be"


@pytest.fixture
def member(repo):
    return console.add_member(repo, "An.Staff@Vlaanderen.be ", "An Staff", actor="test", now=PINNED_NOW)


def link_token(mailer: RecordingMailer) -> str:
    mail = mailer.sent[-1][0]
    return mail.text.split(f"{BASE}/console/sign-in/", 1)[1].split()[0]


def mailed(repo, mailer, email=STAFF, now=PINNED_NOW) -> str:
    assert console.request_sign_in(repo, mailer, email, base_url=BASE, now=now)
    return link_token(mailer)


def test_a_member_is_stored_by_their_lower_cased_address(repo, member):
    assert member.email == STAFF and repo.get_staff_member(STAFF).name == "An Staff"
    with pytest.raises(Conflict):
        console.add_member(repo, STAFF, "Again", actor="test")
    assert [m.email for m in repo.list_staff_members()] == [STAFF]
    assert [e.action for e in repo.list_audit(10)] == ["staff.add"]


def test_an_unknown_address_gets_no_mail(repo, member):
    mailer = RecordingMailer()
    assert not console.request_sign_in(repo, mailer, "someone@vlaanderen.be", base_url=BASE, now=PINNED_NOW)
    assert mailer.sent == []


def test_a_malformed_address_is_invalid_input(repo, member):
    with pytest.raises(InvalidInput) as caught:
        console.request_sign_in(repo, RecordingMailer(), "no address", base_url=BASE, now=PINNED_NOW)
    assert caught.value.field == "email"


def test_a_link_signs_in_once(repo, member):
    mailer = RecordingMailer()
    token = mailed(repo, mailer)
    assert mailer.sent[-1][0].to_email == STAFF
    console.inspect_link(repo, token, now=PINNED_NOW)
    session_token, who = console.sign_in(repo, token, now=PINNED_NOW)
    assert who.member.email == STAFF and who.actor == STAFF
    with pytest.raises(Gone):
        console.sign_in(repo, token, now=PINNED_NOW)
    with pytest.raises(Gone):
        console.inspect_link(repo, token, now=PINNED_NOW)
    assert console.signed_in(repo, session_token, now=PINNED_NOW).member == who.member


def test_a_link_expires_after_15_minutes(repo, member):
    token = mailed(repo, RecordingMailer())
    console.inspect_link(repo, token, now=PINNED_NOW + timedelta(minutes=14, seconds=59))
    with pytest.raises(Gone):
        console.sign_in(repo, token, now=PINNED_NOW + timedelta(minutes=15))


def test_an_unknown_or_malformed_link_is_not_found(repo, member):
    for token in ("A" * 43, "short", "x" * 500):
        with pytest.raises((NotFound, Gone)):
            console.sign_in(repo, token, now=PINNED_NOW)
        with pytest.raises(NotFound):
            console.inspect_link(repo, token, now=PINNED_NOW)


def test_at_most_5_links_a_member_an_hour(repo, member):
    mailer = RecordingMailer()
    for minute in range(LINKS_PER_HOUR):
        assert console.request_sign_in(repo, mailer, STAFF, base_url=BASE, now=PINNED_NOW + timedelta(minutes=minute))
    assert not console.request_sign_in(repo, mailer, STAFF, base_url=BASE, now=PINNED_NOW + timedelta(minutes=30))
    assert len(mailer.sent) == LINKS_PER_HOUR
    assert console.request_sign_in(repo, mailer, STAFF, base_url=BASE, now=PINNED_NOW + timedelta(minutes=60, seconds=1))


def test_a_removed_member_cannot_use_a_link_or_a_session(repo, member):
    mailer = RecordingMailer()
    session_token, _ = console.sign_in(repo, mailed(repo, mailer), now=PINNED_NOW)
    unused = mailed(repo, mailer)
    assert console.remove_member(repo, STAFF, actor="admin@vlaanderen.be", now=PINNED_NOW)
    assert console.signed_in(repo, session_token, now=PINNED_NOW) is None
    with pytest.raises(Gone):
        console.sign_in(repo, unused, now=PINNED_NOW)
    later = PINNED_NOW + timedelta(minutes=1)
    console.add_member(repo, STAFF, "An Staff", actor="test", now=later)
    assert console.signed_in(repo, session_token, now=later) is None  # added again: a new member, old sessions gone
    assert not console.remove_member(repo, "nobody@vlaanderen.be", actor="test")


def test_session_timeouts_idle_8_hours_at_most_12(repo, member):
    mailer = RecordingMailer()
    token, _ = console.sign_in(repo, mailed(repo, mailer), now=PINNED_NOW)
    for hours in (1, 7.9, 11, 11.99):
        assert console.signed_in(repo, token, now=PINNED_NOW + timedelta(hours=hours)) is not None, hours
    assert console.signed_in(repo, token, now=PINNED_NOW + timedelta(hours=12)) is None
    idle, _ = console.sign_in(repo, mailed(repo, mailer), now=PINNED_NOW)
    assert console.signed_in(repo, idle, now=PINNED_NOW + timedelta(hours=7, minutes=59)) is not None
    assert console.signed_in(repo, idle, now=PINNED_NOW + timedelta(hours=15, minutes=58)) is None  # idle 8 h, 12 h old


def test_sign_out_ends_the_session(repo, member):
    token, who = console.sign_in(repo, mailed(repo, RecordingMailer()), now=PINNED_NOW)
    console.sign_out(repo, who, now=PINNED_NOW)
    assert console.signed_in(repo, token, now=PINNED_NOW) is None


def test_csrf_tokens_are_per_session(repo, member):
    mailer = RecordingMailer()
    one_token, one = console.sign_in(repo, mailed(repo, mailer), now=PINNED_NOW)
    _, two = console.sign_in(repo, mailed(repo, mailer), now=PINNED_NOW)
    assert console.csrf_ok(one, one.csrf) and not console.csrf_ok(one, two.csrf)
    for sent in (None, "", one.csrf[:-1], one.csrf + "0", "é" * 64):
        assert not console.csrf_ok(one, sent)
    assert console.signed_in(repo, one_token, now=PINNED_NOW).csrf == one.csrf


def test_only_admins_pass_require_admin(repo, member):
    mailer = RecordingMailer()
    _, admin_or_not = console.sign_in(repo, mailed(repo, mailer), now=PINNED_NOW)
    with pytest.raises(Forbidden):
        console.require_admin(admin_or_not)


def test_sign_in_url_for_make_run(repo, member):
    url = console.sign_in_url(repo, STAFF, base_url=BASE, now=PINNED_NOW)
    assert url.startswith(f"{BASE}/console/sign-in/")
    console.sign_in(repo, url.rsplit("/", 1)[1], now=PINNED_NOW)
    with pytest.raises(Conflict):
        console.sign_in_url(repo, "nobody@vlaanderen.be", base_url=BASE, now=PINNED_NOW)


def test_nothing_secret_is_stored(dynamodb_repo):
    console.add_member(dynamodb_repo, STAFF, "An Staff", actor="test", now=PINNED_NOW)
    mailer = RecordingMailer()
    link = mailed(dynamodb_repo, mailer)
    session, who = console.sign_in(dynamodb_repo, link, now=PINNED_NOW)
    items = str(dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"])
    assert link not in items and session not in items and who.csrf not in items


def test_a_mail_that_fails_answers_as_any_other_address(repo, member):
    from chalicelib.errors import MailThrottled

    class Failing(RecordingMailer):
        def send(self, mail):
            raise MailThrottled("Throttling")

    assert not console.request_sign_in(repo, Failing(), STAFF, base_url=BASE, now=PINNED_NOW)


@pytest.mark.parametrize("floor_ms", [0, 400])
def test_asking_for_a_sign_in_link_takes_as_long_for_a_staff_address_as_for_another(repo, member, monkeypatch,
                                                                                   floor_ms):
    """A staff address's answer waited for SES (a link mailed); another's came at once: the timing told who is
    staff. With the form's answer floor, both come no sooner than the floor after the post began."""
    clock = {"now": 1000.0}
    monkeypatch.setattr(console, "_monotonic", lambda: clock["now"])
    monkeypatch.setattr(console, "_sleep", lambda seconds: clock.__setitem__("now", clock["now"] + seconds))

    class SlowMailer(RecordingMailer):
        def send(self, mail):
            clock["now"] += 0.060
            return super().send(mail)

    def answer_time(email: str) -> float:
        started = clock["now"]
        console.request_sign_in(repo, SlowMailer(), email, base_url=BASE, now=PINNED_NOW, floor_ms=floor_ms)
        return clock["now"] - started

    staff, other = answer_time(STAFF), answer_time("someone@vlaanderen.be")
    if floor_ms == 0:
        assert staff - other == pytest.approx(0.060)
    else:
        assert staff == other == pytest.approx(0.400)

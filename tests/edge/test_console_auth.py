"""The console's sign-in by mail over HTTP: every /console route refuses without a session, the cookie's
attributes, CSRF, sign-out, a removed member.

The route list is the app's own route table, not a list kept here: a route
added without ``console_route`` fails the walk.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.services import console
from tests.support.console import STAFF, csrf_of, sign_in
from tests.support.pages import FORM, html, link

OPEN = ("/console/sign-in",)  # the sign-in pages themselves (and /console/sign-in-sent, /console/sign-in/{token})


def console_routes():
    import app as app_module

    for path, methods in app_module.app.routes.items():
        if path == "/console" or path.startswith("/console/"):
            for method in methods:
                yield path, method


def guarded_routes():
    return [(path, method) for path, method in console_routes() if not path.startswith(OPEN)]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "webinar-2027-01-14", path)


def test_there_are_console_routes_to_check():
    assert len(guarded_routes()) >= 2


@pytest.mark.parametrize("path,method", guarded_routes())
def test_every_console_route_refuses_without_a_session(client, published, path, method, dynamodb_repo):
    before = dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"]
    for cookie in (None, "sro_console=" + "A" * 43, "sro_console=garbage;;"):
        headers = {**(FORM if method == "POST" else {}), **({"Cookie": cookie} if cookie else {})}
        response = client.http.request(method, concrete(path), headers=headers,
                                       body=b"csrf=x&confirm=yes" if method == "POST" else b"")
        if method in ("GET", "HEAD"):
            assert response.status_code == 303, (path, response.status_code)
            assert response.headers["Location"].startswith("/console/sign-in?")
        else:
            assert response.status_code == 403, (path, response.status_code)
    assert dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"] == before


@pytest.mark.parametrize("path,method", [(p, m) for p, m in guarded_routes() if m == "POST"])
def test_every_console_post_without_the_csrf_token_is_a_403_that_changes_nothing(
        client, mailer, published, dynamodb_repo, path, method):
    signed = sign_in(client, mailer, dynamodb_repo)
    before = dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"]
    for fields in ({}, {"csrf": ""}, {"csrf": "x" * 64}, {"csrf": [signed.csrf, signed.csrf]}):
        response = signed.post(concrete(path), {**fields, "confirm": "yes", "email": "an@example.be"}, csrf=False)
        assert response.status_code == 403, (path, fields)
    assert dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"] == before


def test_the_console_sends_anyone_without_a_session_to_sign_in(client):
    response = client.http.get("/console")
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/sign-in?lang=nl"


def test_sign_in_by_mail_and_the_cookie(client, mailer, dynamodb_repo):
    console.add_member(dynamodb_repo, STAFF, "An Staff", actor="test")
    page = client.http.get("/console/sign-in?lang=en")
    assert page.status_code == 200 and 'name="email"' in html(page)
    sent = client.http.post("/console/sign-in?lang=en", headers=FORM, body=urlencode({"email": "An.Staff@Vlaanderen.be"}))
    assert sent.status_code == 303 and sent.headers["Location"] == "/console/sign-in-sent?lang=en"
    [mail] = mailer.to(STAFF)
    path = link(mail, "/console/sign-in/")
    assert "List-Unsubscribe" not in mailer.sent[-1][1].decode()
    button = client.http.get(path)  # a mail scanner opening the link signs no one in
    assert button.status_code == 200 and "Set-Cookie" not in button.headers
    pressed = client.http.post(path, headers=FORM, body="")
    assert pressed.status_code == 303 and pressed.headers["Location"].startswith("/console")
    cookie = pressed.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes and "secure" not in attributes  # http here
    assert "SameSite=Strict" in cookie and "Path=/console" in cookie
    value = re.match(r"sro_console=([^;]+)", cookie).group(1)
    home = client.http.get("/console", headers={"Cookie": f"sro_console={value}"})
    assert home.status_code == 200 and "An Staff" in html(home)
    items = str(dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"])
    assert value not in items and path.rsplit("/", 1)[1] not in items  # stored hashed
    again = client.http.post(path, headers=FORM, body="")  # single use
    assert again.status_code == 410


def test_the_cookie_is_secure_on_https(client, mailer, dynamodb_repo, monkeypatch):
    monkeypatch.setenv("BASE_URL", "https://events.example.be")
    console.add_member(dynamodb_repo, STAFF, "An Staff", actor="test")
    client.http.post("/console/sign-in", headers=FORM, body=urlencode({"email": STAFF}))
    path = link(mailer.to(STAFF)[-1], "/console/sign-in/")
    cookie = client.http.post(path, headers=FORM, body="").headers["Set-Cookie"]
    assert cookie.endswith("; Secure")


def test_an_address_not_on_the_list_gets_the_same_answer_and_no_mail(client, mailer, dynamodb_repo):
    console.add_member(dynamodb_repo, STAFF, "An Staff", actor="test")
    answers = [client.http.post("/console/sign-in", headers=FORM, body=urlencode({"email": address}))
               for address in (STAFF, "someone.else@vlaanderen.be")]
    assert [(a.status_code, a.headers["Location"], a.body) for a in answers] == \
        [(303, "/console/sign-in-sent?lang=nl", answers[0].body)] * 2
    assert mailer.to("someone.else@vlaanderen.be") == [] and len(mailer.to(STAFF)) == 1


def test_a_malformed_address_is_shown_beside_the_field(client):
    response = client.http.post("/console/sign-in?lang=en", headers=FORM, body=urlencode({"email": "not an address"}))
    assert response.status_code == 400 and "Enter a valid email address" in html(response)
    assert 'value="not an address"' in html(response)


def test_sign_out_ends_the_session(client, mailer, dynamodb_repo):
    signed = sign_in(client, mailer, dynamodb_repo)
    out = signed.post("/console/sign-out")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["Set-Cookie"]
    assert signed.get("/console").status_code == 303


def test_removing_a_member_ends_their_sessions_at_once(client, mailer, dynamodb_repo, clock):
    signed = sign_in(client, mailer, dynamodb_repo, admin=False)
    assert signed.get("/console").status_code == 200
    console.remove_member(dynamodb_repo, STAFF, actor="test")
    assert signed.get("/console").status_code == 303
    clock.set(clock() + timedelta(minutes=1))
    console.add_member(dynamodb_repo, STAFF, "An Staff", actor="test")  # added again: the old session stays ended
    assert signed.get("/console").status_code == 303


def test_a_session_ends_after_8_idle_hours_and_after_12_hours_in_all(client, mailer, dynamodb_repo, clock):
    signed = sign_in(client, mailer, dynamodb_repo)
    start = clock()
    for hours in (4, 8, 11.9):  # used every 4 hours: alive until 12 hours after it began
        clock.set(start + timedelta(hours=hours))
        assert signed.get("/console").status_code == 200, hours
    clock.set(start + timedelta(hours=12))
    assert signed.get("/console").status_code == 303
    other = sign_in(client, mailer, dynamodb_repo)
    clock.set(clock() + timedelta(hours=8, seconds=1))
    assert other.get("/console").status_code == 303


def test_the_csrf_token_is_the_sessions_own(client, mailer, dynamodb_repo):
    one = sign_in(client, mailer, dynamodb_repo)
    two = sign_in(client, mailer, dynamodb_repo, email="bo.staff@vlaanderen.be", name="Bo")
    assert one.csrf != two.csrf
    assert one.post("/console/sign-out", {"csrf": two.csrf}, csrf=False).status_code == 403
    assert one.get("/console").status_code == 200


def test_a_form_sent_after_the_session_ended_says_you_are_signed_out_and_to_copy_what_you_typed(
        client, mailer, dynamodb_repo, clock):
    signed = sign_in(client, mailer, dynamodb_repo)
    clock.set(clock() + timedelta(hours=8, seconds=1))
    english = signed.post("/console/events/new?lang=en", {"title_nl": "Lang getypt"})
    assert english.status_code == 403
    assert "You are signed out" in html(english) and "go back" in html(english).lower()
    assert 'href="/console/sign-in?lang=en"' in html(english)
    dutch = signed.post("/console/events/new?lang=nl", {"title_nl": "Lang getypt"})
    assert dutch.status_code == 403 and "Je bent afgemeld" in html(dutch)

"""Driving the staff console through Chalice's test client: sign in by mail, read the CSRF token, post forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from chalicelib.services import console
from tests.support.pages import FORM, html, link

STAFF = "an.staff@vlaanderen.be"


@dataclass
class Console:
    """A signed-in browser: its cookie, and the CSRF token its forms carry."""

    client: object
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"sro_console={self.cookie}"}

    def get(self, path: str, **headers):
        return self.client.http.get(path, headers={**self.headers, **headers})

    def post(self, path: str, fields: dict | None = None, *, csrf: bool = True, **headers):
        data = dict(fields or {})
        if csrf:
            data.setdefault("csrf", self.csrf)
        return self.client.http.post(path, headers={**FORM, **self.headers, **headers}, body=urlencode(data, doseq=True))


def session_cookie(response) -> str:
    """The console cookie a response sets."""
    match = re.match(r"sro_console=([^;]*);", response.headers["Set-Cookie"])
    assert match, response.headers
    return match.group(1)


def csrf_of(page_html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_html).group(1)


def sign_in(client, mailer, repo, email: str = STAFF, name: str = "An Staff", admin: bool = True) -> Console:
    """Put ``email`` on the staff list (if absent), ask for a link, follow it from the mail, press the button."""
    if repo.get_staff_member(email) is None:
        console.add_member(repo, email, name, admin=admin, actor="test")
    assert client.http.post("/console/sign-in", headers=FORM, body=urlencode({"email": email})).status_code == 303
    path = link(mailer.to(email)[-1], "/console/sign-in/")
    assert client.http.get(path).status_code == 200
    pressed = client.http.post(path, headers=FORM, body="")
    assert pressed.status_code == 303, pressed.body
    cookie = session_cookie(pressed)
    home = client.http.get("/console", headers={"Cookie": f"sro_console={cookie}"})
    assert home.status_code == 200, home.body
    return Console(client, cookie, csrf_of(html(home)))


def form_value(page_html: str, name: str) -> str:
    """The value of a form's (hidden) input ``name`` in a page."""
    return re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page_html).group(1)

"""Driving the site through Chalice's test client: publish events, post the form, follow links in mails."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
WEBINAR = "webinar-2027-01-14"  # the id of tests.conftest.webinar_data()
DAY = "smart-region-dag-2027"  # the id of tests.conftest.day_data()


def html(response) -> str:
    return response.body.decode("utf-8")


def publish(client, staff_headers, *events) -> None:
    """Create (and so publish) each event through the staff API."""
    for data in events:
        response = client.http.post("/staff/events", headers=staff_headers, body=json.dumps(data))
        assert response.status_code == 201, response.body


def form_body(**fields) -> str:
    """The subscription form as a browser posts it: An Peeters for the webinar, unless ``fields`` say otherwise."""
    data = {"name": "An Peeters", "email": "an@example.be", "organisation": "Stad Gent",
            "event_ids": [WEBINAR], "question": "", "language": "nl", "consent": "on", "website": ""}
    data.update(fields)
    return urlencode(data, doseq=True)


def post_form(client, path="/subscriptions", headers=None, **fields):
    return client.http.post(path, headers={**FORM, **(headers or {})}, body=form_body(**fields))


def link(mail, path: str) -> str:
    """The path of the first link to ``path`` in a mail's text, without its query (``?lang=``)."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s<>\"?]*)", mail.text)
    assert match, f"no {path} link in {mail.subject!r}"
    return match.group(1)


def confirm_path(mailer, email="an@example.be") -> str:
    """The confirm link of the last mail to ``email``."""
    return link(mailer.to(email)[-1], "/confirm/")


def heading(page: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1).strip()


def confirm_as(client, mailer, email: str, event_ids: list[str], **fields) -> str:
    """Subscribe through the form and confirm; return the manage path."""
    post_form(client, email=email, event_ids=event_ids, **fields)
    assert client.http.post(confirm_path(mailer, email), headers=FORM, body="").status_code == 200
    return link(mailer.to(email)[-1], "/manage/")

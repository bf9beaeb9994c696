"""Trying it locally: the mail the app sent, read from moto's server as a page and as a command."""

from __future__ import annotations

import urllib.request
from urllib.parse import urlencode


def subscribe(live_server, address: str) -> None:
    body = urlencode({"name": "Outbox Tester", "email": address, "event_ids": "webinar-2027-01-14",
                      "consent": "on"}).encode()
    request = urllib.request.Request(f"{live_server.url}/subscriptions", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # 303 to /subscriptions/sent, followed
        assert answer.status == 200 and answer.url.endswith("/subscriptions/sent?lang=nl")


def test_outbox_page_and_command_show_the_mail_with_its_links(live_server):
    address = "outbox-tester@example.be"
    subscribe(live_server, address)
    [mail] = live_server.wait_for_mail(address)
    assert mail.recipients == [address]  # once, not twice
    confirm = next(link for link in mail.links if "/confirm/" in link)
    assert confirm.startswith(live_server.url)  # links point at the server that sent them

    with urllib.request.urlopen(f"{live_server.url}/outbox", timeout=10) as answer:
        page = answer.read().decode("utf-8")
    assert mail.subject in page
    assert f'<a href="{confirm}">' in page
    assert f"<dd>{address}</dd>" in page

    printed = live_server.cli("outbox")
    assert mail.subject in printed and confirm in printed and address in printed

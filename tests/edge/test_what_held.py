"""What held when the service was tried as an attacker would (issue 21, "What held"), kept as tests where no
other test pins it: staff routes however the path or method is bent, token links tampered, truncated or
swapped between people and purposes, replay after cancel and erasure, deep bodies, and an erasure that
leaves nothing in a full scan of the table.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.pages import FORM, WEBINAR, confirm_path, html, link, post_form

BENT_PATHS = ["/staff/events/", "/staff//events", "/STAFF/events", "/Staff/events", "/staff/./events",
              "/staff/events/%2e%2e/audit", "/staff/events/..%2faudit", "/staff%2fevents", "/staff/audit;x",
              "/staff/events?/staff/audit", "/./staff/events"]
# (OPTIONS has its own test, test_security's CORS ones: chalice local stands in for it. "//staff/..." is read by the
# test client as a host and a path, so it cannot be asked here.)


@pytest.mark.parametrize("path", BENT_PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def test_no_bent_staff_path_or_method_lets_anyone_in(client, published, path, method):
    response = client.http.request(method, path, headers={"Content-Type": "application/json",
                                                          "Authorization": "Bearer " + "A" * 43}, body=b"{}")
    assert response.status_code in (401, 403, 404, 405), (path, method, response.status_code)
    assert b"meet.example.org" not in response.body and b"an@example.be" not in response.body


@pytest.fixture
def two_people(client, published, mailer):
    """An and Bo, confirmed for the webinar: their manage paths."""
    paths = {}
    for address in ("an@example.be", "bo@example.be"):
        post_form(client, email=address)
        assert client.http.post(confirm_path(mailer, address), headers=FORM, body="").status_code == 200
        paths[address] = link(mailer.to(address)[-1], "/manage/")
    return paths


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def tampered(token: str) -> list[str]:
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    middle = token[:30] + ("x" if token[30] != "x" else "y") + token[31:]
    return [flipped, middle, token[:-1], token[:40], token + "A", token.upper(), token[::-1]]


def test_tampered_or_truncated_person_links_are_not_found(client, two_people):
    for bad in tampered(token_of(two_people["an@example.be"])):
        for path in (f"/manage/{bad}", f"/unsubscribe/{bad}", f"/feeds/{bad}.ics"):
            assert client.http.get(path).status_code == 404, (path, bad)


def test_a_link_swapped_between_people_or_purposes_is_not_found(client, two_people):
    an, bo = (token_of(two_people[a]) for a in ("an@example.be", "bo@example.be"))
    assert client.http.get(f"/manage/{an}").status_code == 200
    # An's person id with Bo's signature, and the other way round.
    assert client.http.get(f"/manage/{an[:22]}{bo[22:]}").status_code == 404
    assert client.http.get(f"/manage/{bo[:22]}{an[22:]}").status_code == 404
    # A manage link used as a feed or unsubscribe link, and the purpose letter changed.
    assert client.http.get(f"/feeds/{an}.ics").status_code == 404
    assert client.http.get(f"/unsubscribe/{an}").status_code == 404
    for code in "fu":
        assert client.http.get(f"/manage/{an[:22]}{code}{an[23:]}").status_code == 404


def test_a_tampered_confirm_link_is_not_found(client, published, mailer):
    post_form(client)
    path = confirm_path(mailer)
    for bad in tampered(token_of(path)):
        assert client.http.get(f"/confirm/{bad}").status_code == 404, bad
        assert client.http.post(f"/confirm/{bad}", headers=FORM, body="").status_code == 404


def test_replaying_a_cancel_or_links_after_an_erasure_changes_nothing(client, two_people, dynamodb_repo, mailer):
    an = two_people["an@example.be"]
    cancel = f"{an}/events/{WEBINAR}/cancel"
    first = client.http.post(cancel, headers=FORM, body="confirm=yes")
    again = client.http.post(cancel, headers=FORM, body="confirm=yes")
    assert first.status_code in (200, 303) and again.status_code in (200, 303)
    assert [r.status for r in dynamodb_repo.list_registrations(WEBINAR) if r.email == "an@example.be"] == \
        ["cancelled"]
    assert dynamodb_repo.get_event(WEBINAR).seats_taken == 1  # Bo's seat only: the replay gave none back twice
    bo = two_people["bo@example.be"]
    confirm = link([m for m in mailer.to("bo@example.be") if m.kind == "confirm_request"][-1], "/confirm/")
    assert client.http.post(f"{bo}/erase", headers=FORM, body="confirm=yes").status_code == 303
    sent = len(mailer.sent)
    for method, path in (("POST", f"{bo}/erase"), ("POST", f"{bo}/events/{WEBINAR}/cancel"), ("GET", bo),
                         ("POST", confirm), ("POST", f"{confirm}/resend"), ("GET", f"/feeds/{token_of(bo)}.ics")):
        response = client.http.get(path) if method == "GET" else \
            client.http.request(method, path, headers=FORM, body="confirm=yes")
        assert response.status_code in (303, 404, 410), (method, path, response.status_code)
    assert len(mailer.sent) == sent and dynamodb_repo.get_event(WEBINAR).seats_taken == 0
    assert not [r for r in dynamodb_repo.list_registrations(WEBINAR) if r.email == "bo@example.be"]


def test_an_erasure_leaves_nothing_of_the_person_in_a_full_scan(client, two_people, dynamodb_repo, mailer,
                                                                  staff_headers):
    client.http.get(f"/staff/subscribers?email=bo@example.be", headers=staff_headers)
    assert client.http.delete("/staff/subscribers?email=bo@example.be", headers=staff_headers).status_code == 200
    person_ids = {m.group(1) for m in re.finditer(r"/manage/([\w-]{22})", two_people["bo@example.be"])}
    items = json.dumps(dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"], default=repr)
    assert "bo@example.be" not in items and "Bo" not in re.findall(r'"(Bo)\b', items)
    assert not any(person_id in items for person_id in person_ids)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deeply_nested_body_is_a_400_not_a_crash(client, depth):
    body = "[" * depth + "]" * depth
    response = client.http.post("/subscriptions", headers={"Content-Type": "application/json"}, body=body)
    assert response.status_code in (400, 413)
    page = client.http.post("/subscriptions", headers=FORM, body="event_ids=" + "%5B" * depth)
    assert page.status_code in (400, 413), html(page)[:200]

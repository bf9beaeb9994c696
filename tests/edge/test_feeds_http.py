"""The feed routes through chalice.test.Client: headers, 304, HEAD, and one DynamoDB call per poll."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta

import pytest

from chalicelib import times
from tests.conftest import PINNED_NOW, day_data, webinar_data
from tests.feed_support import parse_both


def post(client, headers, data):
    reply = client.http.post("/staff/events", headers=headers, body=json.dumps(data))
    assert reply.status_code == 201, reply.body
    return json.loads(reply.body)


@contextmanager
def counting_dynamodb_calls(repo):
    """Count the DynamoDB API calls made inside the block (botocore event hook)."""
    calls: list[str] = []

    def count(event_name, **kwargs):
        calls.append(event_name.rsplit(".", 1)[-1])

    events = repo.client.meta.events
    events.register("before-call.dynamodb.*", count)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb.*", count)


@pytest.fixture
def published(client, staff_headers):
    post(client, staff_headers, webinar_data())
    post(client, staff_headers, day_data())


def test_feed_is_served_as_text_calendar_with_validators(client, published):
    reply = client.http.get("/calendar.ics")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert reply.headers["ETag"].startswith('"')
    # Two events made in the same (pinned) second: the second version is numbered a second later.
    assert reply.headers["Last-Modified"] == times.format_http_date(PINNED_NOW + timedelta(seconds=1))
    assert "max-age" in reply.headers["Cache-Control"]
    py, js = parse_both(reply.body)
    assert [e["uid"] for e in js["events"]] == [
        "webinar-2027-01-14@events.smartregion.vlaanderen.be",
        "smart-region-dag-2027@events.smartregion.vlaanderen.be",
    ]
    assert js["method"] is None


def test_public_feed_never_shows_the_join_link(client, published):
    body = client.http.get("/calendar.ics").body
    assert b"meet.example.org" not in body and b"CONFERENCE" not in body


def test_english_feed(client, published):
    _, js = parse_both(client.http.get("/calendar.ics?lang=en").body)
    assert js["events"][0]["summary"] == "Smart Region webinar"
    assert js["name"] == "Smart Region Office – events"


def test_unknown_language_is_a_400(client, published):
    reply = client.http.get("/calendar.ics?lang=fr")
    assert reply.status_code == 400
    assert json.loads(reply.body)["Message"].startswith("lang:")


def test_etag_is_stable_across_requests_and_time(client, published, clock):
    first = client.http.get("/calendar.ics")
    clock.set(PINNED_NOW + timedelta(days=2))
    second = client.http.get("/calendar.ics")
    assert second.headers["ETag"] == first.headers["ETag"] and second.body == first.body


def test_if_none_match_gives_304_without_body(client, published):
    etag = client.http.get("/calendar.ics").headers["ETag"]
    reply = client.http.get("/calendar.ics", headers={"If-None-Match": etag})
    assert reply.status_code == 304 and reply.body == b""
    assert reply.headers["ETag"] == etag
    assert reply.headers["Cache-Control"]


def test_if_modified_since_gives_304(client, published):
    modified = client.http.get("/calendar.ics").headers["Last-Modified"]
    reply = client.http.get("/calendar.ics", headers={"If-Modified-Since": modified})
    assert reply.status_code == 304 and reply.body == b""


def test_garbage_validators_get_the_full_feed(client, published):
    for headers in ({"If-None-Match": '"nonsense"'}, {"If-Modified-Since": "yesterday"},
                    {"If-None-Match": "W/\"" + "9" * 40 + "\""},
                    {"If-None-Match": '"\u00b2-x"'},  # a digit to str.isdigit, not to int()
                    {"If-Modified-Since": "Fri, 31 Dec 9999 23:59:59 -0100"}):  # past the calendar's end in UTC
        for path in ("/calendar.ics", "/events/webinar-2027-01-14/calendar.ics"):
            assert client.http.get(path, headers=headers).status_code == 200, (path, headers)


def test_event_change_changes_etag_and_answers_200(client, staff_headers, published, clock):
    first = client.http.get("/calendar.ics")
    clock.set(PINNED_NOW + timedelta(minutes=3))
    reply = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                              body=json.dumps({"starts_at": "2027-01-14T10:30:00+01:00"}))
    assert reply.status_code == 200
    after = client.http.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    _, js = parse_both(after.body)
    assert js["events"][0]["start"] == "2027-01-14T09:30:00.000Z"
    assert js["events"][0]["sequence"] == 1


def test_cancelled_event_stays_in_the_feed_as_cancelled(client, staff_headers, published):
    assert client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers).status_code == 200
    _, js = parse_both(client.http.get("/calendar.ics").body)
    cancelled = [e for e in js["events"] if e["uid"].startswith("webinar-2027-01-14@")]
    assert cancelled[0]["status"] == "CANCELLED"


def test_drafts_are_not_in_the_feed(client, staff_headers, published):
    post(client, staff_headers, webinar_data(id="concept", status="draft"))
    assert b"concept@" not in client.http.get("/calendar.ics").body


def test_head_answers_headers_without_body(client, published):
    get = client.http.get("/calendar.ics")
    head = client.http.head("/calendar.ics")
    assert head.status_code == 200 and head.body == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == "text/calendar; charset=utf-8"


def test_a_poll_costs_one_dynamodb_call_whatever_the_number_of_events(client, staff_headers, dynamodb_repo):
    for n in range(30):
        post(client, staff_headers, webinar_data(id=f"webinar-{n}", starts_at=f"2027-02-{n % 28 + 1:02d}T10:00:00+01:00",
                                                 ends_at=f"2027-02-{n % 28 + 1:02d}T11:00:00+01:00"))
    client.http.get("/calendar.ics")
    with counting_dynamodb_calls(dynamodb_repo) as calls:
        full = client.http.get("/calendar.ics")
    assert full.status_code == 200 and calls == ["Query"]
    with counting_dynamodb_calls(dynamodb_repo) as calls:
        not_modified = client.http.get("/calendar.ics", headers={"If-None-Match": full.headers["ETag"]})
    assert not_modified.status_code == 304 and calls == ["Query"]
    with counting_dynamodb_calls(dynamodb_repo) as calls:
        client.http.head("/calendar.ics")
    assert calls == ["Query"]


def test_a_304_poll_reads_no_item(client, published, dynamodb_repo):
    etag = client.http.get("/calendar.ics").headers["ETag"]
    replies = []

    def record(parsed, **kwargs):
        replies.append(parsed)

    dynamodb_repo.client.meta.events.register("after-call.dynamodb.Query", record)
    try:
        assert client.http.get("/calendar.ics", headers={"If-None-Match": etag}).status_code == 304
    finally:
        dynamodb_repo.client.meta.events.unregister("after-call.dynamodb.Query", record)
    assert replies[0]["Count"] == 0


# ------------------------------------------------------------- one event


def test_one_event_has_the_same_uid_as_in_the_feed(client, published):
    one = client.http.get("/events/smart-region-dag-2027/calendar.ics")
    assert one.status_code == 200
    assert one.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert 'filename="smart-region-dag-2027.ics"' in one.headers["Content-Disposition"]
    _, js = parse_both(one.body)
    assert [e["uid"] for e in js["events"]] == ["smart-region-dag-2027@events.smartregion.vlaanderen.be"]
    assert js["events"][0]["start"] == "2027-06-03T07:00:00.000Z"
    assert js["method"] is None


def test_one_event_in_english_and_without_join_link(client, published):
    one = client.http.get("/events/webinar-2027-01-14/calendar.ics?lang=en")
    _, js = parse_both(one.body)
    assert js["events"][0]["summary"] == "Smart Region webinar"
    assert b"meet.example.org" not in one.body


def test_one_event_304_and_head(client, published, dynamodb_repo):
    first = client.http.get("/events/webinar-2027-01-14/calendar.ics")
    with counting_dynamodb_calls(dynamodb_repo) as calls:
        again = client.http.get("/events/webinar-2027-01-14/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.body == b"" and calls == ["GetItem"]
    since = client.http.get("/events/webinar-2027-01-14/calendar.ics",
                            headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    head = client.http.head("/events/webinar-2027-01-14/calendar.ics")
    assert head.status_code == 200 and head.body == b"" and head.headers["ETag"] == first.headers["ETag"]


def test_one_cancelled_event_is_served_as_cancelled(client, staff_headers, published):
    client.http.post("/staff/events/webinar-2027-01-14/cancel", headers=staff_headers)
    _, js = parse_both(client.http.get("/events/webinar-2027-01-14/calendar.ics").body)
    assert js["events"][0]["status"] == "CANCELLED"


def test_drafts_and_unknown_events_are_404(client, staff_headers, published):
    post(client, staff_headers, webinar_data(id="concept", status="draft"))
    assert client.http.get("/events/concept/calendar.ics").status_code == 404
    assert client.http.get("/events/nope/calendar.ics").status_code == 404
    assert client.http.get("/events/webinar-2027-01-14/calendar.ics?lang=xx").status_code == 400


HOSTILE_TITLE = "C:\\Nieuw, \\\\fileserver\\Netwerk\\Notulen; \\n \"quoted\"\ttab 😀 𝄞"


def test_a_hostile_text_sent_to_the_staff_api_comes_back_exactly_from_every_feed(client, staff_headers,
                                                                                 subscribe_and_confirm, mailer):
    from tests.feed_support import parse_three

    post(client, staff_headers, webinar_data(id="hostile", title={"nl": HOSTILE_TITLE, "en": HOSTILE_TITLE},
                                             description={"nl": HOSTILE_TITLE + "\nC:\\Nieuw"}))
    post(client, staff_headers, day_data(id="hostile-day", location={"name": HOSTILE_TITLE, "address": "\\\\N"}))
    manage = subscribe_and_confirm("an@example.be", ["hostile"])
    feed = next(m for m in mailer.to("an@example.be") if m.kind == "confirmed").text
    feed_path = feed[feed.index("/feeds/"):].split()[0]
    for path in ("/calendar.ics", "/calendar.ics?lang=en", "/events/hostile/calendar.ics", feed_path,
                 f"{manage}/events/hostile/invite.ics", "/events/hostile-day/calendar.ics"):
        answer = client.http.get(path)
        assert answer.status_code == 200, path
        for reader in parse_three(answer.body):
            by_uid = {e["uid"].split("@")[0]: e for e in reader["events"]}
            if "hostile" in by_uid:
                assert by_uid["hostile"]["summary"] == HOSTILE_TITLE, path
                assert by_uid["hostile"]["description"].startswith(HOSTILE_TITLE + "\nC:\\Nieuw"), path
            if "hostile-day" in by_uid:
                assert by_uid["hostile-day"]["location"] == HOSTILE_TITLE + ", \\\\N", path

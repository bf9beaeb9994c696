"""The repository contract for feed versions, and the stored public feed, against both repositories."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.services import events
from chalicelib.services import public_feed
from chalicelib import times
from chalicelib.model.feed import FeedVersion
from chalicelib.services.public_feed import read_public_feed, refresh_public_feeds
from tests.conftest import PINNED_NOW, SETTINGS, day_data, webinar_data

T = int(PINNED_NOW.timestamp())


def version(number, body=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", feed="CALENDAR#nl"):
    return FeedVersion(feed=feed, version=number, body=body, etag=f'"{number}-x"', built_at=PINNED_NOW)


def test_no_feed_version_is_none(repo):
    assert repo.latest_feed_version("CALENDAR#nl", after=None, upto=T) is None


def test_stored_version_reads_back_equal(repo):
    body = "BEGIN:VCALENDAR\r\nX:日本語 😀\r\nEND:VCALENDAR\r\n".encode() * 50
    assert repo.put_feed_versions([version(T, body)])
    assert repo.latest_feed_version("CALENDAR#nl", after=None, upto=T) == version(T, body)


def test_latest_version_is_the_newest_within_bounds(repo):
    assert repo.put_feed_versions([version(T - 10), version(T + 100)])
    assert repo.put_feed_versions([version(T)])
    assert repo.latest_feed_version("CALENDAR#nl", after=None, upto=T).version == T
    assert repo.latest_feed_version("CALENDAR#nl", after=None, upto=T + 100).version == T + 100
    assert repo.latest_feed_version("CALENDAR#nl", after=T - 10, upto=T).version == T
    assert repo.latest_feed_version("CALENDAR#nl", after=T, upto=T + 99) is None
    assert repo.latest_feed_version("CALENDAR#en", after=None, upto=T + 100) is None


def test_current_version_number_taken_is_refused(repo):
    assert repo.put_feed_versions([version(T)])
    assert not repo.put_feed_versions([replace(version(T), body=b"other")])
    assert repo.latest_feed_version("CALENDAR#nl", after=None, upto=T).body != b"other"


# ------------------------------------------------------------ the service


def publish(repo, data, now=PINNED_NOW):
    return events.create_event(repo, data, actor="tester", now=now, base_url=SETTINGS.base_url)


def test_event_write_stores_both_languages(repo):
    publish(repo, webinar_data())
    nl = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    en = read_public_feed(repo, "en", now=PINNED_NOW, base_url=SETTINGS.base_url)
    assert b"Webinar Smart Region" in nl.body and b"Smart Region webinar" in en.body
    assert nl.status == en.status == 200


def test_poll_with_current_etag_is_not_modified(repo):
    publish(repo, webinar_data())
    first = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    again = read_public_feed(repo, "nl", if_none_match=first.etag, now=PINNED_NOW + timedelta(hours=1),
                             base_url=SETTINGS.base_url)
    assert (again.status, again.body, again.etag) == (304, None, first.etag)


def test_draft_change_keeps_etag(repo, clock):
    publish(repo, webinar_data())
    first = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    clock.set(PINNED_NOW + timedelta(minutes=5))
    publish(repo, webinar_data(id="draft", status="draft"), now=clock())
    assert read_public_feed(repo, "nl", now=clock(), base_url=SETTINGS.base_url).etag == first.etag


def test_published_change_gives_new_etag_and_newer_last_modified(repo, clock):
    publish(repo, webinar_data())
    first = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    clock.set(PINNED_NOW + timedelta(minutes=5))
    events.change_event(repo, "webinar-2027-01-14", {"title": "Nieuwe titel"}, actor="tester", now=clock(),
                        base_url=SETTINGS.base_url)
    second = read_public_feed(repo, "nl", if_none_match=first.etag, now=clock(), base_url=SETTINGS.base_url)
    assert second.status == 200 and b"Nieuwe titel" in second.body
    assert second.etag != first.etag and second.last_modified > first.last_modified


def test_changes_within_one_second_still_give_new_versions(repo):
    publish(repo, webinar_data())
    first = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    events.change_event(repo, "webinar-2027-01-14", {"title": "Een"}, actor="t", now=PINNED_NOW,
                        base_url=SETTINGS.base_url)
    events.change_event(repo, "webinar-2027-01-14", {"title": "Twee"}, actor="t", now=PINNED_NOW,
                        base_url=SETTINGS.base_url)
    latest = read_public_feed(repo, "nl", if_none_match=first.etag, now=PINNED_NOW, base_url=SETTINGS.base_url)
    assert latest.status == 200 and b"Twee" in latest.body


def test_if_modified_since_alone(repo, clock):
    from chalicelib.services import events
    from chalicelib.services import public_feed

    publish(repo, webinar_data())
    first = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    since = times.format_http_date(first.last_modified)
    assert read_public_feed(repo, "nl", if_modified_since=since, now=PINNED_NOW,
                            base_url=SETTINGS.base_url).status == 304
    clock.set(PINNED_NOW + timedelta(seconds=1))
    events.change_event(repo, "webinar-2027-01-14", {"title": "Nieuw"}, actor="t", now=clock(),
                        base_url=SETTINGS.base_url)
    assert read_public_feed(repo, "nl", if_modified_since=since, now=clock(), base_url=SETTINGS.base_url).status == 200


def test_cancelled_event_leaves_the_feed_after_30_days_without_a_write(repo, clock):
    publish(repo, webinar_data())
    publish(repo, day_data())
    events.cancel_event(repo, "webinar-2027-01-14", actor="t", now=PINNED_NOW, base_url=SETTINGS.base_url)
    during = read_public_feed(repo, "nl", now=PINNED_NOW + timedelta(days=29), base_url=SETTINGS.base_url)
    assert b"STATUS:CANCELLED" in during.body and b"webinar-2027-01-14@" in during.body
    late = PINNED_NOW + timedelta(days=30)
    assert read_public_feed(repo, "nl", if_none_match=during.etag, now=late - timedelta(seconds=1),
                            base_url=SETTINGS.base_url).status == 304
    after = read_public_feed(repo, "nl", if_none_match=during.etag, now=late, base_url=SETTINGS.base_url)
    assert after.status == 200 and b"webinar-2027-01-14@" not in after.body
    assert b"smart-region-dag-2027@" in after.body
    assert read_public_feed(repo, "nl", if_none_match=after.etag, now=late + timedelta(days=1),
                            base_url=SETTINGS.base_url).status == 304


def test_first_poll_on_an_empty_store_renders_the_feed(repo):
    publish(repo, webinar_data())
    repo_versions = getattr(repo, "feed_versions", None)
    if repo_versions is not None:
        repo_versions.clear()
    else:
        from chalicelib.adapters.dynamodb.keys import S

        for item in repo.client.query(TableName=repo.table, KeyConditionExpression="PK = :pk",
                                      ExpressionAttributeValues={":pk": S("FEED")})["Items"]:
            repo.client.delete_item(TableName=repo.table, Key={"PK": item["PK"], "SK": item["SK"]})
    reply = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    assert reply.status == 200 and b"Webinar Smart Region" in reply.body


def test_refresh_failure_does_not_fail_the_event_write(memory_repo, monkeypatch):
    from chalicelib.errors import Unavailable

    def broken(*args, **kwargs):
        raise Unavailable("storage: ThrottlingException")

    monkeypatch.setattr(memory_repo, "put_feed_versions", broken)
    event = publish(memory_repo, webinar_data())
    assert memory_repo.get_event(event.id) is not None
    monkeypatch.undo()
    # Repeating the change (even a no-op) renders the feed again.
    events.change_event(memory_repo, event.id, {}, actor="t", now=PINNED_NOW, base_url=SETTINGS.base_url)
    assert memory_repo.latest_feed_version("CALENDAR#nl", after=None, upto=2**40) is not None


def test_refresh_with_no_change_writes_nothing(memory_repo):
    publish(memory_repo, webinar_data())
    stored = dict(memory_repo.feed_versions)
    refresh_public_feeds(memory_repo, PINNED_NOW + timedelta(hours=1), base_url=SETTINGS.base_url)
    assert memory_repo.feed_versions == stored


def test_versioned_etag_changes_with_the_bytes():
    assert public_feed.versioned_etag(5, b"a", "nl") != public_feed.versioned_etag(5, b"b", "nl")
    assert public_feed.versioned_etag(5, b"a", "nl").startswith('"5-nl-')


def test_the_other_languages_etag_gets_the_full_feed(repo):
    publish(repo, webinar_data())
    nl = read_public_feed(repo, "nl", now=PINNED_NOW, base_url=SETTINGS.base_url)
    en = read_public_feed(repo, "en", if_none_match=nl.etag, now=PINNED_NOW,
                          base_url=SETTINGS.base_url)  # both numbered in the same second
    assert en.status == 200 and b"Smart Region webinar" in en.body
    assert read_public_feed(repo, "nl", if_none_match=nl.etag, now=PINNED_NOW, base_url=SETTINGS.base_url).status == 304


def test_a_slow_writer_whose_read_came_last_still_stores_its_change(repo, clock):
    """Two changes at once: the later request reads the events first; the earlier one's feed must still land."""
    publish(repo, webinar_data())
    slow_started = PINNED_NOW + timedelta(minutes=1)
    clock.set(PINNED_NOW + timedelta(minutes=2))
    events.change_event(repo, "webinar-2027-01-14", {"title": "Tweede titel"}, actor="fast", now=clock(),
                        base_url=SETTINGS.base_url)
    # The slow request's change lands now, and its feed is read now, but its clock says it started earlier.
    event = repo.get_event("webinar-2027-01-14")
    repo.update_event(replace(event, title={"nl": "Derde titel", "en": "Third title"}), previous=event)
    clock.set(PINNED_NOW + timedelta(minutes=3))
    refresh_public_feeds(repo, slow_started, base_url=SETTINGS.base_url)
    assert b"Derde titel" in read_public_feed(repo, "nl", now=clock(), base_url=SETTINGS.base_url).body


def test_a_client_date_in_the_future_is_not_sent_back_as_last_modified(repo):
    publish(repo, webinar_data())
    reply = read_public_feed(repo, "nl", if_modified_since="Fri, 01 Jan 2100 00:00:00 GMT", now=PINNED_NOW,
                             base_url=SETTINGS.base_url)
    assert reply.status == 304 and reply.last_modified <= PINNED_NOW

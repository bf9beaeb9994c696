"""The public feed, rendered when events change and served at one read per poll.

Every event write (events.py) renders ``/calendar.ics`` in each language and
stores it as a numbered *version*; a poll is one Query for the newest version
the client does not have yet:

- Versions are numbered by the second they were made (epoch seconds, always
  rising), which is also their Last-Modified, and their ETag is
  ``"<number>-<hash of the bytes>"``. A poll carrying an ETag (or an
  If-Modified-Since) asks only for versions numbered above the client's: an
  empty answer is a 304, whose cost does not depend on the feed's size.
- A new version is stored only when the bytes differ from the newest one's,
  so the ETag changes when, and only when, the feed's content does.
- A cancelled event leaves the feed 30 days after its cancellation, with no
  write to trigger it. So the same write also stores the feed as it will be
  at each such moment, numbered ``moment + SCHEDULE_SLACK``; polls look at
  most ``SCHEDULE_SLACK`` seconds ahead, so each scheduled version shows up
  exactly at its moment.
- If no version exists (first poll after a deploy), the poll renders and
  stores one.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from chalicelib import times
from chalicelib.errors import DomainError
from chalicelib.model.event import Event
from chalicelib.model.feed import FeedReply, FeedVersion
from chalicelib.ports import Repository
from chalicelib.render.ical import LANGUAGES, build_calendar, feed_etag, in_public_feed, public_feed_leaves_at

log = logging.getLogger(__name__)

# How far ahead of now a poll looks; also how many versions a burst of
# writes within one second may number ahead of the clock.
SCHEDULE_SLACK = 60
CACHE_CONTROL = "public, max-age=300"


def feed_name(lang: str) -> str:
    return f"CALENDAR#{lang}"


def versioned_etag(version: int, body: bytes, lang: str) -> str:
    """Return the public feed's ETag: its version number, its language and its bytes' hash."""
    return f'"{version}-{lang}-{feed_etag(body).strip(chr(34))}"'


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def public_events(events: list[Event], at: datetime) -> list[Event]:
    """Return the events the public feed shows at ``at``."""
    return [e for e in events if in_public_feed(e, at)]


def render_public_feed(events: list[Event], lang: str, at: datetime, base_url: str) -> bytes:
    """Render the public feed as it is at ``at``."""
    return build_calendar(public_events(events, at), lang=lang, base_url=base_url, include_join_link=False)


# -------------------------------------------------------------- writing


def refresh_public_feeds(repo: Repository, now: datetime | None = None, *, base_url: str) -> None:
    """Re-render the stored public feeds after an event changed; a storage fault is logged, never raised.

    The event itself is stored already: failing the staff request would only
    invite a retry that finds nothing to change. The next event write, or a
    repeat of this one, renders the feed again.
    """

    try:
        # The feed is as of the moment the events are read, not the request's
        # start: a slower writer that read later must not lose to a faster
        # one that read before its change landed.
        read_at = times.now() if now is None else max(now, times.now())
        events = repo.list_events()
        for lang in LANGUAGES:
            store_public_feed(repo, lang, events, read_at, base_url)
    except DomainError as exc:
        log.warning("public feed not refreshed: %s", exc.message)


def store_public_feed(repo: Repository, lang: str, events: list[Event], now: datetime, base_url: str) -> FeedVersion:
    """Store the public feed in ``lang`` made from ``events`` as read at ``now``, unless it is unchanged; return the newest version."""
    feed = feed_name(lang)
    body = render_public_feed(events, lang, now, base_url)
    digest = feed_etag(body).strip('"')
    for _ in range(5):
        newest = repo.latest_feed_version(feed, after=None, upto=_epoch(now) + SCHEDULE_SLACK)
        if newest is not None:
            if newest.built_at > now or newest.etag.endswith(f'-{digest}"'):
                # Unchanged, or made from a later read of the events than ours.
                return newest
        number = max(_epoch(now), newest.version + 1 if newest else 0)
        current = FeedVersion(feed, number, body, versioned_etag(number, body, lang), now)
        if repo.put_feed_versions([current, *_scheduled_versions(events, lang, now, base_url, feed)]):
            return current
    raise RuntimeError(f"feed {feed}: five writers raced for the same version number")


def _scheduled_versions(events: list[Event], lang: str, now: datetime, base_url: str, feed: str) -> list[FeedVersion]:
    """Render the feed as it will be each time a cancelled event leaves it."""
    moments = sorted({
        math.ceil(leaves.timestamp()) for e in events
        if (leaves := public_feed_leaves_at(e)) is not None and leaves > now
    })
    versions = []
    for moment in moments:
        at = datetime.fromtimestamp(moment, times.UTC)
        body = render_public_feed(events, lang, at, base_url)
        number = moment + SCHEDULE_SLACK
        versions.append(FeedVersion(feed, number, body, versioned_etag(number, body, lang), at))
    return versions


# -------------------------------------------------------------- reading


def _client_version(if_none_match: str | None, if_modified_since: str | None, lang: str) -> tuple[int | None, str | None]:
    """Return the newest version number of the ``lang`` feed the client says it has, and the ETag it sent for it.

    A tag of the other language's feed (its numbers run alike) counts for nothing.
    """
    if if_none_match:
        best: tuple[int | None, str | None] = (None, None)
        for tag in if_none_match.split(","):
            tag = tag.strip()
            raw = tag[2:] if tag.startswith("W/") else tag
            number, _, rest = raw.strip('"').partition("-")
            if not rest.startswith(f"{lang}-"):
                continue
            if number.isascii() and number.isdigit() and len(number) <= 12 and (best[0] is None or int(number) > best[0]):
                best = (int(number), raw)
        # If-Modified-Since is ignored when If-None-Match is present (RFC 9110 13.1.3).
        return best
    since = times.parse_http_date(if_modified_since)
    return (_epoch(since), None) if since is not None else (None, None)


def read_public_feed(repo: Repository, lang: str, *, base_url: str, if_none_match: str | None = None,
                     if_modified_since: str | None = None, now: datetime | None = None) -> FeedReply:
    """Answer a poll of the public feed with one read: 304 when the client is current, else the newest version."""
    now = now or times.now()
    known, known_etag = _client_version(if_none_match, if_modified_since, lang)
    newest = repo.latest_feed_version(feed_name(lang), after=known, upto=_epoch(now) + SCHEDULE_SLACK)
    if newest is None and known is not None:
        # Never a Last-Modified later than now (RFC 9110 8.8.2.1), whatever date the client sent.
        return FeedReply(304, None, known_etag,
                         min(datetime.fromtimestamp(known, times.UTC), now) if known_etag is None else None)
    if newest is None:
        # Nothing stored yet (a new table, or versions cleared by TTL).
        newest = store_public_feed(repo, lang, repo.list_events(), now, base_url)
    if if_none_match and not_modified(newest.etag, newest.last_modified, if_none_match, None):
        return FeedReply(304, None, newest.etag, newest.last_modified)
    return FeedReply(200, newest.body, newest.etag, newest.last_modified)


def not_modified(etag: str, last_modified: datetime | None, if_none_match: str | None,
                 if_modified_since: str | None) -> bool:
    """Whether a GET with these validators gets 304 (RFC 9110: If-None-Match first, weak comparison)."""
    if if_none_match:
        tags = [t.strip() for t in if_none_match.split(",")]
        if "*" in tags:
            return True
        bare = etag[2:] if etag.startswith("W/") else etag
        return any((t[2:] if t.startswith("W/") else t) == bare for t in tags)
    since = times.parse_http_date(if_modified_since)
    if since is None or last_modified is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def read_event_calendar(event: Event, lang: str, *, base_url: str,
                        if_none_match: str | None = None, if_modified_since: str | None = None) -> FeedReply:
    """Answer a download of one published or cancelled event (same UID as in the feed).

    The caller reads the event (``events.get_public_event``: one read) and hands it over.
    """
    # One event to add, not a calendar to subscribe to: no calendar name (feeds.build_calendar).
    body = build_calendar([event], lang=lang, base_url=base_url, include_join_link=False, feed=False)
    etag = feed_etag(body)
    changed = event.updated_at or event.created_at
    if not_modified(etag, changed, if_none_match, if_modified_since):
        return FeedReply(304, None, etag, changed)
    return FeedReply(200, body, etag, changed)

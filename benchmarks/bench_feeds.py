"""Benchmark of the public feed: poll cost and build time for 10, 100 and 1,000 events.

For each size, on moto's in-process DynamoDB (mock_aws) and through
chalice.test.Client: the median time of a full poll (200) and of a 304 poll,
the DynamoDB calls each makes, and the time to build the feed with
``feeds.build_calendar`` as a ratio to a bare icalendar script serialising
the same events in the same run. Targets: the 304 poll's cost flat; the
build within 1.2x of the bare script.

Run: make bench   (or .venv/bin/python benchmarks/bench_feeds.py)
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
    "TABLE_NAME": "sro-events-bench", "STAGE": "local",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

SIZES = (10, 100, 1000)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
BASE_URL = "https://events.smartregion.example"


def make_events(count: int):
    from chalicelib.input.event import build_event

    events = []
    start = datetime(2027, 1, 4, 9, 0, tzinfo=ZoneInfo("Europe/Brussels"))
    for n in range(count):
        begins = start + timedelta(days=n % 700, hours=n % 7)
        data = {
            "id": f"event-{n:04d}", "kind": "in_person" if n % 3 else "webinar", "status": "published",
            "title": {"nl": f"Smart Region sessie {n}: data, AI & de burger", "en": f"Smart Region session {n}"},
            "description": {"nl": "Missie en strategie van de Smart Region werking; vragen, antwoorden. " * 4,
                            "en": "Mission and strategy; questions and answers. " * 4},
            "starts_at": begins.isoformat(), "ends_at": (begins + timedelta(hours=2)).isoformat(),
            "online_url": "https://meet.example.org/sro",
        }
        if n % 3:
            data["location"] = {"name": "Herman Teirlinckgebouw", "address": "Havenlaan 88, 1000 Brussel"}
        events.append(build_event(data, existing=None, now=NOW))
    return events


def bare_icalendar(events) -> bytes:
    """What a plain icalendar script writes for the same events, with the same properties."""
    from icalendar import Calendar, Event, vCalAddress, vUri

    cal = Calendar()
    cal.add("prodid", "-//bare//script//NL")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", "Smart Region Office – evenementen")
    cal.add("x-wr-calname", "Smart Region Office – evenementen")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for e in events:
        zone = ZoneInfo(e.timezone)
        ev = Event()
        ev.add("uid", f"{e.id}@events.smartregion.vlaanderen.be")
        ev.add("dtstamp", e.updated_at)
        ev.add("created", e.created_at)
        ev.add("last-modified", e.updated_at)
        ev.add("sequence", e.sequence)
        ev.add("dtstart", e.starts_at.astimezone(zone))
        ev.add("dtend", e.ends_at.astimezone(zone))
        ev.add("status", "CONFIRMED")
        ev.add("summary", e.title["nl"])
        ev.add("description", e.description["nl"])
        ev.add("location", e.location.one_line() if e.location else "Online")
        ev.add("url", vUri(f"{BASE_URL}/events/{e.id}"), parameters={"VALUE": "URI"})
        organizer = vCalAddress("mailto:smartregionoffice@vlaanderen.be")
        organizer.params["CN"] = "Smart Region Office"
        ev.add("organizer", organizer)
        ev.add("class", "PUBLIC")
        ev.add("transp", "OPAQUE")
        cal.add_component(ev)
    return cal.to_ical()


def timed(function, repeat: int) -> float:
    """Return the median wall time of ``function`` in milliseconds."""
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        function()
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples)


def measure(count: int) -> dict:
    from chalice.test import Client
    from moto import mock_aws

    import app as app_module
    from chalicelib.adapters import aws
    from chalicelib.render import ical
    from chalicelib.services import public_feed
    from chalicelib import times, wiring
    from chalicelib.adapters.dynamodb import DynamoDBRepository
    from chalicelib.adapters.dynamodb.table import create_table

    events = make_events(count)
    times.now = lambda: NOW  # the same instant throughout, as in the tests
    aws.reset()
    with mock_aws():
        client = aws.client("dynamodb")
        create_table(client, os.environ["TABLE_NAME"])
        repo = DynamoDBRepository(client, os.environ["TABLE_NAME"])
        for event in events:
            repo.create_event(event)  # straight in: one feed render below, not one per event
        public_feed.refresh_public_feeds(repo, NOW, base_url=wiring.get_settings().base_url)
        wiring.set_repo(repo)
        calls: list[str] = []
        scanned: list[int] = []
        client.meta.events.register("before-call.dynamodb.*", lambda event_name, **_: calls.append(event_name))
        client.meta.events.register("after-call.dynamodb.Query",
                                    lambda parsed, **_: scanned.append(parsed.get("ScannedCount", 0)))
        with Client(app_module.app, stage_name="local") as http:
            first = http.http.get("/calendar.ics")
            assert first.status_code == 200, first.body
            etag = first.headers["ETag"]
            repeat = 20 if count < 1000 else 10

            calls.clear()
            full_ms = timed(lambda: http.http.get("/calendar.ics"), repeat)
            full_calls = len(calls) / repeat

            # moto answers any Query by walking every item of the table: the
            # floor under our 304 poll, measured on a partition that is empty,
            # each floor Query right after a poll (the same machine state).
            polls, floors = [], []
            calls.clear()
            scanned.clear()
            for _ in range(repeat):
                polls.append(timed(lambda: http.http.get("/calendar.ics", headers={"If-None-Match": etag}), 1))
                before = len(calls)
                floors.append(timed(lambda: client.query(
                    TableName=os.environ["TABLE_NAME"], KeyConditionExpression="PK = :pk",
                    ExpressionAttributeValues={":pk": {"S": "NO-SUCH-PARTITION"}}), 1))
                del calls[before:]  # the floor's own Query is not the poll's
            not_modified_ms, moto_floor_ms = statistics.median(polls), statistics.median(floors)
            not_modified_calls = len(calls) / repeat
            not_modified_items = sum(scanned) / repeat  # the floor's empty Query reads nothing either
            assert http.http.get("/calendar.ics", headers={"If-None-Match": etag}).status_code == 304
        wiring.set_repo(None)
        stored = gzip.compress(first.body, mtime=0)

    public = public_feed.public_events(events, NOW)
    build_repeat = 31 if count < 1000 else 7
    # Interleave the two builders so that both see the same machine state,
    # each run after a full collection: otherwise where the collector's
    # counters stand (what the moto part above left) decides which of the two
    # keeps meeting a full collection over the whole heap.
    ours, bare = [], []
    for _ in range(build_repeat):
        gc.collect()
        ours.append(timed(lambda: ical.build_calendar(public, lang="nl", base_url=BASE_URL, include_join_link=False), 1))
        gc.collect()
        bare.append(timed(lambda: bare_icalendar(public), 1))
    # The fastest run of each: the least disturbed by whatever else the machine does.
    ours_ms, bare_ms = min(ours), min(bare)
    return {
        "events": count, "full_ms": full_ms, "full_calls": full_calls, "not_modified_ms": not_modified_ms,
        "not_modified_calls": not_modified_calls, "not_modified_items": not_modified_items,
        "moto_floor_ms": moto_floor_ms, "build_ms": ours_ms, "bare_ms": bare_ms,
        "ratio": ours_ms / bare_ms, "feed_kb": len(first.body) / 1024, "stored_kb": len(stored) / 1024,
    }


def main() -> int:
    import icalendar  # noqa: F401 - import cost out of the first measurement

    # Each request still writes its log line (its cost stays in the timings),
    # to /dev/null rather than between the table's rows.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        rows = [measure(count) for count in SIZES]
    header = ("events", "full poll ms", "calls", "304 poll ms", "calls", "items read by 304",
              "moto empty Query ms", "build ms", "bare icalendar ms", "ratio", "feed KiB", "stored KiB")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for r in rows:
        print(f"| {r['events']:,} | {r['full_ms']:.1f} | {r['full_calls']:g} | {r['not_modified_ms']:.1f} | "
              f"{r['not_modified_calls']:g} | {r['not_modified_items']:g} | {r['moto_floor_ms']:.1f} | {r['build_ms']:.1f} | {r['bare_ms']:.1f} | {r['ratio']:.2f} | "
              f"{r['feed_kb']:.0f} | {r['stored_kb']:.0f} |")
    # What DynamoDB bills a 304 poll for: one Query that reads no item. Its
    # time under moto also carries moto's own walk of the table (the floor).
    flat = all(r["not_modified_items"] == 0 for r in rows) and all(
        r["not_modified_ms"] - r["moto_floor_ms"] <= rows[0]["not_modified_ms"] - rows[0]["moto_floor_ms"] + 1 for r in rows)
    within = all(r["ratio"] <= 1.2 for r in rows)
    one_call = all(r["full_calls"] <= 1 and r["not_modified_calls"] <= 1 for r in rows)
    print(f"\n304 poll flat (0 items read; time above moto's floor constant): {'yes' if flat else 'NO'}; build within 1.2x of bare icalendar: "
          f"{'yes' if within else 'NO'}; at most one DynamoDB call per poll: {'yes' if one_call else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the staff console's list of events: DynamoDB calls and time for 10, 100 and 1,000 events.

For each size, on moto's in-process DynamoDB (mock_aws) and through
chalice.test.Client, a signed-in ``GET /console``: the calls it makes by
operation (one Query of the events, counts included, and the two GetItems of
the session and its member), and its median time next to one bare Query of
the same partition (moto's floor). Target: one Query, whatever the number of
events. Exits 1 when it is missed.

Run: make bench   (or .venv/bin/python benchmarks/bench_console.py)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
    "TABLE_NAME": "sro-events-bench", "STAGE": "local", "TOKEN_KEY": "bench-key",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

SIZES = (10, 100, 1000)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def timed(function, repeat: int) -> float:
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
    from chalicelib import times, wiring
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamodb import DynamoDBRepository
    from chalicelib.adapters.dynamodb.table import create_table
    from chalicelib.input.event import build_event
    from chalicelib.services import console

    times.now = lambda: NOW
    aws.reset()
    with mock_aws():
        client = aws.client("dynamodb")
        create_table(client, os.environ["TABLE_NAME"])
        repo = DynamoDBRepository(client, os.environ["TABLE_NAME"])
        start = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
        for n in range(count):
            begins = start + timedelta(days=n % 700)
            repo.create_event(build_event({
                "id": f"event-{n:04d}", "kind": "webinar", "status": ("published", "draft")[n % 2],
                "title": {"nl": f"Webinar {n}", "en": f"Webinar {n}"}, "description": {"nl": "Over de missie. " * 20},
                "starts_at": begins.isoformat(), "ends_at": (begins + timedelta(hours=1)).isoformat(),
                "online_url": "https://meet.example.org/sro", "capacity": 100}, existing=None, now=NOW))
        console.add_member(repo, "bench@example.be", "Bench", actor="bench", now=NOW)
        url = console.sign_in_url(repo, "bench@example.be", base_url="", now=NOW)
        session, _ = console.sign_in(repo, url.rsplit("/", 1)[1], now=NOW)
        wiring.set_repo(repo)
        calls: Counter = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
        with Client(app_module.app, stage_name="local") as http:
            headers = {"Cookie": f"sro_console={session}"}
            assert http.http.get("/console", headers=headers).status_code == 200
            repeat = 10 if count < 1000 else 5
            calls.clear()
            page_ms = timed(lambda: http.http.get("/console", headers=headers), repeat)
            per_page = {name: n / repeat for name, n in calls.items()}
            floor_ms = timed(lambda: client.query(
                TableName=os.environ["TABLE_NAME"], KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": "EVENTS"}}), repeat)
        wiring.set_repo(None)
    return {"events": count, "calls": per_page, "page_ms": page_ms, "floor_ms": floor_ms}


def main() -> int:
    print("console list (GET /console, signed in)")
    print(f"{'events':>7}  {'Query':>5}  {'GetItem':>7}  {'other':>5}  {'page ms':>8}  {'bare Query ms':>13}")
    ok = True
    for count in SIZES:
        row = measure(count)
        calls = row["calls"]
        other = sum(n for name, n in calls.items() if name not in ("Query", "GetItem"))
        print(f"{count:>7}  {calls.get('Query', 0):>5.0f}  {calls.get('GetItem', 0):>7.0f}  {other:>5.0f}  "
              f"{row['page_ms']:>8.1f}  {row['floor_ms']:>13.1f}")
        ok &= calls.get("Query", 0) == 1 and other == 0
    print("target: one Query, whatever the number of events:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

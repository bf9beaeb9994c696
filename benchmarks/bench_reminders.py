"""The tick against moto in-process: AWS calls per mail sent, and its time against bare SES sends.

For N due reminders (N = 1,000 and 10,000; ``--sizes`` to choose), and a staff message to 1,000 people
registered (``--messages``), in one moto:

- the tick (``reminders.send_due``, DynamoDB + SES through moto) sends them
  all, unthrottled (SES_MAX_SEND_RATE out of the way), and every AWS call it
  makes is counted with a botocore ``before-call`` hook;
- then N bare ``send_raw_email`` calls of the same messages, prebuilt (taken
  from moto's record of what the tick sent), timed alike;
- then, the sends put back as due, the tick's DynamoDB requests alone (the
  due pages, claims, the read of recipients and event, and settles),
  prebuilt from what they read:
  the floor any tick that claims and records each send pays on moto.

First one round in blocks: the tick, then the bare sends, then the floor,
each timed after a full garbage collection (the tick's calls are counted
here). Then the rounds that give the ratio (3 of 1,000 mails, 1 of
10,000), the sends put back as due before each: the tick again, with the
bare sends of the first round's messages made between its own, 100 after
every 100th of its mails, timed apart and taken out of the tick's time; then
the floor. The machine is shared and its speed drifts over seconds: a tick
and bare sends timed one after the other, seconds apart, differed by up to
a third from one round to the next (with the garbage collector off too),
where the same two interleaved in slices of a fraction of a second agree
within a few hundredths. The median interleaved round is printed, with the
range of its ratio, and the ratio of the blocks beside it.

moto's TransactWriteItems deep-copies, and its Query sorts, the whole table on
every call; all three parts run with tests/moto_scaling.py, which makes each
cost grow with what the request touches, as DynamoDB's does.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_reminders.py [--sizes 1000,10000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
                   "TOKEN_KEY": "bench-signing-key", "TABLE_NAME": "sro-events-bench"})
os.environ.pop("AWS_ENDPOINT_URL", None)

SENDER = "smartregionoffice@vlaanderen.be"
BASE = "https://events.example.be"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
WARM_UP = 20  # mails of a first, untimed tick


def in_process_sent() -> list[tuple[str, bytes]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [(m.destinations[0], m.raw_data.encode()) for m in ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages]


def run(size: int, kind: str = "reminder") -> dict[str, float]:
    """One size against moto in-process; ``kind`` "message": a staff message to the people registered instead."""
    from moto import mock_aws

    from tests.moto_scaling import patched

    with mock_aws(), patched():
        return measure(size, in_process_sent, kind)


def run_over_http(size: int) -> dict[str, float]:
    """One size against moto's server (benchmarks/moto_server.py, scaled the same way): every call crosses a socket."""
    import json
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "moto_server.py"), "127.0.0.1", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

        def sent() -> list[tuple[str, bytes]]:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=60) as answer:
                messages = json.load(answer)["ses"]["RawMessage"]
            return [(m["destinations"][0], m["raw_data"].encode()) for m in messages]

        os.environ["AWS_ENDPOINT_URL"] = endpoint
        return measure(size, sent)
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.terminate()
        server.wait(timeout=10)


MESSAGE = {"audience": ["confirmed"], "subject": {"nl": "De slides", "en": "The slides"},
           "text": {"nl": "De slides staan online.", "en": "The slides are online."}}


def measure(size: int, sent_messages, kind: str = "reminder") -> dict[str, float]:
    from chalicelib.adapters import aws
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import tick
    from chalicelib import times, wiring
    from chalicelib import tokens
    from chalicelib.adapters.ses import SesMailer
    from chalicelib.model.person import Person
    from chalicelib.model.send import Send
    from chalicelib.adapters.dynamodb import DynamoDBRepository
    from chalicelib.adapters.dynamodb.table import create_table

    aws.reset()
    dynamodb, ses = aws.client("dynamodb"), aws.client("ses")
    create_table(dynamodb, "sro-events-bench")
    ses.verify_email_identity(EmailAddress=SENDER)
    repo = DynamoDBRepository(dynamodb, "sro-events-bench")
    event = events.create_event(repo, {
        "id": "webinar-bench", "kind": "webinar", "status": "published", "title": {"nl": "Webinar", "en": "Webinar"},
        "starts_at": "2027-01-14T10:00:00+01:00", "ends_at": "2027-01-14T11:00:00+01:00",
        "online_url": "https://meet.example.org/sro"}, actor="bench", base_url=wiring.get_settings().base_url,
        now=NOW)
    due = event.starts_at - timedelta(hours=1)
    key = link_keys.signing_key()

    def plan(count: int, prefix: str, offset: str, kind: str = "reminder") -> list[Send]:
        at = event.starts_at - times.parse_duration(offset, "reminders")
        sends = []
        for i in range(count):
            address = f"{prefix}{i}@example.be"
            person = Person(id=tokens.person_id_for(address, key), email=address, name=f"Person {i}", organisation="",
                            language="nl" if i % 2 else "en", created_at=NOW, updated_at=NOW)
            dynamodb.put_item(TableName="sro-events-bench", Item=repo._person_item(person))
            if kind == "message":  # as services/messages.py plans it, to people registered: no registration read
                sends.append(Send(event_id=event.id, person_id=person.id, kind="message", detail="bench", due=at,
                                  cutoff=at + timedelta(minutes=15), details=MESSAGE))
            else:
                sends.append(Send(event_id=event.id, person_id=person.id, kind="reminder", detail=offset, due=at,
                                  cutoff=at + timedelta(minutes=15)))
        repo.put_sends(sends, overwrite=True)
        return sends

    # A warm container, as the every-minute schedule keeps the tick's: a first
    # small tick (the day before) compiles the templates and reads the catalogs,
    # and takes moto's and botocore's first-call costs, which the bare sends
    # below, coming second, would not pay either. Cold starts: bench_coldstart.py.
    plan(WARM_UP, "warm", "P1D")
    warm = tick.send_due(repo, SesMailer(ses, SENDER), base_url=BASE, now=event.starts_at - timedelta(days=1),
                              rate=1e9, time_budget=600, key=link_keys.signing_key())
    assert warm.sent == WARM_UP, warm
    sends = plan(size, "p", "PT1H", kind)
    blocks = one_round(size, repo, dynamodb, ses, sends, sent_messages, due)
    rounds = [interleaved_round(size, repo, dynamodb, ses, sends, blocks["messages"], due)
              for _ in range(rounds_for(size))]
    aws.reset()
    ratios = sorted(r["ratio"] for r in rounds)
    middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    total = sum(blocks["calls"].values())
    return {"kind": kind, "size": size, "sent": blocks["sent"], "calls": total, "calls_per_mail": total / blocks["sent"],
            "rounds": len(rounds), "ratio_low": ratios[0], "ratio_high": ratios[-1],
            "tick_s": middle["tick_s"], "bare_s": middle["bare_s"], "ratio": middle["ratio"],
            "blocks_ratio": blocks["ratio"], "floor_s": middle["floor_s"], "floor_ratio": middle["floor_ratio"],
            "breakdown": ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(blocks["calls"].items()))}


ROUNDS = 3  # at most; at least 3,000 mails a size: 3 rounds of 1,000, one of 10,000


def rounds_for(size: int) -> int:
    return max(1, min(ROUNDS, 3000 // size))


def one_round(size: int, repo, dynamodb, ses, sends, sent_messages, due: datetime) -> dict:
    """The tick, then the bare SES sends of its messages, then the floor, each timed after a full collection (blocks)."""
    import gc

    from chalicelib.adapters import aws
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import tick
    from chalicelib import times
    from chalicelib import tokens
    from chalicelib.adapters.ses import SesMailer

    calls: Counter[str] = Counter()

    def count(model, **_):
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    for client in (dynamodb, ses):
        client.meta.events.register("before-call.*.*", count)
    mailer = SesMailer(ses, SENDER)
    gc.collect()
    started = time.perf_counter()
    result = tick.send_due(repo, mailer, base_url=BASE, now=due + timedelta(seconds=30), rate=1e9,
                                time_budget=3600, key=link_keys.signing_key())
    tick_seconds = time.perf_counter() - started
    for client in (dynamodb, ses):
        client.meta.events.unregister("before-call.*.*", count)
    assert result.sent == size, result

    # The same number of bare SES sends: the very messages the tick sent,
    # prebuilt, one call each; no rendering, no bookkeeping.
    sent = sent_messages()[-size:]
    assert len(sent) == size
    gc.collect()
    started = time.perf_counter()
    for destination, raw in sent:
        ses.send_raw_email(Source=SENDER, Destinations=[destination], RawMessage={"Data": raw})
    bare_seconds = time.perf_counter() - started

    # The floor: the same DynamoDB requests the tick makes, prebuilt from what they read, and nothing else.
    repo.put_sends(sends, overwrite=True)
    gc.collect()
    floor_seconds = bookkeeping(dynamodb, "sro-events-bench", due + timedelta(seconds=30))
    return {"sent": result.sent, "calls": dict(calls), "tick_s": tick_seconds, "bare_s": bare_seconds,
            "ratio": tick_seconds / bare_seconds, "floor_s": floor_seconds,
            "floor_ratio": (bare_seconds + floor_seconds) / bare_seconds, "messages": sent}


SLICE = 100  # bare sends made after every SLICE-th mail of the tick


def interleaved_round(size: int, repo, dynamodb, ses, sends, messages, due: datetime) -> dict:
    """The tick with the bare sends of ``messages`` made between its own, SLICE at a time, timed apart; then the floor."""
    import gc

    from chalicelib.adapters import aws
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import tick
    from chalicelib import times
    from chalicelib import tokens
    from chalicelib.adapters.ses import SesMailer
    from chalicelib.adapters.dynamodb.keys import SLOTS_WINDOW_MIN

    class Interleaved(SesMailer):
        def __init__(self):
            super().__init__(ses, SENDER)
            self.mails = self.bare = 0
            self.bare_seconds = 0.0

        def send(self, mail):
            message_id = super().send(mail)
            self.mails += 1
            if self.mails % SLICE == 0 or self.mails == size:
                started = time.perf_counter()
                for destination, raw in messages[self.bare:self.mails]:
                    ses.send_raw_email(Source=SENDER, Destinations=[destination], RawMessage={"Data": raw})
                self.bare_seconds += time.perf_counter() - started
                self.bare = self.mails
            return message_id

    repo.put_sends(sends, overwrite=True)  # due again, as they were
    mailer = Interleaved()
    time.sleep(SLOTS_WINDOW_MIN)  # the last tick's last window of send slots has ended: this one does not wait for it
    gc.collect()
    started = time.perf_counter()
    result = tick.send_due(repo, mailer, base_url=BASE, now=due + timedelta(seconds=30), rate=1e9,
                                time_budget=3600, key=link_keys.signing_key())
    tick_seconds = time.perf_counter() - started - mailer.bare_seconds
    assert result.sent == size and mailer.bare == size, (result, mailer.bare)
    repo.put_sends(sends, overwrite=True)
    gc.collect()
    floor_seconds = bookkeeping(dynamodb, "sro-events-bench", due + timedelta(seconds=30))
    return {"tick_s": tick_seconds, "bare_s": mailer.bare_seconds, "ratio": tick_seconds / mailer.bare_seconds,
            "floor_s": floor_seconds, "floor_ratio": (mailer.bare_seconds + floor_seconds) / mailer.bare_seconds}


def bookkeeping(dynamodb, table: str, now: datetime) -> float:
    """Seconds for the tick's DynamoDB requests alone: the due pages, claims, recipients and settles, bare.

    Made as the tick makes them: claims conditioned on the ``due_at`` read, settles of recipients found with one
    check of the tick's erasure mark a transaction, through the same client (botocore's request check off).
    """
    import json

    from chalicelib.adapters import aws
    from chalicelib.adapters import keys as link_keys
    from chalicelib.services import events
    from chalicelib.services import tick
    from chalicelib import times
    from chalicelib import tokens

    S = lambda value: {"S": value}  # noqa: E731
    lease, me = S(times.to_utc_iso(now + timedelta(minutes=5))), S("bench")
    started = time.perf_counter()
    while True:
        page = dynamodb.query(TableName=table, IndexName="due", Limit=990, ProjectionExpression="body",
                              KeyConditionExpression="due_pk = :pk AND due_at <= :now",
                              ExpressionAttributeValues={":pk": S("DUE"), ":now": S(times.to_utc_iso(now))})
        for start in range(0, len(page["Items"]), 99):  # 99 recipients and the event: one read
            chunk = page["Items"][start:start + 99]
            bodies = [json.loads(item["body"]["S"]) for item in chunk]
            keys = [{"PK": S(f"EVENT#{body['event_id']}"),
                     "SK": S(f"SEND#{body['person_id']}#{body['kind']}#{body['detail']}")} for body in bodies]
            dynamodb.transact_write_items(TransactItems=[{"Put": {
                "TableName": table, "Item": {**item, **key, "due_pk": S("DUE"), "due_at": lease, "claimed_by": me},
                "ConditionExpression": "due_at = :seen", "ExpressionAttributeValues": {":seen": S(body["due_at"])}}}
                for item, key, body in zip(chunk, keys, bodies)])
            dynamodb.batch_get_item(RequestItems={table: {
                "ConsistentRead": True, "ProjectionExpression": "PK, body, seats_taken, seat_freed_at", "Keys": [
                {"PK": S(f"PERSON#{body['person_id']}"), "SK": S("PROFILE")} for body in bodies]
                + [{"PK": S("EVENTS"), "SK": S(f"EVENT#{bodies[0]['event_id']}")}]}})
            # The recipients were found: their puts go without a condition each, with one check of the tick's mark.
            dynamodb.transact_write_items(TransactItems=[{"ConditionCheck": {
                "TableName": table, "Key": {"PK": S("TICK#bench"), "SK": S("ERASED")},
                "ConditionExpression": "attribute_not_exists(PK)"}}] + [{"Put": {
                    "TableName": table, "Item": {**key, "body": item["body"]}}} for item, key in zip(chunk, keys)])
        if "LastEvaluatedKey" not in page:
            return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="due reminders, against moto in-process")
    parser.add_argument("--over-http", default="1000", help="due reminders, against moto's server ('' for none)")
    parser.add_argument("--messages", default="1000", help="a staff message to so many registered, in-process")
    args = parser.parse_args()
    rows = [("in-process", run(int(n))) for n in args.sizes.split(",") if n]
    rows += [("message", run(int(n), "message")) for n in args.messages.split(",") if n]
    rows += [("over HTTP", run_over_http(int(n))) for n in args.over_http.split(",") if n]
    print(f"{'moto':<11} {'due':>6} {'sent':>6} {'AWS calls':>10} {'per mail':>9} {'rounds':>6} {'tick s':>7} "
          f"{'bare SES s':>11} {'ratio':>6} {'(range)':>11} {'blocks':>7} {'bare DynamoDB s':>16} {'floor ratio':>12}"
          "  calls")
    for mode, r in rows:
        print(f"{mode:<11} {r['size']:>6} {r['sent']:>6} {r['calls']:>10} {r['calls_per_mail']:>9.3f} {r['rounds']:>6} "
              f"{r['tick_s']:>7.2f} {r['bare_s']:>11.2f} {r['ratio']:>6.2f} "
              f"{'(' + format(r['ratio_low'], '.2f') + '-' + format(r['ratio_high'], '.2f') + ')':>11} "
              f"{r['blocks_ratio']:>7.2f} {r['floor_s']:>16.2f} {r['floor_ratio']:>12.2f}  {r['breakdown']}")
    print("ratio: tick / bare SES sends of the same messages, made between the tick's own 100 at a time and timed\n"
          "apart (the median round's). blocks: the same, the tick and then the bare sends, each timed whole (one\n"
          "round, where the calls are counted). floor ratio: (bare SES sends + the tick's DynamoDB requests made\n"
          "bare) / bare SES sends: what any tick that claims and records each send pays on that moto.\n"
          "message: a staff message (services/messages.py) to as many people registered, in-process.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

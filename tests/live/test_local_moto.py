"""make run's moto (scripts/moto_local.py): atomic DynamoDB requests, bounded memory, a bounded and fast outbox."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "scripts"))
import run_local  # noqa: E402
from local_service import free_port  # noqa: E402

from chalicelib.adapters import outbox  # noqa: E402

LIMIT = 25


@pytest.fixture(scope="module")
def local_moto(tmp_path_factory):
    port = free_port()
    env = run_local.settings()
    env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", LOCAL_OUTBOX_LIMIT=str(LIMIT))
    log = tmp_path_factory.mktemp("local-moto") / "moto.log"
    with open(log, "ab") as out:
        proc = run_local.spawn(run_local.moto_command("127.0.0.1", port), env, stdout=out, stderr=out)
    try:
        run_local.wait_for(f"{env['AWS_ENDPOINT_URL']}/moto-api/", proc, timeout=30)
        yield env["AWS_ENDPOINT_URL"]
    finally:
        run_local.stop(proc)


def _client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name="eu-west-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(max_pool_connections=20))


def _send(ses, n: int) -> None:
    message = EmailMessage()
    message["From"] = "smartregionoffice@vlaanderen.be"
    message["To"] = f"person{n}@example.be"
    message["Subject"] = f"mail {n}"
    message["Date"] = "Wed, 25 Nov 2026 12:00:00 +0000"
    message.set_content(f"mail number {n}")
    ses.send_raw_email(RawMessage={"Data": message.as_bytes()})


def test_the_outbox_keeps_the_newest_mails_only_and_answers_at_once(local_moto):
    ses = _client(local_moto, "ses")
    ses.verify_email_identity(EmailAddress="smartregionoffice@vlaanderen.be")
    for n in range(LIMIT * 3):
        _send(ses, n)
    started = time.monotonic()
    mails = outbox.read(local_moto)
    assert time.monotonic() - started < 2
    assert len(mails) == LIMIT
    assert {m.subject for m in mails} == {f"mail {n}" for n in range(LIMIT * 2, LIMIT * 3)}
    assert mails[0].subject == f"mail {LIMIT * 3 - 1}"  # newest first


def test_moto_keeps_no_copy_of_every_item_version_it_ever_made(local_moto):
    """Plain moto tracks every model object for its dashboard: every write of an item, never freed."""
    dynamodb = _client(local_moto, "dynamodb")
    dynamodb.create_table(TableName="growth", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    for n in range(200):
        dynamodb.put_item(TableName="growth", Item={"pk": {"S": "one"}, "n": {"N": str(n)}})
    with urllib.request.urlopen(f"{local_moto}/moto-api/data.json", timeout=10) as answer:
        data = json.loads(answer.read())
    tracked = sum(len(instances) for models in data.values() for instances in models.values())
    assert tracked == 0, {service: {name: len(v) for name, v in models.items() if v} for service, models in data.items()}


def test_each_dynamodb_request_is_atomic_under_concurrent_callers(local_moto):
    """Ten callers race for five seats with a conditional update: exactly five win, as in DynamoDB."""
    dynamodb = _client(local_moto, "dynamodb")
    dynamodb.create_table(TableName="seats", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    for round_ in range(5):
        key = {"pk": {"S": f"event-{round_}"}}
        dynamodb.put_item(TableName="seats", Item={**key, "taken": {"N": "0"}})
        wins = []
        barrier = threading.Barrier(10)

        def take():
            barrier.wait()
            try:
                dynamodb.update_item(TableName="seats", Key=key, UpdateExpression="SET taken = taken + :one",
                                     ConditionExpression="taken < :capacity",
                                     ExpressionAttributeValues={":one": {"N": "1"}, ":capacity": {"N": "5"}})
                wins.append(1)
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass

        threads = [threading.Thread(target=take) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        taken = int(dynamodb.get_item(TableName="seats", Key=key, ConsistentRead=True)["Item"]["taken"]["N"])
        assert (len(wins), taken) == (5, 5)

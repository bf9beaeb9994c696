"""tests/moto_scaling.py changes what moto's requests cost, never what they answer."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb.table import create_table
from tests.moto_scaling import patched

TABLE = "sro-events-scaling"


def S(value: str) -> dict[str, str]:
    return {"S": value}


def fill(client, count: int = 300) -> None:
    create_table(client, TABLE)
    rng = random.Random(7)
    for i in range(count):
        item = {"PK": S(f"EVENT#e{i % 4}"), "SK": S(f"SEND#{rng.randrange(10**6):06d}#{i}"), "body": S(str(i))}
        if i % 3:
            item["due_pk"], item["due_at"] = S("DUE"), S(f"2026-11-25T12:{rng.randrange(60):02d}:00Z")
        client.put_item(TableName=TABLE, Item=item)


QUERIES = [
    {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": S("EVENT#e1")}},
    {"KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
     "ExpressionAttributeValues": {":pk": S("EVENT#e2"), ":p": S("SEND#5")}, "ScanIndexForward": False},
    {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": S("EVENT#none")}},
    {"IndexName": "due", "KeyConditionExpression": "due_pk = :pk AND due_at <= :now",
     "ExpressionAttributeValues": {":pk": S("DUE"), ":now": S("2026-11-25T12:30:00Z")}},
    {"IndexName": "due", "KeyConditionExpression": "due_pk = :pk AND due_at <= :now",
     "ExpressionAttributeValues": {":pk": S("DUE"), ":now": S("2026-11-25T12:45:00Z")},
     "ProjectionExpression": "SK, due_at, body"},
]


def all_pages(client, query: dict, limit: int | None) -> list[list[dict]]:
    pages, kwargs = [], {"TableName": TABLE, **query, **({"Limit": limit} if limit else {})}
    while True:
        reply = client.query(**kwargs)
        pages.append(reply["Items"])
        if "LastEvaluatedKey" not in reply:
            return pages
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


@pytest.mark.parametrize("query", QUERIES, ids=["partition", "prefix-reversed", "empty", "index", "index-projected"])
@pytest.mark.parametrize("limit", [7, 1000])
def test_a_query_answers_page_for_page_as_moto_does(aws_mock, query, limit):
    client = aws.client("dynamodb")
    fill(client)
    plain = all_pages(client, query, limit)
    with patched():
        scaled = all_pages(client, query, limit)
    assert scaled == plain
    assert sum(len(p) for p in plain) > 0 or query is QUERIES[2]


def _values(client) -> list[str]:
    """Every key value in the filled table, and prefixes of some: the bounds a key condition may name."""
    items = client.scan(TableName=TABLE)["Items"]
    values = sorted({item[k]["S"] for item in items for k in ("SK", "due_at") if k in item})
    return values + sorted({v[:n] for v in values[::7] for n in (1, 5, 8, 14, 17)})  # none empty: DynamoDB refuses ""


COMPARISONS = ["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]


def test_any_key_condition_page_and_direction_answer_as_moto_does(aws_mock):
    """Bisection picks, for any query, exactly the items moto's own walk would have reached."""
    client = aws.client("dynamodb")
    fill(client, 60)  # small, so that pages of one or two items are cheap, and bounds often fall on a page's end
    values = _values(client)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(index=st.booleans(), partition=st.sampled_from(["EVENT#e0", "EVENT#e3", "EVENT#none"]),
           comparison=st.none() | st.sampled_from(COMPARISONS), bounds=st.lists(st.sampled_from(values) | st.text(
               alphabet="#0123456789:-ADENSTZ", min_size=1, max_size=20), min_size=2, max_size=2),
           limit=st.sampled_from([None, 1, 2, 3, 5, 45]), forward=st.booleans(), filtered=st.booleans())
    def same(index, partition, comparison, bounds, limit, forward, filtered):
        key, sort_key, pk = ("due_pk", "due_at", "DUE") if index else ("PK", "SK", partition)
        condition = f"{key} = :pk"
        values = {":pk": S(pk)}
        if comparison == "BETWEEN":
            condition += f" AND {sort_key} BETWEEN :a AND :b"
            values.update({":a": S(min(bounds)), ":b": S(max(bounds))})
        elif comparison == "begins_with":
            condition += f" AND begins_with({sort_key}, :a)"
            values[":a"] = S(bounds[0])
        elif comparison:
            condition += f" AND {sort_key} {comparison} :a"
            values[":a"] = S(bounds[0])
        query = {"KeyConditionExpression": condition, "ExpressionAttributeValues": values, "ScanIndexForward": forward}
        if index:
            query["IndexName"] = "due"
        if filtered:
            query["FilterExpression"] = "body <> :body"
            values[":body"] = S("3")
        plain = all_pages(client, query, limit)
        with patched():
            scaled = all_pages(client, query, limit)
        assert scaled == plain

    same()


def test_a_scan_still_sees_the_whole_table_in_order(aws_mock):
    client = aws.client("dynamodb")
    fill(client)
    plain = client.scan(TableName=TABLE)["Items"]
    with patched():
        client.query(TableName=TABLE, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": S("EVENT#e1")})
        scaled = client.scan(TableName=TABLE)["Items"]
    assert scaled == plain and len(plain) == 300


def test_a_cancelled_transaction_leaves_the_items_as_they_were(aws_mock):
    client = aws.client("dynamodb")
    fill(client)
    before = client.query(TableName=TABLE, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": S("EVENT#e0")})["Items"]
    first, second, third = before[0], before[1], before[2]
    with patched():
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**first, "body": S("changed")}}},
                {"Delete": {"TableName": TABLE, "Key": {"PK": second["PK"], "SK": second["SK"]}}},
                {"Update": {"TableName": TABLE, "Key": {"PK": third["PK"], "SK": third["SK"]},
                            "UpdateExpression": "SET body = :b, extra = :b", "ExpressionAttributeValues": {":b": S("changed")}}},
                {"Put": {"TableName": TABLE, "Item": {"PK": S("EVENT#e0"), "SK": S("NEW")},
                         "ConditionExpression": "attribute_exists(PK)"}},
            ])
    after = client.query(TableName=TABLE, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": S("EVENT#e0")})["Items"]
    assert after == before

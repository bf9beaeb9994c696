"""The hand-written IAM policies allow what the code does on AWS, and nothing more.

``tests/plugins/aws_calls.py`` records every AWS operation the suite makes.
The operations made by app code (``app.py``, ``chalicelib/`` except the
operators' command line) must each be allowed by ``.chalice/policy-dev.json``
and ``policy-prod.json``; and every action those policies allow must be made
by the app somewhere in the suite, except:

- ``RUNTIME_ONLY``: used by Lambda's runtime, not by our code;
- ``PENDING``: granted for code being written in parallel. Each entry names
  the issue whose code will exercise it; once that code and its tests are in,
  the entry must go (the test fails while an exercised action stays listed).
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from chalicelib import config
from tests.plugins import aws_calls

REPO = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}

RUNTIME_ONLY = {
    "OwnLogs:logs:CreateLogStream": "Lambda's runtime sends the functions' stdout to their log group",
    "OwnLogs:logs:PutLogEvents": "Lambda's runtime sends the functions' stdout to their log group",
}
PENDING: dict[str, str] = {}

DYNAMODB_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def policy(stage: str) -> dict:
    return json.loads((REPO / ".chalice" / f"policy-{stage}.json").read_text())


def resolve(value) -> str:
    """Resolve a resource given as a string or Fn::Sub of pseudo parameters."""
    if isinstance(value, dict):
        (function, template), = value.items()
        assert function == "Fn::Sub", f"only Fn::Sub of pseudo parameters is understood here, not {function}"
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m.group(1)], template)
    return value


def statements(stage: str) -> list[dict]:
    found = []
    for statement in policy(stage)["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        found.append({**statement, "Action": actions, "Resource": [resolve(r) for r in resources]})
    return found


def table_arn(stage: str) -> str:
    return f"arn:aws:dynamodb:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:table/sro-events-{stage}"


def needs(call: aws_calls.Call, stage: str) -> list[tuple[str, str | None]]:
    """The (IAM action, resource ARN or None for any) pairs that ``call`` needs in ``stage``.

    Any table name stands for the stage's table: tests use their own names.
    """
    if call.service != "dynamodb":
        return [(f"{call.service}:{call.operation}", None)]
    table = table_arn(stage)
    if call.operation in ("TransactWriteItems", "TransactGetItems"):
        return [(f"dynamodb:{DYNAMODB_ITEM_ACTIONS[kind]}", table)
                for item in call.params.get("TransactItems", []) for kind in item]
    if "IndexName" in call.params:
        return [(f"dynamodb:{call.operation}", f"{table}/index/{call.params['IndexName']}")]
    return [(f"dynamodb:{call.operation}", table)]


def granting(stage: str, action: str, resource: str | None) -> list[str]:
    """The Sids of the statements that allow ``action`` on ``resource``."""
    return [s["Sid"] for s in statements(stage)
            if any(fnmatchcase(action, a) for a in s["Action"])
            and (resource is None or any(fnmatchcase(resource, r) for r in s["Resource"]))]


def app_calls() -> list[aws_calls.Call]:
    return [c for c in aws_calls.CALLS if c.origin in ("app", "unknown")]


# ------------------------------------------------------------ the policies


@pytest.mark.parametrize("stage", STAGES)
def test_policy_allows_only_named_actions_on_named_resources(stage):
    for statement in policy(stage)["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, "no NotAction, NotResource"
        assert statement.get("Sid"), "each statement has a Sid: PENDING and RUNTIME_ONLY name them"
    for statement in statements(stage):
        for action in statement["Action"]:
            assert re.fullmatch(r"[a-z0-9]+:[A-Za-z]+", action), f"{action}: a whole action, no wildcard"
        for resource in statement["Resource"]:
            assert resource != "*", resource
            assert f"sro-events-{stage}" in resource or f"sro-events/{stage}/" in resource or ":identity/" in resource, resource


def test_prod_policy_is_dev_policy_with_the_stage_renamed():
    dev = (REPO / ".chalice" / "policy-dev.json").read_text()
    prod = (REPO / ".chalice" / "policy-prod.json").read_text()
    assert prod == dev.replace("sro-events-dev", "sro-events-prod").replace("/sro-events/dev/", "/sro-events/prod/")


@pytest.mark.parametrize("stage", STAGES)
def test_policy_names_the_sender_the_app_sends_from(stage, monkeypatch):
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.delenv("SENDER_EMAIL", raising=False)
    sender = config.load().sender_email
    mail = next(s for s in statements(stage) if s["Sid"] == "SendMailAsTheOffice")
    domain = sender.split("@", 1)[1]
    assert {r.rsplit(":", 1)[1] for r in mail["Resource"]} == {
        f"identity/{domain}", f"identity/{sender}", f"configuration-set/sro-events-{stage}"}
    assert mail["Condition"] == {"StringEquals": {"ses:FromAddress": sender}}


@pytest.mark.parametrize("stage", STAGES)
def test_policy_names_the_link_signing_key_of_its_stage(stage, monkeypatch):
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.delenv("TOKEN_KEY_PARAMETER", raising=False)
    key = next(s for s in statements(stage) if s["Sid"] == "LinkSigningKey")
    assert [r.split(":parameter", 1)[1] for r in key["Resource"]] == [config.get("TOKEN_KEY_PARAMETER")]


def test_pending_and_runtime_entries_name_real_grants():
    for stage in STAGES:
        grants = {f"{s['Sid']}:{a}" for s in statements(stage) for a in s["Action"]}
        assert set(PENDING) <= grants and set(RUNTIME_ONLY) <= grants


# ------------------------------------------------------ the recorder itself


def test_recorder_tells_app_calls_from_test_calls(dynamodb_repo):
    before = len(aws_calls.CALLS)
    dynamodb_repo.get_event("nothing-here")
    dynamodb_repo.client.scan(TableName=dynamodb_repo.table)
    recorded = [(c.origin, c.operation) for c in aws_calls.CALLS[before:]]
    assert recorded == [("app", "GetItem"), ("test", "Scan")]


def test_transactions_need_the_actions_of_their_items():
    call = aws_calls.Call("dynamodb", "TransactWriteItems", "app", "x", {"TransactItems": [
        {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]})
    assert [a for a, _ in needs(call, "dev")] == ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]


def test_a_query_on_the_due_index_needs_the_index_granted():
    call = aws_calls.Call("dynamodb", "Query", "app", "x", {"TableName": "t", "IndexName": "due"})
    assert granting("dev", *needs(call, "dev")[0]) == ["DueIndex"]
    table_only = aws_calls.Call("dynamodb", "Query", "app", "x", {"TableName": "t"})
    assert granting("dev", *needs(table_only, "dev")[0]) == ["TableItems"]


# --------------------------------------------- after the whole suite has run


@pytest.mark.after_all_aws_calls
@pytest.mark.parametrize("stage", STAGES)
def test_every_aws_operation_of_the_app_is_allowed(stage):
    refused = sorted({f"{action} on {resource or 'any'} (from {call.where})"
                      for call in app_calls() for action, resource in needs(call, stage)
                      if not granting(stage, action, resource)})
    assert not refused, f".chalice/policy-{stage}.json must allow:\n" + "\n".join(refused)


@pytest.mark.after_all_aws_calls
@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_allows_nothing_the_app_never_does(stage):
    if not aws_calls.STATE["full_run"]:
        pytest.skip(f"needs the whole suite: {aws_calls.STATE['reason']}")
    exercised = {f"{sid}:{action}" for call in app_calls() for action, resource in needs(call, stage)
                 for sid in granting(stage, action, resource)}
    granted = {f"{s['Sid']}:{a}" for s in statements(stage) for a in s["Action"]}
    unused = granted - exercised - set(RUNTIME_ONLY) - set(PENDING)
    assert not unused, f"policy-{stage}.json grants what no test sees the app do: {sorted(unused)}"
    done = exercised & set(PENDING)
    assert not done, f"now exercised, remove from PENDING in tests/test_iam_policy.py: {sorted(done)}"

"""The hand-written IAM policies allow what the code does on AWS, and nothing more.

Each Lambda function has its own role and policy (``.chalice/config.json``):

- the API handler: ``policy-<stage>.json``;
- the tick (every minute): ``policy-tick-<stage>.json``;
- the staff authorizer: ``policy-authorizer-<stage>.json``
  (``tests/edge/test_staff_auth.py``, ``tests/deploy/test_package.py``);
- the SES notice handler: ``policy-ses-notifications-<stage>.json``
  (``tests/contract/test_tick_on_dynamodb.py``, ``tests/deploy/test_package.py``).

**The tick** is checked here against what it really does: a test runs it as
Lambda does (``app.tick`` with the stage's settings, the table, SES and the
signing key on moto) over a day's worth of work, with two races thrown in,
and records every request it makes with all its parameters. Each request
must be allowed by the tick's policy as IAM decides it (action, resource,
and the ``dynamodb:LeadingKeys`` of the items it touches), and every action
and every key prefix that policy grants must be used by one of them.

**The API handler**: ``tests/plugins/aws_calls.py`` records every AWS
operation the whole suite makes (under pytest-xdist, every worker's, merged
once every other test has finished: the fixture ``aws_calls_of_the_run``).
The operations made by app code (``app.py``, ``chalicelib/`` except the
operators' command line) must each
be allowed by ``.chalice/policy-dev.json`` and ``policy-prod.json``, except
the due index, which only the tick reads (``test_only_the_tick_reads_the_due_index``)
and the tick's policy must allow; and every action the API's policy allows
must be made by the app somewhere in the suite, except:

- ``RUNTIME_ONLY``: used by Lambda's runtime, not by our code;
- ``PENDING``: granted for code being written in parallel. Each entry names
  the issue whose code will exercise it; once that code and its tests are in,
  the entry must go (the test fails while an exercised action stays listed).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import keys as table_keys
from chalicelib.adapters import keys as link_keys
from chalicelib import config, wiring
from chalicelib.http import handlers
from chalicelib.services import events
from chalicelib.services import manage as manage_module
from chalicelib.services import seats
from chalicelib import times
from tests.conftest import KEY, PINNED_NOW
from tests.plugins import aws_calls

REPO = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
# Each function's policy file, as .chalice/config.json gives it to the function's role.
POLICY_FILES = {
    "api": "policy-{stage}.json",
    "tick": "policy-tick-{stage}.json",
    "staff_authorizer": "policy-authorizer-{stage}.json",
    "ses_notifications": "policy-ses-notifications-{stage}.json",
}
FUNCTIONS = tuple(POLICY_FILES)
# The condition operators and keys the policies use, and this file's check understands.
CONDITIONS = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys"}, "StringEquals": {"ses:FromAddress"}}

RUNTIME_ONLY = {
    "OwnLogs:logs:CreateLogStream": "Lambda's runtime sends the functions' stdout to their log group",
    "OwnLogs:logs:PutLogEvents": "Lambda's runtime sends the functions' stdout to their log group",
    "FailedTicksQueue:sqs:SendMessage": "Lambda sends a failed tick's event to its on-failure destination, with the tick's role",
}
PENDING: dict[str, str] = {}

DYNAMODB_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def policy(stage: str, function: str = "api") -> dict:
    return json.loads((REPO / ".chalice" / POLICY_FILES[function].format(stage=stage)).read_text())


def resolve(value) -> str:
    """Resolve a resource given as a string or Fn::Sub of pseudo parameters."""
    if isinstance(value, dict):
        (function, template), = value.items()
        assert function == "Fn::Sub", f"only Fn::Sub of pseudo parameters is understood here, not {function}"
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m.group(1)], template)
    return value


def statements(stage: str, function: str = "api") -> list[dict]:
    found = []
    for statement in policy(stage, function)["Statement"]:
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


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, Any] | None) -> bool:
    """Whether a statement's Condition holds for a request with these condition keys.

    A key the request is not known to carry fails the condition: stricter
    than IAM, whose ForAllValues passes on a missing key, so that this check
    never allows by default.
    """
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            assert key in CONDITIONS.get(operator, set()), f"{operator} on {key} is not understood here"
            wanted = wanted if isinstance(wanted, list) else [wanted]
            if context is None or key not in context:
                return False
            values = context[key] if isinstance(context[key], list) else [context[key]]
            if operator == "ForAllValues:StringLike":
                if not all(any(fnmatchcase(v, w) for w in wanted) for v in values):
                    return False
            elif not (len(values) == 1 and values[0] in wanted):  # StringEquals
                return False
    return True


def granting(stage: str, action: str, resource: str | None, function: str = "api",
             context: dict[str, Any] | None = None) -> list[str]:
    """The Sids of the statements of ``function``'s policy that allow ``action`` on ``resource``.

    ``resource`` None: any (the suite's record does not say). A statement with
    a Condition allows only when ``context`` (the request's condition keys)
    satisfies it.
    """
    return [s["Sid"] for s in statements(stage, function)
            if any(fnmatchcase(action, a) for a in s["Action"])
            and (resource is None or any(fnmatchcase(resource, r) for r in s["Resource"]))
            and ("Condition" not in s or _condition_holds(s["Condition"], context))]


def app_calls(calls: list[aws_calls.Call]) -> list[aws_calls.Call]:
    return [c for c in calls if c.origin in ("app", "unknown")]


def call_context(call: aws_calls.Call) -> dict[str, Any] | None:
    """The condition keys IAM sees on ``call`` that the policies test: the sender of a mail."""
    if call.service == "ses" and "Source" in call.params:
        return {"ses:FromAddress": call.params["Source"]}
    return None


@functools.lru_cache(maxsize=None)
def stage_sender(stage: str) -> str:
    return json.loads((REPO / ".chalice" / "config.json").read_text())["stages"][stage]["environment_variables"]["SENDER_EMAIL"]


def as_the_office(call: aws_calls.Call, stage: str) -> bool:
    """False for a mail a test sends from another address on purpose (SES must refuse it; so must IAM)."""
    return call.service != "ses" or call.params.get("Source", stage_sender(stage)) == stage_sender(stage)


def only_the_tick(call: aws_calls.Call) -> bool:
    """A call only the tick makes: a read of the due index (test_only_the_tick_reads_the_due_index)."""
    from chalicelib import config

    return call.service == "dynamodb" and call.params.get("IndexName") == table_keys.DUE_INDEX


# ------------------------------------------------------------ the policies


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("stage", STAGES)
def test_policy_allows_only_named_actions_on_named_resources(stage, function):
    for statement in policy(stage, function)["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, "no NotAction, NotResource"
        assert statement.get("Sid"), "each statement has a Sid: PENDING and RUNTIME_ONLY name them"
        for operator, tests in statement.get("Condition", {}).items():
            assert set(tests) <= CONDITIONS.get(operator, set()), f"{statement['Sid']}: {operator} {sorted(tests)}"
    for statement in statements(stage, function):
        for action in statement["Action"]:
            assert re.fullmatch(r"[a-z0-9]+:[A-Za-z]+", action), f"{action}: a whole action, no wildcard"
        for resource in statement["Resource"]:
            assert resource != "*", resource
            assert f"sro-events-{stage}" in resource or f"sro-events/{stage}/" in resource or ":identity/" in resource, resource


@pytest.mark.parametrize("function", FUNCTIONS)
def test_prod_policy_is_dev_policy_with_the_stage_renamed(function):
    dev = (REPO / ".chalice" / POLICY_FILES[function].format(stage="dev")).read_text()
    prod = (REPO / ".chalice" / POLICY_FILES[function].format(stage="prod")).read_text()
    assert prod == dev.replace("sro-events-dev", "sro-events-prod").replace("/sro-events/dev/", "/sro-events/prod/")


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_runs_with_its_own_policy(stage):
    """The API, the tick, the authorizer and the SES notice handler: one role each, none sharing the API's."""
    import app

    settings = json.loads((REPO / ".chalice" / "config.json").read_text())
    assert settings["autogen_policy"] is False
    stage_settings = settings["stages"][stage]
    assert stage_settings["iam_policy_file"] == POLICY_FILES["api"].format(stage=stage)
    own = {name: f["iam_policy_file"] for name, f in stage_settings["lambda_functions"].items() if "iam_policy_file" in f}
    assert own == {f: POLICY_FILES[f].format(stage=stage) for f in FUNCTIONS if f != "api"}
    assert set(own) <= set(app.app.handler_map), "names of the app's handlers (chalicelib/http)"


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("stage", STAGES)
def test_each_function_writes_only_its_own_logs(stage, function):
    name = f"sro-events-{stage}" if function == "api" else f"sro-events-{stage}-{function}"
    [logs] = [s for s in statements(stage, function) if s["Sid"] == "OwnLogs"]
    assert logs["Resource"] == [f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{name}:*"]
    assert [s["Sid"] for s in statements(stage, function) if any(a.startswith("logs:") for a in s["Action"])] \
        == ["OwnLogs"]


@pytest.mark.parametrize("function", ["api", "tick"])
@pytest.mark.parametrize("stage", STAGES)
def test_policy_names_the_sender_the_app_sends_from(stage, function, monkeypatch):
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.delenv("SENDER_EMAIL", raising=False)
    sender = config.load().sender_email
    mail = next(s for s in statements(stage, function) if s["Sid"] == "SendMailAsTheOffice")
    domain = sender.split("@", 1)[1]
    assert {r.rsplit(":", 1)[1] for r in mail["Resource"]} == {
        f"identity/{domain}", f"identity/{sender}", f"configuration-set/sro-events-{stage}"}
    assert mail["Condition"] == {"StringEquals": {"ses:FromAddress": sender}}


@pytest.mark.parametrize("function", ["api", "tick", "ses_notifications"])
@pytest.mark.parametrize("stage", STAGES)
def test_policy_names_the_link_signing_key_of_its_stage(stage, function, monkeypatch):
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.delenv("TOKEN_KEY_PARAMETER", raising=False)
    key = next(s for s in statements(stage, function) if s["Sid"] == "LinkSigningKey")
    assert [r.split(":parameter", 1)[1] for r in key["Resource"]] == [config.get("TOKEN_KEY_PARAMETER")]


def test_pending_and_runtime_entries_name_real_grants():
    for stage in STAGES:
        grants = {f"{s['Sid']}:{a}" for function in FUNCTIONS for s in statements(stage, function) for a in s["Action"]}
        assert set(PENDING) <= grants and set(RUNTIME_ONLY) <= grants


def test_only_the_tick_reads_the_due_index():
    """So the API's policy need not grant it: only reminders.send_due (the tick, `cli send-due`) reads it."""
    import inspect

    import app

    readers = re.compile(r"\b(?:due_page|due_sends|send_due\w*|run_tick)\(|\bDUE_INDEX\b")  # calls, not mentions
    tick_side = {"http/handlers.py", "ports.py", "adapters/dynamodb/keys.py", "adapters/dynamodb/sends.py", "adapters/dynamodb/table.py",
                 "services/tick.py", "wiring.py", "ops/cli.py"}
    found = [f"chalicelib/{path.relative_to(REPO / 'chalicelib')}" for path in sorted((REPO / "chalicelib").rglob("*.py"))
             if str(path.relative_to(REPO / "chalicelib")) not in tick_side
             and readers.search(path.read_text(encoding="utf-8"))]
    assert not found, f"these reach the due index, which the API's policy does not grant: {found}"
    from chalicelib.http import handlers

    source = "".join(path.read_text(encoding="utf-8") for path in [REPO / "app.py", *(REPO / "chalicelib" / "http").glob("*.py")])
    assert len(readers.findall(source)) == 1 and readers.search(inspect.getsource(handlers.tick.func)), \
        "the HTTP edge reaches the due index only from the scheduled tick"


# ------------------------------------------------------ the recorder itself


def test_recorder_tells_app_calls_from_test_calls(dynamodb_repo):
    before = len(aws_calls.CALLS)
    dynamodb_repo.get_event("nothing-here")
    dynamodb_repo.client.scan(TableName=dynamodb_repo.table)
    recorded = [(c.origin, c.operation) for c in aws_calls.CALLS[before:]]
    assert recorded == [("app", "GetItem"), ("test", "Scan")]


def test_recorder_counts_the_token_list_as_the_operators_not_the_apps(dynamodb_repo):
    # Its Scan goes through the mixins' shared plumbing (calls.py), which must not make it the app's.
    before = len(aws_calls.CALLS)
    dynamodb_repo.list_staff_tokens()
    dynamodb_repo.get_staff_token("0" * 64)
    recorded = [(c.origin, c.operation) for c in aws_calls.CALLS[before:]]
    assert recorded == [("operator", "Scan"), ("app", "GetItem")]


def test_transactions_need_the_actions_of_their_items():
    call = aws_calls.Call("dynamodb", "TransactWriteItems", "app", "x", {"TransactItems": [
        {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]})
    assert [a for a, _ in needs(call, "dev")] == ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]


def test_a_query_on_the_due_index_needs_the_index_granted_which_only_the_ticks_policy_does():
    call = aws_calls.Call("dynamodb", "Query", "app", "x", {"TableName": "t", "IndexName": "due"})
    assert only_the_tick(call)
    assert granting("dev", *needs(call, "dev")[0], function="tick") == ["DueIndex"]
    assert granting("dev", *needs(call, "dev")[0]) == []
    table_only = aws_calls.Call("dynamodb", "Query", "app", "x", {"TableName": "t"})
    assert not only_the_tick(table_only)
    assert granting("dev", *needs(table_only, "dev")[0]) == ["TableItems"]


# ------------------------------------------- the tick, run as Lambda runs it


@dataclass(frozen=True)
class Request:
    """One request the tick made, with all its parameters (IAM decides on the keys of the items it names)."""

    service: str  # the IAM prefix
    operation: str
    params: dict[str, Any] = field(compare=False)


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:{resource}"


def _partition_key(item: dict[str, Any]) -> str:
    return item["PK"]["S"]


def _queried_key(params: dict[str, Any]) -> str:
    """The partition key value of a Query: the equality in its key condition."""
    _, placeholder = re.match(r"\s*(#?\w+)\s*=\s*(:\w+)", params["KeyConditionExpression"]).groups()
    return params["ExpressionAttributeValues"][placeholder]["S"]


def request_needs(request: Request) -> list[tuple[str, str, dict[str, Any]]]:
    """What IAM checks for one request: (action, resource ARN, condition keys), as in the service's reference."""
    p, op = request.params, request.operation
    if request.service == "dynamodb":
        def on(table: str, index: str | None = None) -> str:
            return _arn("dynamodb", f"table/{table}" + (f"/index/{index}" if index else ""))

        if op in ("TransactWriteItems", "TransactGetItems"):
            found = []
            for item in p["TransactItems"]:
                (kind, body), = item.items()
                key = body.get("Key") or body["Item"]
                found.append((f"dynamodb:{DYNAMODB_ITEM_ACTIONS[kind]}", on(body["TableName"]),
                              {"dynamodb:LeadingKeys": [_partition_key(key)]}))
            return found
        if op == "BatchGetItem":
            return [(f"dynamodb:{op}", on(table), {"dynamodb:LeadingKeys": sorted({_partition_key(k) for k in r["Keys"]})})
                    for table, r in p["RequestItems"].items()]
        if op == "BatchWriteItem":
            return [(f"dynamodb:{op}", on(table), {"dynamodb:LeadingKeys": sorted({
                _partition_key(w.get("PutRequest", {}).get("Item") or w["DeleteRequest"]["Key"]) for w in writes})})
                for table, writes in p["RequestItems"].items()]
        if op == "Query":
            return [(f"dynamodb:{op}", on(p["TableName"], p.get("IndexName")),
                     {"dynamodb:LeadingKeys": [_queried_key(p)]})]
        return [(f"dynamodb:{op}", on(p["TableName"]), {"dynamodb:LeadingKeys": [_partition_key(p.get("Key") or p["Item"])]})]
    if request.service == "ses" and op in ("SendRawEmail", "SendEmail"):
        sender = parseaddr(p["Source"])[1]
        resources = [_arn("ses", f"identity/{sender.rpartition('@')[2]}")]
        if p.get("ConfigurationSetName"):
            resources.append(_arn("ses", f"configuration-set/{p['ConfigurationSetName']}"))
        return [(f"ses:{op}", resource, {"ses:FromAddress": sender}) for resource in resources]
    if request.service == "ssm" and op == "GetParameter":
        return [("ssm:GetParameter", _arn("ssm", f"parameter{p['Name']}"), {})]
    return [(f"{request.service}:{op}", "*", {})]  # not known here: no policy grants "*"


@dataclass
class TickRun:
    """What one run of the tick did: its requests, the mails SES took, the races it met."""

    stage: str
    requests: list[Request]
    mailed: Counter
    races: Counter
    left: dict[str, Any]


WEBINAR, LATER, DAY = "webinar-2027-01-14", "webinar-2027-02-11", "smart-region-dag-2027"


class _Context:
    """What Lambda passes the handler: the time left (the tick's 75 s)."""

    aws_request_id = "tick-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 75_000


def _scheduled_event(stage: str) -> dict[str, Any]:
    return {"version": "0", "id": "tick-event", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": PSEUDO["AWS::AccountId"], "time": "2026-11-25T12:02:00Z", "region": PSEUDO["AWS::Region"],
            "resources": [f"arn:aws:events:eu-west-1:123456789012:rule/sro-events-{stage}-tick-event"], "detail": {}}


def _run_the_tick(stage: str) -> TickRun:
    """Run ``app.tick`` as Lambda does in ``stage``, after a day's worth of work left for it, and record its requests.

    Left for the tick, as when a request died after its change and before
    planning the mails it called for: a webinar postponed by a week (change
    notices, reminders moved, registrations and profiles kept longer), a
    webinar cancelled (its reminders dropped, cancellation notices) and a
    seat freed on the full day (the first person waiting gets it, and a
    mail). Two races on the way, as another request would cause them: a
    profile changed between the tick's read and its write, and a
    registration moved under the tick's transaction.
    """
    import app
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from chalicelib import config
    from chalicelib.errors import Unavailable
    from tests.fakes import RecordingMailer
    from chalicelib.adapters.dynamodb import DynamoDBRepository
    from chalicelib.adapters.dynamodb.table import create_table
    from tests.conftest import aws_error, day_data, webinar_data
    from tests.support.sending import register

    clock = {"now": PINNED_NOW}
    requests: list[Request] = []
    races: Counter = Counter()

    def race(operation: str, params: dict[str, Any]) -> Exception | None:
        if operation == "PutItem" and params["Item"]["PK"]["S"].startswith("PERSON#") and not races["profile"]:
            races["profile"] += 1
            return aws_error(operation, "ConditionalCheckFailedException")
        items = params.get("TransactItems") or [{}]
        if operation == "TransactWriteItems" and "Put" in items[0] and \
                items[0]["Put"]["Item"]["SK"]["S"].startswith("REG#") and not races["registration"]:
            races["registration"] += 1
            return aws_error(operation, "TransactionCanceledException", CancellationReasons=(
                [{"Code": "ConditionalCheckFailed"}] + [{"Code": "None"}] * (len(items) - 1)))
        return None

    def recorded(client: Any) -> None:
        service, answer = client.meta.service_model.signing_name, client._make_api_call

        def call(operation: str, params: dict[str, Any]) -> Any:
            requests.append(Request(service, operation, copy.deepcopy(params)))
            error = race(operation, params) if service == "dynamodb" else None
            if error is not None:
                raise error  # after IAM let it through: a condition fails only once the request is allowed
            return answer(operation, params)

        client._make_api_call = call

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAGE", stage)  # the stage's settings: its table, key parameter, configuration set, rate
        for name in ("TABLE_NAME", "TOKEN_KEY", "TOKEN_KEY_PARAMETER", "SENDER_EMAIL", "BASE_URL",
                     "SES_CONFIGURATION_SET", "SES_MAX_SEND_RATE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        patch.setattr(times, "now", lambda: clock["now"])
        aws.reset()
        link_keys._key_cache.clear()
        try:
            with mock_aws():
                settings = config.load()
                dynamodb, ses, ssm = aws.client("dynamodb"), aws.client("ses"), aws.client("ssm")
                create_table(dynamodb, settings.table_name)
                ses.verify_domain_identity(Domain=settings.sender_email.rpartition("@")[2])
                ses.create_configuration_set(ConfigurationSet={"Name": settings.ses_configuration_set})
                ssm.put_parameter(Name=config.get("TOKEN_KEY_PARAMETER"), Value="a-test-key-" * 5, Type="SecureString")
                repo, setup = DynamoDBRepository(dynamodb, settings.table_name), RecordingMailer()

                events.create_event(repo, webinar_data(), actor="staff", base_url=settings.base_url)
                events.create_event(repo, webinar_data(id=LATER, starts_at="2027-02-11T10:00:00+01:00",
                                                       ends_at="2027-02-11T11:00:00+01:00"), actor="staff",
                                    base_url=settings.base_url)
                events.create_event(repo, day_data(capacity=1), actor="staff", base_url=settings.base_url)
                register(repo, setup, "an@example.be", [WEBINAR, LATER])
                register(repo, setup, "bo@example.be", [WEBINAR])
                register(repo, setup, "cas@example.be", [DAY])  # the one seat
                register(repo, setup, "dirk@example.be", [DAY])  # waiting
                events.change_event(repo, WEBINAR, {"starts_at": "2027-01-21T10:00:00+01:00",
                                                    "ends_at": "2027-01-21T11:00:00+01:00"}, actor="staff",
                                    base_url=settings.base_url)
                events.cancel_event(repo, LATER, actor="staff", base_url=settings.base_url)
                manage = re.search(r"/manage/([\w-]+)", setup.to("cas@example.be")[-1].text).group(1)

                def dies(*_: Any, **__: Any) -> None:
                    raise Unavailable("storage: the request died after freeing the seat")

                with pytest.MonkeyPatch.context() as dying:
                    dying.setattr(seats, "promote_waiting", dies)
                    with pytest.raises(Unavailable):
                        manage_module.cancel_registration(repo, manage, DAY, key=KEY)

                clock["now"] = PINNED_NOW + timedelta(minutes=2)
                link_keys._key_cache.clear()  # a cold start: the tick reads the key itself
                wiring.set_repo(None)
                wiring.set_mailer(None)  # the tick makes its own, from the stage's settings
                for client in (dynamodb, ses, ssm):
                    recorded(client)
                try:
                    handlers.tick(_scheduled_event(stage), _Context())
                finally:
                    for client in (dynamodb, ses, ssm):
                        del client._make_api_call  # the class's own again
                taken = len(ses_backends[DEFAULT_ACCOUNT_ID][settings.region].sent_messages)
                mailed = Counter(to for r in requests if r.operation == "SendRawEmail" for to in r.params["Destinations"])
                assert taken == sum(mailed.values()), "SES took every mail the tick sent"
                left = {"unplanned": [e.id for e in repo.list_events() if e.unplanned is not None],
                        "seat_freed": [e.id for e in repo.list_events() if e.seat_freed_at is not None],
                        "seats_taken": repo.get_event(DAY).seats_taken}
        finally:
            wiring.set_repo(None)
            wiring.set_mailer(None)
            link_keys._key_cache.clear()
            aws.reset()
    return TickRun(stage, requests, mailed, races, left)


@pytest.fixture(scope="module", params=STAGES)
def tick_run(request) -> TickRun:
    return _run_the_tick(request.param)


def test_the_tick_run_does_every_kind_of_work_the_tick_does(tick_run):
    """The checks below are only as good as this run: it plans, claims, mails, records, and meets both races."""
    assert tick_run.mailed == {"an@example.be": 2, "bo@example.be": 1, "dirk@example.be": 1}  # 2 changes, 1 cancel, 1 seat
    assert tick_run.races == {"profile": 1, "registration": 1}
    assert tick_run.left == {"unplanned": [], "seat_freed": [], "seats_taken": 1}
    operations = Counter((r.service, r.operation) for r in tick_run.requests)
    assert {("ssm", "GetParameter"), ("ses", "SendRawEmail"), ("dynamodb", "Query"), ("dynamodb", "TransactWriteItems"),
            ("dynamodb", "UpdateItem"), ("dynamodb", "BatchGetItem"), ("dynamodb", "GetItem"),
            ("dynamodb", "PutItem")} <= set(operations)
    assert any(r.params.get("IndexName") == "due" for r in tick_run.requests)


def test_the_ticks_policy_allows_every_request_the_tick_makes(tick_run):
    refused = sorted({f"{action} on {resource} with {context} ({r.operation})"
                      for r in tick_run.requests for action, resource, context in request_needs(r)
                      if not granting(tick_run.stage, action, resource, "tick", context)})
    assert not refused, f".chalice/policy-tick-{tick_run.stage}.json must allow:\n" + "\n".join(refused)


def test_the_ticks_policy_allows_nothing_the_tick_does_not_do(tick_run):
    used_actions, used_keys = set(), set()
    for r in tick_run.requests:
        for action, resource, context in request_needs(r):
            for statement in statements(tick_run.stage, "tick"):
                if statement["Sid"] not in granting(tick_run.stage, action, resource, "tick", context):
                    continue
                used_actions.add(f"{statement['Sid']}:{action}")
                patterns = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", [])
                used_keys |= {f"{statement['Sid']}:{p}" for p in patterns
                              for key in context.get("dynamodb:LeadingKeys", []) if fnmatchcase(key, p)}
    tick = statements(tick_run.stage, "tick")
    granted = {f"{s['Sid']}:{a}" for s in tick for a in s["Action"]}
    assert not granted - used_actions - set(RUNTIME_ONLY), \
        f"policy-tick-{tick_run.stage}.json grants what the tick never does: {sorted(granted - used_actions - set(RUNTIME_ONLY))}"
    keys = {f"{s['Sid']}:{p}" for s in tick
            for p in s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", [])}
    assert not keys - used_keys, \
        f"policy-tick-{tick_run.stage}.json grants items the tick never touches: {sorted(keys - used_keys)}"


# --------------------------------------------- after the whole suite has run


@pytest.mark.after_all_aws_calls
@pytest.mark.parametrize("stage", STAGES)
def test_every_aws_operation_of_the_app_is_allowed(stage, aws_calls_of_the_run):
    refused = sorted({f"{action} on {resource or 'any'} (from {call.where})"
                      for call in app_calls(aws_calls_of_the_run) if as_the_office(call, stage) for action, resource in needs(call, stage)
                      if not granting(stage, action, resource, "tick" if only_the_tick(call) else "api",
                                      call_context(call))})
    assert not refused, f".chalice/policy-{stage}.json (or -tick-) must allow:\n" + "\n".join(refused)


@pytest.mark.after_all_aws_calls
@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_allows_nothing_the_app_never_does(stage, aws_calls_of_the_run):
    if not aws_calls.STATE["full_run"]:
        pytest.skip(f"needs the whole suite: {aws_calls.STATE['reason']}")
    exercised = {f"{sid}:{action}" for call in app_calls(aws_calls_of_the_run) if not only_the_tick(call)
                 for action, resource in needs(call, stage)
                 for sid in granting(stage, action, resource, "api", call_context(call))}
    granted = {f"{s['Sid']}:{a}" for s in statements(stage) for a in s["Action"]}
    unused = granted - exercised - set(RUNTIME_ONLY) - set(PENDING)
    assert not unused, f"policy-{stage}.json grants what no test sees the app do: {sorted(unused)}"
    done = exercised & set(PENDING)
    assert not done, f"now exercised, remove from PENDING in tests/deploy/test_iam_policy.py: {sorted(done)}"

"""pytest plugin: record every AWS operation the test suite makes, and who made it.

Registered in pytest.ini with ``-p tests.plugins.aws_calls``. It wraps
``botocore.session.Session.create_client`` so that every client, however it
is made (``chalicelib.aws``, boto3 directly, moto's fixtures), reports each
operation through botocore's ``before-parameter-build.*.*`` event, which
carries the caller's own parameters (table, index, the items of a
transaction) before they are serialised.

Each call is attributed to the innermost frame of this repository on the
stack:

- ``app``: ``app.py`` or ``chalicelib/`` - what the Lambda functions run,
  and so what ``.chalice/policy-<stage>.json`` must allow;
- ``operator``: ``chalicelib/ops/`` and the functions in
  ``OPERATOR_FUNCTIONS`` (table creation, the token list), run with an operator's
  credentials, never by Lambda;
- ``test``: ``tests/`` and ``scripts/`` (fixtures, direct checks).

``tests/deploy/test_iam_policy.py`` reads the calls of the whole run after every
other test has run (the marker ``after_all_aws_calls`` moves a test to the
end), through the fixture ``aws_calls_of_the_run``:

- in one process, that is ``CALLS``;
- under pytest-xdist (``-n``), each worker appends the calls of each test,
  once it is torn down, to its own file in a directory the controller makes
  for the run and passes to the workers (``pytest_configure_node``). The
  fixture waits until every other test of the run (each selected item, on
  whichever worker) has a record there, then merges them: the check sees
  every AWS call of the run, as in one process. A test that never finishes
  (a crashed worker, ``-x``) makes it fail after ``WAIT_SECONDS`` without a
  test finishing anywhere, naming the tests it waited for.
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# Table creation, and `staff-token list` (a Scan of the token items: only the operator's command line lists
# tokens; the API reads one token by its hash).
OPERATOR_FUNCTIONS = {("chalicelib/adapters/dynamodb/table.py", "create_table"),
                      ("chalicelib/adapters/dynamodb/staff.py", "list_staff_tokens")}
# The request plumbing every DynamoDB mixin calls through: the call is the caller's.
PLUMBING = {"chalicelib/adapters/dynamodb/calls.py"}
# Under xdist: how long the whole-run fixture waits with no test finishing on any worker before it fails.
WAIT_SECONDS = float(os.environ.get("AWS_CALLS_WAIT_SECONDS", "900"))
WORKERINPUT_KEY = "aws_calls_dir"


@dataclass(frozen=True)
class Call:
    """One AWS operation: service signing name (the IAM prefix), operation, parameters that name resources."""

    service: str
    operation: str
    origin: str  # app, operator or test
    where: str   # file:function of the innermost repository frame
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


CALLS: list[Call] = []
STATE = {"full_run": False, "reason": ""}
# Under xdist. dir: the run's records (one file per worker); file: this worker's; flushed: how many of CALLS it holds.
RUN: dict[str, Any] = {}
_FRAME = struct.Struct(">Q")  # each record: its length, then (nodeid, calls) pickled

_RESOURCE_PARAMS = ("TableName", "IndexName", "TransactItems", "RequestItems",
                    "Source", "ConfigurationSetName", "FromEmailAddress")


def _where() -> tuple[str, str]:
    frame = sys._getframe(2)
    while frame is not None:
        try:
            relative = Path(frame.f_code.co_filename).resolve().relative_to(REPO)
        except ValueError:
            frame = frame.f_back
            continue
        rel = relative.as_posix()
        if rel.startswith(".venv/") or "/site-packages/" in rel or rel in PLUMBING:
            frame = frame.f_back
            continue
        where = f"{rel}:{frame.f_code.co_name}"
        if rel.startswith(("tests/", "scripts/", "benchmarks/")):
            return "test", where
        if rel.startswith("chalicelib/ops/") or (rel, frame.f_code.co_name) in OPERATOR_FUNCTIONS:
            return "operator", where
        if rel == "app.py" or rel.startswith("chalicelib/"):
            return "app", where
        return "test", where
    return "unknown", "?"


def _record(params: dict[str, Any], model: Any, **_: Any) -> None:
    origin, where = _where()
    CALLS.append(Call(
        service=model.service_model.signing_name, operation=model.name, origin=origin, where=where,
        params={k: params[k] for k in _RESOURCE_PARAMS if k in params},
    ))


def _install() -> None:
    import botocore.session

    original = botocore.session.Session.create_client
    if getattr(original, "_records_aws_calls", False):
        return

    def create_client(self, *args: Any, **kwargs: Any):
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build.*.*", _record, unique_id="tests.plugins.aws_calls")
        return client

    create_client._records_aws_calls = True  # type: ignore[attr-defined]
    botocore.session.Session.create_client = create_client


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_all_aws_calls: run after every other test (reads the recorded AWS calls)")
    _install()
    if hasattr(config, "workerinput") and WORKERINPUT_KEY in config.workerinput:
        RUN["dir"] = config.workerinput[WORKERINPUT_KEY]
        RUN["file"] = os.path.join(RUN["dir"], f"{config.workerinput['workerid']}.{os.getpid()}.calls")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, in the controller, for each worker it starts: where the run's records go (made for the first)."""
    if "dir" not in RUN:
        RUN["dir"] = tempfile.mkdtemp(prefix="aws-calls-")
        RUN["owner"] = True
    node.workerinput[WORKERINPUT_KEY] = RUN["dir"]


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN.pop("owner", False):
        shutil.rmtree(RUN.pop("dir"), ignore_errors=True)


# ------------------------------------------------ under xdist: one file per worker



def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """A worker: append the calls made since the last record, with the test that made them (once torn down)."""
    if "file" not in RUN:
        return
    start = RUN.get("flushed", 0)
    payload = pickle.dumps((nodeid, CALLS[start:]), protocol=pickle.HIGHEST_PROTOCOL)
    frame = memoryview(_FRAME.pack(len(payload)) + payload)
    fd = os.open(RUN["file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        while frame:
            frame = frame[os.write(fd, frame):]
    finally:
        os.close(fd)
    RUN["flushed"] = len(CALLS)


def _read_records(directory: str) -> tuple[set[str], list[Call]]:
    """The tests recorded so far by every worker, and their calls (a record still being written is left for later)."""
    finished: set[str] = set()
    calls: list[Call] = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read()
        at = 0
        while at + _FRAME.size <= len(data):
            (size,) = _FRAME.unpack_from(data, at)
            if at + _FRAME.size + size > len(data):
                break
            nodeid, recorded = pickle.loads(data[at + _FRAME.size:at + _FRAME.size + size])
            finished.add(nodeid)
            calls.extend(recorded)
            at += _FRAME.size + size
    return finished, calls


def _whole_run(session: pytest.Session) -> list[Call]:
    if "file" not in RUN:
        if hasattr(session.config, "workerinput"):  # never the calls of one worker as if they were the run's
            pytest.fail("an xdist worker without the run's record directory (tests/plugins/aws_calls.py "
                        "not loaded in the controller?)", pytrace=False)
        return CALLS
    others = {item.nodeid for item in session.items if not item.get_closest_marker("after_all_aws_calls")}
    seen, last_change = -1, time.monotonic()
    while True:
        finished, calls = _read_records(RUN["dir"])
        waiting = others - finished
        if not waiting:
            return calls + CALLS[RUN.get("flushed", 0):]
        if len(finished) != seen:
            seen, last_change = len(finished), time.monotonic()
        elif time.monotonic() - last_change > WAIT_SECONDS:
            pytest.fail(f"the AWS calls of the whole run are not all recorded: no test finished on any worker for "
                        f"{WAIT_SECONDS:.0f} s, and {len(waiting)} never did (a worker crashed or stopped early?): "
                        f"{sorted(waiting)[:20]}", pytrace=False)
        time.sleep(0.2)


@pytest.fixture
def aws_calls_of_the_run(request: pytest.FixtureRequest) -> list[Call]:
    """Every AWS call the run's tests made, each other test finished; for tests marked ``after_all_aws_calls``."""
    assert request.node.get_closest_marker("after_all_aws_calls"), "only a test that runs after all others sees them all"
    return _whole_run(request.session)


def _partial_run_reason(config: pytest.Config, deselected: int) -> str:
    if config.option.keyword or config.option.markexpr:
        return "-k or -m selects a subset of the tests"
    if deselected:
        return "some tests were deselected"
    if getattr(config.option, "lf", False):
        return "--lf runs a subset of the tests"
    testpaths = {(config.rootpath / p).resolve() for p in config.getini("testpaths")} or {config.rootpath.resolve()}
    given = {(config.invocation_params.dir / a.split("::")[0]).resolve() for a in config.args}
    if given - testpaths - {config.rootpath.resolve()}:
        return "only some test files or tests were named on the command line"
    return ""


_deselected = 0


def pytest_deselected(items: list[pytest.Item]) -> None:
    global _deselected
    _deselected += len(items)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [i for i in items if i.get_closest_marker("after_all_aws_calls")]
    items[:] = [i for i in items if not i.get_closest_marker("after_all_aws_calls")] + last
    STATE["reason"] = _partial_run_reason(config, _deselected)
    STATE["full_run"] = not STATE["reason"]

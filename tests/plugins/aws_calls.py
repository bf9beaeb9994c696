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
  ``OPERATOR_FUNCTIONS`` (table creation), run with an operator's
  credentials, never by Lambda;
- ``test``: ``tests/`` and ``scripts/`` (fixtures, direct checks).

``tests/test_iam_policy.py`` reads ``CALLS`` after every other test has run
(the marker ``after_all_aws_calls`` moves a test to the end).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
OPERATOR_FUNCTIONS = {("chalicelib/adapters/dynamodb/table.py", "create_table")}


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
        if rel.startswith(".venv/") or "/site-packages/" in rel:
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


def _partial_run_reason(config: pytest.Config, deselected: int) -> str:
    if hasattr(config, "workerinput"):
        return "running under pytest-xdist: each worker sees only its share of the calls"
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

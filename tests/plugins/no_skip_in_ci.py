"""pytest plugin: in CI, a skipped test is a failed test.

Registered in pytest.ini with `-p tests.plugins.no_skip_in_ci`. Active only
when the environment variable CI is set (CI sets CI=true); a developer's
local run keeps ordinary skips. Expected failures (xfail) stay as they are.

Covers skips at run time (skip marks, skipif, pytest.skip() in a test or a
fixture) and at collection (a module-level pytest.importorskip or
pytest.skip(allow_module_level=True)).
"""

from __future__ import annotations

import os

import pytest


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, lineno, reason)
        reason = longrepr[2]
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI: {_reason(report)}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if _in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI: {_reason(report)}"
    return report

"""pytest plugin: the slow, live tier (marker ``live``) and the tests that must share one xdist worker.

Registered in pytest.ini with ``-p tests.plugins.tiers``. ``make test`` runs
everything; ``make test-fast`` runs ``-m "not live"`` on two workers.

A test is ``live`` when it runs a real service or tool for seconds to
minutes: its module is in ``LIVE_MODULES`` (a browser, schemathesis, the load
test, moto's scaling) or it uses a fixture of ``LIVE_FIXTURES`` (moto's
server with ``chalice local``, the package build). Listed here rather than
marked in each file, so that a test file can move or split without losing its
tier: a module is named by its file name, wherever it lives under tests/.

Under pytest-xdist with ``--dist loadgroup``, the tests that share an
expensive session- or module-scoped fixture run on one worker
(``xdist_group``), so that it is built once, as in a serial run:
``SHARED_FIXTURES`` (the live server, the package build: ``chalice package``
writes its own cache in .chalice/, which two builds at once would race on).
"""

from __future__ import annotations

from pathlib import Path

import pytest

LIVE_MODULES = {
    "test_browser.py",       # Playwright and Chromium against the live server
    "test_fuzz.py",          # schemathesis against its own chalice local + moto server
    "test_load.py",          # 220 people at once against its own chalice local + moto server
    "test_moto_scaling.py",  # hypothesis against moto, 20 s and more
}
LIVE_FIXTURES = {"live_server", "packaged"}
SHARED_FIXTURES = {"live_server": "live-server", "packaged": "package-build"}


def is_live(item: pytest.Item) -> bool:
    path = Path(str(item.path))
    return path.parent.name == "live" or path.name in LIVE_MODULES or bool(LIVE_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: before -m deselects (and before xdist names the groups of the items).
    for item in items:
        if is_live(item):
            item.add_marker(pytest.mark.live)
        shared = sorted(SHARED_FIXTURES[f] for f in SHARED_FIXTURES if f in getattr(item, "fixturenames", ()))
        if shared and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(shared[0]))

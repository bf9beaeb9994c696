"""Helpers for browser tests: Debian's Chromium driven by Playwright, and axe-core.

Playwright never downloads a browser here (`playwright install` is not run):
it drives the system Chromium at /usr/bin/chromium, which `.ci/run` installs
with apt when it is missing. axe-core comes from node_modules (`make
node_modules`).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright):
    """Launch headless Debian Chromium; returns a Playwright Browser."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def running_chromium():
    """One Chromium for a module's tests (``browser = pytest.fixture(scope="module")(running_chromium)``);
    skips when Debian's chromium is missing (CI fails on a skip)."""
    import pytest
    from playwright import sync_api

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def axe_violations(page, tags=None):
    """Run axe-core on the page's current document; return its violations.

    Each violation is axe's dict: id, impact, description, help, helpUrl,
    nodes (with html and target), ...  An empty list means no violation.

    axe's source is evaluated through the DevTools protocol rather than added
    as a <script> tag, so it also works on pages whose Content-Security-Policy
    forbids inline scripts (page.add_script_tag fails there).
    """
    if not AXE_JS.exists():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `make node_modules`")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: tags},
                resultTypes: ["violations"],
            });
            return result.violations;
        }""",
        list(tags or AXE_TAGS),
    )

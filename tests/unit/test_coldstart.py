"""Cold start: importing the app loads no heavy library; each waits for the request that needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "icalendar", "jinja2", "email_validator", "babel", "dateutil", "dns")


def test_importing_the_app_loads_no_heavy_library():
    script = f"import sys, app; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at cold start: {result.stdout.strip()}"

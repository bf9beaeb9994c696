"""The size of the load test's rush (tests/live/test_load.py), which the stage's throttling must let through."""

from __future__ import annotations

import os

PEOPLE = int(os.environ.get("LOAD_PEOPLE", "200"))
REPEATS = 20          # people who post the form twice at once
DOUBLE_CLICKS = 20    # people who press "confirm" twice at once

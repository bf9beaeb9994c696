"""Parse feeds the way calendar apps do: icalendar (Python) and Mozilla's ical.js (Node)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARSE_SCRIPT = ROOT / "tests" / "js" / "parse_ics.cjs"


def parse_with_icaljs(body: bytes) -> dict:
    """Return what ical.js reads from ``body`` (see tests/js/parse_ics.cjs)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "ical.js").exists():
        pytest.skip("node and node_modules/ical.js are needed (make node_modules)")
    # TZ=UTC: a time ical.js failed to tie to its zone would show up shifted.
    result = subprocess.run([node, str(PARSE_SCRIPT)], input=body, capture_output=True, cwd=ROOT,
                            env={**os.environ, "TZ": "UTC"}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def parse_with_icalendar(body: bytes) -> dict:
    """Return the same shape as ``parse_with_icaljs``, read by icalendar."""
    from icalendar import Calendar

    cal = Calendar.from_ical(body)
    events = []
    for vevent in cal.walk("VEVENT"):
        def text(name):
            value = vevent.get(name)
            return None if value is None else str(value)
        events.append({
            "uid": text("UID"),
            "summary": text("SUMMARY"),
            "description": text("DESCRIPTION"),
            "location": text("LOCATION"),
            "start": vevent.decoded("DTSTART").astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "end": vevent.decoded("DTEND").astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "status": text("STATUS"),
            "sequence": int(vevent.get("SEQUENCE", 0)),
            "conference": text("CONFERENCE"),
        })
    return {"name": str(cal.get("NAME")) if cal.get("NAME") else None,
            "method": str(cal.get("METHOD")) if cal.get("METHOD") else None, "events": events}


def parse_both(body: bytes) -> tuple[dict, dict]:
    """Parse ``body`` with both parsers and check they agree on every event; return (icalendar, ical.js)."""
    py = parse_with_icalendar(body)
    js = parse_with_icaljs(body)
    keys = ("uid", "summary", "description", "location", "start", "end", "status", "sequence", "conference")
    assert [{k: e[k] for k in keys} for e in py["events"]] == [{k: e[k] for k in keys} for e in js["events"]]
    assert py["method"] == js["method"]
    return py, js


def parse_with_vobject(body: bytes) -> dict:
    """What vobject (a third reader, independent of icalendar and ical.js) reads: method and each event's texts."""
    import vobject

    calendar = vobject.readOne(body.decode("utf-8"))

    def text(vevent, name):
        found = getattr(vevent, name, None)
        return None if found is None else found.value

    method = getattr(calendar, "method", None)
    return {"method": method.value if method is not None else None,
            "events": [{"uid": text(v, "uid"), "summary": text(v, "summary"), "description": text(v, "description"),
                        "location": text(v, "location")} for v in calendar.vevent_list]}


def parse_three(body: bytes) -> tuple[dict, dict, dict]:
    """``parse_both``, and vobject, which must agree with them on every event's texts."""
    py, js = parse_both(body)
    vo = parse_with_vobject(body)
    keys = ("uid", "summary", "description", "location")
    assert [{k: e[k] for k in keys} for e in vo["events"]] == [{k: e[k] for k in keys} for e in js["events"]]
    assert vo["method"] == js["method"]
    return py, js, vo

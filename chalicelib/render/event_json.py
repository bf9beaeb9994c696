"""An event as JSON for the public and staff API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import times
from chalicelib.model.event import Event

# ------------------------------------------------------------ presentation


def event_json(event: Event, *, base_url: str, now: datetime, staff: bool = False) -> dict[str, Any]:
    """Shape an event as API.md's Event; the join link only for staff."""
    tz = event.timezone
    body: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "status": event.status,
        "title": dict(event.title),
        "description": dict(event.description),
        "starts_at": times.format_instant(event.starts_at, tz),
        "ends_at": times.format_instant(event.ends_at, tz),
        "timezone": tz,
        "location": event.location.to_dict() if event.location else None,
        "online_url": event.online_url if staff else None,
        "capacity": event.capacity,
        "registration_opens_at": times.format_instant(event.registration_opens_at, tz),
        "registration_closes_at": times.format_instant(event.registration_closes_at, tz),
        "reminders": list(event.reminders),
        "sequence": event.sequence,
        "created_at": times.format_instant(event.created_at, tz),
        "updated_at": times.format_instant(event.updated_at, tz),
        "seats_left": event.seats_left,
        "registration_open": event.is_registration_open(now),
        "url": f"{base_url}/events/{event.id}",
        "ics_url": f"{base_url}/events/{event.id}/calendar.ics",
    }
    if event.status == "cancelled":
        body["cancelled_at"] = times.format_instant(event.cancelled_at, tz)
    return body

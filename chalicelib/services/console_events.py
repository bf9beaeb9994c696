"""What the staff console does with events beyond the staff API: the overview with counts, copies, phone
registrations.

The overview is the one Query of the events: each event item carries its
counts (seats taken, waiting, interested), moved in the transaction that
moves a registration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib import times
from chalicelib.model.event import COUNTED, Event
from chalicelib.ports import Repository


@dataclass(frozen=True)
class Overview:
    """The console's list of events: upcoming (soonest first), drafts, past and cancelled (latest first)."""

    upcoming: list[Event] = field(default_factory=list)
    drafts: list[Event] = field(default_factory=list)
    past: list[Event] = field(default_factory=list)
    cancelled: list[Event] = field(default_factory=list)


def overview(repo: Repository, now: datetime | None = None) -> Overview:
    """Every event in its section, from one Query (``Repository.list_events``), counts included."""
    now = now or times.now()
    result = Overview()
    for event in repo.list_events():
        if event.status == "draft":
            result.drafts.append(event)
        elif event.status == "cancelled":
            result.cancelled.append(event)
        elif event.ends_at > now:
            result.upcoming.append(event)
        else:
            result.past.append(event)
    result.past.reverse()
    result.cancelled.reverse()
    return result


def recount(repo: Repository) -> dict[str, dict[str, int]]:
    """Count each event's people waiting and interested from its registrations, and store the counts.

    For events whose counts were not kept yet (made before the console), once;
    a registration moved while it runs may leave its event one off, which a
    second run mends. Returns the counts, by event id.
    """
    stored = {}
    for event in repo.list_events():
        counts = {name: 0 for name in COUNTED.values()}
        for reg in repo.list_registrations(event.id):
            if reg.status in COUNTED:
                counts[COUNTED[reg.status]] += 1
        if counts != {"waiting_count": event.waiting_count, "interested_count": event.interested_count}:
            repo.set_event_counts(event.id, counts)
        stored[event.id] = counts
    return stored

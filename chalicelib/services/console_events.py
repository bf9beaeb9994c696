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
from chalicelib.model.event import Event
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

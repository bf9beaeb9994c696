"""A tick, an event, a send and a person to render one mail with (no repository round trips)."""

from __future__ import annotations

import math
import time
from datetime import timedelta

from chalicelib import times
from chalicelib.model.person import Person
from chalicelib.model.send import Send
from chalicelib.services import events
from chalicelib.services import tick as tick_module
from tests.conftest import KEY, PINNED_NOW, SETTINGS
from tests.fakes import InMemoryRepository, RecordingMailer

BASE = "https://events.example.be"


def a_tick() -> tick_module._Tick:
    repo = InMemoryRepository()
    return tick_module._Tick(repo=repo, mailer=RecordingMailer(), base_url=BASE, now=PINNED_NOW,
                             slots=tick_module.SendSlots(repo.reserve_send_slots, 1000.0, wall=time.time),
                             clock=time.monotonic, sleep=time.sleep,
                             deadline=math.inf, started=time.monotonic(), me="test", result=tick_module.TickResult(),
                             key=KEY)


def event_for(kind: str, data):
    """The event a mail of ``kind`` is about: made from ``data()``, cancelled for a cancel."""
    repo = InMemoryRepository()
    event = events.create_event(repo, data(), actor="test", now=PINNED_NOW, base_url=SETTINGS.base_url)
    if kind == "cancel":
        event = events.cancel_event(repo, event.id, actor="test", now=PINNED_NOW, base_url=SETTINGS.base_url).after
    return event


def send_for(kind: str, event, person_id: str) -> Send:
    details = {"material": ["starts_at"], "before": {"starts_at": times.to_utc_iso(event.starts_at - timedelta(days=7)),
                                                     "ends_at": times.to_utc_iso(event.ends_at - timedelta(days=7)),
                                                     "timezone": event.timezone, "location": "", "online_url": ""}}
    message = {"audience": ["confirmed"], "subject": {"nl": "Onderwerp {{ name }}", "en": "Subject %(name)s"},
               "text": {"nl": "Beste <b>allemaal</b>,\n\nTot dan.", "en": "Dear all,\n\nSee you."}}
    return Send(event_id=event.id, person_id=person_id, kind=kind,
                detail={"reminder": "PT1H", "change": "2", "message": "20261125T120000-abcdef"}.get(kind, ""),
                due=PINNED_NOW, cutoff=event.starts_at,
                details={"change": details, "message": message}.get(kind, {}))


def person(i: int, name: str, language: str) -> Person:
    return Person(id=f"{i:064x}", email=f"p{i}@example.be", name=name, organisation="", language=language,
                  created_at=PINNED_NOW, updated_at=PINNED_NOW)

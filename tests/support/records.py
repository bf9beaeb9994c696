"""Model records with plain defaults, for the repository contract and the races."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.input.event import build_event
from chalicelib.model.person import ConfirmToken, Person, Registration
from tests.conftest import PINNED_NOW, webinar_data


def make_event(**overrides):
    return build_event(webinar_data(**overrides), existing=None, now=PINNED_NOW)


def person(**overrides):
    data = dict(id="p1", email="an@example.be", name="An", organisation="Stad Gent", language="nl",
                created_at=PINNED_NOW, updated_at=PINNED_NOW, event_ids=frozenset({"webinar-2027-01-14"}),
                token_hashes=frozenset({"f" * 64}))
    data.update(overrides)
    return Person(**data)


def registration(**overrides):
    data = dict(event_id="webinar-2027-01-14", person_id="p1", email="an@example.be", name="An",
                organisation="Stad Gent", language="nl", status="pending", registered_at=PINNED_NOW,
                updated_at=PINNED_NOW, question="Waarom?")
    data.update(overrides)
    return Registration(**data)


def token(**overrides):
    data = dict(token_hash="f" * 64, person_id="p1", event_ids=("webinar-2027-01-14",),
                created_at=PINNED_NOW, expires_at=PINNED_NOW + timedelta(hours=48))
    data.update(overrides)
    return ConfirmToken(**data)

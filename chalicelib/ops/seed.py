"""The Smart Region Office's own events, added by ``python -m chalicelib.cli seed``.

From the office's announcement (shared/seed/, in Dutch): webinars on the
mission and strategy of the Smart Region Office, with room for questions, and
the first Smart Region Day on 3 June in the Herman Teirlinck building,
Havenlaan 88, 1000 Brussel, whose programme and registration "follow soon".

SAMPLE VALUES: the announcement gives no webinar dates, times or join links,
nor the Smart Region Day's hours, capacity or registration date. The dates,
times, capacity (400), registration opening and the meet.example.org join
links below are placeholders for staff to replace with a PATCH.

So only the local stage (``make run``, the live tests) publishes them. On any
other stage (dev, prod) ``seed`` adds them as drafts, which the public never
sees, each marked as a sample in its title and description: staff fill in
the real values and publish them (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime

from chalicelib import times, wiring
from chalicelib.errors import Conflict
from chalicelib.ports import Repository
from chalicelib.services.events import create_event

CONTACT = "smartregionoffice@vlaanderen.be"

_WEBINAR_NL = (
    "Vlaanderen positioneert zich als een slimme regio waarin data en technologie ingezet worden "
    "om maatschappelijke problemen aan te pakken, steeds met de burger centraal. Tijdens dit webinar "
    "kom je te weten wat de missie en de strategie van de Smart Region werking is, krijg je een "
    "overzicht van aankomende en relevante events en is er ruimte voor vragen en antwoorden. "
    f"Vragen of ideeën? Mail {CONTACT}."
)
_WEBINAR_EN = (
    "Flanders positions itself as a smart region that uses data and technology to tackle societal "
    "challenges, always with citizens at the centre. In this webinar you learn about the mission and "
    "strategy of the Smart Region Office, get an overview of upcoming relevant events, and there is "
    f"time for questions and answers. Questions or ideas? Mail {CONTACT}."
)


def seed_events() -> list[dict]:
    """Return the office's events as staff would POST them."""
    webinar = {
        "kind": "webinar",
        "status": "published",
        "title": {
            "nl": "Webinar: missie en strategie van de Smart Region Office",
            "en": "Webinar: mission and strategy of the Smart Region Office",
        },
        "description": {"nl": _WEBINAR_NL, "en": _WEBINAR_EN},
        "timezone": "Europe/Brussels",
        "capacity": None,
        "reminders": ["P1D", "PT1H"],
    }
    return [
        {**webinar, "id": "webinar-2027-01-14",
         "starts_at": "2027-01-14T10:00:00", "ends_at": "2027-01-14T11:00:00",
         "online_url": "https://meet.example.org/sro-webinar-2027-01-14"},  # sample link
        {**webinar, "id": "webinar-2027-02-25",
         "starts_at": "2027-02-25T14:00:00", "ends_at": "2027-02-25T15:00:00",
         "online_url": "https://meet.example.org/sro-webinar-2027-02-25"},  # sample link
        {
            "id": "smart-region-dag-2027",
            "kind": "in_person",
            "status": "published",
            "title": {"nl": "Smart Region Dag 2027", "en": "Smart Region Day 2027"},
            "description": {
                "nl": "De eerste Smart Region Dag: steden, gemeenten, bedrijven en kennisinstellingen "
                      "ontmoeten elkaar in het Herman Teirlinckgebouw in Brussel. Het programma en de "
                      f"inschrijvingen komen binnenkort online. Contact: {CONTACT}.",
                "en": "The first Smart Region Day: cities, municipalities, companies and research "
                      "institutions meet in the Herman Teirlinck building in Brussels. The programme "
                      f"and registration will be online soon. Contact: {CONTACT}.",
            },
            "starts_at": "2027-06-03T09:00:00",   # sample hours
            "ends_at": "2027-06-03T17:00:00",
            "timezone": "Europe/Brussels",
            "location": {"name": "Herman Teirlinckgebouw", "address": "Havenlaan 88, 1000 Brussel"},
            "capacity": 400,  # sample capacity
            # Registration is not open yet; sample opening date, staff change it.
            "registration_opens_at": "2027-03-01T09:00:00",
            "reminders": ["P1D", "PT1H"],
        },
    ]


SAMPLE_MARK = {"nl": "[Voorbeeld] ", "en": "[Sample] "}
SAMPLE_NOTE = {
    "nl": "VOORBEELD: de datum, de uren, de capaciteit en de link hieronder zijn verzonnen. "
          "Vul de echte in en publiceer het event pas dan.",
    "en": "SAMPLE: the date, hours, capacity and link below are made up. "
          "Fill in the real ones before publishing the event.",
}


def as_sample_draft(data: dict) -> dict:
    """``data`` as a draft the public never sees, marked as a sample in its title and description."""
    return {
        **data,
        "status": "draft",
        "title": {lang: SAMPLE_MARK[lang] + text for lang, text in data["title"].items()},
        "description": {lang: f"{SAMPLE_NOTE[lang]}\n\n{text}" for lang, text in data["description"].items()},
    }


def seed(repo: Repository, now: datetime | None = None, *, publish: bool | None = None) -> list[str]:
    """Add the office's events that are missing; return the ids added.

    ``publish``: whether to publish them as they are (made-up dates, capacity
    and join links); by default only on the local stage. Elsewhere they are
    drafts marked as samples (``as_sample_draft``).
    """
    added = []
    settings = wiring.get_settings()
    base_url = settings.base_url
    if publish is None:
        publish = settings.is_local
    for data in seed_events():
        if not publish:
            data = as_sample_draft(data)
        if repo.get_event(data["id"]) is not None:
            continue
        try:
            create_event(repo, data, actor="seed", base_url=base_url, now=now or times.now())
        except Conflict:
            continue  # another seed run added it meanwhile
        added.append(data["id"])
    return added

"""Nothing personal outlives the profile (issue 21, item 6).

An unconfirmed profile expires after 7 days; its confirm links' items (which hold the name, organisation
and question typed) lived about 32, so in between access and erasure answered "no data held" while the
table still held them. Each item is now kept no longer than the profile that lists it, and one past its
time is read as gone (DynamoDB's TTL deletes it within days).
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib import tokens
from chalicelib.services import events, privacy, subscribe
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.fakes import RecordingMailer
from tests.support.pages import WEBINAR, link

BASE = "https://events.example.be"


def submit(repo, mailer, question: str) -> None:
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "organisation": "Stad Gent",
                                       "question": question, "event_ids": [WEBINAR], "consent": True},
                        base_url=BASE, key=KEY, settings=SETTINGS)


def ttls(repo, prefix: str, sort_prefix: str = "") -> list[int]:
    items = repo.client.scan(TableName=repo.table)["Items"]
    return [int(i["expires_at"]["N"]) for i in items
            if i["PK"]["S"].startswith(prefix) and i["SK"]["S"].startswith(sort_prefix)]


def test_an_unconfirmed_profiles_links_and_registrations_go_no_later_than_it(dynamodb_repo, clock):
    repo, mailer = dynamodb_repo, RecordingMailer()
    events.create_event(repo, webinar_data(), actor="test", base_url=BASE)
    submit(repo, mailer, "Eerste vraag")
    clock.set(PINNED_NOW + timedelta(days=3))
    submit(repo, mailer, "Tweede vraag")  # the profile now lasts until day 10; the first link until day 7
    [profile] = ttls(repo, "PERSON#", "PROFILE")
    assert profile == int((PINNED_NOW + timedelta(days=10)).timestamp())
    links, registrations = ttls(repo, "TOKEN#"), ttls(repo, "EVENT#")
    assert len(links) == 2 and max(links) <= profile and max(registrations) <= profile
    mails = ttls(repo, "PERSON#", "MAIL#")  # the two confirmation requests' records, for the access report
    assert len(mails) == 2 and max(mails) <= profile
    assert min(links) == int((PINNED_NOW + timedelta(days=7)).timestamp())  # the profile's expiry when made


def test_access_finds_the_links_while_the_profile_lasts_and_none_after(repo, clock):
    mailer = RecordingMailer()
    events.create_event(repo, webinar_data(), actor="test", base_url=BASE)
    submit(repo, mailer, "Een vraag")
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    [held] = privacy.export_person(repo, person)["confirm_links"]
    assert held["valid_until"]
    token = link(mailer.sent[-1][0], "/confirm/").rsplit("/", 1)[1]
    clock.set(PINNED_NOW + timedelta(days=7, seconds=1))  # the profile's time has passed: so has the link's
    assert repo.get_confirm_token(tokens.token_hash(token)) is None
    assert repo.get_confirm_tokens([tokens.token_hash(token)]) == {}


def test_a_confirmed_persons_used_link_still_answers_410_for_its_30_days(repo, clock):
    mailer = RecordingMailer()
    events.create_event(repo, webinar_data(), actor="test", base_url=BASE)
    submit(repo, mailer, "")
    token = link(mailer.sent[-1][0], "/confirm/").rsplit("/", 1)[1]
    subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    clock.set(PINNED_NOW + timedelta(days=20))  # the profile lasts months now, and so may the used link's item
    assert repo.get_confirm_token(tokens.token_hash(token)) is not None
    clock.set(PINNED_NOW + timedelta(days=33))
    assert repo.get_confirm_token(tokens.token_hash(token)) is None

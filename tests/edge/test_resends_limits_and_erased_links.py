"""Fixes from a security review of the resend buttons, the confirmation-mail limits, the profile's confirm links and
the person links, each with the test that shows it (each failed on the code before the fix).

1. A resend (the manage page's, a used or expired confirm link's) racing an erasure neither makes the erased
   person again nor mails them: the erased page shows.
2. The "one a day since a stop" rule adds to the hourly and daily limits, never replaces them; the 429 says the
   longest wait.
3. A profile lists only the confirm links whose item may still be stored (an erasure deletes them all), and the
   manage page reads only those that may still work, in one BatchGetItem.
4. Changing the language or receiving mail again while an erasure runs shows the erased page, not a 409.
5. An erased person's links do not work again when the address is subscribed again: "link not found".
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters import keys as link_keys
from chalicelib import errors
from chalicelib.model import codec
from chalicelib.render import mails
from chalicelib.services import events
from chalicelib.services import manage as manage_service
from chalicelib.services import people
from chalicelib.services import privacy
from chalicelib.services import subscribe
from chalicelib.services import views
from chalicelib import tokens
from chalicelib.errors import NotFound
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data
from tests.support.pages import FORM, WEBINAR, DAY, html, post_form, link, heading

ADDRESS = "an@example.be"
BASE = "https://events.example.be"
CONFIRMATION_KINDS = ("confirm_request", "already_registered")


def confirmation_mails(mailer, address=ADDRESS) -> list:
    return [m for m in mailer.to(address) if m.kind in CONFIRMATION_KINDS]


def gone(repo, address=ADDRESS) -> bool:
    try:
        privacy.find_person(repo, address, key=KEY)
    except NotFound:
        return True
    return False


def assert_erased_page(response) -> None:
    assert response.status_code == 404, (response.status_code, response.body[:300])
    assert heading(html(response)) == "Your data is erased"


@pytest.fixture
def confirmed(subscribe_and_confirm) -> str:
    """An subscribed to the webinar and confirmed: her manage path."""
    return subscribe_and_confirm(ADDRESS)


# ------------------------------------------------- 1. a resend racing an erasure


def erase_before_submit(monkeypatch, repo) -> None:
    """The erasure completes between the resend's own read of the person and its ``_submit``."""
    original = subscribe._submit

    def racing(r, mailer, data, **kwargs):
        privacy.erase(repo, privacy.find_person(repo, data["email"], key=KEY))
        monkeypatch.setattr(subscribe, "_submit", original)
        return original(r, mailer, data, **kwargs)

    monkeypatch.setattr(subscribe, "_submit", racing)


def test_a_manage_resend_racing_an_erasure_makes_no_profile_and_mails_nothing(client, published, mailer, clock,
                                                                              dynamodb_repo, monkeypatch,
                                                                              staff_headers):
    post_form(client, question="Mijn gezondheidsvraag")
    manage = link(mailer.sent[-1][0], "/manage/")
    clock.set(PINNED_NOW + timedelta(hours=49))  # the link expired: the page offers a new mail
    sent = len(mailer.sent)
    erase_before_submit(monkeypatch, dynamodb_repo)
    assert_erased_page(client.http.post(f"{manage}/resend?lang=en", headers=FORM, body=""))
    assert len(mailer.sent) == sent
    assert gone(dynamodb_repo)
    rows = json.loads(client.http.get(f"/staff/events/{WEBINAR}/registrations", headers=staff_headers).body)
    assert rows["registrations"] == []


def test_a_confirm_links_resend_racing_an_erasure_makes_no_profile_and_mails_nothing(client, published, mailer,
                                                                                     clock, dynamodb_repo,
                                                                                     monkeypatch):
    post_form(client)
    confirm = link(mailer.sent[-1][0], "/confirm/")
    clock.set(PINNED_NOW + timedelta(hours=49))
    sent = len(mailer.sent)
    erase_before_submit(monkeypatch, dynamodb_repo)
    assert_erased_page(client.http.post(f"{confirm}/resend?lang=en", headers=FORM, body=""))
    assert len(mailer.sent) == sent
    assert gone(dynamodb_repo)


def test_a_resend_whose_write_meets_an_erasure_reads_again_and_stops(repo, mailer, clock):
    """The erasure lands between ``_submit``'s read and its write: the write fails, the read again finds no one."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(repo, mailer, {"email": ADDRESS, "name": "An", "event_ids": [WEBINAR], "consent": True},
                            base_url=BASE, key=KEY, settings=SETTINGS)
    manage = link(mailer.sent[-1][0], "/manage/").rsplit("/", 1)[1]
    clock.set(PINNED_NOW + timedelta(hours=49))
    original, erased = repo.save_subscription, []

    def erase_first(person, **kwargs):
        if not erased:
            erased.append(True)
            privacy.erase(repo, repo.get_person(person.id))
        return original(person, **kwargs)

    repo.save_subscription = erase_first
    with pytest.raises(errors.ErasedPersonLink):
        subscribe.resend_from_manage(repo, mailer, manage, base_url=BASE, key=KEY, settings=SETTINGS)
    assert erased and gone(repo) and len(mailer.sent) == 1


def test_the_form_still_makes_a_profile_for_a_new_address(repo, mailer):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(repo, mailer, {"email": ADDRESS, "name": "An", "event_ids": [WEBINAR], "consent": True},
                            base_url=BASE, key=KEY, settings=SETTINGS)
    assert not gone(repo) and len(mailer.sent) == 1


# --------------------------------------------- 2. a stop adds a limit, never lifts one


def test_stops_and_resumes_in_turn_let_no_more_than_the_days_limit_through(client, confirmed, mailer, clock):
    base = len(confirmation_mails(mailer))
    start = PINNED_NOW + timedelta(minutes=1)
    for i in range(24):  # eight hours: a stranger pushes the form, the link's holder stops and resumes between
        clock.set(start + timedelta(minutes=21 * i))
        if i:
            client.http.post(f"{confirmed}/resume", headers=FORM, body="")
            client.http.post(f"{confirmed}/stop", headers=FORM, body="")
        post_form(client, name="Stranger")
    assert base == 1 and len(confirmation_mails(mailer)) <= 6  # all within a day: the day's limit


def test_a_stop_after_the_days_mails_lets_no_seventh_through(client, confirmed, mailer, clock):
    for h in range(6):
        clock.set(PINNED_NOW + timedelta(hours=h, minutes=1))
        post_form(client)
    assert len(confirmation_mails(mailer)) == 6  # the first, and five more: the day's
    clock.set(PINNED_NOW + timedelta(hours=6, minutes=2))
    client.http.post(f"{confirmed}/stop", headers=FORM, body="")
    post_form(client)
    assert len(confirmation_mails(mailer)) == 6


def test_a_resend_after_a_stop_is_not_held_by_the_forms_mails_but_keeps_to_one_a_day(client, published, mailer,
                                                                                     clock, staff_headers):
    """The form's six mails of the day (anyone can send them) do not hold back a link's resend; the stop's one
    a day still does, and the 429 says how long (issue 21, item 5)."""
    post_form(client)
    confirm = link(mailer.sent[-1][0], "/confirm/")
    client.http.post(confirm, headers=FORM, body="")
    manage = link(mailer.sent[-1][0], "/manage/")
    for h in range(1, 6):  # six confirmation mails in six hours: the form's day
        clock.set(PINNED_NOW + timedelta(hours=h))
        post_form(client, event_ids=[DAY])
    assert len(confirmation_mails(mailer)) == 6
    clock.set(PINNED_NOW + timedelta(hours=5, minutes=30))
    client.http.post(f"{manage}/stop", headers=FORM, body="")
    clock.set(PINNED_NOW + timedelta(hours=6))
    assert client.http.post(f"{confirm}/resend?lang=en", headers=FORM, body="").status_code == 303
    assert len(confirmation_mails(mailer)) == 7
    clock.set(PINNED_NOW + timedelta(hours=6, minutes=10))
    response = client.http.post(f"{confirm}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 429
    # One a day since the stop: the next a day after the one at 6:00.
    assert response.headers["Retry-After"] == str(23 * 3600 + 50 * 60)
    assert "Try again in a day." in html(response)
    assert len(confirmation_mails(mailer)) == 7


def test_the_longest_wait_wins():
    now = PINNED_NOW
    three_this_hour = [now - timedelta(minutes=50), now - timedelta(minutes=40), now - timedelta(minutes=30)]
    hour = subscribe._mail_limit(three_this_hour, now, per_hour=3, per_day=6)
    assert (hour.period, hour.retry_after) == ("hour", 600)
    # Stopped before the last of them: one since the stop, which holds for a day from it.
    stopped = subscribe._mail_limit(three_this_hour, now, per_hour=3, per_day=6,
                                        stopped_at=now - timedelta(minutes=35))
    assert (stopped.period, stopped.retry_after) == ("day", 23 * 3600 + 30 * 60)
    # Stopped after them: nothing since the stop, and the hour's limit still holds.
    after = subscribe._mail_limit(three_this_hour, now, per_hour=3, per_day=6, stopped_at=now)
    assert (after.period, after.retry_after) == ("hour", 600)
    six = [now - timedelta(hours=h) for h in (20, 18, 14, 9, 5, 3)]
    day = subscribe._mail_limit(six, now, per_hour=3, per_day=6, stopped_at=now - timedelta(hours=1))
    assert (day.period, day.retry_after) == ("day", 4 * 3600)
    assert subscribe._mail_limit(six[:5], now, per_hour=3, per_day=6) is None
    assert subscribe._mail_limit([now - timedelta(days=1)] * 9, now, per_hour=3, per_day=6) is None


# ------------------------------------------- 3. the profile's confirm links, pruned


def flood(repo, mailer, clock, days: int, every_hours: int = 4) -> list[str]:
    """A stranger submits An's address every few hours for ``days``; return the hash of every link mailed."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    data = {"email": ADDRESS, "name": "X", "event_ids": [WEBINAR], "consent": True}
    for day in range(days):
        for h in range(0, 24, every_hours):
            clock.set(PINNED_NOW + timedelta(days=day, hours=h))
            subscribe.subscribe(repo, mailer, data, base_url=BASE, key=KEY, settings=SETTINGS)
    return [tokens.token_hash(link(m, "/confirm/").rsplit("/", 1)[1]) for m in mailer.to(ADDRESS)]


def test_a_profile_lists_only_the_links_whose_item_may_be_stored(memory_repo, mailer, clock):
    made = flood(memory_repo, mailer, clock, days=45, every_hours=4)  # the webinar starts after day 49
    assert len(made) == 270
    from chalicelib.adapters import keys as link_keys
    from chalicelib import errors
    from chalicelib.render import mails
    from chalicelib.services import events
    from chalicelib.services import people
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import views
    from chalicelib import tokens

    record = json.dumps(codec.to_record(privacy.find_person(memory_repo, ADDRESS, key=KEY)))
    listed = [h for h in made if h in record]
    # Those of the last 39 days (the validity, 30 days of TTL after it, a week for DynamoDB's TTL) are listed.
    assert len(listed) == 6 * 39 and listed == made[-6 * 39:]
    assert len(record) < 30_000  # far from DynamoDB's 400 KB an item, however long the form is pushed


def test_the_manage_page_reads_only_the_links_that_may_still_work_in_one_batch(dynamodb_repo, mailer, clock):
    flood(dynamodb_repo, mailer, clock, days=4, every_hours=4)
    person = privacy.find_person(dynamodb_repo, ADDRESS, key=KEY)
    calls, links_read = [], []

    def count(model, params, **_):  # the call's parameters, before they are serialised
        calls.append(model.name)
        keys = [k for request in params.get("RequestItems", {}).values() for k in request["Keys"]]
        links_read.extend(k for k in keys if k["PK"]["S"].startswith("TOKEN#"))
        if "Key" in params and params["Key"]["PK"]["S"].startswith("TOKEN#"):
            links_read.append(params["Key"])

    dynamodb_repo.client.meta.events.register("before-parameter-build.dynamodb.*", count)
    view = views._person_view(dynamodb_repo, person, base_url=BASE, now=clock(), key=KEY)
    assert "GetItem" not in calls and calls.count("BatchGetItem") == 2  # the registrations, and the links
    assert len(links_read) == 12  # two days of six: those that may still work, of 24
    assert [e.id for e, _ in view.registrations] == [WEBINAR] and view.unconfirmed == ()


@pytest.mark.parametrize("days", [3, 45])
def test_an_erasure_deletes_every_link_that_may_still_be_stored(repo, mailer, clock, days):
    """A guard for the pruning (the code before it listed every link for ever): a link's item lives until 30 days
    after the link expires (its TTL, ``storage.TOKEN_KEPT_AFTER_EXPIRY``); every one that may still be stored
    is listed, exported and erased."""
    made = flood(repo, mailer, clock, days=days, every_hours=8)
    # No TTL runs here: the items past theirs are read as gone, left for DynamoDB to delete; every other one
    # is listed. (An unconfirmed profile's links go with it: each no later than the profile's expiry when made.)
    may_be_stored = {h for h in made if repo.get_confirm_token(h) is not None}
    assert len(may_be_stored) == min(len(made), 3 * 7)  # three a day, each kept 7 days (the profile then)
    person = privacy.find_person(repo, ADDRESS, key=KEY)
    exported = privacy.export_person(repo, person)["confirm_links"]
    assert len(exported) >= len(may_be_stored)
    privacy.erase(repo, person)
    assert [h for h in may_be_stored if repo.get_confirm_token(h) is not None] == []


def test_links_listed_before_their_times_were_kept_are_read_and_erased(repo, mailer, clock):
    """A profile written before ``tokens_made`` lists its links in ``token_hashes``: still read, still erased,
    and taken into ``tokens_made`` by the next submission."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    data = {"email": ADDRESS, "name": "An", "event_ids": [WEBINAR], "consent": True}
    subscribe.subscribe(repo, mailer, data, base_url=BASE, key=KEY, settings=SETTINGS)
    person = privacy.find_person(repo, ADDRESS, key=KEY)
    old = replace(person, token_hashes=person.all_token_hashes, tokens_made=(),
                  updated_at=person.updated_at + timedelta(seconds=1))
    repo.save_person(old, previous=person)
    view = views._person_view(repo, old, base_url=BASE, now=clock(), key=KEY)
    assert view.unconfirmed == ()  # the link is read: it still works
    clock.set(PINNED_NOW + timedelta(minutes=5))
    subscribe.subscribe(repo, mailer, {**data, "event_ids": [DAY]}, base_url=BASE, key=KEY, settings=SETTINGS)
    person = privacy.find_person(repo, ADDRESS, key=KEY)
    assert not person.token_hashes and len(person.tokens_made) == 2 and old.token_hashes < person.all_token_hashes
    first = next(iter(old.token_hashes))
    privacy.erase(repo, person)
    assert repo.get_confirm_token(first) is None


def test_both_repositories_read_links_in_one_go(repo):
    from chalicelib.model.person import ConfirmToken, Person

    person = Person(id="p" * 22, email=ADDRESS, name="An", organisation="", language="nl", created_at=PINNED_NOW,
                    updated_at=PINNED_NOW)
    made = [ConfirmToken(token_hash=f"{i:064x}", person_id=person.id, event_ids=(WEBINAR,), created_at=PINNED_NOW,
                         expires_at=PINNED_NOW + timedelta(hours=48), name="An") for i in range(130)]
    repo.save_subscription(person, previous=None, registrations=[], token=made[0])
    for token in made[1:]:
        previous = repo.get_person(person.id)
        repo.save_subscription(replace(previous, updated_at=previous.updated_at + timedelta(seconds=1)),
                               previous=previous, registrations=[], token=token)
    repo.use_confirm_token(made[3].token_hash, PINNED_NOW)
    repo.finish_confirm_token(made[3].token_hash, PINNED_NOW)
    found = repo.get_confirm_tokens([t.token_hash for t in made] + ["f" * 64, made[0].token_hash])
    assert set(found) == {t.token_hash for t in made}
    assert found[made[3].token_hash] == repo.get_confirm_token(made[3].token_hash)
    assert found[made[3].token_hash].done_at == PINNED_NOW and found[made[5].token_hash] == made[5]
    assert repo.get_confirm_tokens([]) == {}


# ----------------------------------- 4. a manage button racing an erasure


def erase_right_after_the_link_is_read(monkeypatch) -> None:
    """The person is erased between a button's reading of its link and what the button then does."""
    original = people.person_for_token

    def erased_after_the_read(repo, purpose, token, *, key):
        person = original(repo, purpose, token, key=key)
        privacy.erase(repo, person)
        return person

    monkeypatch.setattr(manage_service, "person_for_token", erased_after_the_read)


@pytest.mark.parametrize("path, body", [("/language?lang=en", "language=en"), ("/resume?lang=en", "")])
def test_a_manage_button_racing_an_erasure_shows_the_erased_page(client, confirmed, dynamodb_repo, monkeypatch,
                                                                 path, body):
    client.http.post(f"{confirmed}/stop", headers=FORM, body="")  # so that resuming changes something
    erase_right_after_the_link_is_read(monkeypatch)
    assert_erased_page(client.http.post(confirmed + path, headers=FORM, body=body))
    assert gone(dynamodb_repo)


def test_a_stop_racing_an_erasure_says_erased_as_a_stop_of_an_erased_link_does(client, confirmed, monkeypatch):
    erase_right_after_the_link_is_read(monkeypatch)
    response = client.http.post(f"{confirmed}/stop?lang=en", headers=FORM, body="")
    assert response.status_code == 200 and heading(html(response)) == "Your data is erased"


# ------------------------------------------ 5. links of an erased profile stay dead


def test_old_links_stay_dead_when_the_erased_address_is_subscribed_again(client, confirmed, mailer,
                                                                         dynamodb_repo):
    old_mail = mailer.to(ADDRESS)[-1]
    unsubscribe, feed = link(old_mail, "/unsubscribe/"), link(old_mail, "/feeds/")
    assert client.http.post(f"{confirmed}/erase", headers=FORM, body="confirm=yes").status_code == 303
    assert_erased_page(client.http.get(confirmed + "?lang=en"))  # genuine, its person gone
    post_form(client, name="Stranger typed this", event_ids=[DAY])  # anyone, nothing confirmed
    for response in (client.http.get(confirmed + "?lang=en"), client.http.get(unsubscribe + "?lang=en"),
                     client.http.post(f"{confirmed}/resume?lang=en", headers=FORM, body=""),
                     client.http.post(f"{confirmed}/language?lang=en", headers=FORM, body="language=en")):
        assert response.status_code == 404 and heading(html(response)) == "Link not found", response.body[:200]
    assert client.http.get(feed).status_code == 404
    assert client.http.post(unsubscribe, headers=FORM, body="List-Unsubscribe=One-Click").status_code == 404
    person = privacy.find_person(dynamodb_repo, ADDRESS, key=KEY)
    assert person.receives_mail and person.language == "nl"
    # The new profile's own links work.
    new_manage = link(mailer.to(ADDRESS)[-1], "/manage/")
    assert new_manage != confirmed and client.http.get(new_manage).status_code == 200


def test_a_profile_without_a_salt_keeps_the_links_it_was_mailed(client, published, mailer, dynamodb_repo):
    """Links mailed before salts, and calendar feeds subscribed then, keep working; a salted profile's links
    without the salt do not."""
    post_form(client)
    person = privacy.find_person(dynamodb_repo, ADDRESS, key=KEY)
    assert person.link_salt
    unsalted = mails.person_links(person.id, "https://h", KEY)
    manage, feed = unsalted.manage.removeprefix("https://h"), unsalted.feed.removeprefix("https://h")
    assert client.http.get(manage).status_code == 404
    old = replace(person, link_salt="", updated_at=person.updated_at + timedelta(seconds=1))
    dynamodb_repo.save_person(old, previous=person)
    assert client.http.get(manage).status_code == 200
    assert client.http.get(feed).status_code == 200
    assert mails.person_links(old, "https://h", KEY) == unsalted
    # Later mails carry the same links: a submission keeps the profile's (empty) salt.
    post_form(client, event_ids=[DAY])
    assert link(mailer.to(ADDRESS)[-1], "/manage/") == manage


def test_a_salted_link_is_told_from_a_forged_one(dynamodb_repo, mailer):
    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(dynamodb_repo, mailer, {"email": ADDRESS, "name": "An", "event_ids": [WEBINAR],
                                                    "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)
    token = link(mailer.sent[-1][0], "/manage/").rsplit("/", 1)[1]
    person = people.person_for_token(dynamodb_repo, "manage", token, key=KEY)
    assert tokens.read_person_token("manage", token, link_keys.signing_key()) == (person.id, person.link_salt)
    assert tokens.read_person_token("feed", token, link_keys.signing_key()) is None  # one purpose each
    salt_at = tokens.PERSON_ID_LENGTH + 1
    other_salt = token[:salt_at] + ("A" if token[salt_at] != "A" else "B") + token[salt_at + 1:]
    assert tokens.read_person_token("manage", other_salt, link_keys.signing_key()) is None
    with pytest.raises(NotFound) as raised:
        people.person_for_token(dynamodb_repo, "manage", other_salt, key=KEY)
    assert not isinstance(raised.value, errors.ErasedPersonLink)
    privacy.erase(dynamodb_repo, person)
    with pytest.raises(errors.ErasedPersonLink):
        people.person_for_token(dynamodb_repo, "manage", token, key=KEY)

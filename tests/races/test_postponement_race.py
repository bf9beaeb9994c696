"""A postponement racing the writers of a registration's or profile's expiry (TTL) never leaves an old expiry.

Staff moving an event's end later raise the expiry of its kept registrations
and their profiles (``subscriptions.keep_until_after``). A confirm, a one-click
register or a promotion from the waiting list that read the event (or the
registration) before that postponement used to write back an expiry worked
out from the old end, and DynamoDB's TTL would then delete the registration,
its reminders and the profile months before the event.

Each test puts the whole postponement (the staff change and its planning)
between a writer's read and its write, through a wrapper of one repository
method, and runs on both repositories (memory, and DynamoDB on moto).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.dynamodb import keys as table_keys
from chalicelib.services import events
from chalicelib.services import manage as manage_module
from chalicelib.services import planning
from chalicelib.services import privacy
from chalicelib.services import subscribe as subscribe_module
from chalicelib.model.send import Send
from tests.conftest import KEY, PINNED_NOW, SETTINGS, day_data, webinar_data

BASE = "https://events.example.be"
WEBINAR = "webinar-2027-01-14"
DAY = "smart-region-dag-2027"
RETENTION = timedelta(days=180)  # REGISTRATION_RETENTION_DAYS' default
LATER = timedelta(days=364)      # the postponement: a year on, far past 180 days after the old end
STAFF_LATER = timedelta(hours=1)  # the staff change comes an hour after the event was made


# ------------------------------------------------------------------ helpers


def subscribe(repo, mailer, address, event_id, name="An"):
    """Submit the form; return the confirm link's token."""
    subscribe_module.subscribe(repo, mailer, {"email": address, "name": name, "event_ids": [event_id], "language": "nl",
                                           "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)
    return re.search(r"/confirm/([\w-]+)", mailer.to(address)[-1].text).group(1)


def register(repo, mailer, address, event_id, name="An"):
    """Subscribe and confirm; return the person's manage token."""
    subscribe_module.confirm(repo, mailer, subscribe(repo, mailer, address, event_id, name), base_url=BASE,
                             key=KEY, settings=SETTINGS)
    return re.search(r"/manage/([\w-]+)", mailer.to(address)[-1].text).group(1)


def postpone(repo, event_id):
    """Staff move the event a year on, and its mails, seats and expiries are planned (as the PATCH route does)."""
    event = repo.get_event(event_id)
    change = events.change_event(repo, event_id, {"starts_at": (event.starts_at + LATER).isoformat(),
                                                  "ends_at": (event.ends_at + LATER).isoformat()}, actor="test",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(repo, change, settings=SETTINGS)


def meanwhile(monkeypatch, repo, method, when, action):
    """Run ``action`` once, just before the first call of ``repo.<method>`` for which ``when(*args, **kwargs)`` holds.

    Calls made by ``action`` itself go straight through. Return a dict whose
    ``done`` says whether it ran.
    """
    real, state = getattr(repo, method), {"done": False, "inside": False}

    def wrapped(*args, **kwargs):
        if not state["done"] and not state["inside"] and when(*args, **kwargs):
            state["done"] = state["inside"] = True
            try:
                action()
            finally:
                state["inside"] = False
        return real(*args, **kwargs)

    monkeypatch.setattr(repo, method, wrapped)
    return state


def moving(*expect):
    """``when`` for move_registration: a move from one of these statuses."""
    return lambda registration, **kwargs: kwargs.get("expect") == expect


def kept_until(repo, event_id):
    """When a registration for the event (as it is stored now) should expire: 180 days after its end."""
    return repo.get_event(event_id).ends_at + RETENTION


def registration(repo, event_id, person_id):
    return repo.get_registrations(person_id, [event_id])[event_id]


def assert_kept_until_after_the_new_end(repo, event_id, person_id, status):
    event = repo.get_event(event_id)
    until = kept_until(repo, event_id)
    assert until > datetime(2028, 1, 1, tzinfo=timezone.utc)  # the old end plus 180 days lies in 2027
    reg = registration(repo, event_id, person_id)
    assert (reg.status, reg.expires_at) == (status, until)
    assert repo.get_person(person_id).expires_at == until
    sends = repo.list_sends(event_id, person_id)
    assert all(s.expires_at == until for s in sends), [(s.key, s.expires_at) for s in sends]
    if status == "confirmed":
        reminders = sorted(s.due for s in sends if s.kind == "reminder")
        assert reminders == [event.starts_at - timedelta(days=1), event.starts_at - timedelta(hours=1)]


# ------------------------------------------------------------------ confirm


@pytest.mark.parametrize("before", ["profile", "seat"])
def test_a_confirm_that_read_the_event_before_a_postponement_keeps_the_registration_until_after_the_new_end(
        repo, mailer, clock, monkeypatch, before):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    token = subscribe(repo, mailer, "an@example.be", WEBINAR)
    clock.set(PINNED_NOW + STAFF_LATER)
    # The confirm has read the events; the postponement runs before it saves the profile, or before it takes
    # the seat. Either way its planning finds An still pending: not its to raise.
    if before == "profile":
        state = meanwhile(monkeypatch, repo, "save_person", lambda person, **_: True, lambda: postpone(repo, WEBINAR))
    else:
        state = meanwhile(monkeypatch, repo, "move_registration", moving("pending"), lambda: postpone(repo, WEBINAR))
    result = subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert state["done"]
    [outcome] = result.outcomes
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    assert_kept_until_after_the_new_end(repo, WEBINAR, an.id, outcome.status)
    assert outcome.status == "confirmed"
    assert outcome.event.starts_at == repo.get_event(WEBINAR).starts_at  # the mail and its .ics: the new time


def test_a_confirm_onto_the_waiting_list_that_read_the_event_before_a_postponement_is_kept_too(
        repo, mailer, clock, monkeypatch):
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", DAY)
    token = subscribe(repo, mailer, "bo@example.be", DAY, name="Bo")
    clock.set(PINNED_NOW + STAFF_LATER)
    state = meanwhile(monkeypatch, repo, "move_registration", lambda reg, **kw: reg.status == "waitlisted",
                      lambda: postpone(repo, DAY))
    result = subscribe_module.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert state["done"] and [o.status for o in result.outcomes] == ["waitlisted"]
    bo = privacy.find_person(repo, "bo@example.be", key=KEY)
    assert_kept_until_after_the_new_end(repo, DAY, bo.id, "waitlisted")
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    assert_kept_until_after_the_new_end(repo, DAY, an.id, "confirmed")  # raised by the postponement itself


# ---------------------------------------------------------------- promotion


def test_a_promotion_that_read_the_waiting_list_before_a_postponement_does_not_write_back_the_old_expiry(
        repo, mailer, clock, monkeypatch):
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    an_manage = register(repo, mailer, "an@example.be", DAY)
    register(repo, mailer, "bo@example.be", DAY, name="Bo")
    bo = privacy.find_person(repo, "bo@example.be", key=KEY)
    old = registration(repo, DAY, bo.id).expires_at
    clock.set(PINNED_NOW + STAFF_LATER)
    # An cancels; the promotion has read Bo waiting (with the old expiry). The postponement raises Bo's
    # registration and profile, then the promotion gives Bo the seat.
    state = meanwhile(monkeypatch, repo, "move_registration", moving("waitlisted"), lambda: postpone(repo, DAY))
    manage_module.cancel_registration(repo, an_manage, DAY, key=KEY)
    assert state["done"]
    assert kept_until(repo, DAY) > old
    assert_kept_until_after_the_new_end(repo, DAY, bo.id, "confirmed")
    assert {s.kind for s in repo.list_sends(DAY, bo.id)} == {"change", "reminder", "seat"}  # told of the new date
    assert repo.get_event(DAY).seats_taken == 1


def test_a_promotion_with_a_registration_read_before_it_was_raised_keeps_the_raised_expiry(
        repo, mailer, clock, monkeypatch):
    # The reverse order, the event itself unchanged: only the registration's expiry moved meanwhile.
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    an_manage = register(repo, mailer, "an@example.be", DAY)
    register(repo, mailer, "bo@example.be", DAY, name="Bo")
    bo = privacy.find_person(repo, "bo@example.be", key=KEY)
    waiting = registration(repo, DAY, bo.id)
    raised = waiting.expires_at + timedelta(days=400)

    def raise_bo():
        repo.move_registration(replace(waiting, expires_at=raised), expect=("waitlisted",))

    state = meanwhile(monkeypatch, repo, "move_registration", moving("waitlisted"), raise_bo)
    manage_module.cancel_registration(repo, an_manage, DAY, key=KEY)
    assert state["done"]
    reg = registration(repo, DAY, bo.id)
    assert (reg.status, reg.expires_at) == ("confirmed", raised)
    assert {s.kind: s.expires_at for s in repo.list_sends(DAY, bo.id)} == {"reminder": raised, "seat": raised}


# ----------------------------------------------------------- one-click register


def test_a_one_click_register_that_read_the_event_before_a_postponement_keeps_the_raised_expiry(
        repo, mailer, clock, monkeypatch):
    events.create_event(repo, webinar_data(registration_opens_at="2026-12-01T09:00:00+01:00"), actor="test",
                        base_url=SETTINGS.base_url)
    manage = register(repo, mailer, "an@example.be", WEBINAR)
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    assert registration(repo, WEBINAR, an.id).status == "interested"
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))  # registration is open
    # The click has read the event and An's interest; the postponement raises the interest, then the click lands.
    state = meanwhile(monkeypatch, repo, "move_registration", moving("interested"), lambda: postpone(repo, WEBINAR))
    outcome = manage_module.register_from_link(repo, mailer, manage, WEBINAR, base_url=BASE, key=KEY, settings=SETTINGS)
    assert state["done"] and outcome.status == "confirmed"
    assert_kept_until_after_the_new_end(repo, WEBINAR, an.id, "confirmed")
    assert outcome.event.starts_at == repo.get_event(WEBINAR).starts_at


# ------------------------------------------------------------- the contract


def _stored_registration(repo, **overrides):
    from tests.support.records import make_event, person, registration as make_registration

    event = make_event(capacity=1)
    repo.create_event(event)
    reg = make_registration(event_id=event.id, expires_at=PINNED_NOW + timedelta(days=7), **overrides)
    repo.save_subscription(person(event_ids=frozenset({event.id})), previous=None, registrations=[reg], token=None)
    return repo.get_event(event.id), reg


def _reminder(reg, expires_at):
    due = datetime(2027, 1, 13, 9, 0, tzinfo=timezone.utc)
    return Send(event_id=reg.event_id, person_id=reg.person_id, kind="reminder", detail="P1D", due=due,
                cutoff=due + timedelta(hours=6), expires_at=expires_at)


def test_a_move_never_lowers_the_stored_expiry_and_its_sends_expire_with_it(repo):
    _, reg = _stored_registration(repo)
    late, early = PINNED_NOW + timedelta(days=500), PINNED_NOW + timedelta(days=200)
    repo.move_registration(replace(reg, status="waitlisted", expires_at=late), expect=("pending",))
    calls: Counter = Counter()
    if hasattr(repo, "client"):
        repo.client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
    seated = replace(reg, status="confirmed", expires_at=early)
    assert repo.move_registration(seated, expect=("waitlisted",), seat_change=1, capacity=1,
                                  put_sends=[_reminder(reg, early)])
    # On DynamoDB, the stored expiry came back with the failed condition: the move is written again, no read.
    assert calls == ({"TransactWriteItems": 2} if hasattr(repo, "client") else {})
    stored = registration(repo, reg.event_id, reg.person_id)
    assert (stored.status, stored.expires_at) == ("confirmed", late)
    assert [s.expires_at for s in repo.list_sends(reg.event_id, reg.person_id)] == [late]
    assert repo.get_event(reg.event_id).seats_taken == 1
    # A later expiry is written as it is.
    later = late + timedelta(days=1)
    repo.move_registration(replace(stored, expires_at=later), expect=("confirmed",))
    assert registration(repo, reg.event_id, reg.person_id).expires_at == later


@pytest.mark.parametrize("seat", [True, False])
def test_a_move_worked_out_from_an_event_changed_since_writes_nothing(repo, seat):
    from chalicelib.input.event import build_event
    from chalicelib.errors import EventChanged

    event, reg = _stored_registration(repo)
    changed = build_event({"ends_at": "2028-01-13T11:00:00+01:00", "starts_at": "2028-01-13T10:00:00+01:00"},
                          existing=event, now=PINNED_NOW + timedelta(minutes=1))
    repo.update_event(changed, previous=event)
    moved = replace(reg, status="confirmed" if seat else "waitlisted", expires_at=event.ends_at + RETENTION)
    with pytest.raises(EventChanged):
        repo.move_registration(moved, expect=("pending",), seat_change=1 if seat else 0, capacity=1,
                               put_sends=[_reminder(reg, moved.expires_at)], event_seen=event)
    assert registration(repo, event.id, reg.person_id) == reg
    assert repo.list_sends(event.id) == [] and repo.get_event(event.id).seats_taken == 0
    # Read again, it goes through; a full event still says so.
    fresh = repo.get_event(event.id)
    assert repo.move_registration(moved, expect=("pending",), seat_change=1 if seat else 0, capacity=1,
                                  event_seen=fresh)
    other = replace(reg, person_id="p2")
    repo.save_subscription(_person("p2", event.id), previous=None, registrations=[other], token=None)
    full = not repo.move_registration(replace(other, status="confirmed"), expect=("pending",), seat_change=1,
                                      capacity=1, event_seen=fresh)
    assert full == seat


def _person(person_id, event_id):
    from tests.support.records import person

    return person(id=person_id, event_ids=frozenset({event_id}))


def test_a_profile_save_never_lowers_the_stored_expiry(repo):
    from tests.support.records import person

    late = PINNED_NOW + timedelta(days=500)
    first = person(expires_at=late)
    repo.save_person(first, previous=None)
    repo.save_person(replace(first, name="Anna", expires_at=PINNED_NOW + timedelta(days=7),
                             updated_at=PINNED_NOW + timedelta(seconds=1)), previous=first)
    stored = repo.get_person(first.id)
    assert (stored.name, stored.expires_at) == ("Anna", late)


# A placement now writes the event item in its transaction (its updated_at checked), as a seat move
# always did: a staff change landing on the event at that moment meets a TransactionConflict, which
# botocore does not retry. It is tried again a moment later, and if it keeps meeting one, the answer
# is 503 ("try again"), never a 500.

def test_a_staff_change_meeting_a_transaction_on_the_event_is_tried_again(dynamodb_repo, monkeypatch):
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe as subscribe_module
    from tests.conftest import aws_error, table_faults

    monkeypatch.setattr(table_keys, "CONFLICT_PAUSE", 0.0)
    events.create_event(dynamodb_repo, webinar_data(), actor="test", now=PINNED_NOW, base_url=SETTINGS.base_url)
    conflict = lambda operation, n: aws_error(operation, "TransactionConflictException") \
        if operation == "UpdateItem" and n <= 2 else None  # noqa: E731
    with table_faults(dynamodb_repo, conflict) as calls:
        change = events.change_event(dynamodb_repo, "webinar-2027-01-14", {"title": {"nl": "Nieuw", "en": "New"}},
                                     actor="staff", now=PINNED_NOW, base_url=SETTINGS.base_url)
    assert calls["UpdateItem"] == 3
    assert dynamodb_repo.get_event("webinar-2027-01-14").title == {"nl": "Nieuw", "en": "New"} == change.after.title


def test_a_staff_change_that_keeps_meeting_transactions_is_a_503_not_a_500(client, staff_headers, monkeypatch):
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe as subscribe_module
    from tests.conftest import aws_error, table_faults

    from chalicelib.services import staff

    monkeypatch.setattr(table_keys, "CONFLICT_PAUSE", 0.0)
    # The token's use is noted apart, best effort, with an UpdateItem of its own: counted here, it would hide
    # how often the event's own write was tried.
    monkeypatch.setattr(staff, "record_use", lambda *args, **kwargs: None)
    assert client.http.post("/staff/events", headers=staff_headers, body=__import__("json").dumps(webinar_data())) \
        .status_code == 201
    from chalicelib import wiring

    repo = wiring.get_repo()
    always = lambda operation, n: aws_error(operation, "TransactionConflictException") \
        if operation == "UpdateItem" else None  # noqa: E731
    with table_faults(repo, always) as calls:
        answer = client.http.patch("/staff/events/webinar-2027-01-14", headers=staff_headers,
                                   body='{"title": {"nl": "Nieuw", "en": "New"}}')
    assert answer.status_code == 503, answer.body
    assert calls["UpdateItem"] == table_keys.CONFLICT_TRIES

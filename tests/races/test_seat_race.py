"""Races for the last seats and double clicks, against DynamoDB (moto) from many threads.

moto's in-process backend does not make one request atomic against another
thread's; DynamoDB does. The ``atomic_requests`` fixture restores that
guarantee (one request at a time, as DynamoDB applies each conditional write
or transaction atomically), so what is tested is our use of conditions and
transactions, not moto's locking.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial


from chalicelib.services import events
from chalicelib.services import manage as manage_module
from chalicelib.services import privacy
from chalicelib.services import subscribe
from chalicelib.errors import Gone
from tests.fakes import RecordingMailer
from tests.conftest import KEY, PINNED_NOW, SETTINGS, aws_error, day_data, table_faults

BASE = "https://events.example.be"


def confirm_links(mailer):
    return [re.search(r"/confirm/([\w-]+)", mail.text).group(1) for mail, _ in mailer.sent if mail.kind == "confirm_request"]


def test_sixty_people_racing_for_ten_seats(atomic_requests, clock):
    repo, mailer = atomic_requests, RecordingMailer()
    events.create_event(repo, day_data(capacity=10), actor="test", base_url=SETTINGS.base_url)
    for i in range(60):
        subscribe.subscribe(repo, mailer, {"email": f"p{i}@example.be", "name": f"P {i}", "consent": True,
                                               "event_ids": ["smart-region-dag-2027"]}, base_url=BASE,
                            key=KEY, settings=SETTINGS)
    links = confirm_links(mailer)
    assert len(links) == 60
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: subscribe.confirm(repo, mailer, t, base_url=BASE,
                                                            key=KEY, settings=SETTINGS), links))
    statuses = Counter(r.status for r in repo.list_registrations("smart-region-dag-2027"))
    assert statuses == {"confirmed": 10, "waitlisted": 50}
    assert repo.get_event("smart-region-dag-2027").seats_taken == 10
    assert Counter(r.outcomes[0].status for r in results) == {"confirmed": 10, "waitlisted": 50}


def test_double_clicked_confirm_button_confirms_once(atomic_requests):
    repo, mailer = atomic_requests, RecordingMailer()
    events.create_event(repo, day_data(capacity=10), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "consent": True,
                                           "event_ids": ["smart-region-dag-2027"]}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    [link] = confirm_links(mailer)
    outcomes = []

    def click():
        try:
            outcomes.append(subscribe.confirm(repo, mailer, link, base_url=BASE,
                                              key=KEY, settings=SETTINGS).outcomes[0].status)
        except Gone:
            outcomes.append("gone")

    threads = [threading.Thread(target=click) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["confirmed", "gone", "gone", "gone", "gone"]
    assert repo.get_event("smart-region-dag-2027").seats_taken == 1
    assert sum(1 for mail, _ in mailer.sent if mail.kind == "confirmed") == 1


def test_cancellations_racing_with_confirmations_keep_the_count_true(atomic_requests, clock):
    repo, mailer = atomic_requests, RecordingMailer()
    events.create_event(repo, day_data(capacity=5), actor="test", base_url=SETTINGS.base_url)
    for i in range(20):
        subscribe.subscribe(repo, mailer, {"email": f"p{i}@example.be", "name": f"P {i}", "consent": True,
                                               "event_ids": ["smart-region-dag-2027"], "language": "en"}, base_url=BASE,
                            key=KEY, settings=SETTINGS)
    links = confirm_links(mailer)
    for link in links[:5]:
        subscribe.confirm(repo, mailer, link, base_url=BASE, key=KEY, settings=SETTINGS)
    manage = [re.search(r"/manage/([\w-]+)", m.text).group(1) for m, _ in mailer.sent if m.kind == "confirmed"]
    clock.set(PINNED_NOW + timedelta(minutes=1))

    def work(item):
        kind, token = item
        if kind == "confirm":
            subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
        else:
            manage_module.cancel_registration(repo, token, "smart-region-dag-2027", key=KEY)

    jobs = [("confirm", t) for t in links[5:]] + [("cancel", t) for t in manage[:3]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, jobs))
    statuses = Counter(r.status for r in repo.list_registrations("smart-region-dag-2027"))
    assert statuses["confirmed"] == 5
    assert statuses["cancelled"] == 3
    assert statuses["waitlisted"] == 12
    assert repo.get_event("smart-region-dag-2027").seats_taken == 5


def _three_for_one_seat(repo, mailer) -> str:
    """An confirmed for the one seat, Bo and Cy waiting, in that order; return An's manage token."""
    events.create_event(repo, day_data(capacity=1), actor="test", base_url=SETTINGS.base_url)
    for address in ("an@example.be", "bo@example.be", "cy@example.be"):
        subscribe.subscribe(repo, mailer, {"email": address, "name": address[:2], "consent": True,
                                               "event_ids": ["smart-region-dag-2027"]}, base_url=BASE,
                            key=KEY, settings=SETTINGS)
        token = re.search(r"/confirm/([\w-]+)", mailer.to(address)[-1].text).group(1)
        subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    return re.search(r"/manage/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)


def _a_transaction_conflict(operation, n, *, at):
    """The ``at``-th TransactWriteItems meets another transaction on the same items."""
    if operation == "TransactWriteItems" and n == at:
        return aws_error(operation, "TransactionCanceledException",
                         CancellationReasons=[{"Code": "TransactionConflict"}, {"Code": "None"}])
    return None


def test_a_promotion_that_meets_another_transaction_tries_the_same_person_again(dynamodb_repo, clock):
    """A TransactionConflict on the first in line must not hand their seat to the second."""
    repo = dynamodb_repo
    manage = _three_for_one_seat(repo, RecordingMailer())
    with table_faults(repo, partial(_a_transaction_conflict, at=2)):  # 1: the cancel; 2: Bo's seat
        manage_module.cancel_registration(repo, manage, "smart-region-dag-2027", key=KEY)
    statuses = {r.email: r.status for r in repo.list_registrations("smart-region-dag-2027")}
    assert statuses == {"an@example.be": "cancelled", "bo@example.be": "confirmed", "cy@example.be": "waitlisted"}


def test_an_erasure_that_meets_a_promotion_gives_the_seat_back(dynamodb_repo, clock):
    """Bo waits; Bo's erasure reads that, then An cancels and Bo is promoted: the seat must not stay counted."""
    repo = dynamodb_repo
    an_manage = _three_for_one_seat(repo, RecordingMailer())
    bo = privacy.find_person(repo, "bo@example.be", key=KEY)
    read = repo.get_registrations

    def then_an_cancels(person_id, event_ids):
        found = read(person_id, event_ids)
        if person_id == bo.id and found.get("smart-region-dag-2027").status == "waitlisted":
            manage_module.cancel_registration(repo, an_manage, "smart-region-dag-2027", key=KEY)  # Bo gets An's seat
        return found

    repo.get_registrations = then_an_cancels
    try:
        privacy.erase(repo, bo)
    finally:
        del repo.get_registrations
    confirmed = [r.email for r in repo.list_registrations("smart-region-dag-2027") if r.status == "confirmed"]
    assert confirmed == ["cy@example.be"]  # Bo's seat went back, and on to the next in line
    assert repo.get_event("smart-region-dag-2027").seats_taken == 1


def test_a_confirm_whose_seat_meets_another_transaction_still_takes_it(dynamodb_repo, clock):
    """The link is spent before the seat is taken: a TransactionConflict there must not leave it pending behind a 410."""
    repo, mailer = dynamodb_repo, RecordingMailer()
    events.create_event(repo, day_data(capacity=10), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "consent": True,
                                           "event_ids": ["smart-region-dag-2027"]}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    token = re.search(r"/confirm/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    with table_faults(repo, partial(_a_transaction_conflict, at=1)):
        result = subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    assert [o.status for o in result.outcomes] == ["confirmed"]
    assert [r.status for r in repo.list_registrations("smart-region-dag-2027")] == ["confirmed"]

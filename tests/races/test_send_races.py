"""What a tick holds while people and staff act: a review of the send machinery reproduced these.

Each test makes the other party act at the worst moment, from inside the
mailer (SES throttles the send while it happens), on both repositories.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from chalicelib.model import send as send_model
from chalicelib.services import events
from chalicelib.services import manage as manage_module
from chalicelib.services import planning
from chalicelib.services import privacy
from chalicelib.services import seats
from chalicelib.services import subscribe
from chalicelib.services import tick as tick_module
from chalicelib import tokens
from chalicelib import wiring
from chalicelib.errors import MailThrottled
from tests.fakes import RecordingMailer
from tests.conftest import KEY, SETTINGS, webinar_data
from tests.support.sending import BASE, WEBINAR, WEBINAR_START, FakeTime, kinds, register, tick


class ThrottledWhile(RecordingMailer):
    """SES throttles every send; the first one first runs ``act`` (what happens while the tick holds it)."""

    def __init__(self, act):
        super().__init__()
        self.act, self.acted = act, False

    def send(self, mail):
        if not self.acted:
            self.acted = True
            self.act()
        raise MailThrottled("Throttling")


def test_a_reminder_held_while_the_event_moved_earlier_is_not_sent_past_its_new_grace(repo, mailer, clock):
    """Put back after throttling, the "starts in 1 day" reminder must not go out 4 hours before the new start."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    mailer.sent.clear()
    at = WEBINAR_START - timedelta(days=1)
    clock.set(at)

    def move_20_hours_earlier():
        change = events.change_event(repo, WEBINAR, {"starts_at": "2027-01-13T14:00:00+01:00",
                                                     "ends_at": "2027-01-13T15:00:00+01:00"}, actor="staff", now=at,
                                     base_url=SETTINGS.base_url)
        planning.after_event_change(repo, change, now=at, settings=SETTINGS)

    first = tick(repo, ThrottledWhile(move_20_hours_earlier), at)
    assert first.throttled and first.retry_later == 1
    clock.set(at + timedelta(minutes=2))
    second = tick(repo, mailer, at + timedelta(minutes=2))
    reminders_sent = [m for m, _ in mailer.sent if m.kind == "reminder"]
    assert reminders_sent == []
    assert second.reasons == {"stale: past its grace": 1}
    held = [s for s in repo.list_sends(WEBINAR) if s.kind == "reminder" and s.detail == "P1D"]
    assert [(s.state, s.reason) for s in held] == [("skipped", "stale: past its grace")]


def test_a_reminder_put_back_after_throttling_does_not_go_to_someone_who_cancelled_meanwhile(repo, mailer, clock):
    """Cancelling drops only the sends no tick holds: a held one put back is checked against the registration."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(repo, mailer, "an@example.be", [WEBINAR])
    manage = re.search(r"/manage/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    mailer.sent.clear()
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)

    first = tick(repo, ThrottledWhile(lambda: manage_module.cancel_registration(repo, manage, WEBINAR, now=at,
                                                                                key=KEY)), at)
    assert first.retry_later == 1
    second = tick(repo, mailer, at + timedelta(minutes=2))
    assert kinds(mailer, "an@example.be") == []
    assert second.reasons == {"registration cancelled": 1}
    held = [s for s in repo.list_sends(WEBINAR) if s.kind == "reminder" and s.detail == "PT1H"]
    assert [(s.state, s.reason) for s in held] == [("skipped", "registration cancelled")]


def test_a_first_claim_reads_no_registration_and_sends(repo, mailer, clock, monkeypatch):
    """The common case pays nothing for the check: a send claimed for the first time is not checked."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    register(repo, mailer, "an@example.be", [WEBINAR])
    asked = []
    read = repo.read_for_sends
    monkeypatch.setattr(repo, "read_for_sends", lambda people, events_, regs=(): asked.append(list(regs)) or
                        read(people, events_, regs))
    at = WEBINAR_START - timedelta(hours=1)
    assert tick(repo, mailer, at).sent == 1
    assert asked == [[]]


OLD_LINK, NEW_LINK = "https://meet.example.org/sro", "https://meet.example.org/moved-after-a-leak"


def test_reminders_claimed_after_a_join_link_change_carry_the_new_link(repo, mailer, clock):
    """Events are read with each batch: batches claimed after staff replaced the join link carry the new one."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    for address in ("an@example.be", "bo@example.be", "cy@example.be"):
        register(repo, mailer, address, [WEBINAR])
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)

    class ChangesTheLinkAfterTheFirstMail(RecordingMailer):
        def send(self, mail):
            message_id = super().send(mail)
            if len(self.sent) == 1:
                change = events.change_event(repo, WEBINAR, {"online_url": NEW_LINK}, actor="staff", now=at,
                                             base_url=SETTINGS.base_url)
                planning.after_event_change(repo, change, now=at, settings=SETTINGS)
            return message_id

    sender = ChangesTheLinkAfterTheFirstMail()
    tick(repo, sender, at + timedelta(seconds=30), batch=1)  # a batch of one: each mail its own batch
    sent = [mail for mail, _ in sender.sent if mail.kind == "reminder"]
    assert len(sent) == 3
    assert OLD_LINK in sent[0].text  # in flight when the change came
    assert all(NEW_LINK in mail.text and OLD_LINK not in mail.text for mail in sent[1:])


def test_mail_stopped_while_a_slow_tick_sends_takes_effect_within_its_batch_of_five_seconds(repo, mailer, clock):
    """At 1 mail a second a batch holds 5 sends, not 50: a stop reaches the next batch within 5 s."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    people = [f"p{i}@example.be" for i in range(8)]
    for address in people:
        register(repo, mailer, address, [WEBINAR])
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)

    class StopsEveryoneAfterTheFirstMail(RecordingMailer):
        def send(self, mail):
            message_id = super().send(mail)
            if len(self.sent) == 1:
                for address in people:
                    manage_module.stop_all_mail(repo, privacy.find_person(repo, address, key=KEY), "complaint")
            return message_id

    sender = StopsEveryoneAfterTheFirstMail()
    result = tick(repo, sender, at + timedelta(seconds=30), rate=1.0)
    assert len(sender.sent) == 5  # the first batch, read before the stop
    assert result.reasons == {"mail stopped (complaint)": 3}


def test_the_tick_reads_recipients_and_events_strongly_consistent_in_one_request(dynamodb_repo, mailer, clock):
    """Just after a cancellation or a stop, an eventually consistent read could mail as before, or skip for good."""
    from tests.conftest import table_faults

    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    for address in ("an@example.be", "bo@example.be"):
        register(dynamodb_repo, mailer, address, [WEBINAR])
    asked = []
    original = dynamodb_repo.client._make_api_call

    def noting(operation, params):
        if operation == "BatchGetItem":
            asked.append(params)
        return original(operation, params)

    dynamodb_repo.client._make_api_call = noting
    try:
        with table_faults(dynamodb_repo, lambda operation, n: None) as calls:
            assert tick(dynamodb_repo, mailer, WEBINAR_START - timedelta(hours=1)).sent == 2
    finally:
        dynamodb_repo.client._make_api_call = original
    assert calls["BatchGetItem"] == 1 and calls["Query"] == 1  # the due page; no list of every event
    [request] = [r for r in asked]
    [(table, wanted)] = request["RequestItems"].items()
    assert wanted["ConsistentRead"] is True
    assert sorted(key["PK"]["S"].split("#")[0] for key in wanted["Keys"]) == ["EVENTS", "PERSON", "PERSON"]


def _act_once_planning_has_read(repo, act):
    """Run ``act`` right after a staff change's planning read the event's registrations and sends."""
    original, fired = repo.list_sends, []

    def meanwhile(event_id, person_id=None):
        found = original(event_id, person_id)
        if person_id is None and not fired:
            fired.append(True)
            act()
        return found

    repo.list_sends = meanwhile
    return fired


def _move_an_hour_later(repo):
    change = events.change_event(repo, WEBINAR, {"starts_at": "2027-01-14T11:00:00+01:00",
                                                 "ends_at": "2027-01-14T12:00:00+01:00"}, actor="staff",
                                 base_url=SETTINGS.base_url)
    planning.after_event_change(repo, change, settings=SETTINGS)


def test_an_erasure_while_a_staff_change_is_planned_leaves_no_send_behind(repo, mailer, clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    original = repo.list_sends
    fired = _act_once_planning_has_read(repo, lambda: privacy.erase(repo, repo.get_person(an.id)))
    _move_an_hour_later(repo)
    repo.list_sends = original
    assert fired and repo.get_person(an.id) is None
    assert repo.list_sends(WEBINAR, an.id) == []  # no notice, no rescheduled reminder with her id


def test_a_registration_cancelled_while_a_staff_change_is_planned_gets_no_reminder(repo, mailer, clock):
    """A first claim reads no registration: a reminder planned for it after it was cancelled would go out."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(days=3))
    register(repo, mailer, "an@example.be", [WEBINAR])
    register(repo, mailer, "bo@example.be", [WEBINAR])
    manage = re.search(r"/manage/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    original = repo.list_sends
    _act_once_planning_has_read(repo, lambda: manage_module.cancel_registration(repo, manage, WEBINAR, key=KEY))
    _move_an_hour_later(repo)
    repo.list_sends = original
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    assert [s for s in repo.list_sends(WEBINAR, an.id) if s.state == "pending"] == []
    mailer.sent.clear()
    new_start = WEBINAR_START + timedelta(hours=1)
    for hours in (24, 1):  # the P1D and PT1H reminders of the new time
        clock.set(new_start - timedelta(hours=hours) + timedelta(minutes=1))
        tick(repo, mailer, new_start - timedelta(hours=hours) + timedelta(minutes=1))
    assert kinds(mailer, "an@example.be") == []
    assert kinds(mailer, "bo@example.be") == ["event_changed", "reminder", "reminder"]


def test_the_ticks_leave_part_of_the_ses_rate_to_the_mails_requests_send(monkeypatch):
    """A confirmation mail goes out while the person waits: the ticks never take the whole rate."""
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import tick as tick_module

    assert tick_module.tick_rate(14) == 14 - 1.4
    assert tick_module.tick_rate(200) == 180
    assert tick_module.tick_rate(2) == 1 and tick_module.tick_rate(1) == 0.5  # the sandbox: half each
    seen = []
    monkeypatch.setenv("SES_MAX_SEND_RATE", "14")
    monkeypatch.setattr(wiring, "send_due", lambda repo, mailer, **options: seen.append(options["rate"]))
    monkeypatch.setattr(wiring, "_plan_unplanned", lambda repo, now, settings: None)
    wiring.send_due_now(repo=object(), mailer=object())
    assert seen == [14 - 1.4]


def test_reminders_claimed_after_a_title_change_carry_the_new_title(repo, mailer, clock):
    """The tick's rendered mails are kept per event version (updated_at), not only per sequence."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    for address in ("an@example.be", "bo@example.be", "cy@example.be"):
        register(repo, mailer, address, [WEBINAR], language="en")
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)

    class RenamesAfterTheFirstMail(RecordingMailer):
        def send(self, mail):
            message_id = super().send(mail)
            if len(self.sent) == 1:
                events.change_event(repo, WEBINAR, {"title": {"nl": "Webinar Slimme Regio", "en": "Smart Region talk"}},
                                    actor="staff", now=at, base_url=SETTINGS.base_url)
            return message_id

    sender = RenamesAfterTheFirstMail()
    tick(repo, sender, at + timedelta(seconds=30), batch=1)
    sent = [mail for mail, _ in sender.sent if mail.kind == "reminder"]
    assert len(sent) == 3 and "Smart Region webinar" in sent[0].text
    assert all("Smart Region talk" in mail.text and "Smart Region webinar" not in mail.text for mail in sent[1:])


def test_a_cancel_overlapping_a_staff_change_gets_no_change_notice(repo, mailer, clock, monkeypatch):
    """The cancel reads the sends it drops, then moves; a notice written in between is dropped after the move."""
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import tick as tick_module

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(days=3))
    register(repo, mailer, "an@example.be", [WEBINAR])
    manage = re.search(r"/manage/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    original, fired = seats.sends_to_drop, []

    def read_then_staff_change(repo_, event_id, person_id):
        found = original(repo_, event_id, person_id)
        if not fired:
            fired.append(True)
            _move_an_hour_later(repo)
        return found

    monkeypatch.setattr(seats, "sends_to_drop", read_then_staff_change)
    manage_module.cancel_registration(repo, manage, WEBINAR, key=KEY)
    monkeypatch.setattr(seats, "sends_to_drop", original)
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    assert fired and [s for s in repo.list_sends(WEBINAR, an.id) if s.state == "pending"] == []
    mailer.sent.clear()
    clock.set(clock() + timedelta(minutes=1))
    tick(repo, mailer, clock())
    assert kinds(mailer, "an@example.be") == []


def test_a_notice_claimed_before_its_planning_checked_the_registration_is_checked_by_the_tick(repo, mailer, clock):
    """A notice is due the moment it is written: the tick reads its registration on the first claim."""
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import tick as tick_module

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(days=3))
    register(repo, mailer, "an@example.be", [WEBINAR])
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    [reg] = repo.get_registrations(an.id, [WEBINAR]).values()
    repo.move_registration(replace(reg, status="cancelled"), expect=("confirmed",), seat_change=0)
    event = repo.get_event(WEBINAR)
    repo.put_sends([send_model._notice(event, reg, "change", "1", clock(), event.starts_at,
                                      {"material": ["starts_at"], "before": send_model._snapshot(event)})], overwrite=False)
    mailer.sent.clear()
    result = tick(repo, mailer, clock() + timedelta(seconds=30))
    assert kinds(mailer, "an@example.be") == [] and result.reasons == {"registration cancelled": 1}


def test_a_submission_saved_while_an_erasure_runs_is_erased_too(repo, mailer, clock):
    """The erasure read the profile, then the form was sent again for another event: nothing of it stays."""
    from chalicelib.services import events
    from chalicelib.services import manage as manage_module
    from chalicelib.services import planning
    from chalicelib.services import privacy
    from chalicelib.services import subscribe
    from chalicelib.services import tick as tick_module

    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(repo, webinar_data(id="webinar-2027-02-11", starts_at="2027-02-11T10:00:00+01:00",
                                           ends_at="2027-02-11T11:00:00+01:00"), actor="test",
                        base_url=SETTINGS.base_url)
    register(repo, mailer, "an@example.be", [WEBINAR])
    an = privacy.find_person(repo, "an@example.be", key=KEY)
    original, fired = repo.erase_person, []

    def submit_first(person):
        if not fired:
            fired.append(True)
            subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "event_ids": ["webinar-2027-02-11"],
                                                   "language": "nl", "consent": True}, base_url="https://events.example.be", key=KEY, settings=SETTINGS)
        return original(person)

    repo.erase_person = submit_first
    privacy.erase(repo, an)
    repo.erase_person = original
    token = re.search(r"/confirm/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    assert fired and repo.get_person(an.id) is None
    assert repo.get_registrations(an.id, [WEBINAR, "webinar-2027-02-11"]) == {}
    assert repo.get_confirm_token(tokens.token_hash(token)) is None


# ---------------------------------------------- an erasure while a tick holds the person's mail


class ErasesWhenSending(RecordingMailer):
    """Sends; the mail to ``address`` first erases that person, as if they pressed "erase" at that moment."""

    def __init__(self, repo, address):
        super().__init__()
        self.repo, self.address = repo, address

    def send(self, mail):
        if mail.to_email == self.address:
            privacy.erase(self.repo, privacy.find_person(self.repo, self.address, key=KEY))
        return super().send(mail)


def _registered(repo, mailer, clock, *addresses):
    """The webinar, and these people registered for it the day before the reminders fall due."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    clock.set(WEBINAR_START - timedelta(hours=20))
    for address in addresses:
        register(repo, mailer, address, [WEBINAR])


def _items_of(repo, person_id):
    """Every send left with the person's id: none may outlive an erasure."""
    return [s for s in repo.list_sends(WEBINAR) if s.person_id == person_id]


def test_an_erasure_while_a_tick_sends_the_persons_mail_leaves_nothing_of_them(repo, mailer, clock):
    """The tick found the profile, so its settle of the others goes without a condition each; not this one's."""
    _registered(repo, mailer, clock, "an@example.be", "bo@example.be", "cy@example.be")
    bo = privacy.find_person(repo, "bo@example.be", key=KEY).id
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    sender = ErasesWhenSending(repo, "bo@example.be")
    result = tick(repo, sender, at + timedelta(seconds=30))
    assert result.sent == 3  # bo's mail was on its way when bo pressed "erase"
    assert _items_of(repo, bo) == []
    recorded = {s.person_id: (s.state, bool(s.message_id)) for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"}
    assert recorded == {privacy.find_person(repo, a,
                                            key=KEY).id: ("sent", True) for a in ("an@example.be", "cy@example.be")}
    assert tick(repo, mailer, at + timedelta(minutes=10)).due == 0  # nothing put back to go again


def test_an_erasure_between_the_claim_and_the_read_leaves_nothing_of_them(repo, mailer, clock, monkeypatch):
    """The tick does not find the profile: it records that send as its holder, and finds it gone."""
    _registered(repo, mailer, clock, "an@example.be", "bo@example.be")
    bo = privacy.find_person(repo, "bo@example.be", key=KEY)
    read = repo.read_for_sends

    def erased_first(*args):
        privacy.erase(repo, repo.get_person(bo.id))
        return read(*args)

    monkeypatch.setattr(repo, "read_for_sends", erased_first)
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    mailer.sent.clear()
    result = tick(repo, mailer, at + timedelta(seconds=30))
    assert kinds(mailer, "bo@example.be") == [] and kinds(mailer, "an@example.be") == ["reminder"]
    assert result.reasons == {"person erased": 1}
    assert _items_of(repo, bo.id) == []


def test_a_tick_settles_the_people_it_found_with_one_condition_a_transaction(dynamodb_repo, mailer, clock):
    """What keeps a settle cheap: no condition per send, one check that no erasure marked the tick."""
    repo = dynamodb_repo
    _registered(repo, mailer, clock, "an@example.be", "bo@example.be")
    writes = []
    repo.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                     lambda params, **_: writes.append(params["TransactItems"]))
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    assert tick(repo, mailer, at + timedelta(seconds=30)).sent == 2
    claim, settle = writes
    assert all("ConditionExpression" in item["Put"] for item in claim)
    [check] = [item["ConditionCheck"] for item in settle if "ConditionCheck" in item]
    assert check["Key"]["PK"]["S"].startswith("TICK#") and check["ConditionExpression"] == "attribute_not_exists(PK)"
    puts = [item["Put"] for item in settle if "Put" in item]
    assert len(puts) == 2 and not any("ConditionExpression" in put for put in puts)


def test_an_erasure_marks_the_tick_that_holds_the_persons_send_and_the_mark_goes_by_ttl(dynamodb_repo, mailer, clock):
    repo = dynamodb_repo
    _registered(repo, mailer, clock, "an@example.be")
    at = WEBINAR_START - timedelta(hours=1)
    [held] = repo.claim_sends([s for s in repo.due_sends(at, 10) if s.detail == "PT1H"], by="t1",
                              lease_until=at + timedelta(minutes=5))
    clock.set(at)
    privacy.erase(repo, privacy.find_person(repo, "an@example.be", key=KEY))
    mark = repo.client.get_item(TableName=repo.table, Key={"PK": {"S": "TICK#t1"}, "SK": {"S": "ERASED"}})["Item"]
    assert int(mark["expires_at"]["N"]) == int((at + timedelta(days=1)).timestamp())
    # The holder writes its outcome as the person's record would be: marked, it writes as the holder, and finds it gone.
    assert repo.settle_sends([replace(held, state="sent", message_id="m-1")], by="t1", found={held.person_id}) == 0
    assert repo.list_sends(WEBINAR) == []


def test_a_send_claimed_after_the_erasure_listed_it_is_not_written_back(dynamodb_repo, mailer, clock, monkeypatch):
    """The erasure saw it pending, so marked no tick; the tick reads no profile, so settles it as its holder."""
    repo = dynamodb_repo
    _registered(repo, mailer, clock, "an@example.be", "bo@example.be")
    an, bo = (privacy.find_person(repo, a, key=KEY) for a in ("an@example.be", "bo@example.be"))
    at = WEBINAR_START - timedelta(hours=1)
    held = []
    deletes = repo.client.batch_write_item

    def claimed_first(**request):  # the erasure's deletes, after it listed the sends
        if not held:
            held.extend(repo.claim_sends([s for s in repo.due_sends(at, 10) if s.detail == "PT1H"], by="t1",
                                         lease_until=at + timedelta(minutes=5)))
        return deletes(**request)

    monkeypatch.setattr(repo.client, "batch_write_item", claimed_first)
    privacy.erase(repo, bo)
    assert {s.person_id for s in held} == {an.id, bo.id}
    found = repo.read_for_sends([s.person_id for s in held], [WEBINAR]).people
    assert set(found) == {an.id}
    outcomes = [replace(s, state="sent", message_id="m-1") if s.person_id == an.id
                else replace(s, state="skipped", reason="person erased") for s in held]
    assert repo.settle_sends(outcomes, by="t1", found=found) == 1
    assert [(s.person_id, s.state) for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"] == [(an.id, "sent")]
    assert _items_of(repo, bo.id) == []


def test_a_settle_tried_again_after_a_lost_answer_writes_as_the_holder(dynamodb_repo, mailer, clock):
    """The first try landed, its answer did not; bo erased in the pause: the second try must not bring bo back."""
    from botocore.exceptions import ReadTimeoutError

    repo = dynamodb_repo
    _registered(repo, mailer, clock, "an@example.be", "bo@example.be")
    bo = privacy.find_person(repo, "bo@example.be", key=KEY).id
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    real, lost = repo.client.transact_write_items, []

    def answer_lost(**request):
        reply = real(**request)  # written...
        if not lost and any("ConditionCheck" in item for item in request["TransactItems"]):
            lost.append(1)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")  # ...not answered
        return reply

    repo.client.transact_write_items = answer_lost
    fake = FakeTime()

    def pause(seconds):  # record()'s pause before it tries again: bo presses "erase" now
        fake.sleep(seconds)
        if lost and privacy.find_person(repo, "bo@example.be", key=KEY):
            privacy.erase(repo, privacy.find_person(repo, "bo@example.be", key=KEY))

    result = tick_module.send_due(repo, RecordingMailer(), base_url=BASE, now=at + timedelta(seconds=30), rate=1000.0,
                                clock=fake.clock, sleep=pause, key=KEY)
    assert lost and result.sent == 2
    assert _items_of(repo, bo) == []
    assert [(s.state, bool(s.message_id)) for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"] == [("sent", True)]


def test_an_interrupted_send_is_not_put_back_when_the_table_fails_before_its_check(repo, mailer, clock, monkeypatch):
    """Found still claimed by a tick that died (after handing it to SES, maybe): once or not at all."""
    from chalicelib.errors import Unavailable

    _registered(repo, mailer, clock, "an@example.be")
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    repo.claim_sends([s for s in repo.due_sends(at, 10) if s.detail == "PT1H"], by="died",
                     lease_until=at + timedelta(minutes=5))
    read, failed = repo.read_for_sends, []

    def fails_once(*args):
        if not failed:
            failed.append(1)
            raise Unavailable("storage: ThrottlingException")
        return read(*args)

    monkeypatch.setattr(repo, "read_for_sends", fails_once)
    mailer.sent.clear()
    first = tick(repo, mailer, at + timedelta(minutes=6))
    assert failed and first.stopped_early and first.reasons == {"interrupted: claimed by a tick that stopped; "
                                                                "not resent": 1}
    assert tick(repo, mailer, at + timedelta(minutes=7)).due == 0
    assert kinds(mailer, "an@example.be") == []
    [send] = [s for s in repo.list_sends(WEBINAR) if s.detail == "PT1H"]
    assert (send.state, send.reason) == ("skipped", "interrupted: claimed by a tick that stopped; not resent")


def test_a_profile_made_again_after_the_claim_is_not_taken_as_found(dynamodb_repo, mailer, clock, monkeypatch):
    """bo fills in the form again the moment the erasure runs: same address, same id, a new profile."""
    repo = dynamodb_repo
    _registered(repo, mailer, clock, "an@example.be", "bo@example.be")
    bo = privacy.find_person(repo, "bo@example.be", key=KEY)
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at)
    claim = repo.claim_sends

    def claimed_while_bo_is_erased(due, *, by, lease_until):
        won, deletes = [], repo.client.batch_write_item

        def claim_then_delete(**request):  # the erasure listed bo's sends unclaimed; now its deletes
            if not won:
                won.extend(claim(due, by=by, lease_until=lease_until))
                subscribe.subscribe(repo, mailer, {"email": "bo@example.be", "name": "Bo", "language": "nl",
                                                       "event_ids": [WEBINAR], "consent": True}, base_url=BASE,
                                    key=KEY, settings=SETTINGS)
            return deletes(**request)

        monkeypatch.setattr(repo.client, "batch_write_item", claim_then_delete)
        privacy.erase(repo, bo)
        monkeypatch.setattr(repo.client, "batch_write_item", deletes)
        return won

    monkeypatch.setattr(repo, "claim_sends", claimed_while_bo_is_erased)
    tick(repo, RecordingMailer(), at + timedelta(seconds=30))
    assert privacy.find_person(repo, "bo@example.be", key=KEY) is not None  # bo is back, as someone new
    assert _items_of(repo, bo.id) == []


def test_a_tick_acting_as_of_an_earlier_moment_settles_as_the_holder(dynamodb_repo, mailer, clock):
    """``send-due --now`` an hour back: its lease has ended by the clock other ticks go by, so its claims may
    be theirs by now; every settle asks."""
    repo = dynamodb_repo
    _registered(repo, mailer, clock, "an@example.be")
    at = WEBINAR_START - timedelta(hours=1)
    clock.set(at + timedelta(hours=1))
    writes = []
    repo.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                     lambda params, **_: writes.append(params["TransactItems"]))
    assert tick(repo, mailer, at + timedelta(seconds=30)).sent == 1
    settle = writes[-1]
    assert [("ConditionExpression" in item["Put"]) for item in settle] == [True]

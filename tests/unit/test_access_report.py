"""A person's access report lists every mail sent to them, in the order it went out, with when it really did."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.errors import MailError, Unavailable
from chalicelib.model.person import MailSent
from chalicelib.services import events, manage, planning, privacy, subscribe
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.support.sending import BASE, register, tick


def test_the_report_lists_the_confirmation_mails_and_the_reminders_in_time_order_with_the_real_time(repo, mailer, clock):
    """It left out the confirmation request and the confirmation, and showed a --now moment as a sending time."""
    events.create_event(repo, webinar_data(reminders=["P1D", "PT1H"]), actor="test", base_url=SETTINGS.base_url,
                        now=PINNED_NOW)
    clock.set(PINNED_NOW + timedelta(minutes=5))
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    # An operator runs the tick as of the day before the webinar (send-due --now), a minute later by the clock.
    clock.set(PINNED_NOW + timedelta(minutes=6))
    tick(repo, mailer, events.get_event(repo, "webinar-2027-01-14").starts_at - timedelta(days=1))
    clock.set(PINNED_NOW + timedelta(minutes=7))
    tick(repo, mailer, events.get_event(repo, "webinar-2027-01-14").starts_at - timedelta(hours=1))
    report = privacy.export_person(repo, privacy.find_person(repo, "an@example.be", key=KEY))
    sent = [(m["kind"], m.get("detail"), m["sent_at"]) for m in report["mails"] if m["state"] == "sent"]
    assert sent == [
        ("confirm_request", "", "2026-11-25T13:05:00+01:00"),
        ("confirmed", "", "2026-11-25T13:05:00+01:00"),
        ("reminder", "P1D", "2026-11-25T13:06:00+01:00"),  # when it went out, not 13 January (the --now)
        ("reminder", "PT1H", "2026-11-25T13:07:00+01:00"),
    ]
    assert len(sent) == len([m for m, _ in mailer.sent if m.to_email == "an@example.be"])


def sent_mails(repo, address="an@example.be"):
    report = privacy.export_person(repo, privacy.find_person(repo, address, key=KEY))
    return [(m["kind"], m["event_ids"], m["sent_at"]) for m in report["mails"] if m["state"] == "sent"]


def manage_link(mailer, address="an@example.be"):
    return re.search(r"/manage/([\w.-]+)", mailer.to(address)[-1].text).group(1)


def test_the_report_lists_the_confirmation_a_one_click_register_from_the_manage_page_sent(repo, mailer, clock):
    """The confirmation of a one-click register was sent but never listed: nothing stored said it went out."""
    events.create_event(repo, webinar_data(id="later", registration_opens_at="2027-01-01T09:00:00",
                                           starts_at="2027-02-01T10:00:00", ends_at="2027-02-01T11:00:00"),
                        actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", ["later"])  # not open yet: interested
    clock.set(datetime(2027, 1, 2, 9, 0, tzinfo=timezone.utc))
    outcome = manage.register_from_link(repo, mailer, manage_link(mailer), "later", base_url=BASE, key=KEY,
                                        settings=SETTINGS)
    assert outcome.status == "confirmed"
    assert sent_mails(repo) == [
        ("confirm_request", ["later"], "2026-11-25T13:00:00+01:00"),
        ("confirmed", ["later"], "2026-11-25T13:00:00+01:00"),  # "you will hear when it opens"
        ("confirmed", ["later"], "2027-01-02T10:00:00+01:00"),  # the one-click register's
    ]
    assert len(sent_mails(repo)) == len(mailer.to("an@example.be"))


def test_the_report_lists_already_registered_mails_older_than_a_day(repo, mailer, clock):
    """Only the last day's were listed (read from the profile's mail limit count, which keeps a day)."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    clock.set(PINNED_NOW + timedelta(days=2))
    register_again = {"email": "an@example.be", "name": "An", "event_ids": ["webinar-2027-01-14"], "consent": True}
    subscribe.subscribe(repo, mailer, register_again, base_url=BASE, key=KEY, settings=SETTINGS)
    clock.set(PINNED_NOW + timedelta(days=9))
    assert sent_mails(repo) == [
        ("confirm_request", ["webinar-2027-01-14"], "2026-11-25T13:00:00+01:00"),
        ("confirmed", ["webinar-2027-01-14"], "2026-11-25T13:00:00+01:00"),
        ("already_registered", ["webinar-2027-01-14"], "2026-11-27T13:00:00+01:00"),
    ]


def test_the_report_lists_the_mail_sent_after_cancelling_a_seat(repo, mailer, clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    clock.set(PINNED_NOW + timedelta(hours=1))
    manage.cancel_registration(repo, manage_link(mailer), "webinar-2027-01-14", key=KEY, mailer=mailer,
                               base_url=BASE)
    assert sent_mails(repo)[-1] == ("registration_cancelled", ["webinar-2027-01-14"], "2026-11-25T14:00:00+01:00")
    assert len(sent_mails(repo)) == len(mailer.to("an@example.be")) == 3


def test_a_mail_whose_record_cannot_be_written_is_still_sent_once_and_the_request_succeeds(memory_repo, mailer,
                                                                                           monkeypatch):
    """The mail is out: a storage failure while recording it must not turn into a 503 that has them ask again."""
    events.create_event(memory_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)

    def unavailable(mail, **options):
        raise Unavailable("storage: ProvisionedThroughputExceededException")

    monkeypatch.setattr(memory_repo, "record_mail", unavailable)
    result = register(memory_repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    assert [o.status for o in result.outcomes] == ["confirmed"]
    assert [m.kind for m in mailer.to("an@example.be")] == ["confirm_request", "confirmed"]


def test_erasure_takes_the_mail_records_with_it_and_none_is_recorded_for_an_erased_person(repo, mailer):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    person = privacy.find_person(repo, "an@example.be", key=KEY)
    assert len(repo.list_mails(person.id)) == 2
    privacy.erase(repo, person, mailer=mailer, base_url=BASE, key=KEY)
    assert repo.list_mails(person.id) == []
    late = MailSent(person_id=person.id, kind="confirmed", event_ids=("webinar-2027-01-14",), sent_at=PINNED_NOW,
                    message_id="m", kept_until=PINNED_NOW + timedelta(days=30))
    assert repo.record_mail(late) is False  # a confirm finishing as the erasure ran: nothing is kept
    assert repo.list_mails(person.id) == []


def test_the_mails_of_a_postponed_events_people_are_listed_as_long_as_their_profile_now_lasts(repo, mailer, clock):
    """A record is kept until its profile's expiry; a postponement raises the profile's, and its mails' with it."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])  # kept until 180 days after 14 January 2027
    change = events.change_event(repo, "webinar-2027-01-14", {"starts_at": "2028-01-13T10:00:00+01:00",
                                                              "ends_at": "2028-01-13T11:00:00+01:00"},
                                 actor="test", base_url=SETTINGS.base_url)
    planning.after_event_change(repo, change, settings=SETTINGS)
    clock.set(datetime(2027, 12, 1, tzinfo=timezone.utc))  # past the old expiry, before the new one
    assert [kind for kind, _, _ in sent_mails(repo)] == ["confirm_request", "confirmed"]


# ----------------------------------------------- every path that raises a profile's expiry keeps its mails


def subscribe_an(repo, mailer, event_id="webinar-2027-01-14"):
    return subscribe.subscribe(repo, mailer, {"email": "an@example.be", "name": "An", "event_ids": [event_id],
                                              "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)


def confirm_last(repo, mailer):
    token = re.search(r"/confirm/([\w-]+)", mailer.to("an@example.be")[-1].text).group(1)
    return subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


def test_a_confirm_whose_mail_ses_refused_keeps_the_confirmation_request_listed_as_long_as_the_profile(repo, mailer,
                                                                                                      clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    subscribe_an(repo, mailer)  # unconfirmed: the profile, and the request's record, for 7 days
    real = mailer.send

    def refuse_the_confirmation(mail):
        if mail.kind == "confirmed":
            raise MailError("MessageRejected")
        return real(mail)

    mailer.send = refuse_the_confirmation
    confirm_last(repo, mailer)  # confirmed: the profile now lasts months, though no mail was recorded
    clock.set(PINNED_NOW + timedelta(days=8))
    assert sent_mails(repo) == [("confirm_request", ["webinar-2027-01-14"], "2026-11-25T13:00:00+01:00")]


def test_a_submission_that_mails_nothing_keeps_the_earlier_mails_as_long_as_the_profile_it_raised(repo, mailer,
                                                                                                  clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    subscribe_an(repo, mailer)
    manage.stop_all_mail(repo, privacy.find_person(repo, "an@example.be", key=KEY), "bounce")
    clock.set(PINNED_NOW + timedelta(days=3))
    subscribe_an(repo, mailer)  # no mail to an address that bounced; the profile now lasts to day 10
    clock.set(PINNED_NOW + timedelta(days=8))
    assert sent_mails(repo) == [("confirm_request", ["webinar-2027-01-14"], "2026-11-25T13:00:00+01:00")]


def test_a_postponement_taken_up_again_after_a_storage_failure_keeps_the_mails_as_long_as_the_profile(
        repo, mailer, clock, monkeypatch):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    register(repo, mailer, "an@example.be", ["webinar-2027-01-14"])
    change = events.change_event(repo, "webinar-2027-01-14", {"starts_at": "2028-01-13T10:00:00+01:00",
                                                              "ends_at": "2028-01-13T11:00:00+01:00"},
                                 actor="test", base_url=SETTINGS.base_url)
    real = repo.keep_mails

    def unavailable(*args, **kwargs):
        raise Unavailable("storage: ThrottlingException")

    monkeypatch.setattr(repo, "keep_mails", unavailable)
    with pytest.raises(Unavailable):  # the profile was raised; its mails not yet
        planning.after_event_change(repo, change, settings=SETTINGS)
    monkeypatch.setattr(repo, "keep_mails", real)
    planning.after_event_change(repo, change, settings=SETTINGS)  # the tick finishing the change
    clock.set(datetime(2027, 12, 1, tzinfo=timezone.utc))
    assert [kind for kind, _, _ in sent_mails(repo)] == ["confirm_request", "confirmed"]


def test_a_confirm_by_someone_whose_mail_stopped_succeeds_when_their_mails_cannot_be_kept(repo, mailer, monkeypatch):
    """Only the records' expiry could not be raised: the confirm is done, and a 503 would say it is not."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    subscribe_an(repo, mailer)
    manage.stop_all_mail(repo, privacy.find_person(repo, "an@example.be", key=KEY), "bounce")

    def unavailable(*args, **kwargs):
        raise Unavailable("storage: ThrottlingException")

    monkeypatch.setattr(repo, "keep_mails", unavailable)
    assert [o.status for o in confirm_last(repo, mailer).outcomes] == ["confirmed"]


def test_the_mails_of_an_expired_profile_are_not_listed_for_a_new_one_of_the_same_address(repo, mailer, clock):
    """DynamoDB deletes an item within days of its TTL: records past it were raised again for the new profile."""
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    subscribe_an(repo, mailer)  # never confirmed: the profile and its record go after 7 days
    clock.set(PINNED_NOW + timedelta(days=8))
    subscribe_an(repo, mailer)
    confirm_last(repo, mailer)
    assert [(kind, at[:10]) for kind, _, at in sent_mails(repo)] == [
        ("confirm_request", "2026-12-03"), ("confirmed", "2026-12-03")]


def test_the_time_listed_is_when_ses_took_the_mail_not_when_the_request_began(repo, mailer, clock):
    events.create_event(repo, webinar_data(), actor="test", base_url=SETTINGS.base_url, now=PINNED_NOW)
    real = mailer.send

    def slow(mail):
        clock.set(PINNED_NOW + timedelta(seconds=20))  # SES answers 20 seconds after the request began
        return real(mail)

    mailer.send = slow
    subscribe_an(repo, mailer)
    assert sent_mails(repo) == [("confirm_request", ["webinar-2027-01-14"], "2026-11-25T13:00:20+01:00")]

"""The confirmation-mail limits an attacker met (issue 21, items 1 and 5): per mailbox, per client, in all.

Sub-addresses (``victim+0@`` ... ``victim+49@``) land in one mailbox and share its three mails an hour and
six a day; one client (API Gateway's source IP, kept as a keyed hash for the hour) causes at most its
share; the whole service stops at its hourly ceiling and logs the metric its alarm watches. The form
answers every address alike throughout. A resend through a mailed link counts apart, so a stranger's
posts do not lock the owner out.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib import tokens
from chalicelib.input.subscription import mailbox
from chalicelib.model.allowance import Allowance
from chalicelib.services import events, subscribe
from tests.conftest import KEY, PINNED_NOW, SETTINGS, webinar_data
from tests.support.pages import FORM, WEBINAR, confirm_path, html, link, post_form

BASE = "https://events.example.be"
CONFIRMATION_KINDS = ("confirm_request", "already_registered")


def mails_to_mailbox(mailer, box: str) -> list:
    return [m for m, _ in mailer.sent if mailbox(m.to_email) == box and m.kind in CONFIRMATION_KINDS]


def submit(repo, mailer, email: str, *, client: str | None = "198.51.100.7", settings=SETTINGS) -> None:
    subscribe.subscribe(repo, mailer, {"email": email, "name": "X", "event_ids": [WEBINAR], "consent": True},
                        base_url=BASE, key=KEY, settings=settings, client=client)


@pytest.fixture
def webinar(repo):
    events.create_event(repo, webinar_data(), actor="test", base_url=BASE)
    return repo


def test_a_mailbox_is_the_address_without_its_tag_case_folded():
    assert mailbox("Victim+49@Example.BE") == "victim@example.be"
    assert mailbox("victim@example.be") == "victim@example.be"
    assert mailbox("a+b+c@x.be") == "a@x.be"


def test_sub_addresses_share_their_mailboxs_three_mails_an_hour_and_six_a_day(webinar, mailer, clock):
    for i in range(50):  # the attack: 50 sub-addresses in seconds, from 50 clients even
        submit(webinar, mailer, f"Victim+{i}@Example.be", client=f"198.51.100.{i}")
    assert len(mails_to_mailbox(mailer, "victim@example.be")) == 3
    for hour in range(1, 6):
        clock.set(PINNED_NOW + timedelta(hours=hour, minutes=1))
        for i in range(5):
            submit(webinar, mailer, f"victim+h{hour}x{i}@example.be", client=f"203.0.113.{i}")
    assert len(mails_to_mailbox(mailer, "victim@example.be")) == 6  # the (UTC) day's


def test_the_form_answers_a_held_back_sub_address_as_any_other(client, published, mailer):
    answers = [post_form(client, "/subscriptions?lang=en", email=f"an+{i}@example.be") for i in range(5)]
    fresh = post_form(client, "/subscriptions?lang=en", email="bo@example.be")
    assert len(mails_to_mailbox(mailer, "an@example.be")) == 3
    assert {(a.status_code, a.headers["Location"], a.body) for a in answers + [fresh]} == \
        {(303, "/subscriptions/sent?lang=en", b"")}
    json_answers = [client.http.post("/subscriptions", headers={"Content-Type": "application/json"}, body=json.dumps(
        {"email": f"an+j{i}@example.be", "name": "An", "event_ids": [WEBINAR], "consent": True})) for i in range(2)]
    assert {(a.status_code, a.body) for a in json_answers} == {(202, b'{"status": "pending_confirmation"}')}


def test_one_client_causes_at_most_its_hourly_share_of_mails(webinar, mailer, clock):
    for i in range(SETTINGS.confirmation_mails_per_client_per_hour + 5):
        submit(webinar, mailer, f"person{i}@example.be", client="198.51.100.7")
    assert len(mailer.sent) == SETTINGS.confirmation_mails_per_client_per_hour
    submit(webinar, mailer, "other@example.be", client="203.0.113.1")  # another client is not held
    assert len(mailer.sent) == SETTINGS.confirmation_mails_per_client_per_hour + 1
    clock.set(PINNED_NOW + timedelta(hours=1))  # a new hour: the client's count starts again
    submit(webinar, mailer, "late@example.be", client="198.51.100.7")
    assert len(mailer.sent) == SETTINGS.confirmation_mails_per_client_per_hour + 2


def test_the_client_limit_reads_api_gateways_source_ip(client, published, mailer):
    # Every request of chalice's test client comes from 127.0.0.1, as API Gateway's identity.sourceIp.
    limit = SETTINGS.confirmation_mails_per_client_per_hour
    for i in range(limit + 2):
        post_form(client, email=f"p{i}@example.be")
    assert len(mailer.sent) == limit


def test_a_clients_ip_is_kept_only_as_a_keyed_hash_for_its_hour(dynamodb_repo, mailer):
    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=BASE)
    submit(dynamodb_repo, mailer, "an@example.be", client="198.51.100.7")
    items = dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"]
    assert "198.51.100.7" not in json.dumps(items, default=repr)
    counts = [i for i in items if i["PK"]["S"].startswith("ALLOWANCE#client#")]
    assert [c["PK"]["S"] for c in counts] == [f"ALLOWANCE#client#{tokens.keyed_hash('client', '198.51.100.7', KEY)}"]
    assert int(counts[0]["expires_at"]["N"]) == int((PINNED_NOW + timedelta(hours=1)).timestamp())
    assert "an@example.be" not in json.dumps([i for i in items if i["PK"]["S"].startswith("ALLOWANCE#")])


def test_the_hourly_ceiling_holds_every_mail_back_and_logs_the_alarms_metric(webinar, mailer, clock, capsys):
    settings = replace(SETTINGS, confirmation_mails_ceiling_per_hour=4)
    for i in range(6):
        submit(webinar, mailer, f"p{i}@example.be", client=f"198.51.100.{i}", settings=settings)
    assert len(mailer.sent) == 4
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    reached = [line for line in lines if line.get("log") == "confirmation_held"]
    assert [(r["scope"], r["ConfirmationCeilingReached"]) for r in reached] == [("service", 1), ("service", 1)]
    assert {"Name": "ConfirmationCeilingReached", "Unit": "Count"} in \
        reached[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert "p5@example.be" not in json.dumps(lines)
    clock.set(PINNED_NOW + timedelta(hours=1))
    submit(webinar, mailer, "p9@example.be", settings=settings)
    assert len(mailer.sent) == 5


def test_limits_are_counted_all_or_none(repo, clock):
    """A mail one count holds back uses up none of the others (a used-up mailbox costs the client nothing)."""
    box = Allowance("mailbox", "m", "hour", 1)
    client_count = Allowance("client", "c", "hour", 2)
    assert repo.take_allowances([box, client_count], PINNED_NOW) is None
    assert repo.take_allowances([box, client_count], PINNED_NOW) == box
    assert repo.take_allowances([Allowance("mailbox", "n", "hour", 1), client_count], PINNED_NOW) is None
    assert repo.take_allowances([Allowance("mailbox", "o", "hour", 1), client_count], PINNED_NOW) == client_count
    assert repo.take_allowances([box], PINNED_NOW + timedelta(hours=1)) is None  # the next hour's window


# ---------------------------------------------- 5. a stranger's posts do not lock the owner out


def test_a_strangers_posts_do_not_lock_the_owner_out_of_a_new_link(client, published, mailer, clock):
    post_form(client, email="an@example.be")  # a first mail, two days ago: its link has expired since
    first = confirm_path(mailer)
    two_days = PINNED_NOW + timedelta(days=2)
    for i in range(6):  # this morning a stranger typed An's address (and a sub-address) six times
        clock.set(two_days - timedelta(hours=6) + timedelta(minutes=40 * i))
        post_form(client, email="an+x@example.be" if i % 2 else "an@example.be")
    assert len(mails_to_mailbox(mailer, "an@example.be")) == 7
    clock.set(two_days + timedelta(minutes=1))
    post_form(client, email="an@example.be")  # the owner herself: the form's day is used up
    assert len(mails_to_mailbox(mailer, "an@example.be")) == 7
    # Any link that came to her gets her a new one, whatever the form's count.
    response = client.http.post(f"{first}/resend?lang=en", headers=FORM, body="")
    assert response.status_code == 303, html(response)[:300]
    assert len(mails_to_mailbox(mailer, "an@example.be")) == 8
    fresh = confirm_path(mailer)
    assert fresh != first and client.http.post(fresh, headers=FORM, body="").status_code == 200


def test_the_manage_pages_resend_says_when_its_own_count_is_used_up(client, published, mailer, dynamodb_repo):
    for _ in range(3):
        post_form(client)
    manage = link(mailer.sent[-1][0], "/manage/")
    post_form(client, event_ids=["smart-region-dag-2027"])  # held by the form's hour: left unconfirmed
    sent = len(mailer.sent)
    own = Allowance("mailbox-link", tokens.keyed_hash("mailbox", "an@example.be", KEY), "hour",
                    SETTINGS.confirmation_mails_per_hour)
    for _ in range(SETTINGS.confirmation_mails_per_hour):  # her links' own three of the hour, used
        assert dynamodb_repo.take_allowances([own], PINNED_NOW) is None
    held = client.http.post(f"{manage}/resend?lang=en", headers=FORM, body="")
    assert held.status_code == 429 and 0 < int(held.headers["Retry-After"]) <= 3600
    assert "Try again in an hour" in html(held) and f'href="{manage}?lang=en"' in html(held)
    assert len(mailer.sent) == sent

"""A person's calendar entry, from their side: the join link and the invitation at hand on the manage page, and
the entry taken out again when they cancel their seat or have their data erased (issue 19, items 3 and 8)."""

from __future__ import annotations

import email
import html as html_lib
import re
from urllib.parse import parse_qs, urlsplit

from tests.conftest import KEY
from tests.feed_support import parse_both
from tests.support.pages import DAY, FORM, WEBINAR, html, post_form

JOIN = "https://meet.example.org/sro"
UID = f"{WEBINAR}@events.smartregion.vlaanderen.be"


def calendar_parts(raw: bytes) -> list[email.message.Message]:
    return [p for p in email.message_from_bytes(raw).walk() if p.get_content_type() == "text/calendar"]


def ics_lines(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")


def the_line(lines: list[str], name: str) -> str:
    [found] = [line for line in lines if line.split(":")[0].split(";")[0] == name]
    return found


# ------------------------------------------------------ 8. the manage page


def test_the_manage_page_shows_a_seat_its_join_link_calendar_links_and_invitation(client, subscribe_and_confirm):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR])
    page = html(client.http.get(manage + "?lang=en"))
    assert f'href="{JOIN}"' in page and "Join link:" in page
    google = [html_lib.unescape(u) for u in re.findall(r'href="(https://calendar\.google\.com/[^"]+)"', page)]
    outlook = [html_lib.unescape(u) for u in re.findall(r'href="(https://outlook\.(?:live|office)\.com/[^"]+)"', page)]
    assert len(google) == 1 and len(outlook) == 2
    for link in google + outlook:
        query = parse_qs(urlsplit(link).query)
        assert (query.get("details") or query["body"])[0].startswith(f"Deelnemen: {JOIN}") or \
            (query.get("details") or query["body"])[0].startswith(f"Join: {JOIN}")
    invite = f"{manage}/events/{WEBINAR}/invite.ics"
    assert re.search(r'href="[^"]*' + re.escape(invite) + '"', page)
    assert "a second copy" in page  # who has it from our invitation is told they need none of these


def test_the_invitation_from_the_manage_page_is_the_mails_with_the_join_link(client, subscribe_and_confirm, mailer):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR])
    answer = client.http.get(f"{manage}/events/{WEBINAR}/invite.ics")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/calendar")
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert 'filename="invite.ics"' in answer.headers["Content-Disposition"]
    py, js = parse_both(answer.body)
    assert py["method"] == js["method"] == "REQUEST"
    assert js["events"][0]["uid"] == UID and js["events"][0]["conference"] == JOIN
    lines = ics_lines(answer.body)
    assert the_line(lines, "ATTENDEE").endswith(":mailto:an@example.be")
    head = client.http.request("HEAD", f"{manage}/events/{WEBINAR}/invite.ics")  # no body for HEAD
    assert head.status_code == 200 and head.body == b""


def test_the_invitation_is_only_for_a_seat(client, subscribe_and_confirm, staff_headers):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR])
    assert client.http.get(f"{manage}/events/{DAY}/invite.ics").status_code == 404  # not registered
    assert client.http.get(f"/manage/not-a-token/events/{WEBINAR}/invite.ics").status_code == 404
    client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body="confirm=yes")
    assert client.http.get(f"{manage}/events/{WEBINAR}/invite.ics").status_code == 404  # cancelled
    page = html(client.http.get(manage + "?lang=en"))
    assert JOIN not in page and "calendar.google.com" not in page


def test_the_already_registered_mail_carries_the_join_link(client, subscribe_and_confirm, mailer):
    subscribe_and_confirm("an@example.be", [WEBINAR])
    post_form(client, email="an@example.be", event_ids=[WEBINAR])  # lost the mail: the form again
    again = mailer.to("an@example.be")[-1]
    assert again.kind == "already_registered"
    assert JOIN in again.text and f'href="{JOIN}"' in again.html


# ------------------------------------------ 3. a person's own cancellation


def test_cancelling_a_seat_mails_a_cancel_for_the_entry_the_invitation_made(client, subscribe_and_confirm, mailer):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR])
    [(_, confirmation)] = [(m, r) for m, r in mailer.sent if m.kind == "confirmed"]
    [request] = calendar_parts(confirmation)
    invited = ics_lines(request.get_payload(decode=True))
    done = client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body="confirm=yes")
    assert done.status_code == 303  # to the manage page (redirect after POST)
    mail, raw = mailer.sent[-1]
    assert mail.kind == "registration_cancelled" and mail.to_email == "an@example.be"
    assert [a.filename for a in mail.attachments] == ["geannuleerd.ics"]  # in the reader's language (Dutch)
    [part] = calendar_parts(raw)  # the iMIP alternative; its copy is attached as application/ics
    assert part.get_param("method") == "CANCEL" and part.get_filename() is None
    body = part.get_payload(decode=True)
    py, js = parse_both(body)
    assert js["method"] == "CANCEL" and js["events"][0]["uid"] == UID and js["events"][0]["status"] == "CANCELLED"
    lines = ics_lines(body)
    # The same UID, ORGANIZER and ATTENDEE as the invitation: clients match the entry by them.
    for name in ("UID", "ORGANIZER", "ATTENDEE", "SEQUENCE"):
        assert the_line(lines, name) == the_line(invited, name), name
    assert the_line(lines, "DTSTAMP") >= the_line(invited, "DTSTAMP")  # not older than what it cancels
    assert JOIN not in body.decode()
    assert "link voor Google of Outlook" in mail.text  # what the CANCEL cannot reach is the person's to remove
    # A second press (a reload) cancels nothing more and mails nothing more.
    count = len(mailer.sent)
    client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body="confirm=yes")
    assert len(mailer.sent) == count


def test_cancelling_a_seat_with_mail_stopped_mails_nothing(client, subscribe_and_confirm, mailer):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR])
    client.http.post(f"{manage}/stop?lang=en", headers=FORM, body="")
    count = len(mailer.sent)
    client.http.post(f"{manage}/events/{WEBINAR}/cancel?lang=en", headers=FORM, body="confirm=yes")
    assert len(mailer.sent) == count


# ------------------------------------------------------------ 3. an erasure


def test_an_erasure_mails_a_cancel_for_each_seat_from_the_address_it_erases(client, subscribe_and_confirm, mailer,
                                                                          dynamodb_repo):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR, DAY])
    client.http.post(f"{manage}/erase?lang=en", headers=FORM, body="confirm=yes")
    mail, raw = mailer.sent[-1]
    assert mail.kind == "erased" and mail.to_email == "an@example.be"
    assert sorted(a.filename for a in mail.attachments) == sorted(f"geannuleerd-{e}.ics" for e in (WEBINAR, DAY))
    for part in calendar_parts(raw):
        assert part.get_param("method") == "CANCEL"
        assert the_line(ics_lines(part.get_payload(decode=True)), "ATTENDEE").endswith(":mailto:an@example.be")
    from chalicelib import tokens

    assert dynamodb_repo.get_person(tokens.person_id_for("an@example.be", KEY)) is None  # erased all the same


def test_a_staff_erasure_mails_the_cancel_too(client, subscribe_and_confirm, mailer, staff_headers):
    subscribe_and_confirm("an@example.be", [WEBINAR])
    answer = client.http.delete("/staff/subscribers?email=an@example.be", headers=staff_headers)
    assert answer.status_code == 200, answer.body
    mail, raw = mailer.sent[-1]
    assert mail.kind == "erased" and [a.filename for a in mail.attachments] == ["geannuleerd.ics"]
    [part] = calendar_parts(raw)
    assert part.get_param("method") == "CANCEL"


def test_an_erasure_of_someone_who_stopped_mail_sends_nothing(client, subscribe_and_confirm, mailer):
    manage = subscribe_and_confirm("an@example.be", [WEBINAR])
    client.http.post(f"{manage}/stop?lang=en", headers=FORM, body="")
    count = len(mailer.sent)
    client.http.post(f"{manage}/erase?lang=en", headers=FORM, body="confirm=yes")
    assert len(mailer.sent) == count

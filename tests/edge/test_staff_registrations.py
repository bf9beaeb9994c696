"""Staff read registrations (JSON, CSV), a person's data, and erase it everywhere."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import timedelta

import pytest

from chalicelib.services import events
from chalicelib.services import privacy
from chalicelib.services import subscribe
from tests.conftest import KEY, SETTINGS, day_data, webinar_data

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def registered(client, dynamodb_repo, mailer, staff_headers, clock):
    """An confirmed for both events, with a question; Bo pending."""
    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    events.create_event(dynamodb_repo, day_data(), actor="test", base_url=SETTINGS.base_url)
    subscribe.subscribe(dynamodb_repo, mailer, {
        "email": "an@example.be", "name": "An <b>Peeters</b>", "organisation": "=cmd|' /C calc'!A0",
        "event_ids": ["webinar-2027-01-14", "smart-region-dag-2027"], "question": "Hoe sluit onze stad aan?",
        "consent": True}, base_url=BASE, key=KEY, settings=SETTINGS)
    token = re.search(r"/confirm/([\w-]+)", mailer.sent[-1][0].text).group(1)
    subscribe.confirm(dynamodb_repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)
    clock.set(clock() + timedelta(minutes=1))
    subscribe.subscribe(dynamodb_repo, mailer, {
        "email": "bo@example.be", "name": "Bo", "event_ids": ["webinar-2027-01-14"], "consent": True}, base_url=BASE,
                        key=KEY, settings=SETTINGS)
    clock.set(clock() + timedelta(minutes=1))
    return dynamodb_repo


def test_registrations_as_json(client, registered, staff_headers):
    response = client.http.get("/staff/events/webinar-2027-01-14/registrations?pending=include",
                               headers=staff_headers)
    assert response.status_code == 200
    rows = response.json_body["registrations"]
    assert [(r["email"], r["status"]) for r in rows] == [("an@example.be", "confirmed"), ("bo@example.be", "pending")]
    assert rows[0]["question"] == "Hoe sluit onze stad aan?"


@pytest.mark.parametrize("how", [{"query": "?format=csv"}, {"accept": "text/csv"},
                                 {"accept": "application/json;q=0.5, text/csv"}])
def test_registrations_as_csv_neutralise_formulas(client, registered, staff_headers, how):
    headers = dict(staff_headers)
    if "accept" in how:
        headers["Accept"] = how["accept"]
    response = client.http.get("/staff/events/webinar-2027-01-14/registrations" + how.get("query", ""), headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))  # RFC 4180, as programs read it
    assert rows[0]["organisation"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["name"] == "An <b>Peeters</b>"
    assert set(rows[0]) == {"name", "email", "organisation", "status", "question", "registered_at"}


def test_event_shows_counts_to_staff(client, registered, staff_headers):
    body = client.http.get("/staff/events/webinar-2027-01-14", headers=staff_headers).json_body
    assert body["counts"]["confirmed"] == 1 and body["counts"]["pending"] == 1
    assert body["online_url"] == "https://meet.example.org/sro"


def test_bad_format_is_400(client, registered, staff_headers):
    response = client.http.get("/staff/events/webinar-2027-01-14/registrations?format=xml", headers=staff_headers)
    assert response.status_code == 400
    assert response.json_body["Message"].startswith("format:")


@pytest.mark.parametrize("query", ["?lang=null", "?lang=null&lang=null", "?lang=nl&lang=en", "?format=xlsx&lang=de"])
def test_a_registrations_language_other_than_nl_or_en_once_is_400(client, registered, staff_headers, query):
    # Found by schemathesis: ?lang=null was read as "no language given" and answered 200.
    response = client.http.get("/staff/events/webinar-2027-01-14/registrations" + query, headers=staff_headers)
    assert response.status_code == 400
    assert response.json_body["Message"].startswith("lang:")


def test_right_of_access_lists_everything_held(client, registered, staff_headers):
    response = client.http.get("/staff/subscribers?email=AN@example.be", headers=staff_headers)
    assert response.status_code == 200
    data = response.json_body
    assert data["email"] == "an@example.be"
    assert {r["event_id"] for r in data["registrations"]} == {"webinar-2027-01-14", "smart-region-dag-2027"}
    # The mails planned for them (reminders of both events) and the confirm link they were sent.
    assert {(m["event_id"], m["kind"], m["state"]) for m in data["mails"]} >= {
        ("webinar-2027-01-14", "reminder", "pending"), ("smart-region-dag-2027", "reminder", "pending")}
    [link] = data["confirm_links"]
    assert set(link["event_ids"]) == {"webinar-2027-01-14", "smart-region-dag-2027"} and link["used_at"]
    assert "token_hash" not in json.dumps(data)
    assert client.http.get("/staff/subscribers?email=nobody@example.be", headers=staff_headers).status_code == 404
    assert client.http.get("/staff/subscribers?email=not-an-address", headers=staff_headers).status_code == 400
    assert client.http.get("/staff/subscribers", headers=staff_headers).status_code == 400
    # Two addresses: refused, not the last one read (or erased) without a word.
    twice = "/staff/subscribers?email=an@example.be&email=bo@example.be"
    assert client.http.get(twice, headers=staff_headers).status_code == 400
    assert client.http.get("/staff/subscribers?mail=an@example.be", headers=staff_headers).status_code == 400
    assert client.http.delete(twice, headers=staff_headers).status_code == 400


def test_erasure_leaves_no_item_with_the_persons_data(client, registered, staff_headers, dynamodb_repo):
    an_id = privacy.find_person(dynamodb_repo, "an@example.be", key=KEY).id
    assert dynamodb_repo.list_sends("webinar-2027-01-14", an_id)  # reminders planned at confirmation
    response = client.http.delete("/staff/subscribers?email=an@example.be", headers=staff_headers)
    assert response.status_code == 200
    items = dynamodb_repo.client.scan(TableName=dynamodb_repo.table)["Items"]
    # Feed versions are gzip (binary): unpack them, so nothing escapes the check.
    dump = json.dumps(items, ensure_ascii=False, default=lambda b: gzip.decompress(b).decode("utf-8"))
    assert an_id not in dump  # sends included: nothing keyed by them is left
    for secret in ("an@example.be", "An <b>Peeters</b>", "Hoe sluit onze stad aan?", "calc"):
        assert secret not in dump
    assert "bo@example.be" in dump  # others are untouched
    assert client.http.get("/staff/subscribers?email=an@example.be", headers=staff_headers).status_code == 404
    assert dynamodb_repo.get_event("smart-region-dag-2027").seats_taken == 0
    audit = client.http.get("/staff/audit", headers=staff_headers).json_body["entries"]
    # The erasure, and the lookup after it (audited too, as not found); neither names the address.
    assert sorted(e["action"] for e in audit if e["target"] == "subscriber") == ["subscriber.access", "subscriber.erase"]
    assert "an@example.be" not in json.dumps(audit)


def test_personal_feed_has_the_confirmed_events_with_join_links(client, registered, mailer):
    feed_link = re.search(r"/feeds/([\w-]+)\.ics", [m for m, _ in mailer.sent if m.kind == "confirmed"][-1].text).group(1)
    response = client.http.get(f"/feeds/{feed_link}.ics")
    assert response.status_code == 200
    body = response.body.decode()
    assert "UID:webinar-2027-01-14@" in body and "UID:smart-region-dag-2027@" in body
    assert "https://meet.example.org/sro" in body
    assert "METHOD" not in body
    assert response.headers["Cache-Control"].startswith("private")
    again = client.http.get(f"/feeds/{feed_link}.ics", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.body == b""
    assert client.http.request("HEAD", f"/feeds/{feed_link}.ics").body == b""


def test_personal_feed_with_a_wrong_token_is_404(client, registered):
    assert client.http.get("/feeds/" + "A" * 66 + ".ics").status_code == 404
    assert client.http.get("/feeds/nope.ics").status_code == 404


@pytest.mark.parametrize("accept", ["text/csv;q=0, application/json", "application/json, text/csv;q=0.9", "*/*", ""])
def test_registrations_are_json_unless_csv_is_preferred(client, registered, staff_headers, accept):
    response = client.http.get("/staff/events/webinar-2027-01-14/registrations",
                               headers={**staff_headers, "Accept": accept})
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json_body["event_id"] == "webinar-2027-01-14"


def test_reading_the_addresses_of_an_event_or_a_person_leaves_a_trace_without_them(client, registered, staff_headers,
                                                                                     clock):
    for path in ("/staff/events/webinar-2027-01-14/registrations?format=csv",
                 "/staff/events/webinar-2027-01-14/registrations",
                 "/staff/subscribers?email=an@example.be", "/staff/subscribers?email=nobody@example.be"):
        clock.set(clock() + timedelta(seconds=1))
        client.http.get(path, headers=staff_headers)
    entries = client.http.get("/staff/audit?limit=4", headers=staff_headers).json_body["entries"]
    assert [(e["action"], e["target"], e["details"]) for e in entries] == [
        ("subscriber.access", "subscriber", {"found": False}),
        ("subscriber.access", "subscriber", {"found": True}),
        ("registrations.read", "event:webinar-2027-01-14", {"format": "json", "rows": 1}),
        ("registrations.read", "event:webinar-2027-01-14", {"format": "csv", "rows": 1}),
    ]
    assert "example.be" not in json.dumps(entries)


def test_registrations_csv_for_excel_opens_in_columns_in_belgian_excel():
    # Excel in Belgium splits on ";" (its list separator) and reads UTF-8 after a byte order mark;
    # a ";" inside a cell is quoted, accents survive. Plain CSV stays as programs read it.
    from chalicelib.services.staff import REGISTRATION_COLUMNS, registrations_csv

    row = {"name": "Zoë Ée", "email": "zoe@example.be", "organisation": "Ville de Liège; Namur", "status": "confirmed",
           "question": 'Twee "lijnen"\nhier', "registered_at": "2026-11-26T08:00:00+01:00"}
    text = registrations_csv([row], excel=True)
    assert text.startswith("\ufeff")
    header, first = text[1:].split("\r\n")[:2]
    assert header == ";".join(REGISTRATION_COLUMNS)
    assert first.startswith('Zoë Ée;zoe@example.be;"Ville de Liège; Namur";confirmed;')
    assert list(csv.reader(io.StringIO(text[1:]), delimiter=";"))[1] == [row[c] for c in REGISTRATION_COLUMNS]
    plain = registrations_csv([row])
    assert plain.startswith(",".join(REGISTRATION_COLUMNS) + "\r\n")
    assert list(csv.reader(io.StringIO(plain)))[1] == [row[c] for c in REGISTRATION_COLUMNS]


def test_format_excel_is_the_xlsx_workbook(client, registered, staff_headers):
    response = client.http.get("/staff/events/webinar-2027-01-14/registrations?format=excel",
                               headers={**staff_headers, "Accept": "*/*"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.body.startswith(b"PK")
    audit = client.http.get("/staff/audit", headers=staff_headers).json_body
    assert any(e["action"] == "registrations.read" and e["details"]["format"] == "xlsx" for e in audit["entries"])



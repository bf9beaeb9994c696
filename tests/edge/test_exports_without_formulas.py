"""Formulas in the registrations export (issue 21, item 2), and the Excel download's headers (issue 20).

No cell of any export becomes a formula in any spreadsheet program, whatever separator it splits on: the
CSV (for programs, RFC 4180, stable machine headers) is neutralised after every separator and line break;
people get a real .xlsx whose every cell is text, with headers in their language (Dutch by default).
Unconfirmed registrations, which anyone can plant, are left out unless staff ask for them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta

import openpyxl
import pytest

from chalicelib.render import spreadsheet
from chalicelib.services import events, subscribe
from tests.conftest import KEY, SETTINGS, webinar_data
from tests.support.pages import BROWSER

BASE = "http://127.0.0.1:8000"
# Chalice answers a binary type only to a request whose Accept allows it (a browser's does, by its */*).
ANY = {"Accept": "*/*"}
PATH = "/staff/events/webinar-2027-01-14/registrations"
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLANTED = {
    "name": "An;=1+1;x",
    "organisation": "Stad, +SUM(A1)|-2",
    "question": "Eerste lijn\n=2+5\r\n @cmd\tand\t=HYPERLINK(\"http://evil\")",
}


def subscribe_as(repo, mailer, email: str, *, confirm: bool, **fields) -> None:
    subscribe.subscribe(repo, mailer, {"email": email, "name": "X", "event_ids": ["webinar-2027-01-14"],
                                       "consent": True, **fields}, base_url=BASE, key=KEY, settings=SETTINGS)
    if confirm:
        token = re.search(r"/confirm/([\w-]+)", mailer.sent[-1][0].text).group(1)
        subscribe.confirm(repo, mailer, token, base_url=BASE, key=KEY, settings=SETTINGS)


@pytest.fixture
def planted(client, dynamodb_repo, mailer, clock):
    """A confirmed registration with formulas after separators and line breaks, and an unconfirmed one."""
    events.create_event(dynamodb_repo, webinar_data(), actor="test", base_url=SETTINGS.base_url)
    subscribe_as(dynamodb_repo, mailer, "an@example.be", confirm=True, **PLANTED)
    clock.set(clock() + timedelta(minutes=1))
    subscribe_as(dynamodb_repo, mailer, "bo@example.be", confirm=False, name="=Bo;=evil()")
    return dynamodb_repo


def pieces(text: str) -> list[str]:
    """Every piece a spreadsheet program could take for a cell: split on any separator and line break."""
    return [p.strip(' "\u00a0') for p in re.split(r'[,;\t|\r\n\x0b\x0c\x85\u2028\u2029]', text)]


def test_no_csv_cell_becomes_a_formula_whatever_the_separator(client, planted, staff_headers):
    body = client.http.get(PATH + "?format=csv", headers=staff_headers).body.decode("utf-8")
    live = [p for p in pieces(body) if p.startswith(FORMULA_STARTS)]
    assert live == []
    # What programs read (RFC 4180): the stable machine headers, and the text with its quotes.
    header, row = list(csv.reader(io.StringIO(body)))
    assert header == ["name", "email", "organisation", "status", "question", "registered_at"]
    assert row[0] == "An;'=1+1;x"
    assert row[2] == "Stad, '+SUM(A1)|'-2"
    assert row[4] == "Eerste lijn\n'=2+5\n '@cmd\tand\t'=HYPERLINK(\"http://evil\")"


@pytest.mark.parametrize("text", ["=1", " =1", "a;=1", "a,+1", "a\t-1", "a|@x", "a\n=1", "a\r=1", "a\u2028=1",
                                  "a; \u00a0=1", "a;\uff1d1", "\t=1", "\r=1"])
def test_neutralising_leaves_no_piece_that_starts_a_formula(text):
    assert [p for p in pieces(spreadsheet.neutralise(text)) if p.startswith(FORMULA_STARTS)] == []


def test_unconfirmed_registrations_are_left_out_unless_staff_ask(client, planted, staff_headers):
    for query in ("?format=csv", "", "?format=xlsx"):
        body = client.http.get(PATH + query, headers={**staff_headers, "Accept": "*/*"}).body
        assert b"bo@example.be" not in body and b"an@example.be" in body or query == "?format=xlsx"
    csv_body = client.http.get(PATH + "?format=csv&pending=include", headers=staff_headers).body.decode()
    assert [r["status"] for r in csv.DictReader(io.StringIO(csv_body))] == ["confirmed", "pending"]
    assert "'=Bo;'=evil()" in csv_body
    sheet = workbook(client.http.get(PATH + "?format=xlsx&pending=include", headers={**staff_headers, **ANY}).body)
    assert [row[1] for row in sheet[1:]] == ["an@example.be", "bo@example.be"]
    assert len(workbook(client.http.get(PATH + "?format=xlsx", headers={**staff_headers, **ANY}).body)) == 2
    refused = client.http.get(PATH + "?pending=yes", headers=staff_headers)
    assert refused.status_code == 400 and refused.json_body["Message"].startswith("pending:")


def workbook(body: bytes) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type == "s", (cell.coordinate, cell.value, cell.data_type)  # text, never a formula
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_the_xlsx_is_text_in_every_cell_with_dutch_headers(client, planted, staff_headers):
    response = client.http.get(PATH + "?format=xlsx", headers={**staff_headers, **ANY})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == spreadsheet.XLSX_CONTENT_TYPE
    assert response.headers["Content-Disposition"] == 'attachment; filename="registrations-webinar-2027-01-14.xlsx"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = workbook(response.body)
    assert rows[0] == ["Naam", "E-mailadres", "Organisatie", "Status", "Vraag", "Ingeschreven op"]
    # Nothing altered: what was typed, as text (the CSV's quotes are for spreadsheet programs only).
    assert rows[1][:5] == [PLANTED["name"], "an@example.be", PLANTED["organisation"], "Bevestigd",
                           PLANTED["question"].replace("\r\n", "\n")]
    assert rows[1][5] == "2026-11-25 13:00"  # the event's time zone
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert sheet.count("<c ") == sheet.count('t="inlineStr"') == 12


@pytest.mark.parametrize("how", [{"query": "&lang=en"}, {"headers": {"Accept-Language": "en-GB,en;q=0.9"}}])
def test_the_xlsx_headers_follow_the_staff_members_language(client, planted, staff_headers, how):
    response = client.http.get(PATH + "?format=xlsx" + how.get("query", ""),
                               headers={**staff_headers, **ANY, **how.get("headers", {})})
    rows = workbook(response.body)
    assert rows[0] == ["Name", "Email address", "Organisation", "Status", "Question", "Registered on"]
    assert rows[1][3] == "Confirmed"


def test_the_xlsx_downloads_from_a_plain_link_in_a_browser(client, planted, staff_headers):
    # A browser following a link sends Accept: text/html,...,*/*;q=0.8: the file, not an error or base64 text.
    response = client.http.get(PATH + "?format=xlsx", headers={**staff_headers, **BROWSER})
    assert response.status_code == 200 and response.body.startswith(b"PK\x03\x04")
    assert workbook(response.body)[0][0] == "Naam"


def test_the_xlsx_takes_any_text_the_form_accepts():
    rows = [["<b>&amp;</b>", "x" * 40_000, "\x01ctrl", "Zoë 😀", None]]
    body = spreadsheet.xlsx(["a", "b", "c", "d", "e"], rows, sheet="Webinar: [Smart] Region / 2027 * ? and more")
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Webinar   Smart  Region   2027"]
    values = [c.value for c in book.worksheets[0][2]]
    assert values[0] == "<b>&amp;</b>" and len(values[1]) == spreadsheet.CELL_MAX
    assert values[2] == "ctrl" and values[3] == "Zoë 😀"

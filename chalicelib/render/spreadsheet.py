"""Exports for spreadsheets: a CSV no spreadsheet program runs as formulas, and an .xlsx of text cells.

CSV (RFC 4180) is for programs: a spreadsheet program that opens it splits it
on its own list separator (``,``, ``;`` in Belgian Excel, a tab, ``|``) and on
line breaks, and runs any piece starting with ``=``, ``+``, ``-`` or ``@`` as
a formula. So a quote (``'``) goes before such a character at the start of a
cell and after every separator or line break in it, whatever spaces come
between; programs reading the CSV as RFC 4180 see the quote, people see text.

The .xlsx is for people: every cell is an inline string (``t="inlineStr"``),
which Excel and LibreOffice show as text and never evaluate, so nothing needs
neutralising and nothing is altered. It is written with the standard
library's zipfile (docs/decisions/0010-xlsx-written-by-hand.md).
"""

from __future__ import annotations

import io
import re
from typing import Iterable, Sequence

# csv and zipfile are imported where a file is written: the staff API and the console import this module for
# its content type, and zipfile (with shutil, lzma, bz2) would otherwise weigh on every cold start.


def escape(text: str, entities: dict[str, str] | None = None) -> str:
    """XML character data: ``&``, ``<`` and ``>`` escaped, and ``entities`` (as xml.sax.saxutils.escape)."""
    text = text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    for character, entity in (entities or {}).items():
        text = text.replace(character, entity)
    return text


# A separator or line break of any spreadsheet program, then spaces, then a character that starts a formula.
_FORMULA_AFTER_BREAK = re.compile("([,;\t|\r\n\x0b\x0c\x85\u2028\u2029][ \u00a0]*)([=+\\-@\uff1d\uff0b\uff0d\uff20])")
_FORMULA_AT_START = re.compile("^([ \u00a0]*)([=+\\-@\t\r\uff1d\uff0b\uff0d\uff20])")


def neutralise(cell: object) -> str:
    """The cell as text that no spreadsheet program runs as a formula, split on whatever it splits on."""
    text = "" if cell is None else str(cell)
    text = _FORMULA_AFTER_BREAK.sub(r"\1'\2", text)
    return _FORMULA_AT_START.sub(r"\1'\2", text)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], *, excel: bool = False) -> str:
    """RFC 4180 CSV (commas, CRLF, quotes doubled), every cell neutralised.

    ``excel``: the older download for Excel as staff in Belgium open it: ";" (its list separator there) and a
    byte order mark (without it Excel reads UTF-8 as Windows-1252). The .xlsx replaces it for people.
    """
    import csv

    buffer = io.StringIO()
    if excel:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(c) for c in header])
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return buffer.getvalue()


# ------------------------------------------------------------------ xlsx

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CELL_MAX = 32_767  # Excel's limit of characters in a cell
# XML 1.0 allows no control character but tab, line feed and carriage return.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/>'
    '</Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>'
)
# Two cell formats: 0 the default, 1 bold (the header row) and wrapped text for both, as text (numFmt 49 "@").
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2">'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>'
    '</cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>'
)


def _sheet_name(name: str) -> str:
    """A worksheet name Excel takes: at most 31 characters, none of : \\ / ? * [ ]."""
    cleaned = re.sub(r"[:\\/?*\[\]]", " ", _NOT_XML.sub("", name))[:31].strip(" '")
    return cleaned or "Sheet1"


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(ref: str, value: object, style: int) -> str:
    text = _NOT_XML.sub("", "" if value is None else str(value))[:CELL_MAX]
    return (f'<c r="{ref}" t="inlineStr" s="{style}"><is><t xml:space="preserve">'
            f'{escape(text)}</t></is></c>')


def xlsx(header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str = "Sheet1") -> bytes:
    """An .xlsx workbook of one sheet: a bold header row, then ``rows``; every cell an inline string (text)."""
    lines = []
    for number, (values, style) in enumerate([(header, 1)] + [(row, 0) for row in rows], start=1):
        cells = "".join(_cell(f"{_column(i)}{number}", value, style) for i, value in enumerate(values))
        lines.append(f'<row r="{number}">{cells}</row>')
    worksheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
        'state="frozen"/></sheetView></sheetViews>'
        f'<sheetData>{"".join(lines)}</sheetData>'
        '</worksheet>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{escape(_sheet_name(sheet), {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/></sheets>'
        '</workbook>'
    )
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/styles.xml", _STYLES), ("xl/worksheets/sheet1.xml", worksheet)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()

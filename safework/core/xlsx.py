"""Writing workbooks people download: error files, the template, exports, reports.

Every text cell goes through `safe()`: a value starting with = + - @ tab or carriage return is
prefixed with an apostrophe so that a spreadsheet shows it as text instead of running it as a
formula (CSV/formula injection), and characters XML cannot hold are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe(value):
    """A cell value that a spreadsheet will not evaluate."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(FORMULA_START):
            return "'" + value
        return value
    if value is None or isinstance(value, int | float | dt.date | bool):
        return value
    return safe(str(value))


def new_workbook() -> Workbook:
    return Workbook(write_only=True)


def add_sheet(wb: Workbook, title: str, header: list[str], rows, widths: list[int] | None = None):
    """A sheet with a bold header row and the rows, every cell through `safe()`."""
    from openpyxl.cell import WriteOnlyCell

    ws = wb.create_sheet(title=title[:31])
    for i, width in enumerate(widths or []):
        ws.column_dimensions[_column_letter(i)].width = width
    bold = Font(bold=True)
    head = []
    for text in header:
        cell = WriteOnlyCell(ws, value=safe(str(text)))
        cell.font = bold
        head.append(cell)
    ws.append(head)
    for row in rows:
        ws.append([safe(v) for v in row])
    ws.freeze_panes = "A2"
    return ws


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def to_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(header: list[str], rows) -> bytes:
    """UTF-8 with a BOM, so Excel opens Chinese text correctly; cells escaped like the xlsx."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe(str(h)) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def download(content: bytes, filename: str, content_type: str = XLSX) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response

"""Reading an uploaded ledger: .xlsx with python-calamine, .csv with the standard library.

Every problem with the file itself (empty, too large, wrong extension, corrupt, password-protected)
is one `FileProblem` with a code; nothing is imported. Formula cells are found by scanning the
sheet XML for `<f>` elements, because calamine returns only the cached values.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from xml.etree import ElementTree

import python_calamine
from django.conf import settings
from django.utils.translation import gettext as _

ZIP_MAGIC = b"PK\x03\x04"
# An encrypted (password-protected) .xlsx is an OLE2 compound file, like an old .xls.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTENSIONS = (".xlsx", ".csv")
# A workbook is a zip: a small upload can unpack to gigabytes (a zip bomb), and one cell at
# XFD1048576 makes calamine build a grid of 17 billion cells. Both are refused before calamine
# reads anything. Unpacked: 20 times the upload limit, at most 500 MB.
UNPACKED_FACTOR = 20
UNPACKED_CAP = 500 * 1024 * 1024
MAX_ROWS = 1_100_000
MAX_COLUMNS = 200
MAX_CELLS = 20_000_000  # rows × columns of the used range
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class FileProblem(Exception):
    """The file cannot be read as a ledger; `code` says why (one error, nothing imported)."""

    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(message)


@dataclass
class Table:
    """The cells of one sheet as rows of values, and where formulas are."""

    sheet: str
    rows: list[list]
    formula_cells: set[tuple[int, int]] = field(default_factory=set)  # (row, col), 0-based


def cell_ref(row: int, col: int) -> str:
    """(0, 0) → A1."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


_REF = re.compile(rb"([A-Z]{1,3})(\d+)")


def _parse_ref(ref: bytes) -> tuple[int, int] | None:
    m = _REF.fullmatch(ref)
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + (ch - 64)
    return int(m.group(2)) - 1, col - 1


def check_upload(name: str, size: int, head: bytes) -> str:
    """The cheap checks at the door: extension, size, empty, container. Returns the extension."""
    ext = PurePosixPath(name or "").suffix.lower()
    if ext not in EXTENSIONS:
        raise FileProblem(
            "file.extension",
            _("Upload an .xlsx workbook or a .csv file (got “%(name)s”).") % {"name": name},
        )
    if size > settings.UPLOAD_MAX_BYTES:
        raise FileProblem(
            "file.too_large",
            _("The file has %(size)s bytes; the limit is %(limit)s bytes.")
            % {"size": size, "limit": settings.UPLOAD_MAX_BYTES},
        )
    if size == 0 or not head:
        raise FileProblem("file.empty", _("The file is empty."))
    if head.startswith(OLE2_MAGIC):
        raise FileProblem(
            "file.encrypted",
            _(
                "The file is password-protected or an old .xls workbook. Remove the password "
                "and save it as .xlsx."
            ),
        )
    if ext == ".xlsx" and not head.startswith(ZIP_MAGIC):
        raise FileProblem(
            "file.corrupt", _("The file is not an .xlsx workbook (damaged or renamed).")
        )
    if ext == ".csv" and head.startswith(ZIP_MAGIC):
        raise FileProblem(
            "file.extension", _("The file is a workbook named .csv; save it as .xlsx.")
        )
    return ext


def read_table(data: bytes, name: str) -> list[Table]:
    """Every sheet of the file (a .csv is one sheet), or FileProblem."""
    return list(iter_tables(data, name))


def iter_tables(data: bytes, name: str):
    """The sheets one by one, each read when asked for (a ledger is usually the first)."""
    ext = check_upload(name, len(data), data[:8])
    if ext == ".csv":
        yield Table(sheet="csv", rows=_read_csv(data))
        return
    yield from _read_xlsx(data)


def _read_csv(data: bytes) -> list[list]:
    text = None
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise FileProblem("file.encoding", _("The CSV file is neither UTF-8 nor GB18030 text."))
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
    if not any(any(c.strip() for c in r) for r in rows):
        raise FileProblem("file.empty", _("The file has no rows."))
    return rows


def _corrupt(exc) -> FileProblem:
    return FileProblem(
        "file.corrupt",
        _("The workbook cannot be read (damaged?): %(error)s") % {"error": str(exc)[:200]},
    )


_BROKEN = (
    zipfile.BadZipFile,
    python_calamine.CalamineError,
    ElementTree.ParseError,
    KeyError,
    ValueError,
    EOFError,
    OSError,
)


def _guarded(step):
    """Run one reading step; a broken part of the workbook is one FileProblem."""
    try:
        return step()
    except FileProblem:
        raise
    except _BROKEN as exc:
        raise _corrupt(exc)
    except BaseException as exc:
        # A panic in calamine's Rust code surfaces as pyo3's PanicException, a BaseException.
        if type(exc).__name__ == "PanicException":
            raise _corrupt(exc)
        raise


def unpacked_limit() -> int:
    return min(UNPACKED_FACTOR * settings.UPLOAD_MAX_BYTES, UNPACKED_CAP)


def _check_unpacked(archive: zipfile.ZipFile) -> None:
    total = sum(info.file_size for info in archive.infolist())
    if total > unpacked_limit():
        raise FileProblem(
            "file.too_large",
            _("The workbook unpacks to %(size)s bytes; the limit is %(limit)s bytes.")
            % {"size": total, "limit": unpacked_limit()},
        )


def _check_extent(sheet_name: str, rows: int, cols: int) -> None:
    if rows > MAX_ROWS or cols > MAX_COLUMNS or rows * cols > MAX_CELLS:
        raise FileProblem(
            "file.too_large",
            _(
                "Sheet “%(sheet)s” reaches row %(rows)s and column %(cols)s (limits: %(max_rows)s "
                "rows, %(max_cols)s columns, %(max_cells)s cells). Delete the rows and columns "
                "after the data and upload it again."
            )
            % {
                "sheet": sheet_name,
                "rows": rows,
                "cols": cols,
                "max_rows": MAX_ROWS,
                "max_cols": MAX_COLUMNS,
                "max_cells": MAX_CELLS,
            },
        )


def _read_xlsx(data: bytes):
    def open_workbook():
        archive = zipfile.ZipFile(io.BytesIO(data))
        _check_unpacked(archive)
        paths = _sheet_paths(archive)
        return archive, paths, python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))

    archive, paths, workbook = _guarded(open_workbook)
    found = False
    for index, sheet_name in enumerate(workbook.sheet_names):

        def read_sheet(index=index, sheet_name=sheet_name):
            path = paths.get(sheet_name)
            formulas: set[tuple[int, int]] = set()
            if path:
                # Its extent first: calamine would build the whole grid before we could look.
                formulas, (rows, cols) = _scan_sheet(archive, path)
                _check_extent(sheet_name, rows, cols)
            sheet = workbook.get_sheet_by_index(index)
            # skip_empty_area=False keeps row and column numbers as in the sheet (A1 = [0][0]).
            rows = sheet.to_python(skip_empty_area=False)
            if not rows:
                return None
            _fill_merged(rows, sheet.merged_cell_ranges or [])
            return Table(sheet=sheet_name, rows=rows, formula_cells=formulas)

        table = _guarded(read_sheet)
        if table is not None:
            found = True
            yield table
    if not found:
        raise FileProblem("file.empty", _("The workbook has no rows."))


def _fill_merged(rows: list[list], ranges) -> None:
    """A merged cell shows its value in every cell it covers (a person's name and ID number
    merged over their certificate rows): the sheet says so, it is not a guess."""
    for (r1, c1), (r2, c2) in ranges:
        if r1 >= len(rows) or c1 >= len(rows[r1]):
            continue
        value = rows[r1][c1]
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            row = rows[r]
            for c in range(c1, min(c2, len(row) - 1) + 1):
                if (r, c) != (r1, c1):
                    row[c] = value


_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → path of its XML part, from workbook.xml and its relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        raise FileProblem("file.corrupt", _("The workbook has no xl/workbook.xml part."))
    rels = {}
    if "xl/_rels/workbook.xml.rels" in names:
        for rel in ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels")):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            rels[rel.get("Id")] = target
    out = {}
    for el in ElementTree.fromstring(archive.read("xl/workbook.xml")).iter():
        if el.tag.endswith("}sheet") or el.tag == "sheet":
            target = rels.get(el.get(_NS_REL))
            if target in names:
                out[el.get("name")] = target
    return out


# `<f>`, `<f t="shared" si="0"/>`, with or without a namespace prefix; the cell is the `<c>` before.
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_OPEN = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]+\d+)\"")
# The used range a sheet declares (`<dimension ref="A1:U200"/>`).
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s[^>]*?\bref=\"([A-Z$0-9:]+)\"")


def _formula_cells(archive: zipfile.ZipFile, path: str) -> set[tuple[int, int]]:
    return _scan_sheet(archive, path)[0]


def _scan_sheet(archive: zipfile.ZipFile, path: str) -> tuple[set[tuple[int, int]], tuple]:
    """Scanning the sheet XML as a byte stream: (row, col) of every cell with a formula, and the
    extent (rows, columns) the cells and the `<dimension ref>` reach."""
    out: set[tuple[int, int]] = set()
    max_row = max_col = 0
    tail = b""
    with archive.open(path) as stream:
        while chunk := stream.read(1 << 20):
            buf = tail + chunk
            # A reference split across chunks is seen whole in the next buffer (tail).
            for m in _CELL_OPEN.finditer(buf):
                if (pos := _parse_ref(m.group(1))) is not None:
                    max_row, max_col = max(max_row, pos[0] + 1), max(max_col, pos[1] + 1)
            for m in _DIMENSION.finditer(buf):
                for ref in m.group(1).split(b":"):
                    if (pos := _parse_ref(ref.replace(b"$", b""))) is not None:
                        max_row, max_col = max(max_row, pos[0] + 1), max(max_col, pos[1] + 1)
            for m in _FORMULA.finditer(buf):
                # The cell is the last `<c …>` (or `<x:c …>`) opened before the formula.
                opened = max(buf.rfind(b"<c ", 0, m.start()), buf.rfind(b":c ", 0, m.start()))
                if opened < 0:
                    continue
                cell = _CELL_OPEN.match(buf, buf.rfind(b"<", 0, opened + 1))
                if cell and (pos := _parse_ref(cell.group(1))) is not None:
                    out.add(pos)
            # Keep the open tags of an element split across chunks.
            tail = buf[-4096:]
    return out, (max_row, max_col)

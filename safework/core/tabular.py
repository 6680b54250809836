"""Reading an uploaded table (a certificate ledger, a roster): .xlsx with python-calamine, .csv
with the standard library. The one reader of uploaded sheets; what their cells mean (headers by
synonyms, dates, Excel serial numbers) is `core.cells`.

Every problem with the file itself (empty, too large, wrong extension, corrupt, password-protected,
hostile) is one `FileProblem` with a code; nothing is imported. Formula cells are found by scanning
the sheet XML for `<f>` elements, because calamine returns only the cached values.

A workbook is inspected in bounded memory before calamine reads it, because calamine copies a
shared string into every cell that references it (one 1 MiB string referenced by 20,000 cells
needs tens of GiB) and builds the whole grid a sheet's cells reach. The zip is read member by
member, inflating in chunks and counting what comes out (a member that unpacks to more than it
declares is refused); the shared strings are parsed with expat, which here refuses any DOCTYPE
(no entity can be declared, so none can expand); the sheets are scanned as byte streams for each
cell's position and the length of its text. Limits are deployment settings (`IMPORT_MAX_*`).
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
import zlib
from array import array
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import PurePosixPath
from xml.parsers import expat

import python_calamine
from django.conf import settings
from django.utils.translation import gettext as _

ZIP_MAGIC = b"PK\x03\x04"
# An encrypted (password-protected) .xlsx is an OLE2 compound file, like an old .xls.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTENSIONS = (".xlsx", ".csv")
# A workbook is a zip: a small upload can unpack to gigabytes (a zip bomb), and one cell at
# XFD1048576 makes calamine build a grid of 17 billion cells. Both are refused before calamine
# reads anything. Unpacked: 20 times the upload limit, at most IMPORT_MAX_UNPACKED_BYTES.
UNPACKED_FACTOR = 20
UNPACKED_CAP = 500 * 1024 * 1024
MAX_ROWS = 1_100_000
MAX_COLUMNS = 200
MAX_CELLS = 20_000_000  # rows × columns of the used range
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
CHUNK = 1 << 16
# A member smaller than this may have any compression ratio (a tiny styles part of zeros).
RATIO_FLOOR = 1 << 20
ELLIPSIS = "…"


@dataclass(frozen=True)
class Limits:
    """What an uploaded file may hold, from the settings (defaults in settings.py)."""

    cell_chars: int  # one cell's text (Excel's own limit: 32,767 characters)
    text_chars: int  # all cells' text of a sheet, a shared string counted in every cell using it
    unpacked_bytes: int  # a workbook's members, unpacked
    zip_entries: int
    zip_ratio: int  # unpacked / packed size of one member over 1 MiB
    line_chars: int  # one line of a CSV file

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            cell_chars=getattr(settings, "IMPORT_MAX_CELL_CHARS", 32_767),
            text_chars=getattr(settings, "IMPORT_MAX_TEXT_CHARS", 50_000_000),
            unpacked_bytes=min(
                UNPACKED_FACTOR * settings.UPLOAD_MAX_BYTES,
                getattr(settings, "IMPORT_MAX_UNPACKED_BYTES", UNPACKED_CAP),
            ),
            zip_entries=getattr(settings, "IMPORT_MAX_ZIP_ENTRIES", 1_000),
            zip_ratio=getattr(settings, "IMPORT_MAX_ZIP_RATIO", 100),
            line_chars=getattr(settings, "IMPORT_MAX_LINE_CHARS", 1 << 20),
        )


def clip(text, limit: int) -> str:
    """`text` cut to at most `limit` characters, the cut marked with an ellipsis."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


class FileProblem(Exception):
    """The file cannot be read as a table; `code` says why (one error, nothing imported)."""

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


def _wrong_extension(name: str) -> FileProblem:
    return FileProblem(
        "file.extension",
        _("Upload an .xlsx workbook or a .csv file (got “%(name)s”).") % {"name": name},
    )


def _encrypted() -> FileProblem:
    return FileProblem(
        "file.encrypted",
        _(
            "The file is password-protected or an old .xls workbook. Remove the password "
            "and save it as .xlsx."
        ),
    )


def check_upload(name: str, size: int, head: bytes) -> str:
    """The cheap checks at the door: extension, size, empty, container. Returns the extension."""
    ext = PurePosixPath(name or "").suffix.lower()
    if ext not in EXTENSIONS:
        raise _wrong_extension(name)
    if size > settings.UPLOAD_MAX_BYTES:
        raise FileProblem(
            "file.too_large",
            _("The file has %(size)s bytes; the limit is %(limit)s bytes.")
            % {"size": size, "limit": settings.UPLOAD_MAX_BYTES},
        )
    if size == 0 or not head:
        raise FileProblem("file.empty", _("The file is empty."))
    if head.startswith(OLE2_MAGIC):
        raise _encrypted()
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
        yield Table(sheet="csv", rows=_read_csv(data, Limits.from_settings()))
        return
    yield from _read_xlsx(data)


# A reader of one sheet (the roster) also takes these suffixes as the same formats.
SHEET_KINDS = {".xlsx": ".xlsx", ".xlsm": ".xlsx", ".csv": ".csv", ".txt": ".csv"}


def first_sheet_rows(data: bytes, name: str) -> list[list]:
    """The cells of the first sheet with rows of an .xlsx/.xlsm or .csv/.txt file, read within
    the same bounds as every sheet (FileProblem otherwise)."""
    kind = SHEET_KINDS.get(PurePosixPath(name or "").suffix.lower())
    if kind is None:
        raise _wrong_extension(name)
    check_upload(f"upload{kind}", len(data), data[:8])
    if kind == ".csv":
        return _read_csv(data, Limits.from_settings())
    return next(iter(_read_xlsx(data))).rows


# ---- CSV ---------------------------------------------------------------------------------------

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")


def _lines(text: str, limits: Limits):
    """The physical lines of `text` with their line ends, each checked before it is copied."""
    pos, end, number = 0, len(text), 0
    while pos < end:
        m = _LINE.match(text, pos)
        number += 1
        if m.end() - pos > limits.line_chars:
            raise FileProblem(
                "file.line_too_long",
                _("Line %(line)s of the CSV file has %(size)s characters; the limit is %(limit)s.")
                % {"line": number, "size": m.end() - pos, "limit": limits.line_chars},
            )
        yield m.group()
        pos = m.end()


def _read_csv(data: bytes, limits: Limits) -> list[list]:
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
    rows: list[list] = []
    total = 0
    reader = csv.reader(_lines(text, limits), dialect)
    try:
        for row in reader:
            if len(row) > MAX_COLUMNS or len(rows) >= MAX_ROWS:
                _check_extent("csv", len(rows) + 1, len(row))
            for col, value in enumerate(row):
                if len(value) > limits.cell_chars:
                    raise _cell_too_long(cell_ref(len(rows), col), len(value), limits)
                total += len(value)
            if total > limits.text_chars:
                raise _text_too_large("csv", total, limits)
            rows.append(row)
    except csv.Error as exc:
        # The csv module's own limit on a field (131,072 characters) is over ours.
        if "field limit" in str(exc):
            where = _("Line %(line)s of the CSV file") % {"line": reader.line_num}
            raise _cell_too_long(where, None, limits)
        raise FileProblem(
            "file.corrupt",
            _("The CSV file cannot be read at line %(line)s: %(error)s")
            % {"line": reader.line_num, "error": clip(exc, 200)},
        )
    if not any(any(c.strip() for c in r) for r in rows):
        raise FileProblem("file.empty", _("The file has no rows."))
    return rows


def _cell_too_long(where: str, size: int | None, limits: Limits) -> FileProblem:
    if size is None:
        message = _(
            "%(where)s: a cell holds more than %(limit)s characters; no ledger cell is that long. "
            "Check the file."
        ) % {"where": where, "limit": limits.cell_chars}
    else:
        message = _(
            "Cell %(cell)s holds %(size)s characters; the limit is %(limit)s (no ledger cell is "
            "that long). Check the file."
        ) % {"cell": where, "size": size, "limit": limits.cell_chars}
    return FileProblem("file.cell_too_long", message)


def _text_too_large(sheet: str, total: int, limits: Limits) -> FileProblem:
    return FileProblem(
        "file.text_too_large",
        _(
            "Sheet “%(sheet)s” holds more than %(limit)s characters of text (a repeated text "
            "counts in every cell that shows it). Split the file or remove what is not the ledger."
        )
        % {"sheet": clip(sheet, 100), "limit": limits.text_chars},
    )


# ---- xlsx --------------------------------------------------------------------------------------


def _corrupt(exc) -> FileProblem:
    return FileProblem(
        "file.corrupt",
        _("The workbook cannot be read (damaged?): %(error)s") % {"error": clip(exc, 200)},
    )


def _zip_bomb(detail: str) -> FileProblem:
    return FileProblem(
        "file.zip_bomb",
        _("The workbook is not a normal .xlsx file (%(detail)s). Save it again in Excel or WPS.")
        % {"detail": detail},
    )


_BROKEN = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    python_calamine.CalamineError,
    zlib.error,
    struct.error,
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
    return Limits.from_settings().unpacked_bytes


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
                "sheet": clip(sheet_name, 100),
                "rows": rows,
                "cols": cols,
                "max_rows": MAX_ROWS,
                "max_cols": MAX_COLUMNS,
                "max_cells": MAX_CELLS,
            },
        )


# The end-of-central-directory record: entry count and directory size, read before zipfile
# builds an object per entry.
_EOCD = b"PK\x05\x06"


def _check_directory(data: bytes, limits: Limits) -> None:
    at = data.rfind(_EOCD, max(0, len(data) - 65_557))
    if at < 0 or len(data) < at + 22:
        return  # zipfile says what is wrong
    entries, cd_size = struct.unpack("<HL", data[at + 10 : at + 16])
    if (entries != 0xFFFF and entries > limits.zip_entries) or cd_size > limits.zip_entries * 1024:
        raise _zip_bomb(_("more than %(n)s parts") % {"n": limits.zip_entries})


def open_archive(data: bytes, limits: Limits) -> zipfile.ZipFile:
    """The workbook's zip after the checks of its directory: number of parts, duplicate names,
    encryption, compression methods, declared sizes and ratios."""
    _check_directory(data, limits)
    archive = zipfile.ZipFile(io.BytesIO(data))
    infos = archive.infolist()
    if len(infos) > limits.zip_entries:
        raise _zip_bomb(_("more than %(n)s parts") % {"n": limits.zip_entries})
    if len({i.filename for i in infos}) != len(infos):
        raise _zip_bomb(_("two parts with the same name"))
    total = sum(info.file_size for info in infos)
    if total > limits.unpacked_bytes:
        raise FileProblem(
            "file.too_large",
            _("The workbook unpacks to %(size)s bytes; the limit is %(limit)s bytes.")
            % {"size": total, "limit": limits.unpacked_bytes},
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise _encrypted()
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _corrupt(_("part %(part)s is packed in an unusual way") % {"part": _part(info)})
        if info.file_size > RATIO_FLOOR and info.file_size > limits.zip_ratio * max(
            info.compress_size, 1
        ):
            raise _zip_bomb(
                _("part %(part)s unpacks %(ratio)s times larger than it is packed")
                % {"part": _part(info), "ratio": info.file_size // max(info.compress_size, 1)}
            )
    return archive


def _part(info: zipfile.ZipInfo) -> str:
    return clip(info.filename, 80)


def _within_declared(info: zipfile.ZipInfo, produced: int) -> None:
    if produced > info.file_size:
        raise _zip_bomb(_("part %(part)s unpacks to more than it declares") % {"part": _part(info)})


def member_chunks(archive: zipfile.ZipFile, name: str):
    """The unpacked bytes of one member, in chunks, never more than its declared size (a
    member that unpacks to more, or to less, is refused)."""
    info = archive.getinfo(name)
    fp = archive.fp
    fp.seek(info.header_offset)
    head = fp.read(30)
    if len(head) < 30 or head[:4] != ZIP_MAGIC:
        raise _corrupt(_("part %(part)s has no header") % {"part": _part(info)})
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    left, produced, crc = info.compress_size, 0, 0
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    pending = b""
    while left > 0 or pending:
        if not pending:
            pending = fp.read(min(CHUNK, left))
            if not pending:
                raise _corrupt(_("part %(part)s is cut short") % {"part": _part(info)})
            left -= len(pending)
        if inflater is None:
            out, pending = pending, b""
        else:
            out = inflater.decompress(pending, CHUNK)
            pending = inflater.unconsumed_tail
        produced += len(out)
        _within_declared(info, produced)
        if out:
            crc = zlib.crc32(out, crc)
            yield out
    if inflater is not None:
        while out := inflater.decompress(b"", CHUNK):
            produced += len(out)
            _within_declared(info, produced)
            crc = zlib.crc32(out, crc)
            yield out
    if produced != info.file_size or crc != info.CRC:
        raise _corrupt(_("part %(part)s is damaged") % {"part": _part(info)})


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _unsafe_xml(part: str) -> FileProblem:
    return FileProblem(
        "file.unsafe_xml",
        _("Part %(part)s of the workbook declares a DOCTYPE or entities; a workbook never does.")
        % {"part": clip(part, 80)},
    )


def parse_xml(chunks, part: str, *, start=None, end=None, text=None) -> None:
    """Parse one XML part as a stream with expat, calling the handlers. A DOCTYPE is refused
    (OOXML never has one), so no entity can be declared and none expand; malformed XML is
    refused as damaged. Text comes in pieces of at most a few KiB."""
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def unsafe(*_args):
        raise _unsafe_xml(part)

    parser.StartDoctypeDeclHandler = unsafe
    parser.EntityDeclHandler = unsafe
    parser.ExternalEntityRefHandler = unsafe
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise FileProblem(
            "file.corrupt",
            _("Part %(part)s of the workbook is not well-formed XML (line %(line)s): %(error)s")
            % {
                "part": clip(part, 80),
                "line": exc.lineno,
                "error": expat.errors.messages.get(exc.code, str(exc)),
            },
        )


@dataclass
class Workbook:
    """What the inspection found: sheet parts by name, and each shared string's length."""

    archive: zipfile.ZipFile
    sheets: dict[str, str]
    shared: array  # length of shared string i


_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _relationships(archive: zipfile.ZipFile, names: set[str]) -> dict[str, tuple[str, str]]:
    """rId → (type, part path) of the workbook's relationships."""
    rels: dict[str, tuple[str, str]] = {}
    path = "xl/_rels/workbook.xml.rels"
    if path not in names:
        return rels

    def start(name, attrs):
        if _local(name) == "Relationship":
            target = attrs.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            rels[attrs.get("Id")] = (attrs.get("Type", ""), target)
            if len(rels) > len(names):
                raise _zip_bomb(_("more relationships than parts"))

    parse_xml(member_chunks(archive, path), path, start=start)
    return rels


def _sheet_paths(archive: zipfile.ZipFile, rels=None) -> dict[str, str]:
    """Sheet name → path of its XML part, from workbook.xml and its relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        raise FileProblem("file.corrupt", _("The workbook has no xl/workbook.xml part."))
    rels = _relationships(archive, names) if rels is None else rels
    out: dict[str, str] = {}

    def start(name, attrs):
        if _local(name) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), None)
            target = rels.get(rid, ("", ""))[1]
            if target in names:
                out[attrs.get("name", "")] = target

    parse_xml(member_chunks(archive, "xl/workbook.xml"), "xl/workbook.xml", start=start)
    return out


def _shared_string_lengths(archive: zipfile.ZipFile, path: str, limits: Limits) -> array:
    """The length of every shared string, refusing one over the cell limit (counting stops
    there: a 400 MB string is not read to its end) or all of them over the text limit."""
    lengths = array("L")
    state = {"si": False, "t": 0, "n": 0, "total": 0}

    def start(name, _attrs):
        local = _local(name)
        if local == "si":
            state["si"], state["n"] = True, 0
        elif local == "t" and state["si"]:
            state["t"] += 1

    def end(name):
        local = _local(name)
        if local == "t" and state["t"]:
            state["t"] -= 1
        elif local == "si":
            state["si"] = False
            lengths.append(state["n"])
            if len(lengths) > MAX_CELLS:
                raise FileProblem(
                    "file.too_large",
                    _("The workbook has more than %(n)s shared texts.") % {"n": MAX_CELLS},
                )

    def text(data):
        if state["t"]:
            state["n"] += len(data)
            state["total"] += len(data)
            if state["n"] > limits.cell_chars:
                raise FileProblem(
                    "file.cell_too_long",
                    _(
                        "Shared text number %(index)s of the workbook holds more than %(limit)s "
                        "characters; no ledger cell is that long. Check the file."
                    )
                    % {"index": len(lengths) + 1, "limit": limits.cell_chars},
                )
            if state["total"] > limits.text_chars:
                raise _text_too_large(_("shared texts"), state["total"], limits)

    parse_xml(member_chunks(archive, path), path, start=start, end=end, text=text)
    return lengths


def inspect_xlsx(data: bytes, limits: Limits) -> Workbook:
    """Open the workbook's zip and check its directory, workbook part, relationships and shared
    strings, in bounded memory; the sheets are checked one by one by `scan_sheet`."""
    archive = open_archive(data, limits)
    names = set(archive.namelist())
    # Every XML part calamine reads is parsed by expat first (DOCTYPE, well-formedness).
    for path in ("[Content_Types].xml", "xl/styles.xml"):
        if path in names:
            parse_xml(member_chunks(archive, path), path)
    rels = _relationships(archive, names)
    sheets = _sheet_paths(archive, rels)
    shared_path = next(
        (t for kind, t in rels.values() if kind.endswith("/sharedStrings") and t in names),
        "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else None,
    )
    shared = _shared_string_lengths(archive, shared_path, limits) if shared_path else array("L")
    return Workbook(archive, sheets, shared)


def _read_xlsx(data: bytes):
    limits = Limits.from_settings()

    def open_workbook():
        book = inspect_xlsx(data, limits)
        return book, python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))

    book, workbook = _guarded(open_workbook)
    found = False
    for index, sheet_name in enumerate(workbook.sheet_names):

        def read_sheet(index=index, sheet_name=sheet_name):
            path = book.sheets.get(sheet_name)
            formulas: set[tuple[int, int]] = set()
            if path:
                # Extent and text first: calamine would build the whole grid, and copy every
                # shared string into each cell showing it, before we could look.
                scan = scan_sheet(
                    book.archive, path, shared=book.shared, limits=limits, name=sheet_name
                )
                _check_extent(sheet_name, *scan.extent)
                if scan.text > limits.text_chars:
                    raise _text_too_large(sheet_name, scan.text, limits)
                formulas = scan.formulas
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


# ---- scanning a sheet's XML ---------------------------------------------------------------------

# Rows, cells and the declared used range (`<dimension ref="A1:U200"/>`), with or without a
# namespace prefix. A cell's content stops at the next cell tag: cells do not nest, and a broken
# sheet cannot make the pattern scan far.
_TOKEN = re.compile(
    rb"<(?:\w+:)?row\b(?P<row>[^>]*)>"
    rb"|<(?:\w+:)?c\b(?P<attrs>[^>]*?)(?:/>|>(?P<inner>[^<]*(?:<(?!/?(?:\w+:)?c\b)[^<]*)*)"
    rb"</(?:\w+:)?c\s*>)"
    rb"|<(?:\w+:)?dimension\b(?P<dim>[^>]*)>",
    re.S,
)
_TOKEN_START = re.compile(rb"<(?:\w+:)?(?:row|c|dimension)\b")
_ATTR_R = re.compile(rb"(?:^|\s)r\s*=\s*[\"']([^\"']*)[\"']")
_ATTR_T = re.compile(rb"(?:^|\s)t\s*=\s*[\"']([^\"']*)[\"']")
_ATTR_REF = re.compile(rb"(?:^|\s)ref\s*=\s*[\"']([^\"']*)[\"']")
# `<f>`, `<f t="shared" si="0"/>`, with or without a namespace prefix.
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>.*?</(?:\w+:)?f\s*>)", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v\b[^>]*>([^<]*)<")
_TAG = re.compile(rb"<[^>]*>")


@dataclass
class SheetScan:
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (row, col) of formula cells
    extent: tuple[int, int] = (0, 0)  # rows, columns reached by the cells and the dimension
    text: int = 0  # characters of all cells' text, a shared string counted in each cell


def _text_length(inner: bytes) -> int:
    """Characters of a cell's own text (its value or inline string), counted from above: a
    formula's text is left out, markup and entities are counted as written."""
    if b"<" in inner and b"<![CDATA[" not in inner:
        inner = _TAG.sub(b"", _FORMULA_ELEMENT.sub(b"", inner))
    return len(inner.decode("utf-8", "replace"))


# The fast path counts over a whole buffer at C speed, for the XML that Excel, WPS, LibreOffice
# and openpyxl write (no namespace prefixes, attributes as r="A1" t="s"). A buffer it cannot count
# exactly enough (prefixes, other quoting, a cell without a reference, CDATA, a cell whose markup
# is over the cell limit, a shared-string index out of range, a cell over the limit to be named)
# goes through the exact path, cell by cell.
_PREFIXED = re.compile(rb"</?\w+:")
_CELL_START = re.compile(rb"<c[\s/>]")
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})(\d{1,9})"')
_ROW_REF = re.compile(rb'<row r="(\d{1,9})"')
_SHARED_INDEX = re.compile(rb' t="s"[^>]*><v>(\d{1,10})</v>')
_TEXT_RUN = re.compile(rb"<[vt](?:>|\s[^>]*>)([^<]*)")
_FORMULA_START = re.compile(rb"<f[\s>/]")


class _Exact(Exception):
    """The fast path cannot count this buffer; the exact path will."""


class _SheetScanner:
    def __init__(self, path: str, name: str, shared, limits: Limits):
        self.path, self.name, self.shared, self.limits = path, name, shared, limits
        self.scan = SheetScan()
        self.max_row = self.max_col = 0
        self.row = self.col = -1
        self.total = 0

    def add(self, part: bytes) -> None:
        if b"<!DOCTYPE" in part or b"<!ENTITY" in part:
            raise _unsafe_xml(self.path)
        try:
            self._fast(part)
        except _Exact:
            self._exact(part)
        if self.total > self.limits.text_chars:
            raise _text_too_large(self.name, self.total, self.limits)

    def _fast(self, part: bytes) -> None:
        if b"<![CDATA[" in part or b"'" in part or b" =" in part or b"= " in part:
            raise _Exact
        if _PREFIXED.search(part):
            raise _Exact
        refs = _CELL_REF.findall(part)
        starts = [m.start() for m in _CELL_START.finditer(part)]
        if len(refs) != len(starts):
            raise _Exact  # a cell without a reference sits after the one before it
        starts.append(len(part))
        limit = self.limits.cell_chars
        if any(b - a > limit for a, b in zip(starts, starts[1:], strict=False)):
            raise _Exact  # a cell whose XML is that long: count it exactly
        indexes = _SHARED_INDEX.findall(part)
        if len(indexes) != part.count(b't="s"'):
            raise _Exact
        try:
            sizes = list(map(self.shared.__getitem__, map(int, indexes)))
        except IndexError:
            raise _Exact
        if sizes and max(sizes) > limit:
            raise _Exact  # to name the cell
        rows = _ROW_REF.findall(part)
        if len(rows) != part.count(b"<row"):
            raise _Exact
        runs = _TEXT_RUN.findall(part)
        own = len(b"".join(runs).decode("utf-8", "replace")) - sum(map(len, indexes))
        self.total += sum(sizes) + max(own, 0)
        if rows:
            self.max_row = max(self.max_row, max(map(int, rows)))
        if refs:
            letters, numbers = zip(*refs, strict=True)
            self.max_row = max(self.max_row, max(map(int, numbers)))
            widest = max(map(bytes.rjust, letters, repeat(3)))
            self.max_col = max(self.max_col, _parse_ref(widest.strip() + b"1")[1] + 1)
            self.row, self.col = _parse_ref(b"".join(refs[-1]))
        for m in _FORMULA_START.finditer(part):
            # The cell is the last `<c …>` opened before the formula.
            opened = part.rfind(b"<c ", 0, m.start())
            if opened >= 0 and (cell := _CELL_REF.match(part, opened + 2)):
                self.scan.formulas.add(_parse_ref(cell.group(1) + cell.group(2)))
        if b"<dimension" in part:
            self._dimension(part)

    def _dimension(self, part: bytes) -> None:
        for m in _DIMENSION.finditer(part):
            ref = _ATTR_REF.search(m.group(1))
            for end in ref.group(1).split(b":") if ref else ():
                if (pos := _parse_ref(end.replace(b"$", b""))) is not None:
                    self.max_row = max(self.max_row, pos[0] + 1)
                    self.max_col = max(self.max_col, pos[1] + 1)

    def _exact(self, part: bytes) -> None:
        limits, shared = self.limits, self.shared
        for m in _TOKEN.finditer(part):
            attrs = m.group("attrs")
            if attrs is None:
                if (row_attrs := m.group("row")) is not None:
                    r = _ATTR_R.search(row_attrs)
                    self.row = int(r.group(1)) - 1 if r and r.group(1).isdigit() else self.row + 1
                    self.col = -1
                    self.max_row = max(self.max_row, self.row + 1)
                continue
            r = _ATTR_R.search(attrs)
            pos = _parse_ref(r.group(1)) if r else None
            if pos is None:
                pos = (max(self.row, 0), self.col + 1)
            self.row, self.col = pos
            self.max_row = max(self.max_row, pos[0] + 1)
            self.max_col = max(self.max_col, pos[1] + 1)
            inner = m.group("inner")
            if not inner:
                continue
            if _FORMULA.search(inner):
                self.scan.formulas.add(pos)
            t = _ATTR_T.search(attrs)
            if t and t.group(1) == b"s":
                v = _VALUE.search(inner)
                index = int(v.group(1)) if v and v.group(1).strip().isdigit() else -1
                size = shared[index] if 0 <= index < len(shared) else 0
            else:
                size = _text_length(inner)
            if size > limits.cell_chars:
                raise _cell_too_long(cell_ref(*pos), size, limits)
            self.total += size
            if self.total > limits.text_chars:
                raise _text_too_large(self.name, self.total, limits)
        self._dimension(part)


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b([^>]*)>")


def scan_sheet(
    archive: zipfile.ZipFile,
    path: str,
    *,
    shared=(),
    limits: Limits | None = None,
    name: str = "",
) -> SheetScan:
    """One pass over the sheet XML as a byte stream: formula cells, extent, and the text length
    of each cell (a shared string's from the table), refusing a cell over the limit."""
    limits = limits or Limits.from_settings()
    scanner = _SheetScanner(path, name or PurePosixPath(path).stem, shared, limits)
    # What follows the last row or cell tag of a chunk may be cut: it waits for the next chunk.
    # A tail this long is one giant cell.
    tail_cap = 4 * limits.cell_chars + (1 << 16)
    tail = b""
    for chunk in member_chunks(archive, path):
        buf = tail + chunk if tail else chunk
        cut = _last_token_start(buf, len(buf) - tail_cap)
        if cut is None:
            where = _("Sheet “%(sheet)s” after cell %(cell)s") % {
                "sheet": clip(scanner.name, 100),
                "cell": cell_ref(max(scanner.row, 0), scanner.col + 1),
            }
            raise _cell_too_long(where, None, limits)
        scanner.add(buf[:cut])
        tail = buf[cut:]
    scanner.add(tail)
    scan = scanner.scan
    scan.extent = (scanner.max_row, scanner.max_col)
    scan.text = scanner.total
    return scan


_ANY_CELL_START = re.compile(rb"<(?:\w+:)?c[\s/>]")
_CELL_CLOSED = re.compile(rb"<(?:\w+:)?c\b[^>]*/>|</(?:\w+:)?c\s*>")


def _last_token_start(buf: bytes, floor: int) -> int | None:
    """Where the last row or cell tag of `buf` starts, to keep it for the next chunk; with none
    at or after `floor`, the last `<` (None if a cell open before `floor` is still open: a cell
    that long is refused)."""
    pos = len(buf)
    while (pos := buf.rfind(b"<", 0, pos)) >= max(floor, 0):
        if _TOKEN_START.match(buf, pos):
            return pos
    if floor > 0:
        last = None
        for last in _ANY_CELL_START.finditer(buf):  # noqa: B007  the last one is wanted
            pass
        if last is not None and not _CELL_CLOSED.search(buf, last.start()):
            return None
    return max(buf.rfind(b"<"), 0) if b"<" in buf[-4096:] else len(buf)


def _formula_cells(archive: zipfile.ZipFile, path: str) -> set[tuple[int, int]]:
    return scan_sheet(archive, path).formulas

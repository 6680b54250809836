"""Hostile files for the tests and `bench/hostile_bench.py`: workbooks written part by part so that
they can hold what no spreadsheet program writes (one huge shared string referenced by every cell,
entity declarations, a member that unpacks to more than it declares), and CSV files with lines
and fields too long.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from safework.core.tabular import cell_ref

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006"
HEADER = ["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Types xmlns="{PKG}/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{NS_R}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}" xmlns:r="{NS_R}">'
    '<sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{NS_R}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{NS_R}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shared_strings_xml(strings: list[str], *, prolog: str = "") -> bytes:
    items = "".join(f"<si><t>{_escape(s)}</t></si>" for s in strings)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<sst xmlns="{NS}" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()


def sheet_xml(rows: list[list], *, prolog: str = "") -> bytes:
    """Rows of cells: ("s", i) a shared string, ("inline", text), a number, or None (empty)."""
    out = [f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{NS}"><sheetData>']
    for r, row in enumerate(rows):
        out.append(f'<row r="{r + 1}">')
        for c, value in enumerate(row):
            ref = cell_ref(r, c)
            if value is None:
                continue
            if isinstance(value, tuple) and value[0] == "s":
                out.append(f'<c r="{ref}" t="s"><v>{value[1]}</v></c>')
            elif isinstance(value, tuple):
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{_escape(value[1])}</t></is></c>')
            else:
                out.append(f'<c r="{ref}"><v>{value}</v></c>')
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out).encode()


def workbook_bytes(sheet: bytes, shared: bytes | None = None, *, extra: dict | None = None):
    """A workbook of one sheet "台账" from its parts (deflated as Excel does)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        z.writestr("xl/sharedStrings.xml", shared or shared_strings_xml([]))
        for name, content in (extra or {}).items():
            z.writestr(name, content)
    return buf.getvalue()


def shared_string_bomb(cells: int = 20_000, size: int = 1 << 20) -> bytes:
    """One shared string of `size` characters, shown in `cells` cells under a ledger header:
    the issue's 56 KB workbook (calamine would copy the string into every cell: ≈ 2 MiB each)."""
    strings = [*HEADER, "A" * size]
    big = len(HEADER)
    rows = [[("s", i) for i in range(len(HEADER))]]
    rows += [[("s", big)] for _ in range(cells)]
    return workbook_bytes(sheet_xml(rows), shared_strings_xml(strings))


def shared_text_workbook(size: int, cells: int, char: str = "A") -> bytes:
    """A string of `size` characters shown in `cells` cells of column A (under a header)."""
    return workbook_bytes(
        sheet_xml([[("s", 0)]] + [[("s", 1)] for _ in range(cells)]),
        shared_strings_xml(["姓名", char * size]),
    )


def inline_text_workbook(size: int) -> bytes:
    """One inline-string cell of `size` characters (what openpyxl writes for text)."""
    return workbook_bytes(sheet_xml([[("inline", "姓名")], [("inline", "B" * size)]]))


def billion_laughs(part: str = "xl/sharedStrings.xml") -> bytes:
    """Entity declarations that expand to 10⁹ "lol"s, in the shared strings or the sheet."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    prolog = f"<!DOCTYPE sst [{''.join(entities)}]>"
    if part == "xl/sharedStrings.xml":
        shared = (
            f'<?xml version="1.0"?>{prolog}<sst xmlns="{NS}"><si><t>&lol9;</t></si></sst>'
        ).encode()
        return workbook_bytes(sheet_xml([[("s", 0)]]), shared)
    sheet = sheet_xml([[("inline", "x")]], prolog=prolog.replace("sst", "worksheet"))
    return workbook_bytes(sheet.replace(b">x<", b">&lol9;<"))


def malformed_shared_strings() -> bytes:
    shared = f'<?xml version="1.0"?><sst xmlns="{NS}"><si><t>张三</si></sst>'.encode()
    return workbook_bytes(sheet_xml([[("s", 0)]]), shared)


def zeros_member_workbook(size: int, name: str = "xl/media/padding.bin") -> bytes:
    """A normal small workbook with one extra member of `size` zero bytes (packs about 1000:1);
    written in chunks, so that a large one needs no memory."""
    buf = io.BytesIO(workbook_bytes(sheet_xml([[("inline", "姓名")]])))
    block = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z,
        z.open(name, "w", force_zip64=size > 0x7FFFFFFF) as f,
    ):
        for start in range(0, size, len(block)):
            f.write(block[: min(len(block), size - start)])
    return buf.getvalue()


def lying_member_workbook(declared: int = 1000, real: int = 64 << 20) -> bytes:
    """A workbook whose sheet declares `declared` bytes unpacked but inflates to `real` bytes
    (a reader that trusts the directory is surprised): the sizes are written by hand."""
    good = workbook_bytes(sheet_xml([[("inline", "姓名")]]))
    parts = {i.filename: zipfile.ZipFile(io.BytesIO(good)).read(i) for i in _infos(good)}
    body = parts["xl/worksheets/sheet1.xml"]
    sheet = body + b" " * (real - len(body))
    return _raw_zip({**parts, "xl/worksheets/sheet1.xml": (sheet, declared)})


def _infos(data: bytes):
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


def _raw_zip(parts: dict) -> bytes:
    """A zip written field by field; a part given as (content, n) declares n bytes unpacked."""
    out, central = io.BytesIO(), []
    for name, content in parts.items():
        content, declared = content if isinstance(content, tuple) else (content, len(content))
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = packer.compress(content) + packer.flush()
        crc = zlib.crc32(content[:declared])
        raw = name.encode()
        offset = out.tell()
        fields = (20, 0, 8, 0, 0, crc, len(packed), declared, len(raw), 0)
        out.write(struct.pack("<4s5HLLLHH", b"PK\x03\x04", *fields) + raw + packed)
        central.append(
            struct.pack("<4s6HLLLHHHHHLL", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + raw
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    n = len(central)
    out.write(struct.pack("<4s4HLLH", b"PK\x05\x06", 0, 0, n, n, len(directory), start, 0))
    return out.getvalue()


def many_members_workbook(n: int) -> bytes:
    return workbook_bytes(
        sheet_xml([[("inline", "姓名")]]), extra={f"xl/media/p{i}.bin": b"" for i in range(n)}
    )


def columns_without_references(n: int, last_row: int = 2) -> bytes:
    """A row of `n` cells without `r` attributes, then one in `last_row`: the grid calamine
    builds is rows × columns even though the sheet names no column past A."""
    cells = "".join("<c><v>1</v></c>" for _ in range(n))
    sheet = (
        f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData><row r="1">{cells}</row>'
        f'<row r="{last_row}"><c r="A{last_row}"><v>1</v></c></row></sheetData></worksheet>'
    ).encode()
    return workbook_bytes(sheet)


def csv_long_line(chars: int = 5 << 20) -> bytes:
    """A header and one line of `chars` characters, fields of 1000 "x" each."""
    field = "x" * 999 + ","
    line = (field * (chars // len(field) + 1))[:chars]
    return ("姓名,身份证号码\n" + line + "\n").encode()


def csv_long_field(chars: int) -> bytes:
    return ("姓名,身份证号码\n" + "y" * chars + ",1\n").encode()


def run_measured(script: str, *, env: dict | None = None, address_space: int | None = None):
    """Run `python -c script` in a child process (its address space limited, so that a file
    that is not refused fails the child instead of the machine) and return (exit status,
    stdout, the child's peak RSS in KiB).

    The peak is the child's own (`VmHWM` of its process, written at exit): `wait4`'s maxrss
    also counts the parent's resident pages at the fork, which in a long test run were larger
    than anything the child did."""
    import os
    import resource
    import subprocess
    import sys
    import tempfile

    def limit():
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    handle, peak_file = tempfile.mkstemp(prefix="sw-peak-")
    os.close(handle)
    report_peak = (
        "import atexit as _atexit, re as _re\n"
        "def _peak():\n"
        "    status = open('/proc/self/status').read()\n"
        "    found = _re.search(r'VmHWM:\\s+(\\d+)', status)\n"
        f"    open({peak_file!r}, 'w').write(found.group(1) if found else '')\n"
        "_atexit.register(_peak)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", report_peak + script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=limit,
    )
    out = child.stdout.read()
    child.stdout.close()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    try:
        with open(peak_file) as f:
            peak = int(f.read().strip() or 0) or usage.ru_maxrss
    except (OSError, ValueError):  # no /proc (not Linux), or the child died before exit
        peak = usage.ru_maxrss
    finally:
        os.unlink(peak_file)
    return child.returncode, out.decode(errors="replace"), peak

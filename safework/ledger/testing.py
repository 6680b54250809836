"""Ledger files for tests and the benchmark: workbooks as real ledgers write them.

Synthetic identities only (people.synthetic: real region codes, sequence numbers 900–999).
"""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from safework.core.tabular import OLE2_MAGIC
from safework.people.synthetic import random_identity


def xlsx_bytes(rows: list[list], *, sheet: str = "台账", formulas: dict[str, str] | None = None):
    """A workbook with `rows` from A1 (None leaves a cell empty) and formulas at given cells."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row, 1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    for ref, formula in (formulas or {}).items():
        ws[ref] = formula
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def encrypted_xlsx_bytes() -> bytes:
    """What a password-protected .xlsx is: an OLE2 compound file, not a zip."""
    return OLE2_MAGIC + bytes(range(256)) * 8


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def identities(n: int, *, seed: int = 8, today: dt.date = dt.date(2026, 1, 1)):
    """n distinct (id_number, name) pairs, deterministic for the seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < n:
        number, name, _birth, _gender = random_identity(rng, today=today)
        if number not in seen:
            seen.add(number)
            out.append((number, name))
    return out


BENCH_HEADER = [
    "序号",
    "姓名",
    "身份证号码",
    "部门",
    "作业类别",
    "证书编号",
    "初领日期",
    "发证日期",
    "有效期至",
    "发证机关",
]
BENCH_ITEMS = [
    ("熔化焊接与热切割作业", 72),
    ("低压电工作业", 72),
    ("登高架设作业", 72),
    ("Q2", 48),
    ("叉车司机", 48),
    ("建筑电工", 24),
]


def write_bench_ledger(
    path: Path, rows: int, *, seed: int = 2026, department: str = "", today=dt.date(2026, 11, 1)
) -> int:
    """A certificate ledger of `rows` rows (about 2.5 certificates per person), written with
    openpyxl's write-only mode. Returns the number of persons."""
    rng = random.Random(seed)
    persons = identities(max(1, int(rows / 2.5)), seed=seed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(["2026年持证人员台账"])
    ws.append(BENCH_HEADER)
    for n in range(rows):
        number, name = persons[n % len(persons)]
        item, months = BENCH_ITEMS[(n // len(persons)) % len(BENCH_ITEMS)]
        first = today - dt.timedelta(days=rng.randint(30, 700))
        issued = first
        until = issued + relativedelta(months=months) - dt.timedelta(days=1)
        if item == "建筑电工":
            cert_no = f"晋A01{issued.year}{n:06d}"
        else:
            cert_no = f"{number[:6]}{n:08d}"
        ws.append(
            [
                n + 1,
                name,
                number,
                department,
                item,
                cert_no,
                first,
                issued.strftime("%Y.%m.%d"),
                until,
                "测试发证机关",
            ]
        )
    wb.save(path)
    return len(persons)

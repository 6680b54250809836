"""Hostile files (issue 17 item 4): refused with a clear code before python-calamine reads them,
in bounded memory; what an import keeps of its findings is bounded too.

The issue's own workbook (one 1 MiB shared string in 20,000 cells) is read in a child process
whose address space is limited, so that a regression fails the child, not the machine.
"""

import json
import random
import string
import tempfile

import pytest

from safework.core import tabular
from safework.core.errors import InvalidInput
from safework.ledger import errorfile, hostile
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.plan import Issue
from safework.ledger.services import start_import
from safework.ledger.testing import identities, upload

LIMIT = 32_767  # Excel's own limit on a cell, the default


def refused(content: bytes, name: str = "x.xlsx") -> str:
    with pytest.raises(tabular.FileProblem) as exc:
        tabular.read_table(content, name)
    assert exc.value.message and len(exc.value.message) < 1000
    return exc.value.code


def accepted(content: bytes, name: str = "x.xlsx") -> list:
    return tabular.read_table(content, name)[0].rows


# ---- one cell, at Excel's limit ----------------------------------------------------------------


def test_a_shared_string_over_the_cell_limit_is_refused_and_one_at_it_is_read():
    assert accepted(hostile.shared_text_workbook(LIMIT, 2))[1][0] == "A" * LIMIT
    assert refused(hostile.shared_text_workbook(LIMIT + 1, 2)) == "file.cell_too_long"


def test_an_inline_string_over_the_cell_limit_is_refused_and_one_at_it_is_read():
    assert accepted(hostile.inline_text_workbook(LIMIT))[1][0] == "B" * LIMIT
    assert refused(hostile.inline_text_workbook(LIMIT + 1)) == "file.cell_too_long"


def test_the_cell_limit_is_a_setting(settings):
    settings.IMPORT_MAX_CELL_CHARS = 1000
    assert accepted(hostile.inline_text_workbook(1000))
    assert refused(hostile.inline_text_workbook(1001)) == "file.cell_too_long"


# ---- all cells' text, a shared string counted in every cell showing it ------------------------


def test_total_text_counts_a_shared_string_in_every_cell(settings):
    settings.IMPORT_MAX_TEXT_CHARS = 2 + 10 * 10_000  # the header "姓名" and ten cells
    assert len(accepted(hostile.shared_text_workbook(10_000, 10))) == 11
    assert refused(hostile.shared_text_workbook(10_000, 11)) == "file.text_too_large"


def test_a_sheet_in_the_exact_path_counts_the_same(settings):
    # Prefixed tags and no cell references send the scan cell by cell; it counts the same text.
    settings.IMPORT_MAX_TEXT_CHARS = 2 + 10 * 10_000
    for cells, code in ((10, None), (11, "file.text_too_large")):
        content = hostile.shared_text_workbook(10_000, cells)
        content = _rewrite_sheet(
            content, lambda x: x.replace(b"<c r=", b"<c x=").replace(b" =", b"=")
        )
        if code:
            assert refused(content) == code
        else:
            assert accepted(content)


def _rewrite_sheet(content: bytes, change) -> bytes:
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            z.writestr(info.filename, change(data) if "worksheets" in info.filename else data)
    return out.getvalue()


# ---- the zip ------------------------------------------------------------------------------------


def test_a_member_packed_over_the_ratio_is_a_zip_bomb(settings):
    assert refused(hostile.zeros_member_workbook(8 << 20)) == "file.zip_bomb"  # ≈ 1000:1
    settings.IMPORT_MAX_ZIP_RATIO = 2000
    assert accepted(hostile.zeros_member_workbook(8 << 20))


def test_a_member_that_unpacks_to_more_than_it_declares_is_refused():
    assert refused(hostile.lying_member_workbook(declared=1000, real=64 << 20)) == "file.zip_bomb"


def test_too_many_members_is_a_zip_bomb():
    parts = 6  # the workbook's own parts
    assert accepted(hostile.many_members_workbook(1000 - parts))
    assert refused(hostile.many_members_workbook(1001 - parts)) == "file.zip_bomb"


def test_a_zip_that_unpacks_over_the_setting_is_too_large(settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 4 << 20
    settings.IMPORT_MAX_ZIP_RATIO = 2000
    assert refused(hostile.zeros_member_workbook(5 << 20)) == "file.too_large"


# ---- XML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"])
def test_entity_declarations_are_refused_before_anything_expands(part):
    assert refused(hostile.billion_laughs(part)) == "file.unsafe_xml"


def test_malformed_xml_is_a_damaged_workbook():
    assert refused(hostile.malformed_shared_strings()) == "file.corrupt"


def test_cells_without_references_count_towards_the_columns():
    # 300 columns in row 1 that no `r` attribute names (a cell in row 900,000 would make
    # calamine build a grid of 270 million cells); 200 columns are read
    assert refused(hostile.columns_without_references(201)) == "file.too_large"
    assert len(accepted(hostile.columns_without_references(200))[0]) == 200


# ---- CSV ----------------------------------------------------------------------------------------


def test_a_csv_line_over_the_limit_is_refused(settings):
    assert refused(hostile.csv_long_line(5 << 20), "x.csv") == "file.line_too_long"
    settings.IMPORT_MAX_LINE_CHARS = 20_001  # the line and its line end
    assert refused(hostile.csv_long_line(20_001), "x.csv") == "file.line_too_long"
    assert len(accepted(hostile.csv_long_line(20_000), "x.csv")) == 2


@pytest.mark.parametrize(("chars", "code"), [(LIMIT, None), (LIMIT + 1, "file.cell_too_long")])
def test_a_csv_field_over_the_cell_limit_is_refused(chars, code):
    content = hostile.csv_long_field(chars)
    if code:
        assert refused(content, "x.csv") == code
    else:
        assert accepted(content, "x.csv")[1][0] == "y" * chars
    # over the csv module's own field limit too
    assert refused(hostile.csv_long_field(200_000), "x.csv") == "file.cell_too_long"


def test_csv_total_text_is_bounded(settings):
    settings.IMPORT_MAX_TEXT_CHARS = 100
    rows = "姓名,身份证号码\n" + "".join(f"{'z' * 9},{i}\n" for i in range(10))
    assert refused(rows.encode(), "x.csv") == "file.text_too_large"


# ---- the roster reads with the same bounds -----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (hostile.shared_text_workbook(LIMIT + 1, 3), "排班.xlsx", "file.cell_too_long"),
        (hostile.billion_laughs(), "排班.xlsx", "file.unsafe_xml"),
        (hostile.lying_member_workbook(), "排班.xlsm", "file.zip_bomb"),
        (hostile.csv_long_line(2 << 20), "排班.csv", "file.line_too_long"),
        (b"\xd0\xcf\x11\xe0 an old workbook", "排班.xls", "file_type"),
    ],
)
def test_the_roster_refuses_hostile_files_with_the_same_codes(content, name, code):
    from safework.rosters import services as roster

    with pytest.raises(InvalidInput) as exc:
        roster.read_roster_file(content, name)
    assert [(e.field, e.code) for e in exc.value.errors] == [("file", code)]


# ---- bounded findings --------------------------------------------------------------------------


def test_every_text_of_a_finding_is_cut_with_an_ellipsis():
    issue = Issue(2, "列" * 500, "A" * 50, "v" * 5000, "x.code", "m" * 50_000)
    d = issue.as_dict()
    assert len(d["value"]) == 200 and d["value"].endswith("…")
    assert len(d["message"]) == 1000 and d["message"].endswith("…")
    assert len(d["column"]) == 100 and len(d["cell"]) <= 100
    short = Issue(2, "姓名", "A2", "v" * 200, "x.code", "m" * 1000).as_dict()
    assert short["value"] == "v" * 200 and short["message"] == "m" * 1000  # at the bound: whole


def test_stored_findings_are_capped_by_count_and_the_rest_counted(settings):
    settings.IMPORT_MAX_STORED_ERRORS = 10
    issues = [Issue(i + 2, "姓名", f"A{i + 2}", "x", "a.code", "bad") for i in range(20)]
    issues += [
        Issue(i + 2, "姓名", f"B{i + 2}", "x", "b.note", "ok", level="note") for i in range(5)
    ]
    kept = errorfile.stored(issues)
    assert len(kept) == 11 and kept[-1]["code"] == errorfile.OMITTED
    summary = errorfile.summary(kept)
    assert summary["errors"] == 20 and summary["notes"] == 5 and summary["omitted"] == 15
    assert summary["by_code"] == {"a.code": 20, "b.note": 5}


def test_stored_findings_are_capped_by_size(settings):
    settings.IMPORT_MAX_STORED_ERROR_CHARS = 10_000
    issues = [Issue(i + 2, "姓名", "A1", "v" * 200, "a.code", "m" * 1000) for i in range(100)]
    kept = errorfile.stored(issues)
    assert sum(len(json.dumps(k, ensure_ascii=False)) for k in kept) < 12_000
    assert errorfile.summary(kept)["errors"] == 100
    assert len(json.dumps(errorfile.summary(kept)["first"])) < 2 * errorfile.FIRST_CHARS


@pytest.fixture
def run_import(django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"

    def run(content: bytes, name: str = "台账.xlsx") -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = start_import(by=None, file_obj=upload(name, content), original_name=name)
        job.refresh_from_db()
        return job

    return run


@pytest.mark.django_db
def test_an_import_of_a_hostile_workbook_fails_with_the_code(catalogue, run_import):
    job = run_import(hostile.shared_text_workbook(LIMIT + 1, 50))
    assert job.status == JobStatus.FAILED
    assert [e["code"] for e in job.errors] == ["file.cell_too_long"]


@pytest.mark.django_db
def test_long_cells_in_many_rows_store_bounded_findings(catalogue, run_import, admin_client):
    # 1,000 rows whose ID number and item cells hold 20,000 characters (under the cell limit):
    # every finding quotes them, cut, and the job's answer stays small.
    rng = random.Random(17)
    long = "".join(rng.choice(string.ascii_uppercase) for _ in range(20_000))
    names = [name for _n, name in identities(3, seed=17)]
    strings = [*hostile.HEADER, long, "2024-01-10", "2030-01-09", *names]
    body = [
        [("s", 6 + 3 + i % 3), ("s", 6), ("s", 6), ("inline", f"N-{i}"), ("s", 7), ("s", 8)]
        for i in range(1000)
    ]
    content = hostile.workbook_bytes(
        hostile.sheet_xml([[("s", i) for i in range(6)], *body]),
        hostile.shared_strings_xml(strings),
    )
    job = run_import(content)
    assert job.status == JobStatus.FAILED and job.error_rows == 1000, [
        (e["code"], e["message"]) for e in job.errors[:2]
    ]
    stored = json.dumps(job.errors, ensure_ascii=False)
    assert len(stored) < 2_100_000
    assert all(len(e["value"]) <= 200 and len(e["message"]) <= 1000 for e in job.errors)
    assert len(job.message) < 2000
    detail = admin_client.get(f"/api/v1/imports/{job.pk}")
    assert detail.status_code == 200 and len(detail.content) < 100_000
    listing = admin_client.get("/api/v1/imports")
    assert listing.status_code == 200 and len(listing.content) < 100_000


# ---- the issue's workbook, in a child process with bounded memory -------------------------------

CHILD = """
import json, os, random, resource, string, sys
import django
django.setup()
from safework.core import tabular
from safework.ledger import hostile
rng = random.Random(17)
noise = "".join(rng.choice(string.ascii_letters) for _ in range(1 << 20))
files = {
    "issue": hostile.shared_string_bomb(20_000, 1 << 20),
    "incompressible": hostile.workbook_bytes(
        hostile.sheet_xml([[("s", 0)]] + [[("s", 1)] for _ in range(20_000)]),
        hostile.shared_strings_xml(["姓名", noise]),
    ),
}
codes = {}
for name, content in files.items():
    try:
        tabular.read_table(content, "x.xlsx")
        codes[name] = "read"
    except tabular.FileProblem as p:
        codes[name] = p.code
print(json.dumps(codes))
"""


def test_the_issues_workbook_is_refused_in_bounded_memory():
    code, out, maxrss_kib = hostile.run_measured(
        CHILD,
        env={
            "DJANGO_SETTINGS_MODULE": "safework.settings",
            "SAFEWORK_VAR_DIR": tempfile.mkdtemp(prefix="sw-hostile-"),
        },
        address_space=3 << 30,  # without the bounds calamine needs ~10 GiB and fails here
    )
    assert code == 0, out[-2000:]
    assert json.loads(out.strip().splitlines()[-1]) == {
        "issue": "file.zip_bomb",  # 1 MiB of one letter packs 800:1
        "incompressible": "file.cell_too_long",
    }
    assert maxrss_kib < 512 * 1024, f"peak RSS {maxrss_kib / 1024:.0f} MiB"

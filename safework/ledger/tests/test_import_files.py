"""Files that are not (good) ledgers: one clear error each, nothing imported; formulas; headers;
CSV encodings; a large file of bad rows."""

import datetime as dt
import io
import zipfile

import pytest

from safework.certs.models import Certificate
from safework.core import tabular
from safework.core.errors import InvalidInput
from safework.ledger import columns, values
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.services import start_import
from safework.ledger.testing import encrypted_xlsx_bytes, identities, upload, xlsx_bytes
from safework.people.models import Person

IDS = [number for number, _name in identities(6, seed=82)]
HEADER = ["序号", "姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(content: bytes, name: str = "台账.xlsx", **options) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = start_import(
                by=None, file_obj=upload(name, content), original_name=name, **options
            )
        job.refresh_from_db()
        return job

    return run


def good_rows(n=2):
    return [HEADER] + [
        [i + 1, f"人{i}", IDS[i], "2.1", f"N-{i}", "2024-01-10", "2030-01-09"] for i in range(n)
    ]


# ---- refused at the door: one field error, no job --------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("台账.xlsx", encrypted_xlsx_bytes(), "file.encrypted"),
        ("台账.xlsx", b"", "file.empty"),
        ("台账.xls", xlsx_bytes([["a"]]), "file.extension"),
        ("台账.pdf", b"%PDF-1.7", "file.extension"),
        ("台账.xlsx", b"just some text, renamed", "file.corrupt"),
        ("台账.csv", xlsx_bytes([["a"]]), "file.extension"),
    ],
)
@pytest.mark.django_db
def test_unreadable_uploads_are_one_error_and_no_job(name, content, code):
    with pytest.raises(InvalidInput) as exc:
        start_import(by=None, file_obj=upload(name, content), original_name=name)
    assert [(e.field, e.code) for e in exc.value.errors] == [("file", code)]
    assert ImportJob.objects.count() == 0


@pytest.mark.django_db
def test_a_file_over_the_limit_is_refused(settings):
    content = xlsx_bytes(good_rows())
    settings.UPLOAD_MAX_BYTES = len(content) - 1
    with pytest.raises(InvalidInput) as exc:
        start_import(by=None, file_obj=upload("台账.xlsx", content), original_name="台账.xlsx")
    assert exc.value.errors[0].code == "file.too_large"
    settings.UPLOAD_MAX_BYTES = len(content)
    job = start_import(by=None, file_obj=upload("台账.xlsx", content), original_name="台账.xlsx")
    assert job.status == JobStatus.QUEUED and job.file_sha256


# ---- found when the job reads the file: the job fails with one error -------------------------


@pytest.mark.django_db
def test_a_corrupt_workbook_fails_the_job_with_one_error(catalogue, run_import):
    good = xlsx_bytes(good_rows())
    broken = good[: len(good) // 2]  # a zip cut short: starts right, cannot be opened
    job = run_import(broken)
    assert job.status == JobStatus.FAILED
    assert [e["code"] for e in job.errors] == ["file.corrupt"]
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_a_zip_that_is_not_a_workbook_fails_the_job(catalogue, run_import):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    job = run_import(buf.getvalue())
    assert [e["code"] for e in job.errors] == ["file.corrupt"]


@pytest.mark.django_db
def test_wrong_headers_are_one_header_error(catalogue, run_import):
    job = run_import(xlsx_bytes([["编号", "人名", "号码"], [1, "张三", IDS[0]]]))
    assert job.status == JobStatus.FAILED
    assert len(job.errors) == 1
    error = job.errors[0]
    assert error["code"] == "header.not_found"
    assert "身份证号码" in error["message"] and "姓名" in error["message"]
    assert error["value"] == "编号、人名、号码"  # what was found


@pytest.mark.django_db
def test_a_header_without_the_id_column_says_what_is_missing(catalogue, run_import):
    job = run_import(xlsx_bytes([["台账"], ["序号", "姓名", "证书编号", "有效期至"]]))
    assert [e["code"] for e in job.errors] == ["header.missing_columns"]
    assert "身份证号码" in job.errors[0]["message"] and job.errors[0]["row"] == 2


@pytest.mark.django_db
def test_certificate_columns_need_the_dates(catalogue, run_import):
    job = run_import(xlsx_bytes([["姓名", "身份证号码", "操作项目", "证书编号"]]))
    assert [e["code"] for e in job.errors] == ["header.missing_columns"]
    assert "有效期至" in job.errors[0]["message"]


@pytest.mark.django_db
def test_formula_cells_are_row_errors_naming_the_cell(catalogue, run_import):
    rows = good_rows(2)
    job = run_import(
        xlsx_bytes(rows, formulas={"G2": "=DATE(2030,1,9)", "A3": "=ROW()-1", "B3": '="人"&"1"'})
    )
    assert job.status == JobStatus.FAILED
    errors = [(e["row"], e["cell"], e["code"]) for e in job.errors if e["level"] == "error"]
    # A3 is the row-number column: not imported, so its formula is harmless
    assert errors == [(2, "G2", "cell.formula"), (3, "B3", "cell.formula")]
    assert Certificate.objects.count() == 0


@pytest.mark.django_db
def test_merged_person_cells_cover_their_certificate_rows(catalogue, run_import):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"])
    ws.append(["张三", IDS[0], "2.1", "M-1", "2024-01-10", "2030-01-09"])
    ws.append([None, None, "3.1", "M-2", "2024-01-10", "2030-01-09"])
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:B3")
    buf = io.BytesIO()
    wb.save(buf)
    job = run_import(buf.getvalue())
    assert job.status == JobStatus.SUCCEEDED, job.errors
    person = Person.objects.get()
    assert sorted(person.certificates.values_list("number", flat=True)) == ["M-1", "M-2"]


@pytest.mark.django_db
def test_the_ledger_is_the_first_sheet_with_a_header(catalogue, run_import):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "说明"
    wb.active.append(["本台账由安全科维护"])
    ledger = wb.create_sheet("台账")
    for row in good_rows(2):
        ledger.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    job = run_import(buf.getvalue())
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert Certificate.objects.count() == 2

    empty = io.BytesIO()
    Workbook().save(empty)
    job = run_import(empty.getvalue())
    assert [e["code"] for e in job.errors] == ["file.empty"]


def test_formula_scan_handles_shared_and_prefixed_formulas():
    sheet = (
        b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c>'
        b'<c r="B1" t="str"><f t="shared" ref="B1:B2" si="0">A1*2</f><v>2</v></c></row>'
        b'<row r="2"><x:c r="B2"><x:f t="shared" si="0"/><x:v>4</x:v></x:c>'
        b'<c r="AB2" s="1"><f>SUM(A1:A2)</f></c></row></sheetData></worksheet>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    with zipfile.ZipFile(buf) as z:
        cells = tabular._formula_cells(z, "xl/worksheets/sheet1.xml")
    assert cells == {(0, 1), (1, 1), (1, 27)}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
@pytest.mark.django_db
def test_csv_in_utf8_with_or_without_bom_and_gb18030(catalogue, run_import, encoding):
    text = "\n".join(
        [
            "姓名,身份证号码,操作项目,证书编号,发证日期,有效期至",
            f"张三,{IDS[0]},熔化焊接与热切割作业,C-1,2024年1月10日,2030.01.09",
            f"李四,{IDS[1]},低压电工,C-2,2024/1/10,2030-1-9",
        ]
    )
    job = run_import(text.encode(encoding), name="台账.csv")
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert set(Person.objects.values_list("name", flat=True)) == {"张三", "李四"}
    assert Certificate.objects.get(number="C-2").item.code == "1.2"


@pytest.mark.django_db
def test_ten_thousand_bad_rows_are_all_reported(catalogue, run_import):
    # How fast is bench/import_bench.py's question; a wall-clock bound here fails on a busy machine.
    rows = [HEADER]
    for i in range(10_000):
        number = IDS[i % len(IDS)]
        rows.append([i + 1, "某人", number[:-1] + ("0" if number[-1] != "0" else "1"), "2.1",
                     f"B-{i}", "2024-01-10", "2030-01-09"])  # fmt: skip
    job = run_import(xlsx_bytes(rows))
    assert job.status == JobStatus.FAILED
    assert job.error_rows == 10_000 and job.total_rows == 10_000
    assert {e["row"] for e in job.errors} == set(range(2, 10_002))
    assert {e["code"] for e in job.errors} == {"id_number.checksum"}
    with job.error_file.open("rb") as f:
        tables = tabular.read_table(f.read(), "errors.xlsx")
    assert len(tables[0].rows) == 10_001  # header + one line per error


# ---- pure value rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023.05.12", dt.date(2023, 5, 12)),
        ("2023年5月12日", dt.date(2023, 5, 12)),
        ("2023/5/12", dt.date(2023, 5, 12)),
        ("2023-5-12", dt.date(2023, 5, 12)),
        ("２０２３．０５．１２", dt.date(2023, 5, 12)),
        ("2023-05-12 00:00:00", dt.date(2023, 5, 12)),
        (45058, dt.date(2023, 5, 12)),  # Excel serial
        (45058.0, dt.date(2023, 5, 12)),
        (dt.datetime(2023, 5, 12, 0, 0), dt.date(2023, 5, 12)),
        ("", None),
    ],
)
def test_dates(raw, expected):
    assert values.date_value(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("12/05/2023", "date.format"),  # day and month could be either: never guessed
        ("2023.5-12", "date.format"),
        ("2023年13月1日", "date.invalid"),
        ("2023-02-29", "date.invalid"),
        ("2023-05-12 08:30", "date.format"),
        ("1900.01.01", "date.out_of_range"),
        (12, "date.format"),
        (dt.time(8, 0), "date.format"),
    ],
)
def test_dates_that_are_errors(raw, code):
    with pytest.raises(values.ValueProblem) as exc:
        values.date_value(raw)
    assert exc.value.code == code


def test_a_validity_range_in_one_cell():
    assert values.date_range("2019.05.12-2025.05.11") == (
        dt.date(2019, 5, 12),
        dt.date(2025, 5, 11),
    )
    assert values.date_range("2019年5月12日至2025年5月11日") == (
        dt.date(2019, 5, 12),
        dt.date(2025, 5, 11),
    )
    assert values.date_range("2019-5-12") is None


def test_id_numbers():
    assert values.id_number("11010519491231002x").value == "11010519491231002X"
    assert values.id_number(" １１０１０５１９４９１２３１００２Ｘ ").value == "11010519491231002X"
    converted = values.id_number(110105650612123.0)
    assert converted.value == "110105196506121230" and converted.converted_from_15
    for raw, code in [
        (1.10105194912310e17, "id_number.numeric"),  # 18 digits in a float: lost for good
        ("1.10105E+17", "id_number.numeric"),
        ("110105194912310021", "id_number.checksum"),
        ("11010519491331002X", "id_number.birth_date"),
        ("1101051949123100", "id_number.length"),
    ]:
        with pytest.raises(values.ValueProblem) as exc:
            values.id_number(raw)
        assert exc.value.code == code, raw


def test_fast_id_check_agrees_with_the_people_rule():
    from safework.people.rules import IdNumberError, parse_id_number

    for number, _name in identities(200, seed=3):
        assert values.id_number(number) == parse_id_number(number)
    # a region code that never existed fails both ways
    with pytest.raises(IdNumberError):
        parse_id_number("990105196506121231")
    with pytest.raises(values.ValueProblem):
        values.id_number("990105196506121231")


def test_headers_are_matched_by_synonym_and_title_rows_skipped():
    rows = [
        ["某公司2024年特种作业人员台账", None],
        [],
        [
            "序号",
            "姓 名",
            "公民身份号码（必填）",
            "准操项目",
            "证号",
            "初领日期",
            "有效期至",
            "备注",
        ],
    ]
    hmap = columns.detect_header(rows)
    assert hmap.row_index == 2
    assert hmap.columns == {
        "seq": 0,
        "name": 1,
        "id_number": 2,
        "item": 3,
        "number": 4,
        "first_issued_on": 5,
        "valid_until": 6,
    }
    assert hmap.ignored == ["备注"]

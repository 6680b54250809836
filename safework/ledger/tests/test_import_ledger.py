"""Importing real ledgers: the user's own headers, mixed date formats, bad rows, re-imports,
old codes, construction numbers, valid rows only (certificates.md "import pitfalls")."""

import datetime as dt
import zoneinfo

import pytest
import time_machine

from safework.accounts.tests.factories import RoleGrantFactory
from safework.accounts.tests.world import API, client_for
from safework.certs.models import Certificate, CertificateEvent, EventKind
from safework.core.models import AuditRecord
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.services import start_import
from safework.ledger.testing import identities, upload, xlsx_bytes
from safework.people.models import Person
from safework.people.tests.factories import PersonFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
IDS = [number for number, _name in identities(12, seed=81)]
FIFTEEN = 110105650612123  # first-generation number, stored as a numeric cell
FIFTEEN_AS_18 = "110105196506121230"
HEADER = ["序号", "姓名", "身份证号码", "操作项目", "证书编号", "初领日期", "有效期至"]


def serial(d: dt.date) -> int:
    return (d - dt.date(1899, 12, 30)).days


def bad_checksum(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in text)


def ledger_rows(*, corrected: bool) -> list[list]:
    """The ledger of the "done when" story: a title row, the user's own headers, dates in four
    text formats plus a date cell and a serial number, a full-width ID number, a numeric ID cell
    and (uncorrected) three bad rows: 7 (ID checksum), 8 (no such date), 9 (unknown item)."""
    id_5 = IDS[6] if corrected else bad_checksum(IDS[6])
    date_6 = "2023.02.28" if corrected else "2023.02.30"
    item_7 = "高压电工作业" if corrected else "潜水作业"
    expiry_3 = serial(dt.date(2026, 5, 31))
    return [
        ["2024年特种作业人员持证台账"],
        HEADER,
        [1, "张伟", IDS[0], "熔化焊接与热切割作业", IDS[0], "2023.05.12", "2029年5月11日"],
        [2, "李娜", full_width(IDS[1]), "Q2", "TS2024001", "2024/3/5", "2028-3-4"],
        [3, "王强", FIFTEEN, "叉车司机", "N2022-0033", dt.datetime(2022, 6, 1), expiry_3],
        [4, "赵 敏", IDS[2] + "  ", "2.1", "SO-2021-77", "2021-5-12", dt.date(2027, 5, 11)],
        [5, "钱多", id_5, "低压电工作业", "DG-2022-01", "2022.8.8", "2028.8.7"],
        [6, "孙丽", IDS[3], "低压电工作业", "DG-2022-02", date_6, "2029.2.27"],
        [7, "周杰", IDS[4], item_7, "GY-01", "2023/1/9", "2029/1/8"],
        [8, "吴刚", IDS[5], "登高架设作业", "DG-001", "2023/7/1", "2029/6/30"],
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    """Upload a ledger and run its job to the end (huey runs inline in tests)."""

    def run(content: bytes, name: str = "台账.xlsx", by=None, **options) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = start_import(by=by, file_obj=upload(name, content), original_name=name, **options)
        job.refresh_from_db()
        return job

    return run


def errors_of(job):
    return [(e["row"], e["code"]) for e in job.errors if e["level"] == "error"]


@pytest.mark.django_db
def test_three_bad_rows_are_reported_and_nothing_is_imported(catalogue, clock, run_import):
    audit_before = AuditRecord.objects.count()
    job = run_import(xlsx_bytes(ledger_rows(corrected=False)))
    assert job.status == JobStatus.FAILED
    assert errors_of(job) == [(7, "id_number.checksum"), (8, "date.invalid"), (9, "item.unknown")]
    assert job.error_rows == 3
    assert job.total_rows == 8
    bad = {e["row"]: e for e in job.errors if e["level"] == "error"}
    assert bad[7]["column"] == "身份证号码" and bad[7]["cell"] == "C7"
    assert bad[8]["column"] == "初领日期" and bad[8]["value"] == "2023.02.30"
    assert bad[9]["cell"] == "D9" and bad[9]["value"] == "潜水作业"
    assert Person.objects.count() == 0
    assert Certificate.objects.count() == 0
    assert job.error_file.name.endswith(".xlsx")
    # the upload and the job's moves (claimed by the worker, failed) are audited; no domain
    # record is
    actions = list(
        AuditRecord.objects.filter(seq__gt=audit_before).values_list("action", flat=True)
    )
    assert actions == ["certs.import_uploaded", "certs.import_claimed", "certs.import_failed"]


@pytest.mark.django_db
def test_corrected_ledger_imports_and_a_second_import_changes_nothing(catalogue, clock, run_import):
    job = run_import(xlsx_bytes(ledger_rows(corrected=True)))
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert errors_of(job) == []
    assert (job.created_count, job.updated_count, job.unchanged_count) == (16, 0, 0)
    assert Person.objects.count() == 8 and Certificate.objects.count() == 8

    na = Person.objects.get(name="李娜")
    assert na.id_number == IDS[1]  # full-width digits normalised
    wang = Person.objects.get(name="王强")
    assert wang.id_number == FIFTEEN_AS_18 and wang.birth_date == dt.date(1965, 6, 12)
    notes = {(e["row"], e["code"]) for e in job.errors if e["level"] == "note"}
    assert (5, "id_number.converted_15") in notes
    assert Person.objects.get(id_number=IDS[2]).name == "赵敏"  # padded name, trailing spaces

    forklift = Certificate.objects.get(person=wang)
    assert (forklift.scheme.code, forklift.item.code) == ("special_equipment", "N1")
    assert forklift.issued_on == forklift.first_issued_on == dt.date(2022, 6, 1)
    assert forklift.valid_until == dt.date(2026, 5, 31)  # an Excel serial number
    welding = Certificate.objects.get(number=IDS[0])
    assert welding.item.code == "2.1" and welding.valid_until == dt.date(2029, 5, 11)
    assert welding.next_review_due == dt.date(2026, 5, 12)  # Order 30: 3 years after issue
    assert welding.catalogue_version == "2010" and welding.import_job_id == job.pk
    # an Order-30 review that fell due before today and is not in the ledger: a note, not a guess
    assert (6, "certificate.review_not_recorded") in notes
    assert Certificate.objects.get(number="SO-2021-77").next_review_due == dt.date(2024, 5, 12)

    # one audit record per created record, plus the job's
    audited = AuditRecord.objects.filter(
        action__in=["people.person_imported", "certs.certificate_imported"]
    )
    assert audited.count() == 16

    again = run_import(xlsx_bytes(ledger_rows(corrected=True)))
    assert again.status == JobStatus.SUCCEEDED
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 16)
    assert Person.objects.count() == 8 and Certificate.objects.count() == 8


@pytest.mark.django_db
def test_legacy_special_equipment_codes(catalogue, clock, run_import):
    rows = [
        ["姓名", "身份证号码", "作业项目", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "Q4", "OLD-Q4", "2018-03-01", "2026-02-27"],  # old list only: mapped
        ["乙", IDS[1], "Q1", "OLD-Q1", "2017-01-01", "2025-01-01"],  # old Q1: no equivalent
        ["丙", IDS[2], "Q1", "NEW-Q1", "2020-01-01", "2027-12-31"],  # current Q1 (signaller)
        ["丁", IDS[3], "N2", "OLD-N2", "2018-05-01", "2026-04-30"],  # old N2 (forklift) → N1
    ]
    job = run_import(xlsx_bytes(rows))
    assert errors_of(job) == [(3, "item.legacy_no_equivalent")]
    job = run_import(xlsx_bytes(rows), valid_rows_only=True)
    assert job.status == JobStatus.SUCCEEDED
    q4 = Certificate.objects.get(number="OLD-Q4")
    assert (q4.item.code, q4.restriction, q4.legacy_code) == ("Q2", "bridge_gantry", "Q4")
    assert q4.catalogue_version == "2019"
    n2 = Certificate.objects.get(number="OLD-N2")
    assert (n2.item.code, n2.legacy_code) == ("N1", "N2")
    new_q1 = Certificate.objects.get(number="NEW-Q1")
    assert (new_q1.item.code, new_q1.legacy_code) == ("Q1", "")
    notes = {(e["row"], e["code"]) for e in job.errors if e["level"] == "note"}
    assert {(2, "item.legacy_mapped"), (5, "item.legacy_mapped")} <= notes


@pytest.mark.django_db
def test_catalogue_version_column_decides_old_or_current(catalogue, clock, run_import):
    rows = [
        ["姓名", "身份证号码", "作业项目", "目录版本", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "Q2", "2011", "V-1", "2020-03-01", "2024-02-28"],  # old Q2: no successor
        ["乙", IDS[1], "Q2", "2019", "V-2", "2018-03-01", "2026-02-27"],  # current Q2 by column
        ["丙", IDS[2], "Q5", "2019", "V-3", "2020-03-01", "2024-02-28"],  # Q5 is not current
        ["丁", IDS[3], "Q5", "旧", "V-4", "2018-03-01", "2026-02-27"],  # old Q5 → Q2 tower
    ]
    job = run_import(xlsx_bytes(rows), valid_rows_only=True)
    assert errors_of(job) == [(2, "item.legacy_no_equivalent"), (4, "item.not_in_current_list")]
    assert Certificate.objects.get(number="V-2").legacy_code == ""
    tower = Certificate.objects.get(number="V-4")
    assert (tower.item.code, tower.restriction, tower.legacy_code) == ("Q2", "tower", "Q5")


@pytest.mark.django_db
def test_construction_number_must_carry_the_items_trade_code(catalogue, clock, run_import):
    rows = [
        ["姓名", "身份证号码", "证书类型", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "建筑电工", "晋A042015000123", "2025-01-10", "2027-01-09"],
        ["乙", IDS[1], "建筑电工", "A01201500012", "2025-01-10", "2027-01-09"],
        ["丙", IDS[2], "建筑电工", "晋A012015000124", "2025-01-10", "2027-01-09"],
        ["丁", IDS[3], "建筑起重信号司索工", "苏B042020000001", "2025-01-10", "2027-01-09"],
    ]
    job = run_import(xlsx_bytes(rows), valid_rows_only=True)
    assert errors_of(job) == [(2, "number.trade_code"), (3, "number.format")]
    assert set(Certificate.objects.values_list("number", flat=True)) == {
        "晋A012015000124",
        "苏B042020000001",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("province", "code"),
    [
        ("黔", None),  # Guizhou's abbreviation; the import used to refuse it
        ("贵", None),  # its other one
        ("滇", None),
        ("港", "number.format"),  # Hong Kong issues no mainland construction certificate
        ("X", "number.format"),
    ],
)
def test_the_api_and_the_import_agree_on_a_numbers_province(
    catalogue, clock, run_import, province, code
):
    """One province list and one error code for a construction number, whichever door it comes
    through."""
    client = client_for(RoleGrantFactory(role="administrator").user)
    response = client.post(
        f"{API}/certificates",
        {
            "person_id": PersonFactory().pk,
            "scheme": "construction",
            "item": "01",
            "number": f"{province}A012015000001",
            "issued_on": "2025-01-10",
        },
    )
    assert response.status_code == (201 if code is None else 422), response.content
    api = [] if code is None else [(e["field"], e["code"]) for e in response.json()["errors"]]
    assert api == ([] if code is None else [("number", code)])

    rows = [
        ["姓名", "身份证号码", "证书类型", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "建筑电工", f"{province}A012015000002", "2025-01-10", "2027-01-09"],
    ]
    job = run_import(xlsx_bytes(rows), valid_rows_only=True)
    assert errors_of(job) == ([] if code is None else [(2, code)])


@pytest.mark.django_db
def test_valid_rows_only_imports_the_good_rows(catalogue, clock, run_import):
    job = run_import(xlsx_bytes(ledger_rows(corrected=False)), valid_rows_only=True)
    assert job.status == JobStatus.SUCCEEDED
    assert job.error_rows == 3
    assert errors_of(job) == [(7, "id_number.checksum"), (8, "date.invalid"), (9, "item.unknown")]
    assert Certificate.objects.count() == 5 and Person.objects.count() == 5
    assert job.created_count == 10


@pytest.mark.django_db
def test_rows_against_the_database(catalogue, clock, run_import):
    registered = PersonFactory(name="注册名", id_number=IDS[0])
    rows = [
        ["姓名", "身份证号码", "作业类别", "证书编号", "发证日期", "有效期至"],
        ["别名", IDS[0], "2.1", "A-1", "2023-01-01", "2029-01-01"],  # name differs from DB
        ["新人", IDS[1], "2.1", "A-2", "2023-01-01", "2029-01-01"],
        ["新人", IDS[1], "2.1", "A-2", "2023-01-01", "2029-01-01"],  # same key twice in the file
        ["新人", IDS[1], "叉车司机", "A-3", "2023-01-01", "2027-01-01"],
        ["新人二", IDS[2], "叉车司机", "A-3", "2023-01-01", "2027-01-01"],  # same key: other holder
    ]
    job = run_import(xlsx_bytes(rows))
    assert errors_of(job) == [
        (2, "person.name_mismatch"),
        (3, "certificate.duplicate_in_file"),  # every occurrence of a duplicate (issue 17)
        (4, "certificate.duplicate_in_file"),
        (5, "certificate.duplicate_in_file"),
        (6, "certificate.duplicate_in_file"),
    ]
    assert registered.certificates.count() == 0


@pytest.mark.django_db
def test_existing_certificate_conflicts_and_extensions(catalogue, clock, run_import):
    first = [
        ["姓名", "身份证号码", "作业类别", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "2.1", "A-1", "2023-01-01", "2029-01-01"],
        ["甲", IDS[0], "叉车司机", "F-1", "2022-01-01", "2026-01-01"],
    ]
    assert run_import(xlsx_bytes(first)).status == JobStatus.SUCCEEDED
    changed = [
        ["姓名", "身份证号码", "作业类别", "证书编号", "发证日期", "有效期至", "发证机关"],
        ["甲", IDS[0], "2.1", "A-1", "2023-01-01", "2030-01-01", ""],  # Order 30: no extension
        ["甲", IDS[0], "叉车司机", "F-1", "2022-01-01", "2030-01-01", "某市市场监管局"],  # TSG
    ]
    job = run_import(xlsx_bytes(changed))
    assert errors_of(job) == [(2, "certificate.conflict")]
    job = run_import(xlsx_bytes(changed), valid_rows_only=True)
    assert (job.created_count, job.updated_count) == (0, 1)
    forklift = Certificate.objects.get(number="F-1")
    assert forklift.valid_until == dt.date(2030, 1, 1)
    assert forklift.issuing_authority == "某市市场监管局"
    extension = forklift.events.get()
    assert extension.kind == EventKind.EXTENSION
    assert (extension.previous_valid_until, extension.new_valid_until) == (
        dt.date(2026, 1, 1),
        dt.date(2030, 1, 1),
    )
    assert AuditRecord.objects.filter(action="certs.certificate_updated_by_import").count() == 1


@pytest.mark.django_db
def test_review_dates_in_the_ledger_set_the_next_review(catalogue, clock, run_import):
    rows = [
        [
            "姓名",
            "身份证号码",
            "作业类别",
            "证书编号",
            "发证日期",
            "初领日期",
            "有效期至",
            "复审日期",
        ],
        ["甲", IDS[0], "2.1", "R-1", "2020-06-01", "2014-06-01", "2026-05-31", "2023-05-10"],
    ]
    job = run_import(xlsx_bytes(rows))
    assert job.status == JobStatus.SUCCEEDED, job.errors
    cert = Certificate.objects.get(number="R-1")
    assert cert.first_issued_on == dt.date(2014, 6, 1)
    review = CertificateEvent.objects.get(certificate=cert)
    assert (review.kind, review.due_on, review.on) == (
        "review",
        dt.date(2023, 6, 1),
        dt.date(2023, 5, 10),
    )
    assert cert.next_review_due is None  # the next would be 2026-06-01: expiry, not review
    again = run_import(xlsx_bytes(rows))
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)


@pytest.mark.django_db
def test_persons_health_checks_and_employment(catalogue, clock, run_import):
    from safework.org.tests.factories import DepartmentFactory

    dept = DepartmentFactory(name="焊接车间")
    rows = [
        ["姓名", "身份证号码", "部门", "岗位", "作业类别", "证书编号", "发证日期", "有效期至",
         "体检日期", "体检结论", "禁忌"],
        ["甲", IDS[0], "焊接车间", "焊工", "2.1", "H-1", "2023-01-01", "2029-01-01",
         "2026-01-05", "合格", "高血压，禁高处作业"],
        ["甲", IDS[0], "焊接车间", "焊工", "3.1", "H-2", "2023-01-01", "2029-01-01",
         "2026-01-05", "合格", "高血压，禁高处作业"],
        ["乙", IDS[1], "焊接车间", "", "", "", "", "", "2026-02-01", "不合格", ""],
    ]  # fmt: skip
    job = run_import(xlsx_bytes(rows))
    assert job.status == JobStatus.SUCCEEDED, job.errors
    jia = Person.objects.get(id_number=IDS[0])
    assert jia.position.code == "welder"
    assert jia.current_employment.department == dept
    assert jia.current_employment.site_id == dept.site_id
    check = jia.health_checks.get()
    assert check.conclusion == "restricted" and check.restricted_work_types == ["height"]
    yi = Person.objects.get(id_number=IDS[1])
    assert yi.health_checks.get().conclusion == "unfit" and yi.certificates.count() == 0
    # persons 2 + certificates 2 + health checks 2
    assert job.created_count == 6


@pytest.mark.django_db
def test_the_job_reports_progress_in_steps_and_runs_once(catalogue, clock):
    from safework.core import audit
    from safework.ledger.check import PROGRESS_EVERY
    from safework.ledger.services import run_import

    people = identities(2500, seed=85)
    rows = [["姓名", "身份证号码", "作业类别", "证书编号", "发证日期", "有效期至"]]
    rows += [[name, number, "2.1", f"P-{i}", "2024-01-10", "2030-01-09"]
             for i, (number, name) in enumerate(people * 2)]  # fmt: skip
    job = start_import(
        by=None, file_obj=upload("big.xlsx", xlsx_bytes(rows)), original_name="big.xlsx",
        enqueue=False,
    )  # fmt: skip
    seen = []

    def progress(done, total):
        seen.append((done, total, ImportJob.objects.get(pk=job.pk).processed_rows))

    job = run_import(job.pk, progress=progress)
    assert job.status == JobStatus.SUCCEEDED
    steps = [s for s in seen if s[0] < 5000]
    assert [s[0] for s in steps] == [PROGRESS_EVERY, 2 * PROGRESS_EVERY]
    assert all(stored == done for done, _total, stored in steps)  # the job row shows it
    assert seen[-1][:2] == (5000, 5000)
    assert (job.processed_rows, job.total_rows, job.created_count) == (5000, 5000, 7500)
    assert audit.verify_chain().ok

    # the task is safe to run twice: only a queued job is claimed
    again = run_import(job.pk)
    assert again.finished_at == job.finished_at and Certificate.objects.count() == 5000


@pytest.mark.django_db
def test_a_refused_write_fails_the_job_and_writes_nothing(
    catalogue, clock, run_import, monkeypatch
):
    from django.db import IntegrityError

    from safework.ledger import services

    def refuse(plan, **kwargs):
        Person.objects.create(id_number=IDS[9], name="半途", birth_date=dt.date(1990, 1, 1))
        raise IntegrityError("duplicate key")

    monkeypatch.setattr(services, "write_plan", refuse)
    job = run_import(xlsx_bytes(ledger_rows(corrected=True)))
    assert job.status == JobStatus.FAILED
    assert job.errors[0]["code"] == "import.write_failed"
    assert Person.objects.count() == 0  # the half-done write was rolled back


@pytest.mark.django_db
def test_an_employer_column_naming_the_enterprise_means_own_staff(catalogue, clock, run_import):
    from safework.org.tests.factories import DepartmentFactory
    from safework.people.tests.factories import ContractorFactory

    ContractorFactory(name="甲建设有限公司")
    dept = DepartmentFactory(name="焊接车间")
    rows = [
        ["姓名", "身份证号码", "单位", "部门", "作业类别", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "本公司", "焊接车间", "2.1", "E-1", "2024-01-10", "2030-01-09"],
        ["乙", IDS[1], "甲建设有限公司", "", "2.1", "E-2", "2024-01-10", "2030-01-09"],
    ]
    job = run_import(xlsx_bytes(rows))
    assert job.status == JobStatus.SUCCEEDED, job.errors
    # own staff get an employment in their department (issue 17: never without one)
    own = Person.objects.get(id_number=IDS[0]).current_employment
    assert (own.employer_kind, own.department) == ("own", dept)
    employment = Person.objects.get(id_number=IDS[1]).current_employment
    assert (
        employment.employer_kind == "contractor" and employment.contractor.name == "甲建设有限公司"
    )

"""Ledger import gaps (issue 17, item 11): duplicates, computed expiry, code/name contradictions,
short ledger names as catalogue synonyms, a unit column naming an own department, header variants.
"""

import datetime as dt
import zoneinfo

import pytest
import time_machine

from safework.certs.models import Certificate, CertificateItem, Scheme
from safework.ledger.columns import detect_header
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.services import start_import
from safework.ledger.testing import identities, upload, xlsx_bytes
from safework.people.models import Person
from safework.people.tests.factories import ContractorFactory, PersonFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 7, 1, 10, 0, tzinfo=SHANGHAI)
IDS = [number for number, _name in identities(12, seed=117)]
HEAD = ["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    def run(rows: list[list], by=None, **options) -> ImportJob:
        name = "台账.xlsx"
        with django_capture_on_commit_callbacks(execute=True):
            job = start_import(
                by=by, file_obj=upload(name, xlsx_bytes(rows)), original_name=name, **options
            )
        job.refresh_from_db()
        return job

    return run


def errors_of(job):
    return [(e["row"], e["code"]) for e in job.errors if e["level"] == "error"]


def issues_of(job, code):
    return {e["row"]: e for e in job.errors if e["code"] == code}


# ---- (a) a duplicate marks every occurrence ----------------------------------------------------


@pytest.mark.django_db
def test_a_certificate_three_times_in_one_file_marks_every_row(catalogue, clock, run_import):
    row = ["甲", IDS[0], "2.1", "D-1", "2024-01-10", "2030-01-09"]
    rows = [
        HEAD,
        row,
        ["乙", IDS[1], "2.1", "D-2", "2024-01-10", "2030-01-09"],  # not a duplicate
        row,
        ["甲", IDS[0], "2.1", "D-1", "2025-01-10", "2031-01-09"],  # same number, another issue
        row,
    ]
    job = run_import(rows, valid_rows_only=True)
    assert errors_of(job) == [
        (2, "certificate.duplicate_in_file"),
        (4, "certificate.duplicate_in_file"),
        (6, "certificate.duplicate_in_file"),
    ]
    dups = issues_of(job, "certificate.duplicate_in_file")
    # each names the other rows, not itself
    assert "4" in dups[2]["message"] and "6" in dups[2]["message"]
    assert "2" in dups[4]["message"] and "6" in dups[4]["message"]
    assert "2" in dups[6]["message"] and "4" in dups[6]["message"]
    # none of the three is stored under the first row's data
    assert set(Certificate.objects.values_list("number", "issued_on")) == {
        ("D-2", dt.date(2024, 1, 10)),
        ("D-1", dt.date(2025, 1, 10)),
    }


@pytest.mark.django_db
def test_two_occurrences_are_both_marked(catalogue, clock, run_import):
    row = ["甲", IDS[0], "2.1", "D-1", "2024-01-10", "2030-01-09"]
    job = run_import([HEAD, row, row])
    assert errors_of(job) == [
        (2, "certificate.duplicate_in_file"),
        (3, "certificate.duplicate_in_file"),
    ]


@pytest.mark.django_db
def test_one_id_number_with_two_names_marks_every_row(catalogue, clock, run_import):
    rows = [
        HEAD,
        ["甲", IDS[0], "2.1", "N-1", "2024-01-10", "2030-01-09"],
        ["甲", IDS[0], "1.2", "N-2", "2024-01-10", "2030-01-09"],
        ["乙", IDS[0], "3.1", "N-3", "2024-01-10", "2030-01-09"],
        ["丙", IDS[1], "3.1", "N-4", "2024-01-10", "2030-01-09"],
    ]
    job = run_import(rows)
    assert errors_of(job) == [
        (2, "person.name_conflict"),
        (3, "person.name_conflict"),
        (4, "person.name_conflict"),
    ]
    conflicts = issues_of(job, "person.name_conflict")
    assert "4" in conflicts[2]["message"] and "3" not in conflicts[2]["message"]
    assert "2" in conflicts[4]["message"] and "3" in conflicts[4]["message"]


@pytest.mark.django_db
def test_one_medical_check_with_two_results_marks_every_row(catalogue, clock, run_import):
    rows = [
        ["姓名", "身份证号码", "体检日期", "体检结论"],
        ["甲", IDS[0], "2026-01-05", "合格"],
        ["甲", IDS[0], "2026-01-05", "合格"],  # the same check repeated: fine
        ["甲", IDS[0], "2026-01-05", "不合格"],
    ]
    job = run_import(rows)
    assert errors_of(job) == [
        (2, "health_check.conflict_in_file"),
        (3, "health_check.conflict_in_file"),
        (4, "health_check.conflict_in_file"),
    ]


# ---- (b) a missing expiry is computed from the item's rule -------------------------------------


@pytest.mark.django_db
def test_missing_expiry_is_computed_on_a_leap_day_with_a_note(catalogue, clock, run_import):
    rows = [
        HEAD,
        ["甲", IDS[0], "2.1", "L-1", "2024-02-29", ""],  # Order 30: 72 months
        ["乙", IDS[1], "叉车司机", "L-2", "2024-02-29", None],  # TSG Z6001: 48 months
        ["丙", IDS[2], "建筑电工", "晋A012024000001", "2024-02-29", ""],  # construction: 24
        ["丁", IDS[3], "2.1", "L-4", "2024-02-28", "2030-02-27"],  # given: kept, no note
    ]
    job = run_import(rows)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    expiry = dict(Certificate.objects.values_list("number", "valid_until"))
    # 72 / 48 / 24 months from 29 February end the day before 28 February
    assert expiry["L-1"] == dt.date(2030, 2, 27)
    assert expiry["L-2"] == dt.date(2028, 2, 28)  # 2028 is a leap year: 02-29 − 1 day
    assert expiry["晋A012024000001"] == dt.date(2026, 2, 27)
    assert expiry["L-4"] == dt.date(2030, 2, 27)
    notes = issues_of(job, "valid_until.computed")
    assert sorted(notes) == [2, 3, 4]
    assert all(n["level"] == "note" for n in notes.values())
    assert "2030-02-27" in notes[2]["message"] and "安监总局令第30号" in notes[2]["message"]
    assert "TSG Z6001-2019" in notes[3]["message"]
    assert "建质〔2008〕75号" in notes[4]["message"]


@pytest.mark.django_db
def test_computed_expiry_follows_the_rule_version_and_agrees_with_the_api(
    catalogue, clock, run_import
):
    from safework.certs import services

    rows = [
        HEAD,
        ["甲", IDS[0], "2.1", "V-1", "2026-05-31", ""],  # Order No. 30 in force
        ["乙", IDS[1], "2.1", "V-2", "2026-06-01", ""],  # Order No. 19 from this day
    ]
    job = run_import(rows)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    notes = issues_of(job, "valid_until.computed")
    assert "order30-validity-review" in notes[2]["message"]
    assert "应急管理部令第19号" in notes[3]["message"]
    scheme = Scheme.objects.get(code="special_operation")
    item = CertificateItem.objects.get(scheme=scheme, code="2.1")
    for n, issued in ((0, dt.date(2026, 5, 31)), (1, dt.date(2026, 6, 1))):
        imported = Certificate.objects.get(number=f"V-{n + 1}")
        by_api = services.create_certificate(
            person=PersonFactory(id_number=IDS[5 + n]),
            scheme=scheme,
            item=item,
            number=f"API-{n}",
            issued_on=issued,
        )
        assert imported.valid_until == by_api.valid_until
    assert Certificate.objects.get(number="V-2").valid_until == dt.date(2032, 5, 31)


@pytest.mark.django_db
def test_missing_expiry_without_a_validity_rule_is_a_row_error(catalogue, clock, run_import):
    rows = [HEAD, ["甲", IDS[0], "CONTRACTOR-ENTRY", "CE-1", "2026-01-10", ""]]
    job = run_import(rows)
    assert errors_of(job) == [(2, "valid_until.required")]


# ---- (c) a code contradicted by its name -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cell", "issued", "code", "legacy"),
    [
        ("2.1 熔化焊接与热切割作业", "2024-01-10", "2.1", ""),  # agree
        ("Q2 起重机司机", "2024-01-10", "Q2", ""),
        ("N2 叉车司机", "2018-05-01", "N1", "N2"),  # old N2 was the forklift: agree
        ("Q5/起重机司机", "2018-05-01", "Q2", "Q5"),  # old Q5 → Q2 (tower)
    ],
)
def test_a_code_and_a_name_that_agree_are_stored(
    catalogue, clock, run_import, cell, issued, code, legacy
):
    job = run_import([HEAD, ["甲", IDS[0], cell, "C-1", issued, "2026-12-31"]])
    assert job.status == JobStatus.SUCCEEDED, job.errors
    cert = Certificate.objects.get()
    assert (cert.item.code, cert.legacy_code) == (code, legacy)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cell", "issued", "code_item", "name_item"),
    [
        ("2.1 低压电工作业", "2024-01-10", "2.1", "1.2"),
        ("Q3 起重机司机", "2018-05-01", "Q1", "Q2"),  # old Q3 (signaller) with a driver's name
        ("N2 观光车和观光列车司机", "2018-05-01", "N1", "N2"),  # old N2 was the forklift
        ("Q1：起重机指挥", "2017-01-01", "Q1", "Q1"),  # old Q1 (no successor) named as today's
        ("02 建筑电工", "2024-01-10", "02", "01"),
    ],
)
def test_a_code_contradicted_by_its_name_is_a_row_error(
    catalogue, clock, run_import, cell, issued, code_item, name_item
):
    job = run_import([HEAD, ["甲", IDS[0], cell, "C-1", issued, "2026-12-31"]])
    assert errors_of(job) == [(2, "item.code_name_mismatch")]
    message = job.errors[0]["message"]
    assert code_item in message and name_item in message
    assert not Certificate.objects.exists()


# ---- (d) ledger names as catalogue synonyms ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cell", "scheme", "code"),
    [
        ("电焊工", "", "2.1"),
        ("架子工（普通脚手架）", "", "02"),
        ("塔吊司机", "建筑施工", "05"),
        ("电工", "建筑施工", "01"),  # the scheme column settles a short name
        ("叉车工", "", "N1"),
    ],
)
def test_short_ledger_names_are_synonyms(catalogue, clock, run_import, cell, scheme, code):
    number = "晋A012024000001" if code == "01" else "晋A022024000001" if code == "02" else "S-1"
    number = "晋A052024000001" if code == "05" else number
    rows = [
        ["姓名", "身份证号码", "证书种类", "操作项目", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], scheme, cell, number, "2024-01-10", "2026-01-09"],
    ]
    job = run_import(rows)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert Certificate.objects.get().item.code == code


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cell", "candidates"),
    [
        ("电工", ["1.1", "1.2", "01"]),
        ("架子工", ["3.1", "02", "03"]),
        ("焊工", ["2.1", "W"]),
    ],
)
def test_an_ambiguous_short_name_lists_the_candidates(
    catalogue, clock, run_import, cell, candidates
):
    job = run_import([HEAD, ["甲", IDS[0], cell, "S-1", "2024-01-10", "2026-01-09"]])
    assert errors_of(job) == [(2, "item.ambiguous_name")]
    message = job.errors[0]["message"]
    assert all(c in message for c in candidates), message


@pytest.mark.django_db
def test_synonyms_are_catalogue_data_an_administrator_can_edit(catalogue, clock, run_import):
    item = CertificateItem.objects.get(scheme__code="special_operation", code="8.1")
    item.aliases = [*item.aliases, "煤气防护工"]
    item.save()
    job = run_import([HEAD, ["甲", IDS[0], "煤气防护工", "G-1", "2024-01-10", "2030-01-09"]])
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert Certificate.objects.get().item == item


@pytest.mark.django_db
def test_no_synonym_shadows_an_items_own_code_or_name(catalogue):
    from safework.ledger.items import _norm

    items = list(CertificateItem.objects.all())
    own = {_norm(i.code) for i in items} | {_norm(i.name) for i in items}
    own |= {_norm(i.name.removesuffix("作业")) for i in items}
    shadowing = {(i.code, a) for i in items for a in i.aliases if _norm(a) in own}
    assert shadowing == set()
    assert sum(len(i.aliases) for i in items) > 50


# ---- (e) a unit column naming an own department ------------------------------------------------


@pytest.mark.django_db
def test_a_unit_naming_an_own_department_employs_the_person_there(catalogue, clock, run_import):
    from safework.org.tests.factories import DepartmentFactory

    workshop = DepartmentFactory(name="焊接车间")
    team = DepartmentFactory(name="焊工一班", kind="team", parent=workshop, site=None)
    ContractorFactory(name="甲建设有限公司")
    rows = [
        ["姓名", "身份证号码", "单位", "操作项目", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "焊接车间", "2.1", "E-1", "2024-01-10", "2030-01-09"],
        ["乙", IDS[1], "焊工一班", "2.1", "E-2", "2024-01-10", "2030-01-09"],
        ["丙", IDS[2], "甲建设有限公司", "2.1", "E-3", "2024-01-10", "2030-01-09"],
    ]
    job = run_import(rows)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert errors_of(job) == []
    jia = Person.objects.get(id_number=IDS[0]).current_employment
    assert (jia.employer_kind, jia.department) == ("own", workshop)
    assert Person.objects.get(id_number=IDS[1]).current_employment.department == team
    assert Person.objects.get(id_number=IDS[2]).current_employment.contractor.name == (
        "甲建设有限公司"
    )


@pytest.mark.django_db
def test_own_staff_without_a_department_are_not_created(catalogue, clock, run_import):
    from safework.org.tests.factories import DepartmentFactory

    workshop = DepartmentFactory(name="焊接车间")
    rows = [
        ["姓名", "身份证号码", "单位", "部门", "操作项目", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "本公司", "", "2.1", "E-1", "2024-01-10", "2030-01-09"],
        ["乙", IDS[1], "本公司", "焊接车间", "2.1", "E-2", "2024-01-10", "2030-01-09"],
        ["丙", IDS[2], "不存在的单位", "", "2.1", "E-3", "2024-01-10", "2030-01-09"],
    ]
    job = run_import(rows, valid_rows_only=True)
    assert errors_of(job) == [(2, "person.department_required"), (4, "contractor.unknown")]
    assert not Person.objects.filter(id_number=IDS[0]).exists()
    yi = Person.objects.get(id_number=IDS[1]).current_employment
    assert (yi.employer_kind, yi.department) == ("own", workshop)


@pytest.mark.django_db
def test_unit_and_department_columns_that_disagree_are_a_row_error(catalogue, clock, run_import):
    from safework.org.tests.factories import DepartmentFactory

    DepartmentFactory(name="焊接车间")
    DepartmentFactory(name="电仪车间")
    rows = [
        ["姓名", "身份证号码", "单位", "部门", "操作项目", "证书编号", "发证日期", "有效期至"],
        ["甲", IDS[0], "焊接车间", "电仪车间", "2.1", "E-1", "2024-01-10", "2030-01-09"],
        ["乙", IDS[1], "焊接车间", "焊接车间", "2.1", "E-2", "2024-01-10", "2030-01-09"],
    ]
    job = run_import(rows)
    assert errors_of(job) == [(2, "department.conflict")]


# ---- (f) header variants -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "工种/作业类别",
        "作业类别/工种",
        "作业类别／工种",
        "工种 ／ 作业类别",
        "工种\u3000/\u3000作业类别",
        "操作项目",
        "准操项目",
        "准操 项目",
        "作业类别（工种）",
        "工种/操作项目",
    ],
)
def test_header_variants_of_the_item_column(header):
    hmap = detect_header([["姓名", "身份证号码", header, "证书编号", "发证日期", "有效期至"]])
    assert hmap.columns["item"] == 2


def test_a_combined_header_of_two_columns_is_not_guessed():
    hmap = detect_header([["姓名", "身份证号码", "姓名/工种"]])
    assert "item" not in hmap.columns and hmap.columns["name"] == 0


@pytest.mark.django_db
def test_every_template_choice_reads_back_as_its_item(catalogue):
    from safework.ledger.items import ItemResolver
    from safework.ledger.template import item_choices

    resolver = ItemResolver()
    items = CertificateItem.objects.filter(is_active=True).order_by("scheme__code", "code")
    choices = item_choices()
    assert len(choices) == items.count() > 60
    for choice, item in zip(choices, items, strict=True):
        match = resolver.resolve(choice, issued_on=dt.date(2024, 1, 10))
        assert match.item == item, choice

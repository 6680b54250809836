"""Imports and what a user may see: findings with ID numbers masked for masked roles, a
contractor manager seeing only self-service uploads, no writes to persons outside the scope, and
workbooks too large to unpack refused before calamine reads them."""

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from safework.certs.models import Certificate
from safework.core import tabular
from safework.ledger.models import JobStatus
from safework.ledger.services import start_import
from safework.ledger.testing import upload, xlsx_bytes
from safework.ledger.tests.test_import_api import (  # noqa: F401  fixtures
    IDS,
    URL,
    World,
    _clock,
    _media,
    good,
    ledger,
    post,
)
from safework.people.models import Person
from safework.people.tests.factories import EmploymentFactory, PersonFactory

HEADER = ["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]


@pytest.fixture
def world(db, catalogue):
    return World()


def masked(number):
    return number[:6] + "********" + number[-4:]


def _import(user, rows, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = start_import(
            by=user,
            file_obj=upload("x.xlsx", xlsx_bytes([HEADER, *rows])),
            original_name="x.xlsx",
        )
    job.refresh_from_db()
    return job


def codes(job):
    return [(e["row"], e["code"]) for e in job.errors if e["level"] == "error"]


@pytest.mark.django_db
def test_findings_mask_id_numbers_for_roles_that_see_them_masked(
    world, django_capture_on_commit_callbacks
):
    bad = good(2)
    bad[2] = IDS[2][:-1] + ("1" if IDS[2][-1] != "1" else "2")  # a wrong check character
    with django_capture_on_commit_callbacks(execute=True):
        job_id = post(world.client(world.officer_a), ledger([good(1), bad])).json()["id"]

    inspector = world.client(world.inspector)
    for url in (f"{URL}/{job_id}", URL, f"{URL}/{job_id}/errors?format=csv"):
        response = inspector.get(url)
        assert response.status_code == 200, url
        text = response.content.decode("utf-8")
        assert bad[2] not in text and masked(bad[2]) in text, url
    sheet = load_workbook(io.BytesIO(inspector.get(f"{URL}/{job_id}/errors").content)).active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c]
    assert masked(bad[2]) in cells and not any(bad[2] in c for c in cells)
    # a safety officer sees ID numbers in full
    officer = world.client(world.officer_a).get(f"{URL}/{job_id}").json()
    assert officer["error_summary"]["first"][0]["value"] == bad[2]


@pytest.mark.django_db
def test_a_contractor_manager_does_not_see_a_site_ledger_naming_their_company(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        site_job = post(
            world.client(world.officer_a), ledger([good(1)]), contractor_id=world.contractor_x.pk
        ).json()
        own_job = post(world.client(world.manager_x), ledger([good(2, dept="")])).json()
    assert site_job["contractor_id"] == world.contractor_x.pk and site_job["kind"] == "ledger"
    manager = world.client(world.manager_x)
    assert [j["id"] for j in manager.get(URL).json()["items"]] == [own_job["id"]]
    assert manager.get(f"{URL}/{site_job['id']}").status_code == 404
    assert manager.get(f"{URL}/{site_job['id']}/errors").status_code == 404
    # the site's officer still sees both
    assert world.client(world.officer_a).get(URL).json()["total"] == 2


@pytest.mark.django_db
def test_an_unemployed_person_outside_the_scope_is_not_written(
    world, django_capture_on_commit_callbacks
):
    """Someone who last worked at site B (nobody employs them now) is outside site A's scope: a
    row for them that does not employ them at site A is an error, before the name is compared
    (the uploader learns nothing about the registered name)."""
    employment = EmploymentFactory(person=PersonFactory(id_number=IDS[6], name="乙厂人"))
    person = employment.person
    person.current_employment = None
    person.save()
    job = _import(
        world.officer_a,
        [["另一个名字", IDS[6], "2.1", "S-6", "2024.01.10", "2030.01.09"]],
        django_capture_on_commit_callbacks,
    )
    assert job.status == JobStatus.FAILED
    assert codes(job) == [(2, "person.out_of_scope")]
    assert not Certificate.objects.exists()
    person.refresh_from_db()
    assert person.name == "乙厂人" and person.current_employment is None


@pytest.mark.django_db
def test_a_new_person_needs_an_employment_in_the_scope(world, django_capture_on_commit_callbacks):
    job = _import(
        world.officer_a,
        [["新人", IDS[7], "2.1", "S-7", "2024.01.10", "2030.01.09"]],
        django_capture_on_commit_callbacks,
    )
    assert job.status == JobStatus.FAILED
    assert codes(job) == [(2, "person.employment_required")]
    assert not Person.objects.exists() and not Certificate.objects.exists()
    # group-wide, a person without employment may be registered
    job = _import(
        world.admin,
        [["新人", IDS[7], "2.1", "S-7", "2024.01.10", "2030.01.09"]],
        django_capture_on_commit_callbacks,
    )
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert Person.objects.filter(id_number=IDS[7]).exists()


# --- workbooks that unpack too large ----------------------------------------------------------


def _problem(content: bytes) -> tabular.FileProblem:
    with pytest.raises(tabular.FileProblem) as exc:
        tabular.read_table(content, "x.xlsx")
    return exc.value


def test_a_cell_at_the_last_row_and_column_is_refused_before_calamine_reads_it():
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "姓名"
    ws["XFD1048576"] = "x"
    buf = io.BytesIO()
    wb.save(buf)
    assert len(buf.getvalue()) < 10_000
    problem = _problem(buf.getvalue())
    assert problem.code == "file.too_large"
    assert "1048576" in problem.message and "16384" in problem.message


def test_too_many_columns_are_refused():
    assert _problem(xlsx_bytes([["a"] * (tabular.MAX_COLUMNS + 1)])).code == "file.too_large"
    assert tabular.read_table(xlsx_bytes([["a"] * tabular.MAX_COLUMNS]), "x.xlsx")


def test_a_zip_that_unpacks_too_large_is_refused(settings):
    settings.UPLOAD_MAX_BYTES = 20_000  # unpacked limit: 400 000 bytes
    content = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["a"]])))
    with zipfile.ZipFile(content, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("xl/media/padding.bin", b"\0" * 1_000_000)  # compresses to ~1 KB
    assert len(content.getvalue()) < settings.UPLOAD_MAX_BYTES
    problem = _problem(content.getvalue())
    assert problem.code == "file.too_large" and "解压" in problem.message  # "unpacks"

"""Imports over the API: upload → 202 job with progress and counts, findings as a file, the
template, permissions, and contractor self-service reviewed by the engaged site's officer
(CONTRACTOR-01)."""

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.test import Client
from openpyxl import load_workbook

from safework.accounts.models import Role, RoleGrant, User
from safework.certs.models import Certificate
from safework.core.refusals import Refused
from safework.ledger import columns, services
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.services import approve_import, start_import
from safework.ledger.testing import identities, upload, xlsx_bytes
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.models import EmployerKind, Person
from safework.people.queries import persons_visible_to
from safework.people.tests.factories import (
    ContractorFactory,
    EmploymentFactory,
    EngagementFactory,
    PersonFactory,
)

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
IDS = [number for number, _name in identities(10, seed=83)]
URL = "/api/v1/imports"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


class World:
    def __init__(self):
        self.site_a, self.site_b = SiteFactory(name="A厂"), SiteFactory(name="B厂")
        self.dept_a = DepartmentFactory(name="焊接车间", site=self.site_a)
        self.contractor_x = ContractorFactory(name="X建设")
        self.contractor_y = ContractorFactory(name="Y安装")
        EngagementFactory(contractor=self.contractor_x, site=self.site_a)
        EngagementFactory(contractor=self.contractor_y, site=self.site_b)
        self.admin = self.user("admin", Role.ADMINISTRATOR)
        self.officer_a = self.user("officer_a", Role.SAFETY_OFFICER, site=self.site_a)
        self.officer_b = self.user("officer_b", Role.SAFETY_OFFICER, site=self.site_b)
        self.manager_x = self.user(
            "manager_x", Role.CONTRACTOR_MANAGER, contractor=self.contractor_x
        )
        self.inspector = self.user("inspector", Role.INSPECTOR)

    def user(self, name, role, **where):
        user = User.objects.create(username=name)
        RoleGrant.objects.create(user=user, role=role, **where)
        return user

    def client(self, user):
        client = Client(headers={"accept-language": "en"})  # headers as English msgids
        client.force_login(user)
        return client


@pytest.fixture
def world(db, catalogue):
    return World()


def ledger(rows):
    header = ["序号", "姓名", "身份证号码", "部门", "操作项目", "证书编号", "初领日期", "有效期至"]
    return xlsx_bytes([["承包商人员持证台账"], header, *rows])


def good(i, dept="焊接车间"):
    return [i, f"工人{i}", IDS[i], dept, "2.1", f"W-{i}", "2024.01.10", "2030.01.09"]


def post(client, content, name="台账.xlsx", **fields):
    return client.post(URL, {"file": upload(name, content), **fields})


@pytest.mark.django_db
def test_upload_answers_202_then_the_job_shows_progress_and_counts(
    world, django_capture_on_commit_callbacks
):
    client = world.client(world.officer_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, ledger([good(1), good(2)]))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["kind"] == "ledger"
    assert body["site_id"] == world.site_a.pk  # the officer's one site

    job = client.get(f"{URL}/{body['id']}").json()
    assert job["status"] == "succeeded"
    assert job["progress"] == 1.0 and job["total_rows"] == job["processed_rows"] == 2
    assert (job["created_count"], job["updated_count"], job["unchanged_count"]) == (4, 0, 0)
    assert job["error_summary"]["errors"] == 0
    # the new persons work in the officer's site, so the officer sees them
    assert persons_visible_to(services.uploader_scope(world.officer_a)).count() == 2

    listed = client.get(URL).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]


@pytest.mark.django_db
def test_findings_download_as_xlsx_and_csv(world, django_capture_on_commit_callbacks):
    client = world.client(world.officer_a)
    bad = good(2)
    bad[2] = IDS[2][:-1] + ("1" if IDS[2][-1] != "1" else "2")
    with django_capture_on_commit_callbacks(execute=True):
        job_id = post(client, ledger([good(1), bad, good(3, dept="不存在的车间")])).json()["id"]
    job = client.get(f"{URL}/{job_id}").json()
    assert job["status"] == "failed"
    assert job["error_summary"]["by_code"] == {"id_number.checksum": 1, "department.unknown": 1}
    assert [(e["row"], e["code"]) for e in job["error_summary"]["first"]] == [
        (4, "id_number.checksum"),
        (5, "department.unknown"),
    ]

    response = client.get(f"{URL}/{job_id}/errors")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("row", "column", "cell", "value", "code")
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [
        (4, "C4", "id_number.checksum"),
        (5, "D5", "department.unknown"),
    ]

    csv_text = client.get(f"{URL}/{job_id}/errors?format=csv").content.decode("utf-8")
    assert csv_text.startswith("\ufeffrow,column,cell,value,code,message,level")
    assert "department.unknown" in csv_text and "不存在的车间" in csv_text
    assert client.get(f"{URL}/{job_id}/errors?format=pdf").status_code == 422


@pytest.mark.django_db
def test_the_template_has_the_headers_and_an_item_dropdown_and_imports_back(
    world, django_capture_on_commit_callbacks
):
    client = world.client(world.admin)
    response = client.get(f"{URL}/template")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert headers == [h for _c, h in columns.template_headers()]
    validation = ws.data_validations.dataValidation[0]
    item_col = headers.index("作业类别") + 1
    assert validation.type == "list" and validation.formula1.startswith("=items!")
    assert str(validation.sqref).startswith(f"{ws.cell(row=2, column=item_col).column_letter}2")
    choices = [r[0] for r in wb["items"].iter_rows(min_row=2, values_only=True)]
    assert "2.1 熔化焊接与热切割作业" in choices and "Q2 起重机司机" in choices

    values = {"姓名": "模板人", "身份证号码": IDS[5], "部门": "焊接车间",
              "作业类别": "2.1 熔化焊接与热切割作业", "证书编号": "T-1",
              "发证日期": "2024-01-10", "有效期至": "2030-01-09"}  # fmt: skip
    for col, header in enumerate(headers, 1):
        if header in values:
            ws.cell(row=2, column=col, value=values[header])
    buf = io.BytesIO()
    wb.save(buf)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = post(client, buf.getvalue(), name="template.xlsx").json()["id"]
    job = ImportJob.objects.get(pk=job_id)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert Certificate.objects.get(number="T-1").item.code == "2.1"


@pytest.mark.django_db
def test_permissions_and_the_door_checks(world, settings):
    content = ledger([good(1)])
    assert Client().post(URL, {"file": upload("a.xlsx", content)}).status_code == 401
    assert post(world.client(world.inspector), content).status_code == 403
    settings.UPLOAD_MAX_BYTES = 100
    response = post(world.client(world.admin), content)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "file.too_large"
    assert ImportJob.objects.count() == 0
    # a site the officer does not hold is someone else's
    response = post(world.client(world.officer_a), content, site_id=world.site_b.pk)
    assert response.status_code == 422


@pytest.mark.django_db
def test_contractor_upload_waits_for_the_engaged_sites_officer(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    verified = []
    monkeypatch.setattr(
        services, "queue_verification", lambda *, by, certificate_ids: verified.append(
            (by, sorted(certificate_ids))
        )
    )  # fmt: skip
    manager = world.client(world.manager_x)
    rows = [
        [1, "张三", IDS[1], "", "2.1", "C-1", "2024.01.10", "2030.01.09"],
        [2, "李四", IDS[2], "", "叉车司机", "C-2", "2024.01.10", "2028.01.09"],
    ]
    # the manager may name a site where the company works, not another
    assert post(manager, ledger(rows), site_id=world.site_b.pk).status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        response = post(manager, ledger(rows), site_id=world.site_a.pk)
    assert response.status_code == 202
    assert response.json()["site_id"] == world.site_a.pk
    job_id = response.json()["id"]
    job = manager.get(f"{URL}/{job_id}").json()
    assert job["kind"] == "contractor" and job["contractor_id"] == world.contractor_x.pk
    assert job["status"] == "pending_review"
    assert Person.objects.count() == 0 and Certificate.objects.count() == 0

    # another site's officer does not see the upload, and the service refuses them too
    officer_b = world.client(world.officer_b)
    assert officer_b.get(f"{URL}/{job_id}").status_code == 404
    assert officer_b.post(f"{URL}/{job_id}/approve").status_code == 404
    with pytest.raises(Refused) as exc:
        approve_import(job_id=job_id, by=world.officer_b)
    assert [r.code for r in exc.value.reasons] == ["import.review.not_site_officer"]

    # the manager cannot approve their own upload
    response = manager.post(f"{URL}/{job_id}/approve")
    assert response.status_code == 409
    assert {r["code"] for r in response.json()["reasons"]} == {
        "import.review.own_upload",
        "import.review.not_site_officer",
    }
    assert Person.objects.count() == 0

    officer_a = world.client(world.officer_a)
    assert officer_a.get(f"{URL}/{job_id}").json()["status"] == "pending_review"
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_a.post(f"{URL}/{job_id}/approve")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "succeeded" and body["reviewed_by"] == "officer_a"
    assert body["created_count"] == 4
    staff = Person.objects.order_by("name")
    assert [p.current_employment.contractor_id for p in staff] == [world.contractor_x.pk] * 2
    assert {p.current_employment.employer_kind for p in staff} == {EmployerKind.CONTRACTOR}
    assert verified == [(world.officer_a, sorted(Certificate.objects.values_list("pk", flat=True)))]
    # the staff are the contractor's: their manager and the engaged site see them
    assert persons_visible_to(services.uploader_scope(world.manager_x)).count() == 2
    assert officer_a.post(f"{URL}/{job_id}/approve").status_code == 409


@pytest.mark.django_db
def test_contractor_upload_rejected(world, django_capture_on_commit_callbacks):
    manager = world.client(world.manager_x)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = post(manager, ledger([[1, "张三", IDS[1], "", "2.1", "C-1", "2024.01.10",
                                        "2030.01.09"]])).json()["id"]  # fmt: skip
    officer_a = world.client(world.officer_a)
    response = officer_a.post(
        f"{URL}/{job_id}/reject",
        {"reason": "证书复印件不清晰"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert manager.get(f"{URL}/{job_id}").json()["message"] == "证书复印件不清晰"
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_contractor_rows_must_be_their_own_staff(world, django_capture_on_commit_callbacks):
    own = EmploymentFactory(department=world.dept_a, person=PersonFactory(id_number=IDS[3])).person
    with django_capture_on_commit_callbacks(execute=True):
        job = start_import(
            by=world.manager_x,
            file_obj=upload("x.xlsx", xlsx_bytes([
                ["姓名", "身份证号码", "单位", "操作项目", "证书编号", "发证日期", "有效期至"],
                [own.name, IDS[3], "", "2.1", "C-3", "2024.01.10", "2030.01.09"],
                ["新人", IDS[4], "Y安装", "2.1", "C-4", "2024.01.10", "2030.01.09"],
                ["新人二", IDS[5], "X建设", "2.1", "C-5", "2024.01.10", "2030.01.09"],
            ])),
            original_name="x.xlsx",
        )  # fmt: skip
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    # the manager sees only their own company: Y is unknown to them; the site's own staff
    # member is held for the reviewer (issue 17: the manager is not told that they exist)
    assert [(e["row"], e["code"]) for e in job.errors if e["level"] == "error"] == [
        (3, "contractor.unknown"),
    ]
    assert [(e["row"], e["code"]) for e in job.errors if e["level"] == "review"] == [
        (2, "person.held_for_review"),
    ]

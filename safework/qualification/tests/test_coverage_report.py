"""Certificate coverage (CERT-10): needs from the position matrix and requirement rows, holdings
from usable certificates and medical checks, per site, department and contractor."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client, TestCase
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from safework.accounts.models import Role, RoleGrant, User
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.scope import Scope
from safework.org.models import Position
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.tests.factories import (
    ContractorFactory,
    EmploymentFactory,
    EngagementFactory,
    HealthCheckFactory,
    PersonFactory,
)
from safework.qualification.coverage import coverage

ON = dt.date(2026, 3, 2)


def position(code):
    return Position.objects.get(code=code)


@pytest.fixture
def staff(db, catalogue):
    site = SiteFactory(name="A厂")
    dept = DepartmentFactory(site=site, name="焊接车间")
    contractor = ContractorFactory(name="X建设")
    EngagementFactory(contractor=contractor, site=site)

    def person(pos, **employment):
        p = PersonFactory(position=position(pos) if pos else None)
        EmploymentFactory(person=p, **employment)
        return p

    welder = person("welder", department=dept)
    CertificateFactory(person=welder, item=item("special_operation", "2.1"))
    CertificateFactory(
        person=welder,
        item=item("internal", "PLANT-ANNUAL"),
        issued_on=dt.date(2025, 6, 1),
        valid_until=dt.date(2026, 5, 31),
    )
    HealthCheckFactory(person=welder, checked_on=dt.date(2026, 1, 5), conclusion="fit")

    electrician = person("electrician", department=dept)
    CertificateFactory(
        person=electrician,
        item=item("special_operation", "1.2"),
        issued_on=dt.date(2019, 12, 1),
        valid_until=dt.date(2025, 11, 30),  # expired
    )
    HealthCheckFactory(person=electrician, checked_on=dt.date(2026, 1, 5), conclusion="unfit")

    person(None, department=dept)  # no position: needs unknown

    contractor_electrician = person(
        "electrician", employer_kind="contractor", contractor=contractor
    )
    CertificateFactory(person=contractor_electrician, item=item("special_operation", "1.1"))
    CertificateFactory(
        person=contractor_electrician,
        item=item("internal", "PLANT-ANNUAL"),
        issued_on=dt.date(2025, 9, 1),
        valid_until=dt.date(2026, 8, 31),
    )
    # Contractor staff's check may be at most 3 months old on the day (the engine's rule, which
    # the report applies): checked 2025-12-02 still serves on 2026-03-02.
    HealthCheckFactory(person=contractor_electrician, checked_on=dt.date(2025, 12, 2))
    return {
        "site": site,
        "dept": dept,
        "contractor": contractor,
        "welder": welder,
        "contractor_electrician": contractor_electrician,
    }


@pytest.mark.django_db
def test_coverage_numbers(staff):
    with translation.override("en"):
        cov = coverage(scope=Scope.everything(), on=ON)
    own = cov.groups[("A厂", "焊接车间", "own enterprise")]
    # welder: plant training + medical (2); electrician: those + 1.x for temporary power (3)
    assert (own.persons, own.without_position, own.persons_with_needs) == (3, 1, 2)
    assert (own.needs, own.covered, own.missing) == (5, 2, 3)
    # conditional rows: welder 5 (welding method, hot work at height, scaffolding, installation,
    # forklift area), electrician 3 (scaffolding, installation, forklift area); the welder's 2.1
    # meets one of them
    assert (own.conditional, own.conditional_held) == (8, 1)
    assert own.by_requirement == {
        "all-medical-fit": [2, 1],
        "all-plant-annual-training": [2, 1],
        "temporary-power-electrician": [1, 0],
    }
    contractor = cov.groups[("A厂", "", "X建设")]
    assert (contractor.persons, contractor.needs, contractor.covered) == (1, 3, 3)
    assert contractor.rate == 1.0
    total = cov.total
    assert (total.persons, total.needs, total.covered, total.missing) == (4, 8, 5, 3)


@pytest.mark.django_db
@translation.override("en")
def test_coverage_filters(staff):
    only_contractor = coverage(
        scope=Scope.everything(), on=ON, contractor_id=staff["contractor"].pk
    )
    assert list(only_contractor.groups) == [("A厂", "", "X建设")]
    only_dept = coverage(scope=Scope.everything(), on=ON, department_id=staff["dept"].pk)
    assert list(only_dept.groups) == [("A厂", "焊接车间", "own enterprise")]
    elsewhere = SiteFactory()
    assert coverage(scope=Scope.everything(), on=ON, site_id=elsewhere.pk).groups == {}


@pytest.mark.django_db
def test_coverage_report_over_the_api(staff):
    user = User.objects.create(username="officer")
    RoleGrant.objects.create(user=user, role=Role.SAFETY_OFFICER, site=staff["site"])
    client = Client(headers={"accept-language": "en"})  # headers as English msgids
    client.force_login(user)
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(
            "/api/v1/reports/coverage",
            {"on": ON.isoformat(), "site_id": staff["site"].pk},
            content_type="application/json",
        )
    assert created.status_code == 202  # a job: the report is built in the background
    job = client.get(f"/api/v1/report-jobs/{created.json()['id']}").json()
    assert (job["kind"], job["status"], job["progress"]) == ("coverage", "succeeded", 1.0)
    response = client.get(job["file_url"])
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.getvalue()))
    summary = list(wb.worksheets[0].iter_rows(values_only=True))
    header = summary[0]
    total = summary[-1]
    assert total[0] == "total"
    assert [total[header.index(h)] for h in ("persons", "needed", "held", "missing")] == [
        4,
        8,
        5,
        3,
    ]
    detail = list(wb.worksheets[2].iter_rows(values_only=True))
    dh = detail[0]
    welder_rows = [r for r in detail[1:] if r[dh.index("name")] == staff["welder"].name]
    held = {r[dh.index("requirement")]: r[dh.index("held")] for r in welder_rows}
    assert held["hot-work-welder"] == "yes" and held["hot-work-at-height"] == "no"
    refused = client.post(
        "/api/v1/reports/coverage", {"department_id": 999999}, content_type="application/json"
    )
    assert refused.status_code == 422


@pytest.mark.django_db
def test_coverage_command(staff, tmp_path):
    out = tmp_path / "coverage.xlsx"
    call_command("coverage_report", "--out", str(out), "--on", ON.isoformat(), verbosity=0)
    # The command writes in the active language (Chinese by default).
    assert load_workbook(out).sheetnames == [_("summary"), _("by requirement"), _("detail")]

"""Masking that masks (issue 17, item 9): roles that see ID numbers masked (workshop head, team
leader, inspector) see the birth date as its year only and a certificate number holding the ID
number masked the same way, on every surface: the API (persons, certificates), the export file,
the audit entries and the admin. Roles with the full view see everything in full.

The expected masks are written out here (region code, eight stars, last four; the year and
stars), not taken from the masking module.
"""

import datetime as dt
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from safework.accounts.models import Role, User
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.certs import services
from safework.certs.tests.factories import item
from safework.people import services as people_services
from safework.people.models import Person
from safework.people.services import EmploymentIn
from safework.qualification.tests.test_coverage_report import staff  # noqa: F401 (a fixture)

api_world = world_fixture(catalogue=True)
MASKED_ROLES = (Role.INSPECTOR, Role.WORKSHOP_HEAD, Role.TEAM_LEADER)


def id_mask(number: str) -> str:
    return number[:6] + "********" + number[-4:]


def birth_forms(person) -> list[str]:
    """Every way the full birth date may be written: ISO, compact, dotted, Chinese."""
    d = person.birth_date
    return [d.isoformat(), d.strftime("%Y%m%d"), d.strftime("%Y.%m.%d"), f"{d.year}年{d.month}月"]


@pytest.fixture
def w(api_world, db):
    """p_own (team T, site A) registered through the service (so audited), with a certificate
    numbered "T" + ID number (the usual special-operation number) and one equal to it."""
    w = api_world
    officer = w.users[Role.SAFETY_OFFICER]
    w.person = people_services.register_person(
        by=officer,
        id_number="370305197506151230",  # 临淄区, born 1975-06-15
        name="孙师傅",
        employment=EmploymentIn(
            employer_kind="own", department_id=w.dept_t.pk, started_on=dt.date(2026, 1, 5)
        ),
    )
    weld, low = item("special_operation", "2.1"), item("special_operation", "1.2")
    full = w.person.id_number
    w.cert_t = services.create_certificate(
        by=officer,
        person=w.person,
        scheme=weld.scheme,
        item=weld,
        number=f"T{full}",
        issued_on=dt.date(2024, 5, 31),
    )
    w.cert_same = services.create_certificate(
        by=officer,
        person=w.person,
        scheme=low.scheme,
        item=low,
        number=full,
        issued_on=dt.date(2024, 6, 30),
    )
    return w


def assert_masked(text: str, person: Person):
    full = person.id_number
    assert full not in text and full.lower() not in text
    assert id_mask(full) in text
    for form in birth_forms(person):
        assert form not in text, form


def assert_full(text: str, person: Person):
    assert person.id_number in text
    assert person.birth_date.isoformat() in text or person.birth_date.strftime("%Y%m%d") in text


# --- the API: persons ------------------------------------------------------------------------


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_person_detail_and_list_show_the_birth_year_only(w, role):
    client = client_for(w.users[role])
    detail = client.get(f"{API}/persons/{w.person.pk}")
    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["id_number"] == "370305********1230"
    assert body["birth_date"] == "1975-**-**"
    listed = client.get(f"{API}/persons?name=孙师傅")
    assert listed.json()["items"][0]["birth_date"] == "1975-**-**"
    for response in (detail, listed):
        assert_masked(response.content.decode(), w.person)


def test_a_full_view_role_sees_the_birth_date(w):
    body = client_for(w.users[Role.SAFETY_OFFICER]).get(f"{API}/persons/{w.person.pk}").json()
    assert (body["id_number"], body["birth_date"]) == (w.person.id_number, "1975-06-15")


# --- the API: certificates -------------------------------------------------------------------


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_certificate_numbers_holding_the_id_number_are_masked(w, role):
    client = client_for(w.users[role])
    detail = client.get(f"{API}/certificates/{w.cert_t.pk}").json()
    assert detail["number"] == "T370305********1230"
    same = client.get(f"{API}/certificates/{w.cert_same.pk}").json()
    assert same["number"] == "370305********1230"
    listed = client.get(f"{API}/certificates?person_id={w.person.pk}")
    assert sorted(r["number"] for r in listed.json()["items"]) == [
        "370305********1230",
        "T370305********1230",
    ]
    assert_masked(listed.content.decode(), w.person)


def test_a_full_view_role_sees_the_certificate_number_as_printed(w):
    client = client_for(w.users[Role.SAFETY_OFFICER])
    assert client.get(f"{API}/certificates/{w.cert_t.pk}").json()["number"] == (
        f"T{w.person.id_number}"
    )


# --- the export file -------------------------------------------------------------------------


def cells(content: bytes) -> str:
    sheet = load_workbook(io.BytesIO(content)).active
    return "\n".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c)


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_the_certificate_export_masks_numbers_holding_the_id_number(w, role):
    text = cells(report_file(client_for(w.users[role]), f"{API}/exports/certificates", {}))
    assert "T370305********1230" in text
    assert_masked(text, w.person)
    officer = client_for(w.users[Role.SAFETY_OFFICER])
    full = cells(report_file(officer, f"{API}/exports/certificates", {}))
    assert f"T{w.person.id_number}" in full


def report_file(client, url: str, body: dict) -> bytes:
    """An export or report is a job: POST it (the task runs inline), then download its file."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(url, body, content_type="application/json")
    assert created.status_code == 202, created.content
    job = client.get(f"{API}/report-jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded", job
    response = client.get(job["file_url"])
    assert response.status_code == 200
    return response.getvalue()


# --- the audit entries -----------------------------------------------------------------------


def test_audit_entries_mask_the_id_number_birth_date_and_certificate_number(w):
    url = f"{API}/audit?object_type=people.person&object_id={w.person.pk}"
    inspector = client_for(w.users[Role.INSPECTOR])
    response = inspector.get(url)
    assert response.status_code == 200, response.content
    registered = response.json()["items"][-1]
    assert registered["action"] == "people.person_registered"
    assert registered["after"]["id_number"] == "370305********1230"
    assert registered["after"]["birth_date"] == "1975-**-**"
    assert_masked(response.content.decode(), w.person)
    certs = inspector.get(f"{API}/audit?object_type=certs.certificate&object_id={w.cert_t.pk}")
    assert certs.json()["items"][-1]["after"]["number"] == "T370305********1230"
    assert_masked(certs.content.decode(), w.person)
    # a full-view role reads the chain as stored
    officer = client_for(w.users[Role.SAFETY_OFFICER]).get(url).json()["items"][-1]
    assert officer["after"]["birth_date"] == "1975-06-15"
    assert officer["after"]["id_number"] == w.person.id_number


# --- the admin -------------------------------------------------------------------------------


def admin_client(w, role):
    User.objects.filter(pk=w.users[role].pk).update(is_staff=True)
    return client_for(w.users[role])


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_admin_person_changelist_and_page_show_the_birth_year_only(w, role):
    client = admin_client(w, role)
    for url in (
        reverse("admin:people_person_changelist") + "?q=孙师傅",
        reverse("admin:people_person_change", args=[w.person.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "孙师傅" in html and "1975-**-**" in html, url
        assert_masked(html, w.person)


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_admin_certificate_changelist_masks_numbers_holding_the_id_number(w, role):
    client = admin_client(w, role)
    url = reverse("admin:certs_certificate_changelist") + f"?person__id__exact={w.person.pk}"
    html = client.get(url).content.decode()
    assert "T370305********1230" in html
    assert_masked(html, w.person)


def test_admin_audit_record_masks_the_payload_for_an_inspector(w):
    from safework.core.models import AuditRecord

    record = AuditRecord.objects.get(action="people.person_registered", object_id=str(w.person.pk))
    url = reverse("admin:core_auditrecord_change", args=[record.pk])
    html = admin_client(w, Role.INSPECTOR).get(url).content.decode()
    assert "1975-**-**" in html
    assert_masked(html, w.person)
    full = admin_client(w, Role.SAFETY_HEAD).get(url).content.decode()
    assert "1975-06-15" in full and w.person.id_number in full


@pytest.mark.django_db
def test_the_coverage_report_masks_certificate_numbers_in_its_evidence(staff):  # noqa: F811
    from django.test import Client

    from safework.accounts.models import RoleGrant
    from safework.certs.models import Certificate

    welder = staff["welder"]
    full = welder.id_number
    Certificate.objects.filter(person=welder, item__code="2.1").update(number=f"T{full}")

    def report(role, name):
        user = User.objects.create(username=name)
        RoleGrant.objects.create(user=user, role=role, site=staff["site"])
        client = Client()
        client.force_login(user)
        body = {"on": "2026-03-02", "site_id": staff["site"].pk}
        return cells_of_all_sheets(report_file(client, "/api/v1/reports/coverage", body))

    masked = report(Role.INSPECTOR, "coverage_inspector")
    assert f"T{id_mask(full)}" in masked
    assert full not in masked
    assert f"T{full}" in report(Role.SAFETY_OFFICER, "coverage_officer")


def cells_of_all_sheets(content: bytes) -> str:
    wb = load_workbook(io.BytesIO(content))
    return "\n".join(
        str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c
    )

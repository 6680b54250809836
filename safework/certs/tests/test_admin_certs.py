"""The certificate admin: status on today, writes through certs.services, catalogue checks,
import jobs with progress."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from safework.accounts.tests.test_admin import (
    FAST_HASHERS,
    build_world,
    form_errors,
    page,
    post_form,
)
from safework.certs.models import (
    Certificate,
    CertificateEvent,
    CertState,
    RevocationGround,
    Scheme,
)
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.models import AuditRecord
from safework.ledger.models import ImportJob
from safework.people.masking import mask_id_number
from safework.people.tests.factories import EmploymentFactory, PersonFactory
from safework.qualification.models import Requirement
from safework.registry.models import VerificationBatch, VerificationLookup


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English messages; the Chinese ones: core/tests/test_language.py."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


TODAY = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)  # 17:00 in Shanghai


@pytest.fixture
def world(catalogue, settings, tmp_path):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.MEDIA_ROOT = tmp_path
    return build_world()


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False):
        yield TODAY.date()


def certificate(person, *, until, verification="verified", **fields):
    return CertificateFactory(
        person=person,
        item=item("special_operation", "2.1"),
        valid_until=until,
        verification=verification,
        **fields,
    )


def test_list_shows_status_on_today_in_its_colour(client, world, today):
    certificate(world.own_a, until=dt.date(2030, 1, 9))
    certificate(world.own_a, until=today + dt.timedelta(days=30))
    certificate(world.own_a, until=today - dt.timedelta(days=1))
    certificate(world.own_a, until=dt.date(2030, 1, 9), verification="unverified")
    html = page(client, world.officer_a, "certs_certificate_changelist").content.decode()
    assert html.count('class="sw-status sw-green"') == 1
    assert html.count('class="sw-status sw-red"') == 1
    assert html.count('class="sw-status sw-yellow"') == 2
    assert "30 days left" in html


def test_vacuum_uses_the_predecessors_end(client, world, today):
    old = certificate(world.own_a, until=today - dt.timedelta(days=5))
    certificate(
        world.own_a,
        until=dt.date(2033, 1, 1),
        predecessor=old,
        issued_on=today + dt.timedelta(days=3),
        valid_from=today + dt.timedelta(days=3),
    )
    html = page(client, world.officer_a, "certs_certificate_changelist").content.decode()
    assert "vacuum period" in html


def test_status_costs_no_query_per_row(client, world, today):
    def queries(n):
        for _ in range(n):
            person = PersonFactory()
            EmploymentFactory(person=person, department=world.workshop_a)
            certificate(person, until=dt.date(2030, 1, 9), predecessor=None)
        client.force_login(world.officer_a)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("admin:certs_certificate_changelist")).status_code == 200
        return len(ctx.captured_queries)

    assert queries(2) == queries(10)


def test_filters_by_scheme_verification_and_state(client, world):
    certificate(world.own_a, until=dt.date(2030, 1, 9), verification="unverified")
    revoked = certificate(world.own_a, until=dt.date(2030, 1, 9), state=CertState.REVOKED)
    response = page(client, world.officer_a, "certs_certificate_changelist", state__exact="revoked")
    assert list(response.context["cl"].result_list) == [revoked]
    scheme = Scheme.objects.get(code="special_operation")
    response = page(
        client,
        world.officer_a,
        "certs_certificate_changelist",
        scheme__id__exact=scheme.pk,
        verification__exact="unverified",
    )
    assert len(response.context["cl"].result_list) == 1


def test_detail_shows_events_and_status(client, world, today):
    cert = certificate(world.own_a, until=dt.date(2030, 1, 9))
    CertificateEvent.objects.create(certificate=cert, kind="extension", on=today, reason="延期")
    html = page(client, world.officer_a, "certs_certificate_change", cert.pk).content.decode()
    assert "延期" in html and "sw-status sw-green" in html


def cert_data(world, **fields):
    base = {
        "person": world.own_a.pk,
        "scheme": Scheme.objects.get(code="special_operation").pk,
        "item": item("special_operation", "2.1").pk,
        "number": "T123456",
        "restriction": "",
        "first_issued_on": "",
        "issued_on": "2025-03-01",
        "valid_from": "",
        "valid_until": "",
        "long_review_interval": "",
        "issuing_authority": "",
        "last_practised_on": "",
    }
    return {**base, **fields}


def test_adding_a_certificate_goes_through_the_service(client, world):
    response = post_form(client, world.officer_a, "certs_certificate_add", cert_data(world))
    assert response.status_code == 302, form_errors(response)
    cert = Certificate.objects.get(number="T123456")
    assert cert.valid_until == dt.date(2031, 2, 28)  # six years, from the rule in force
    assert cert.catalogue_version == cert.item.catalogue_version
    assert AuditRecord.objects.filter(action="certs.certificate_created").count() == 1


def test_an_internal_end_beyond_its_rule_is_stored_capped_with_a_warning(client, world):
    plant = item("internal", "PLANT-ANNUAL")
    data = cert_data(
        world,
        scheme=plant.scheme_id,
        item=plant.pk,
        number="PA-9",
        issued_on="2025-03-10",
        valid_until="2027-12-31",
    )
    response = post_form(client, world.officer_a, "certs_certificate_add", data)
    assert response.status_code == 302, form_errors(response)
    assert Certificate.objects.get(number="PA-9").valid_until == dt.date(2026, 3, 9)
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("2027-12-31" in m and "stored as 2026-03-09" in m for m in shown), shown


def test_a_services_refusal_comes_back_as_a_form_error_with_the_input_kept(client, world):
    data = cert_data(world, restriction="塔式起重机", number="T999")
    response = post_form(client, world.officer_a, "certs_certificate_add", data)
    errors = form_errors(response)
    assert errors["restriction"] == ["Item 2.1 takes no restriction."]
    assert response.context["adminform"].form["number"].value() == "T999"
    assert not Certificate.objects.filter(number="T999").exists()
    assert not AuditRecord.objects.filter(action="certs.certificate_created").exists()


def test_certificate_for_someone_outside_the_scope_is_refused(client, world):
    data = cert_data(world, person=world.own_b.pk)
    assert "person" in form_errors(
        post_form(client, world.officer_a, "certs_certificate_add", data)
    )


def change_data(cert, **fields):
    data = {
        "item": cert.item_id,
        "number": cert.number,
        "restriction": cert.restriction,
        "first_issued_on": cert.first_issued_on.isoformat(),
        "issued_on": cert.issued_on.isoformat(),
        "valid_from": cert.valid_from.isoformat(),
        "valid_until": cert.valid_until.isoformat(),
        "issuing_authority": cert.issuing_authority,
        "last_practised_on": "",
        "end_action": "",
        "end_ground": "",
        "end_reason": "",
        "end_on": "",
    }
    return {**data, **fields}


def test_correcting_a_certificate_is_audited(client, world):
    cert = certificate(world.own_a, until=dt.date(2030, 1, 9))
    data = change_data(cert, issuing_authority="应急管理局")
    response = post_form(client, world.officer_a, "certs_certificate_change", data, cert.pk)
    assert response.status_code == 302, form_errors(response)
    cert.refresh_from_db()
    assert cert.issuing_authority == "应急管理局"
    record = AuditRecord.objects.get(action="certs.certificate_updated")
    assert record.actor_id == world.officer_a.pk


def test_revoking_in_the_admin_uses_the_service(client, world):
    cert = certificate(world.own_a, until=dt.date(2030, 1, 9))
    accident = RevocationGround.objects.get(code="accident")
    data = change_data(
        cert, end_action="revoke", end_ground=accident.pk, end_reason="违章", end_on="2026-05-01"
    )
    response = post_form(client, world.officer_a, "certs_certificate_change", data, cert.pk)
    assert response.status_code == 302, form_errors(response)
    cert.refresh_from_db()
    assert cert.state == CertState.REVOKED and cert.state_changed_on == dt.date(2026, 5, 1)
    assert cert.events.get().kind == "revocation"
    assert AuditRecord.objects.filter(action="certs.certificate_revoked").count() == 1
    response = post_form(client, world.officer_a, "certs_certificate_change", data, cert.pk)
    assert form_errors(response)["end_action"]


def test_revoking_in_the_admin_needs_a_ground_of_the_scheme(client, world):
    cert = certificate(world.own_a, until=dt.date(2030, 1, 9))
    data = change_data(cert, end_action="revoke", end_reason="违章", end_on="2026-05-01")
    response = post_form(client, world.officer_a, "certs_certificate_change", data, cert.pk)
    assert form_errors(response)["end_ground"] == ["Choose the ground of revocation."]
    other_scheme = RevocationGround.objects.create(
        code="tsg-only", name="x", clause="y", scheme=Scheme.objects.get(code="special_equipment")
    )
    data["end_ground"] = other_scheme.pk
    response = post_form(client, world.officer_a, "certs_certificate_change", data, cert.pk)
    assert "end_ground" in form_errors(response)
    cert.refresh_from_db()
    assert cert.state == CertState.ACTIVE and cert.revocation_ground is None


def test_certificates_cannot_be_deleted(client, world):
    cert = certificate(world.own_a, until=dt.date(2030, 1, 9))
    client.force_login(world.administrator)
    url = reverse("admin:certs_certificate_delete", args=[cert.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403


def requirement_data(**fields):
    base = {
        "code": "test-height",
        "description": "高处作业测试",
        "work_type": "",
        "min_level": "",
        "crew_role": "",
        "kind": "certificate",
        "items": '["special_operation:3.1"]',
        "match_restriction": "",
        "condition": "height_m >= 2",
        "clause": "测试条款",
        "effective_from": "2024-01-01",
        "effective_to": "",
        "is_active": "on",
    }
    return {**base, **fields}


def test_requirement_condition_must_be_a_rule_engine_expression(client, world):
    response = post_form(
        client,
        world.administrator,
        "qualification_requirement_add",
        requirement_data(condition="height_m >"),
    )
    assert "Not a valid rule-engine condition" in form_errors(response)["condition"][0]
    response = post_form(
        client,
        world.administrator,
        "qualification_requirement_add",
        requirement_data(items='["3.1"]'),
    )
    assert "items" in form_errors(response)
    response = post_form(
        client, world.administrator, "qualification_requirement_add", requirement_data()
    )
    assert response.status_code == 302
    assert Requirement.objects.get(code="test-height").condition == "height_m >= 2"
    assert AuditRecord.objects.filter(action="qualification.requirement_created").exists()


def test_catalogue_is_for_catalogue_writers(client, world):
    assert page(client, world.officer_a, "qualification_requirement_changelist").status_code == 200
    assert page(client, world.officer_a, "qualification_requirement_add").status_code == 403
    assert page(client, world.head_of_safety_a, "qualification_requirement_add").status_code == 200


def test_import_jobs_show_progress_and_their_error_file(client, world):
    job = ImportJob.objects.create(
        original_name="台账.xlsx",
        file_sha256="a" * 64,
        status="running",
        site=world.site_a,
        total_rows=1000,
        processed_rows=450,
        error_rows=3,
        errors=[
            {
                "row": 7,
                "column": "身份证号",
                "value": world.own_a.id_number,
                "code": "x",
                "message": "m",
            }
        ],
    )
    job.error_file.save("errors.xlsx", ContentFile(b"error rows"))
    html = page(client, world.officer_a, "ledger_importjob_changelist").content.decode()
    assert 'value="45"' in html and "45% (450/1000)" in html
    link = reverse("admin:ledger_importjob_errors", args=[job.pk])
    assert link in html
    client.force_login(world.officer_a)
    response = client.get(link)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"error rows"
    assert page(client, world.officer_a, "ledger_importjob_add").status_code == 403
    # Inspectors see the job, but neither the ledger's ID numbers nor the error file.
    html = page(client, world.inspector, "ledger_importjob_change", job.pk).content.decode()
    assert world.own_a.id_number not in html and mask_id_number(world.own_a.id_number) in html
    client.force_login(world.inspector)
    assert client.get(link).status_code == 403
    # Another site's officer does not see the job at all.
    other = ImportJob.objects.create(original_name="乙.xlsx", file_sha256="b" * 64)
    html = page(client, world.officer_a, "ledger_importjob_changelist").content.decode()
    assert other.original_name not in html


def test_registry_lookups_are_read_only_and_masked(client, world):
    cert = certificate(world.own_a, until=dt.date(2030, 1, 9))
    batch = VerificationBatch.objects.create(total=4, done=1)
    VerificationLookup.objects.create(
        batch=batch,
        certificate=cert,
        id_number=world.own_a.id_number,
        response={"id_number": world.own_a.id_number, "status": "valid"},
    )
    html = page(client, world.officer_a, "registry_verificationbatch_changelist").content.decode()
    assert "25% (1/4)" in html
    html = page(client, world.inspector, "registry_verificationlookup_changelist").content.decode()
    assert world.own_a.id_number not in html
    lookup = VerificationLookup.objects.get()
    html = page(client, world.inspector, "registry_verificationlookup_change", lookup.pk).content
    assert world.own_a.id_number not in html.decode()
    assert page(client, world.administrator, "registry_verificationlookup_add").status_code == 403


def test_workshop_head_writes_a_roster_of_their_own_people(client, world):
    from safework.rosters.models import Roster
    from safework.work.models import CrewRole, WorkType

    work_type, role = WorkType.objects.get(code="hot_work"), CrewRole.objects.get(code="worker")
    data = {
        "name": "三月排班",
        "site": world.site_a.pk,
        "entries-TOTAL_FORMS": "1",
        "entries-INITIAL_FORMS": "0",
        "entries-0-person": world.own_b.pk,
        "entries-0-on": "2027-03-01",
        "entries-0-work_type": work_type.pk,
        "entries-0-crew_role": role.pk,
        "entries-0-attrs": "{}",
    }
    client.force_login(world.workshop_head_a)
    url = reverse("admin:rosters_roster_add")
    response = client.post(url, data)
    assert response.status_code == 200  # someone outside the workshop is no choice
    data["entries-0-person"] = world.own_a.pk
    response = client.post(url, data)
    assert response.status_code == 302
    roster = Roster.objects.get(name="三月排班")
    assert roster.author == world.workshop_head_a
    assert roster.entries.get().person == world.own_a
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"rosters.roster_created", "rosters.rosterentry_created"} <= actions

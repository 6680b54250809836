"""Writes in the people admin go through people.services, give clear errors, and are audited."""

import pytest
from django.utils import translation

from safework.accounts.tests.test_admin import (
    FAST_HASHERS,
    build_world,
    form_errors,
    post_form,
)
from safework.core.models import AuditRecord
from safework.ledger.models import ImportJob
from safework.people.models import BlacklistEntry, Contractor, HealthCheck, Person
from safework.people.synthetic import make_id_number


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English messages; the Chinese ones: core/tests/test_language.py."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def world(catalogue, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return build_world()


def new_number(day=1) -> str:
    import datetime as dt

    return make_id_number("110105", dt.date(1990, 3, day), 911)


def person_data(**fields):
    base = {
        "id_number": new_number(),
        "name": "新员工",
        "former_names": "",
        "phone": "",
        "education": "",
        "position": "",
        "employer_kind": "",
        "contractor": "",
        "department": "",
        "started_on": "",
    }
    return {**base, **fields}


def test_invalid_id_number_is_a_clear_form_error(client, world):
    number = new_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    response = post_form(
        client, world.administrator, "people_person_add", person_data(id_number=wrong)
    )
    assert form_errors(response)["id_number"] == ["The check character of the ID number is wrong."]
    response = post_form(
        client, world.administrator, "people_person_add", person_data(id_number="11010519900301")
    )
    assert form_errors(response)["id_number"] == ["An ID number has 18 characters."]
    assert not Person.objects.filter(name="新员工").exists()


def test_full_width_id_number_is_normalised(client, world):
    number = new_number()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    response = post_form(
        client, world.administrator, "people_person_add", person_data(id_number=full_width)
    )
    assert response.status_code == 302
    assert Person.objects.get(name="新员工").id_number == number


def test_registering_goes_through_the_service_and_is_audited(client, world):
    data = person_data(
        former_names="旧名、曾用名",
        employer_kind="own",
        department=world.workshop_a.pk,
        started_on="2026-02-01",
    )
    response = post_form(client, world.officer_a, "people_person_add", data)
    assert response.status_code == 302, response.context and form_errors(response)
    person = Person.objects.get(name="新员工")
    assert person.former_names == ["旧名", "曾用名"]
    assert person.birth_date.isoformat() == "1990-03-01"
    assert person.current_employment.department == world.workshop_a
    record = AuditRecord.objects.get(action="people.person_registered")
    assert record.actor_id == world.officer_a.pk and record.object_id == str(person.pk)


def test_site_writer_must_place_the_person_in_their_scope(client, world):
    response = post_form(client, world.officer_a, "people_person_add", person_data())
    assert form_errors(response)["employer_kind"]
    response = post_form(
        client,
        world.officer_a,
        "people_person_add",
        person_data(employer_kind="own", department=world.workshop_b.pk, started_on="2026-02-01"),
    )
    assert "department" in form_errors(response)  # another site's department is no choice


def test_contractor_manager_registers_their_own_staff(
    client, world, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    data = person_data(
        employer_kind="contractor", contractor=world.contractor_x.pk, started_on="2026-02-01"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(client, world.manager_x, "people_person_add", data)
    assert response.status_code == 302
    # issue 17: a contractor's registration waits for the site's safety officer
    job = ImportJob.objects.get(created_by=world.manager_x)
    assert (job.kind, job.status, job.contractor) == (
        "contractor",
        "pending_review",
        world.contractor_x,
    )
    assert not Person.objects.filter(name="新员工").exists()
    data["contractor"] = world.contractor_y.pk
    data["id_number"] = new_number(2)
    response = post_form(client, world.manager_x, "people_person_add", data)
    assert "contractor" in form_errors(response)


def test_duplicate_id_number_is_refused(client, world):
    data = person_data(id_number=world.own_a.id_number)
    response = post_form(client, world.administrator, "people_person_add", data)
    assert form_errors(response)["id_number"]


def test_changing_a_person_is_audited_with_before_and_after(client, world):
    person = world.own_a
    data = person_data(id_number=person.id_number, name=person.name, phone="13800000000")
    data["is_active"] = "on"
    response = post_form(client, world.officer_a, "people_person_change", data, person.pk)
    assert response.status_code == 302, form_errors(response)
    record = AuditRecord.objects.get(action="people.person_changed")
    assert '"phone":""' in record.payload and '"phone":"13800000000"' in record.payload


def test_change_of_employer_goes_through_the_service(client, world):
    person = world.own_a
    data = person_data(
        id_number=person.id_number,
        name=person.name,
        is_active="on",
        employer_kind="contractor",
        contractor=world.contractor_x.pk,
        started_on="2026-03-01",
    )
    response = post_form(client, world.officer_a, "people_person_change", data, person.pk)
    assert response.status_code == 302, form_errors(response)
    person.refresh_from_db()
    assert person.current_employment.contractor == world.contractor_x
    assert person.employments.get(ended_on="2026-02-28").department == world.team_a
    assert AuditRecord.objects.filter(action="people.employment_changed").count() == 1
    assert not AuditRecord.objects.filter(action="people.person_changed").exists()


def test_moving_a_person_out_of_the_writers_scope_is_refused(client, world):
    person = world.staff_x
    data = person_data(
        id_number=person.id_number,
        name=person.name,
        is_active="on",
        employer_kind="contractor",
        contractor=world.contractor_y.pk,
        started_on="2026-03-01",
    )
    response = post_form(client, world.manager_x, "people_person_change", data, person.pk)
    assert "contractor" in form_errors(response)
    person.refresh_from_db()
    assert person.current_employment.contractor == world.contractor_x


def test_persons_and_health_checks_cannot_be_deleted(client, world):
    from django.urls import reverse

    client.force_login(world.administrator)
    url = reverse("admin:people_person_delete", args=[world.own_a.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Person.objects.filter(pk=world.own_a.pk).exists()


def test_health_check_is_recorded_through_the_service(client, world):
    data = {
        "person": world.own_a.pk,
        "checked_on": "2026-04-01",
        "conclusion": "restricted",
        "restricted_work_types": ["height"],
        "restriction_reason": "高血压",
        "valid_until": "2027-04-01",
        "institution": "职防院",
    }
    response = post_form(client, world.officer_a, "people_healthcheck_add", data)
    assert response.status_code == 302, form_errors(response)
    check = HealthCheck.objects.get(person=world.own_a)
    assert check.restricted_work_types == ["height"]
    assert AuditRecord.objects.filter(action="people.health_check_recorded").count() == 1
    response = post_form(
        client,
        world.officer_a,
        "people_healthcheck_add",
        {**data, "checked_on": "2026-05-01", "valid_until": "2026-04-30"},
    )
    assert form_errors(response)["valid_until"]
    response = post_form(
        client, world.officer_a, "people_healthcheck_add", {**data, "person": world.own_b.pk}
    )
    assert "person" in form_errors(response)  # not in the officer's site


def test_blacklist_entry_goes_through_the_service(client, world):
    number = new_number(5)
    data = {"id_number": number, "name": "某人", "reason": "严重违章", "starts_on": "2026-01-01"}
    response = post_form(client, world.head_of_safety_a, "people_blacklistentry_add", data)
    assert response.status_code == 302, form_errors(response)
    entry = BlacklistEntry.objects.get(id_number=number)
    assert entry.created_by_label == world.head_of_safety_a.username
    assert AuditRecord.objects.filter(action="people.blacklisted").count() == 1
    response = post_form(
        client,
        world.head_of_safety_a,
        "people_blacklistentry_add",
        {**data, "id_number": number[:-1]},
    )
    assert form_errors(response)["id_number"] == ["An ID number has 18 characters."]
    response = post_form(client, world.officer_a, "people_blacklistentry_add", data)
    assert response.status_code == 403  # safety officers read the blacklist, not write it


def test_contractor_credit_code_is_checked(client, world):
    data = {
        "name": "新承包商",
        "uscc": "913100000000000001",
        "contact_name": "",
        "contact_phone": "",
        "status": "active",
    }
    response = post_form(client, world.administrator, "people_contractor_add", data)
    assert form_errors(response)["uscc"] == ["The check character of the credit code is wrong."]


def test_contractor_added_by_a_site_officer_needs_an_engagement_there(client, world):
    from safework.people.tests.factories import fresh_uscc

    data = {
        "name": "新承包商",
        "uscc": fresh_uscc(999),
        "contact_name": "",
        "contact_phone": "",
        "status": "active",
    }
    response = post_form(client, world.officer_a, "people_contractor_add", data)
    assert response.status_code == 200  # it would vanish from their view: say so
    engagements = response.context["inline_admin_formsets"][0].formset
    assert engagements.non_form_errors() == ["Add the contractor's engagement at your site."]
    assert not Contractor.objects.filter(name="新承包商").exists()
    data.update(
        {
            "engagements-TOTAL_FORMS": "1",
            "engagements-0-site": world.site_a.pk,
            "engagements-0-starts_on": "2026-01-01",
            "engagements-0-status": "active",
        }
    )
    response = post_form(client, world.officer_a, "people_contractor_add", data)
    assert response.status_code == 302
    contractor = Contractor.objects.get(name="新承包商")
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"people.contractor_created", "people.contractorengagement_created"} <= actions
    assert contractor.engagements.get().site == world.site_a


def test_a_contractor_managers_registration_reads_the_same_whoever_holds_the_number(
    client, world, settings, tmp_path, django_capture_on_commit_callbacks
):
    """Issue 17: "already registered" would tell contractor X's manager that contractor Y's
    worker exists; a fresh number and a taken one get the same redirect and message."""
    settings.MEDIA_ROOT = tmp_path / "media"

    def submit(number):
        data = person_data(
            id_number=number,
            employer_kind="contractor",
            contractor=world.contractor_x.pk,
            started_on="2026-02-01",
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = post_form(client, world.manager_x, "people_person_add", data)
        shown = [str(m) for m in response.wsgi_request._messages]
        return response.status_code, response["Location"], shown

    assert submit(new_number(5)) == submit(world.staff_y.id_number)
    assert submit(world.own_a.id_number)[0] == 302
    assert world.staff_y.current_employment.contractor == world.contractor_y
    assert ImportJob.objects.filter(status="pending_review").count() == 3


def test_our_liaison_for_a_contractor_is_one_of_our_own_staff(client, world):
    """Issue 15: the liaison is a relation edited in the admin (read by notify's recipients);
    a contractor's own worker is refused with a clear message; the contractor's manager sees
    the liaison but does not choose it."""
    from django.urls import reverse

    from safework.people.tests.factories import fresh_uscc

    data = {
        "name": "新承包商",
        "uscc": fresh_uscc(998),
        "contact_name": "",
        "contact_phone": "",
        "status": "active",
        "liaison": world.staff_x.pk,
    }
    response = post_form(client, world.administrator, "people_contractor_add", data)
    assert form_errors(response)["liaison"] == ["The liaison must be one of our own staff."]
    response = post_form(
        client, world.administrator, "people_contractor_add", {**data, "liaison": world.own_a.pk}
    )
    assert response.status_code == 302
    assert Contractor.objects.get(name="新承包商").liaison == world.own_a

    client.force_login(world.manager_x)
    url = reverse("admin:people_contractor_change", args=[world.contractor_x.pk])
    form = client.get(url).context["adminform"].form
    assert "liaison" not in form.fields  # read-only for the contractor's manager

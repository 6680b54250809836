"""The admin as each role sees it: scope, matrix permissions, masked ID numbers.

`build_world()` is shared by the other admin tests: two sites, a workshop with a team at site A,
own staff at each site, a contractor engaged at each site with one worker, and one staff user
per role that the tests need.
"""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from safework.accounts.models import Role
from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.certs.tests.factories import CertificateFactory, item
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.masking import mask_id_number
from safework.people.tests.factories import (
    ContractorFactory,
    EmploymentFactory,
    EngagementFactory,
    PersonFactory,
)


def staff_user(role=None, **grant):
    user = UserFactory(is_staff=True, **grant.pop("user_fields", {}))
    if role is not None:
        RoleGrantFactory(user=user, role=role, **grant)
    return user


def build_world():
    site_a, site_b = SiteFactory(name="甲厂区"), SiteFactory(name="乙厂区")
    workshop_a = DepartmentFactory(name="甲车间", site=site_a, group=site_a.group)
    team_a = DepartmentFactory(name="甲班组", parent=workshop_a, site=None, group=site_a.group)
    workshop_b = DepartmentFactory(name="乙车间", site=site_b, group=site_b.group)
    contractor_x = ContractorFactory(name="承包商甲")
    contractor_y = ContractorFactory(name="承包商乙")
    EngagementFactory(contractor=contractor_x, site=site_a)
    EngagementFactory(contractor=contractor_y, site=site_b)

    def person(name, **employment):
        p = PersonFactory(name=name)
        EmploymentFactory(person=p, **employment)
        p.refresh_from_db()
        return p

    w = SimpleNamespace(
        site_a=site_a,
        site_b=site_b,
        workshop_a=workshop_a,
        team_a=team_a,
        workshop_b=workshop_b,
        contractor_x=contractor_x,
        contractor_y=contractor_y,
        own_a=person("甲自有", department=team_a),
        own_b=person("乙自有", department=workshop_b),
        staff_x=person("甲承包工", employer_kind="contractor", contractor=contractor_x),
        staff_y=person("乙承包工", employer_kind="contractor", contractor=contractor_y),
    )
    w.administrator = staff_user(Role.ADMINISTRATOR)
    w.superuser = staff_user(user_fields={"is_superuser": True})
    w.officer_a = staff_user(Role.SAFETY_OFFICER, site=site_a)
    w.head_of_safety_a = staff_user(Role.SAFETY_HEAD, site=site_a)
    w.manager_x = staff_user(Role.CONTRACTOR_MANAGER, contractor=contractor_x)
    w.inspector = staff_user(Role.INSPECTOR)
    w.workshop_head_a = staff_user(Role.WORKSHOP_HEAD, department=workshop_a)
    w.no_grant = staff_user()
    return w


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: ~1 s per user else


@pytest.fixture
def world(catalogue, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return build_world()


def page(client, user, name, *args, **query):
    client.force_login(user)
    url = reverse(f"admin:{name}", args=args)
    return client.get(url, query) if query else client.get(url)


def test_safety_officer_sees_own_site_and_contractors_engaged_there(client, world):
    html = page(client, world.officer_a, "people_person_changelist").content.decode()
    assert "甲自有" in html and "甲承包工" in html
    assert "乙自有" not in html and "乙承包工" not in html


def test_someone_elses_person_is_not_found(client, world):
    response = page(client, world.officer_a, "people_person_change", world.own_b.pk)
    # Django's admin answers a row outside the queryset like a missing one: back to the index.
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_contractor_manager_sees_only_their_staff(client, world):
    html = page(client, world.manager_x, "people_person_changelist").content.decode()
    assert "甲承包工" in html
    assert "甲自有" not in html and "乙自有" not in html and "乙承包工" not in html
    # Their staff's full number: a contractor manager sees their own staff's numbers.
    assert world.staff_x.id_number in html


def test_contractor_manager_sees_only_their_contractor(client, world):
    html = page(client, world.manager_x, "people_contractor_changelist").content.decode()
    assert "承包商甲" in html and "承包商乙" not in html


def test_workshop_head_sees_their_subtree_with_masked_id_numbers(client, world):
    html = page(client, world.workshop_head_a, "people_person_changelist").content.decode()
    assert "甲自有" in html and "乙自有" not in html and "甲承包工" not in html
    assert world.own_a.id_number not in html
    assert mask_id_number(world.own_a.id_number) in html


def test_workshop_head_detail_shows_masked_number_only(client, world):
    response = page(client, world.workshop_head_a, "people_person_change", world.own_a.pk)
    html = response.content.decode()
    assert response.status_code == 200
    assert world.own_a.id_number not in html
    assert mask_id_number(world.own_a.id_number) in html
    assert 'name="_save"' not in html  # view only


def test_search_by_full_id_number_finds_the_person_but_shows_it_masked(client, world):
    number = world.own_a.id_number
    response = page(client, world.workshop_head_a, "people_person_changelist", q=number)
    html = response.content.decode()
    assert "甲自有" in html
    assert number not in html  # not in the result row, nor echoed in the search box


def test_partial_id_number_search_only_for_full_viewers(client, world):
    part = world.own_a.id_number[6:14]  # the birth date: would let others probe masked digits
    html = page(client, world.workshop_head_a, "people_person_changelist", q=part).content
    assert "甲自有" not in html.decode()
    html = page(client, world.officer_a, "people_person_changelist", q=part).content
    assert "甲自有" in html.decode()


def test_certificate_numbered_with_the_id_number_is_masked(client, world):
    CertificateFactory(
        person=world.own_a, item=item("special_operation", "2.1"), number=world.own_a.id_number
    )
    for name in ("certs_certificate_changelist", "certs_certificateevent_changelist"):
        html = page(client, world.workshop_head_a, name).content.decode()
        assert world.own_a.id_number not in html
    html = page(client, world.workshop_head_a, "certs_certificate_changelist").content.decode()
    assert mask_id_number(world.own_a.id_number) in html
    html = page(client, world.officer_a, "certs_certificate_changelist").content.decode()
    assert world.own_a.id_number in html


def test_inspector_views_but_cannot_add_or_change(client, world):
    html = page(client, world.inspector, "people_person_changelist").content.decode()
    assert "甲自有" in html and "乙自有" in html  # group-wide
    assert reverse("admin:people_person_add") not in html
    assert world.own_a.id_number not in html  # inspectors never see full numbers
    assert page(client, world.inspector, "people_person_add").status_code == 403
    detail = page(client, world.inspector, "people_person_change", world.own_a.pk)
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    url = reverse("admin:people_person_change", args=[world.own_a.pk])
    assert client.post(url, {"name": "改名"}).status_code == 403
    world.own_a.refresh_from_db()
    assert world.own_a.name == "甲自有"


def test_inspector_has_no_add_buttons_anywhere(client, world):
    html = page(client, world.inspector, "index").content.decode()
    assert "addlink" not in html
    assert "changelink" not in html


def test_roles_without_the_resource_get_403(client, world):
    assert page(client, world.workshop_head_a, "core_auditrecord_changelist").status_code == 403
    assert page(client, world.manager_x, "org_site_changelist").status_code == 403
    assert page(client, world.officer_a, "accounts_user_changelist").status_code == 403


def test_staff_without_grants_sees_nothing(client, world):
    response = page(client, world.no_grant, "index")
    assert response.status_code == 200
    assert not response.context["app_list"]
    assert page(client, world.no_grant, "people_person_changelist").status_code == 403


def test_non_staff_users_cannot_log_in_to_the_admin(client, world):
    user = UserFactory(is_staff=False)
    RoleGrantFactory(user=user, role=Role.ADMINISTRATOR)
    client.force_login(user)
    response = client.get(reverse("admin:people_person_changelist"))
    assert response.status_code == 302 and "/login/" in response.url


def test_write_scope_narrower_than_read_scope_gives_view_only(client, world):
    # Group-wide inspector and safety officer at site A: reads everything, writes site A.
    RoleGrantFactory(user=world.officer_a, role=Role.INSPECTOR)
    html = page(client, world.officer_a, "people_person_change", world.own_b.pk).content.decode()
    assert 'name="_save"' not in html
    html = page(client, world.officer_a, "people_person_change", world.own_a.pk).content.decode()
    assert 'name="_save"' in html


def test_fk_choices_are_limited_to_the_writers_scope(client, world):
    html = page(client, world.officer_a, "people_person_add").content.decode()
    assert "甲车间" in html and "乙车间" not in html
    assert "承包商甲" in html and "承包商乙" not in html


def test_audit_readers_see_records_of_their_scope(client, world):
    from django.db import transaction

    from safework.core import audit

    with transaction.atomic():
        audit.record(action="test.touched", target=world.own_a, actor="tester")
        audit.record(action="test.touched", target=world.own_b, actor="tester")
    html = page(client, world.officer_a, "core_auditrecord_changelist").content.decode()
    assert "甲自有" in html and "乙自有" not in html
    html = page(client, world.administrator, "core_auditrecord_changelist").content.decode()
    assert "甲自有" in html and "乙自有" in html


def test_grant_needs_its_place(client, world):
    client.force_login(world.administrator)
    url = reverse("admin:accounts_rolegrant_add")
    response = client.post(url, {"user": world.no_grant.pk, "role": Role.CONTRACTOR_MANAGER})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["contractor"]
    response = client.post(url, {"user": world.no_grant.pk, "role": Role.SAFETY_OFFICER})
    assert response.context["adminform"].form.errors["site"]


def test_administrator_role_grant_change_is_audited(client, world):
    from safework.core.models import AuditRecord

    client.force_login(world.administrator)
    url = reverse("admin:accounts_rolegrant_add")
    response = client.post(
        url, {"user": world.no_grant.pk, "role": Role.SAFETY_OFFICER, "site": world.site_b.pk}
    )
    assert response.status_code == 302
    record = AuditRecord.objects.get(action="accounts.rolegrant_created")
    assert record.actor_id == world.administrator.pk


def test_password_change_is_audited_without_the_hash(client, world):
    from safework.core.models import AuditRecord

    client.force_login(world.administrator)
    url = reverse("admin:auth_user_password_change", args=[world.no_grant.pk])
    response = client.post(
        url,
        {
            "password1": "a-new-long-pw-2026",
            "password2": "a-new-long-pw-2026",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    record = AuditRecord.objects.get(action="accounts.password_changed")
    world.no_grant.refresh_from_db()
    assert world.no_grant.password not in record.payload


def test_user_admin_never_puts_the_password_hash_in_the_audit(client, world):
    from safework.core.models import AuditRecord

    client.force_login(world.administrator)
    url = reverse("admin:accounts_user_change", args=[world.no_grant.pk])
    data = {
        "username": world.no_grant.username,
        "first_name": "新名",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "08:00:00",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    record = AuditRecord.objects.get(action="accounts.user_changed")
    world.no_grant.refresh_from_db()
    assert "新名" in record.payload
    assert world.no_grant.password not in record.payload
    assert '"password"' not in record.payload


def inline_data(response) -> dict:
    """What the browser posts for the inlines of an admin form page: each management form, and
    the rows already there as they are."""
    data = {}
    if response.status_code != 200:  # the POST will answer the same
        return data
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.initial_forms:
            for name in form.fields:
                value = form[name].value()
                data[form.add_prefix(name)] = "" if value is None else value
    return data


def post_form(client, user, name, data, *args):
    """GET the admin form page, then POST `data` with its inlines as the browser would."""
    client.force_login(user)
    url = reverse(f"admin:{name}", args=args)
    return client.post(url, {**inline_data(client.get(url)), **data})


def form_errors(response) -> dict:
    assert response.status_code == 200, response
    return response.context["adminform"].form.errors

"""The organisation admin writes through org.services: scoped references, audited, tree kept."""

import pytest

from safework.accounts.tests.test_admin import FAST_HASHERS, build_world, form_errors, post_form
from safework.core.models import AuditRecord
from safework.org.models import Area, Department, Site


@pytest.fixture
def world(catalogue, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return build_world()


def test_department_added_under_a_parent_gets_its_path_and_site(client, world):
    data = {
        "group": world.site_a.group_id,
        "parent": world.workshop_a.pk,
        "site": "",
        "name": "新班组",
        "code": "new-team",
        "kind": "team",
        "is_active": "on",
    }
    response = post_form(client, world.head_of_safety_a, "org_department_add", data)
    assert response.status_code == 302, form_errors(response)
    team = Department.objects.get(code="new-team")
    assert team.path == f"{world.workshop_a.path}{team.pk}/"
    assert team.effective_site == world.site_a
    record = AuditRecord.objects.get(action="org.department_created", object_id=str(team.pk))
    assert record.actor_id == world.head_of_safety_a.pk


def test_department_cannot_move_under_itself(client, world):
    data = {
        "group": world.site_a.group_id,
        "parent": world.team_a.pk,
        "site": world.site_a.pk,
        "name": world.workshop_a.name,
        "code": world.workshop_a.code,
        "kind": "workshop",
        "is_active": "on",
    }
    response = post_form(
        client, world.administrator, "org_department_change", data, world.workshop_a.pk
    )
    assert "parent" in form_errors(response)
    world.workshop_a.refresh_from_db()
    assert world.workshop_a.parent is None


def test_area_of_another_site_is_no_choice(client, world):
    data = {
        "site": world.site_b.pk,
        "name": "装置",
        "code": "unit-1",
        "hazard_class": "none",
        "center_latitude": "",
        "center_longitude": "",
        "radius_m": "",
        "polygon": "null",
        "is_active": "on",
    }
    response = post_form(client, world.head_of_safety_a, "org_area_add", data)
    assert "site" in form_errors(response)
    data["site"] = world.site_a.pk
    response = post_form(client, world.head_of_safety_a, "org_area_add", data)
    assert response.status_code == 302, form_errors(response)
    assert Area.objects.get(code="unit-1").site == world.site_a
    assert AuditRecord.objects.filter(action="org.area_created").count() == 1


def test_deactivating_a_site_uses_the_service(client, world):
    site = world.site_b
    data = {
        "group": site.group_id,
        "name": site.name,
        "code": site.code,
        "address": "",
        "latitude": str(site.latitude),
        "longitude": str(site.longitude),
    }
    response = post_form(client, world.administrator, "org_site_change", data, site.pk)
    assert response.status_code == 302, form_errors(response)
    assert not Site.objects.get(pk=site.pk).is_active
    by_admin = AuditRecord.objects.filter(actor_id=world.administrator.pk)
    assert list(by_admin.values_list("action", flat=True)) == ["org.site_deactivated"]
    response = post_form(
        client, world.administrator, "org_site_change", {**data, "is_active": "on"}, site.pk
    )
    assert response.status_code == 302
    assert Site.objects.get(pk=site.pk).is_active
    assert AuditRecord.objects.filter(action="org.site_reactivated").count() == 1


def test_workshop_head_reads_org_but_does_not_write_it(client, world):
    from django.urls import reverse

    client.force_login(world.workshop_head_a)
    html = client.get(reverse("admin:org_department_changelist")).content.decode()
    assert "甲班组" in html and "乙车间" not in html
    assert client.get(reverse("admin:org_department_add")).status_code == 403

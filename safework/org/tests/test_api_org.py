"""The organisation over the API: sites, areas and geofences, the department tree, scope."""

import pytest

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.core.models import AuditRecord
from safework.org.models import Area, Department, Group, Site
from safework.org.services import geofence_errors

api_world = world_fixture()


def as_(world, role):
    return client_for(world.users[role])


def errors_of(response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


# --- group and sites ----------------------------------------------------------------------


def test_admin_creates_a_group_and_a_site(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    group = client.post(f"{API}/groups", {"name": "第二集团", "code": "group-2"})
    assert group.status_code == 201, group.content
    site = client.post(
        f"{API}/sites",
        {
            "group_id": group.json()["id"],
            "name": "连云港厂区",
            "code": "lyg",
            "latitude": 34.596653,
            "longitude": 119.221611,
        },
    )
    assert site.status_code == 201, site.content
    assert (site.json()["latitude"], site.json()["longitude"]) == (34.596653, 119.221611)
    assert AuditRecord.objects.filter(action="org.site_created").count() == 1


def test_site_coordinates_and_codes_are_validated(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    base = {"group_id": api_world.group.pk, "name": "x", "code": "ok-code"}
    bad = client.post(f"{API}/sites", {**base, "latitude": 91, "longitude": -181})
    assert bad.status_code == 422
    assert errors_of(bad) == {"latitude": "too_large", "longitude": "too_small"}
    wrong = client.post(f"{API}/sites", {**base, "code": "有 空格", "latitude": 1, "longitude": 1})
    assert errors_of(wrong) == {"code": "invalid_format"}
    taken = client.post(f"{API}/sites", {**base, "code": "site-a", "latitude": 1, "longitude": 1})
    assert errors_of(taken) == {"code": "duplicate"}
    unknown = client.post(
        f"{API}/sites", {**base, "group_id": 98765, "latitude": 1, "longitude": 1}
    )
    assert errors_of(unknown) == {"group_id": "unknown"}
    assert not Site.objects.filter(code="ok-code").exists()


def test_site_scoped_principal_cannot_create_what_they_would_not_see(api_world, db):
    client = as_(api_world, Role.PRINCIPAL)
    sites = Site.objects.count()
    response = client.post(
        f"{API}/sites",
        {
            "group_id": api_world.group.pk,
            "name": "新厂区",
            "code": "new-site",
            "latitude": 30,
            "longitude": 120,
        },
    )
    assert errors_of(response) == {"": "out_of_scope"}
    assert Site.objects.count() == sites
    assert client.post(f"{API}/groups", {"name": "g", "code": "g"}).status_code == 403
    assert not Group.objects.filter(code="g").exists()
    # …but edits their own site
    patched = client.patch(f"{API}/sites/{api_world.site_a.pk}", {"address": "化工园区1号"})
    assert patched.status_code == 200 and patched.json()["address"] == "化工园区1号"
    assert client.patch(f"{API}/sites/{api_world.site_b.pk}", {"address": "x"}).status_code == 404


def test_only_a_group_wide_writer_changes_the_group_and_positions(api_world, db):
    """The group and the positions are shared by every site: a principal granted site A
    alone can neither rename nor deactivate them (403), nor create new ones."""
    w = api_world
    principal = as_(w, Role.PRINCIPAL)
    group_url, position_url = f"{API}/groups/{w.group.pk}", f"{API}/positions/{w.position.pk}"
    assert principal.get(group_url).status_code == 200
    assert principal.patch(group_url, {"name": "改名集团"}).status_code == 403
    assert principal.post(f"{group_url}/deactivate").status_code == 403
    assert principal.patch(position_url, {"name": "改名岗位"}).status_code == 403
    assert principal.post(f"{position_url}/deactivate").status_code == 403
    new_position = {"code": "new-pos", "name": "新岗位"}
    assert principal.post(f"{API}/positions", new_position).status_code == 403
    w.group.refresh_from_db()
    w.position.refresh_from_db()
    assert w.group.name != "改名集团" and w.group.is_active
    assert w.position.name != "改名岗位" and w.position.is_active
    assert not AuditRecord.objects.filter(action__startswith="org.group").exists()
    assert not AuditRecord.objects.filter(action__startswith="org.position").exists()
    # a group-wide writer may
    admin = as_(w, Role.ADMINISTRATOR)
    assert admin.patch(group_url, {"name": "改名集团"}).status_code == 200
    assert admin.post(f"{position_url}/deactivate").status_code == 200


def test_deactivate_site_never_deletes_and_is_audited(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    response = client.post(f"{API}/sites/{api_world.site_b.pk}/deactivate")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert Site.objects.filter(pk=api_world.site_b.pk, is_active=False).exists()
    record = AuditRecord.objects.get(action="org.site_deactivated")
    assert '"is_active":true' in record.payload and '"is_active":false' in record.payload
    listed = client.get(f"{API}/sites?is_active=false").json()
    assert [s["id"] for s in listed["items"]] == [api_world.site_b.pk]


# --- areas and geofences ------------------------------------------------------------------


def _area(world, **geofence):
    return {"site_id": world.site_a.pk, "name": "罐区", "code": "tank-farm", **geofence}


def test_area_with_polygon_hazard_class_and_fire_flag(api_world, db):
    response = as_(api_world, Role.SAFETY_HEAD).post(
        f"{API}/areas",
        _area(
            api_world,
            hazard_class="fire_a",
            fire_explosion_hazard=True,
            polygon=[[31.1, 121.1], [31.1, 121.2], [31.2, 121.2], [31.1, 121.1]],
        ),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["hazard_class"], body["fire_explosion_hazard"]) == ("fire_a", True)
    assert body["polygon"][2] == [31.2, 121.2]
    hazardous = as_(api_world, Role.SAFETY_OFFICER).get(
        f"{API}/areas?fire_explosion_hazard=true&site_id={api_world.site_a.pk}"
    )
    assert [a["id"] for a in hazardous.json()["items"]] == [body["id"]]


@pytest.mark.parametrize(
    ("geofence", "errors"),
    [
        ({"polygon": [[31.1, 121.1], [31.2, 121.2]]}, {"polygon": "too_few_points"}),
        (
            {"polygon": [[31.1, 121.1], [31.2, 121.2], [31.1, 121.1]]},
            {"polygon": "too_few_points"},
        ),
        (
            {"polygon": [[31.1, 121.1], [91, 121.2], [31.2, 181]]},
            {"polygon.1.0": "out_of_range", "polygon.2.1": "out_of_range"},
        ),
        (
            {"polygon": [[31.1, 121.1], [31.2], [31.3, 121.3], [31.4, 121.4]]},
            {"polygon.1": "invalid"},
        ),
        ({"polygon": [[31.1, "东经"], [1, 2], [3, 4]]}, {"polygon.0.1": "invalid_type"}),
        ({"center_latitude": 31.2, "radius_m": 50}, {"center_longitude": "required"}),
        ({"radius_m": 0, "center_latitude": 1, "center_longitude": 1}, {"radius_m": "too_small"}),
        (
            {
                "center_latitude": 31.2,
                "center_longitude": 121.4,
                "radius_m": 50,
                "polygon": [[1, 1], [1, 2], [2, 2]],
            },
            {"polygon": "conflict"},
        ),
        ({"center_latitude": -91}, {"center_latitude": "too_small"}),
        ({"hazard_class": "nuclear"}, {"hazard_class": "invalid_choice"}),
    ],
)
def test_geofence_is_validated(api_world, db, geofence, errors):
    areas = Area.objects.count()
    response = as_(api_world, Role.ADMINISTRATOR).post(f"{API}/areas", _area(api_world, **geofence))
    assert response.status_code == 422, response.content
    assert errors_of(response) == errors
    assert Area.objects.count() == areas


def test_circle_geofence_and_patch_to_polygon(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    url = f"{API}/areas/{api_world.area_a.pk}"
    # area A has a circle; a polygon alone conflicts until the circle is cleared
    conflict = client.patch(url, {"polygon": [[1, 1], [1, 2], [2, 2]]})
    assert errors_of(conflict) == {"polygon": "conflict"}
    response = client.patch(
        url,
        {
            "polygon": [[1, 1], [1, 2], [2, 2]],
            "center_latitude": None,
            "center_longitude": None,
            "radius_m": None,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["radius_m"] is None
    assert Area.objects.get(pk=api_world.area_a.pk).polygon == [[1, 1], [1, 2], [2, 2]]


def test_area_code_is_unique_per_site(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    same_site = client.post(f"{API}/areas", _area(api_world, code="area-a"))
    assert errors_of(same_site) == {"code": "duplicate"}
    other_site = client.post(f"{API}/areas", {**_area(api_world, code="area-b")})
    assert other_site.status_code == 201


def test_geofence_rule_without_the_api():
    area = Area(polygon=[[0, 0], [0, 1], [1, 1]])
    assert geofence_errors(area) == []
    assert geofence_errors(Area(center_latitude=1, center_longitude=1, radius_m=10)) == []
    assert [e.field for e in geofence_errors(Area(polygon="nope"))] == ["polygon.0", "polygon"]


# --- departments --------------------------------------------------------------------------


def test_department_under_a_parent_inherits_group_and_site(api_world, db):
    response = as_(api_world, Role.PRINCIPAL).post(
        f"{API}/departments",
        {"name": "维修班", "code": "repair", "kind": "team", "parent_id": api_world.dept_w.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["group_id"] == api_world.group.pk
    assert (body["site_id"], body["effective_site_id"]) == (None, api_world.site_a.pk)
    assert body["path"] == f"{api_world.dept_w.path}{body['id']}/"


def test_company_level_department_needs_group_wide_rights(api_world, db):
    company = {"name": "安全环保部", "code": "hse", "kind": "company", "group_id": 0}
    company["group_id"] = api_world.group.pk
    principal = as_(api_world, Role.PRINCIPAL).post(f"{API}/departments", company)
    assert errors_of(principal) == {"site_id": "out_of_scope"}
    assert not Department.objects.filter(code="hse").exists()
    admin = as_(api_world, Role.ADMINISTRATOR).post(f"{API}/departments", company)
    assert admin.status_code == 201
    assert admin.json()["site_id"] is None


def test_moving_a_department_keeps_the_paths_of_its_subtree(api_world, db):
    w = api_world
    client = as_(w, Role.ADMINISTRATOR)
    response = client.patch(f"{API}/departments/{w.dept_w.pk}", {"parent_id": w.dept_wb.pk})
    assert response.status_code == 200, response.content
    w_path = f"/{w.dept_c.pk}/{w.dept_wb.pk}/{w.dept_w.pk}/"
    assert response.json()["path"] == w_path
    team = Department.objects.get(pk=w.dept_t.pk)
    assert team.path == f"{w_path}{w.dept_t.pk}/"
    assert team.effective_site_id == w.site_a.pk  # W keeps its own site
    within = client.get(f"{API}/departments?within={w.dept_wb.pk}").json()
    assert [d["id"] for d in within["items"]] == [w.dept_wb.pk, w.dept_w.pk, w.dept_t.pk]
    # the workshop head of W still sees W's subtree
    head = as_(w, Role.WORKSHOP_HEAD).get(f"{API}/departments").json()
    assert {d["id"] for d in head["items"]} == {w.dept_w.pk, w.dept_t.pk}


def test_a_department_cannot_move_under_itself(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    for parent in (api_world.dept_t, api_world.dept_w):
        response = client.patch(
            f"{API}/departments/{api_world.dept_w.pk}", {"parent_id": parent.pk}
        )
        assert errors_of(response) == {"parent_id": "cycle"}
    assert Department.objects.get(pk=api_world.dept_w.pk).parent_id == api_world.dept_c.pk


def test_deactivating_a_department_with_active_children_is_refused(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    refused = client.post(f"{API}/departments/{api_world.dept_w.pk}/deactivate")
    assert refused.status_code == 409
    assert refused.json()["reasons"][0]["code"] == "org.department.active_children"
    assert client.post(f"{API}/departments/{api_world.dept_t.pk}/deactivate").status_code == 200
    assert client.post(f"{API}/departments/{api_world.dept_w.pk}/deactivate").status_code == 200


# --- visibility ---------------------------------------------------------------------------


def test_org_visibility_per_role(api_world, db):
    w = api_world

    def ids(role, what):
        return {o["id"] for o in as_(w, role).get(f"{API}/{what}").json()["items"]}

    assert ids(Role.SAFETY_OFFICER, "sites") == {w.site_a.pk}
    assert ids(Role.SAFETY_OFFICER, "areas") == {w.area_a.pk}
    assert ids(Role.SAFETY_OFFICER, "departments") == {w.dept_w.pk, w.dept_t.pk}
    assert ids(Role.TEAM_LEADER, "departments") == {w.dept_t.pk}
    assert ids(Role.TEAM_LEADER, "sites") == {w.site_a.pk}  # the site their team works at
    assert ids(Role.INSPECTOR, "groups") == {w.group.pk}
    assert ids(Role.ADMINISTRATOR, "sites") == {w.site_a.pk, w.site_b.pk}
    officer = as_(w, Role.SAFETY_OFFICER)
    assert officer.get(f"{API}/areas/{w.area_b.pk}").status_code == 404
    assert officer.get(f"{API}/departments/{w.dept_c.pk}").status_code == 404
    assert officer.get(f"{API}/positions/{w.position.pk}").status_code == 200


def test_lists_filter_and_paginate(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    page = client.get(f"{API}/departments?limit=2&offset=2").json()
    assert (page["total"], len(page["items"])) == (4, 2)
    named = client.get(f"{API}/sites?name=甲").json()
    assert [s["id"] for s in named["items"]] == [api_world.site_a.pk]
    teams = client.get(f"{API}/departments?kind=team").json()
    assert [d["id"] for d in teams["items"]] == [api_world.dept_t.pk]
    too_many = client.get(f"{API}/sites?limit=501")
    assert errors_of(too_many) == {"limit": "too_large"}


def test_group_wide_only_writes_are_marked_in_the_schema():
    """The role × endpoint test reads this mark: a site-scoped grant gets 403 there."""
    from safework.accounts.access import GROUP_WIDE_KEY
    from safework.api import api

    paths = api.get_openapi_schema()["paths"]
    marked = {
        (method, path.removeprefix(API))
        for path, ops in paths.items()
        for method, op in ops.items()
        if isinstance(op, dict) and op.get(GROUP_WIDE_KEY)
    }
    assert marked == {
        ("post", "/groups"),
        ("patch", "/groups/{group_id}"),
        ("post", "/groups/{group_id}/deactivate"),
        ("post", "/positions"),
        ("patch", "/positions/{position_id}"),
        ("post", "/positions/{position_id}/deactivate"),
        ("patch", "/contractors/{contractor_id}"),
        ("post", "/contractors/{contractor_id}/deactivate"),
    }

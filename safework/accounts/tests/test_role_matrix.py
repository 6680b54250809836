"""Role × endpoint: every operation of /api/v1/openapi.json, called as every role.

The operations are read from the OpenAPI schema, so an endpoint added anywhere (certs/api*.py
included) is covered the day it is registered. A cell expects 403 exactly when the permission
matrix denies (role, resource, action), and for a user without grants always; otherwise anything
but 403 and 5xx (a 404 for an object outside the scope or an unknown id, a 422 for the empty
body of a write, are fine). Path parameters are filled with ids of real objects made in the
world fixture, or a generic id that does not exist.
"""

import uuid

import pytest

from safework.accounts import matrix
from safework.accounts.access import PERMISSION_KEY
from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.api import api

api_world = world_fixture(catalogue=True)

METHODS = {"get", "post", "put", "patch", "delete"}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _operations() -> list[tuple[str, str, dict]]:
    schema = api.get_openapi_schema()
    return [
        (method.upper(), path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


OPERATIONS = _operations()
ROLES = [*Role.values, "other_manager", "stranger"]

# Path parameter → the world's object whose id fills it. Unknown names get an id that does not
# exist (an allowed role then answers 404, which is fine: only 403 and 5xx matter here).
PATH_OBJECTS = {
    "group_id": lambda w: w.group.pk,
    "site_id": lambda w: w.site_a.pk,
    "area_id": lambda w: w.area_a.pk,
    "department_id": lambda w: w.dept_t.pk,
    "position_id": lambda w: w.position.pk,
    "person_id": lambda w: w.p_own.pk,
    "employment_id": lambda w: w.p_own.current_employment_id,
    "contractor_id": lambda w: w.contractor_x.pk,
    "engagement_id": lambda w: w.engagement_x.pk,
    "check_id": lambda w: w.check_own.pk,
    "entry_id": lambda w: w.bar_x.pk,
    "user_id": lambda w: w.target_user.pk,
    "grant_id": lambda w: w.target_grant.pk,
}
MISSING_ID = 987654321


def _path_value(param: dict, world):
    name = param["name"]
    if name in PATH_OBJECTS:
        return PATH_OBJECTS[name](world)
    schema = param.get("schema", {})
    if schema.get("type") == "integer":
        return MISSING_ID
    if schema.get("format") == "uuid":
        return uuid.UUID(int=MISSING_ID)
    return str(MISSING_ID)


def _url(path: str, op: dict, world) -> str:
    for param in op.get("parameters", []):
        if param.get("in") == "path":
            path = path.replace("{" + param["name"] + "}", str(_path_value(param, world)))
    return path


def _call(client, method: str, url: str):
    if method.lower() in WRITE_METHODS:
        return getattr(client, method.lower())(url, {})
    return getattr(client, method.lower())(url)


def _allowed(role: str, op: dict) -> bool:
    if role == "stranger":
        return False
    perm = op[PERMISSION_KEY]
    granted_role = Role.CONTRACTOR_MANAGER if role == "other_manager" else role
    if op.get("x-safework-group-wide-only") and granted_role != Role.ADMINISTRATOR:
        return False  # every grant of this world but the administrator's is on site A
    return matrix.allows(granted_role, perm["resource"], perm["action"])


def _id(method, path, role):
    return f"{method} {path.removeprefix(API)} × {role}"


CELLS = [
    pytest.param(method, path, op, role, id=_id(method, path, role))
    for method, path, op in OPERATIONS
    for role in ROLES
]


def test_every_operation_declares_its_permission(db):
    response = client_for().get(f"{API}/openapi.json")
    assert response.status_code == 200
    served = response.json()["paths"]
    missing = [
        f"{method.upper()} {path}"
        for path, ops in served.items()
        for method, op in ops.items()
        if method in METHODS and PERMISSION_KEY not in op
    ]
    assert missing == []
    for path, ops in served.items():
        for method, op in ops.items():
            if method in METHODS:
                perm = op[PERMISSION_KEY]
                assert perm["resource"] in matrix.RESOURCES, (method, path)
                assert perm["action"] in (matrix.READ, matrix.WRITE), (method, path)
    # The cells below are generated from the same list the server serves.
    assert {(m, p) for m, p, _op in OPERATIONS} == {
        (m.upper(), p) for p, ops in served.items() for m in ops if m in METHODS
    }


def test_the_matrix_covers_the_foundation_endpoints():
    paths = {p.removeprefix(API) for _m, p, _op in OPERATIONS}
    for expected in (
        "/groups",
        "/sites/{site_id}",
        "/areas/{area_id}/deactivate",
        "/departments/{department_id}",
        "/positions",
        "/persons/{person_id}",
        "/persons/{person_id}/employments",
        "/employments/{employment_id}/deactivate",
        "/contractors/{contractor_id}",
        "/engagements",
        "/health-checks/{check_id}",
        "/blacklist/{entry_id}/deactivate",
        "/users/{user_id}",
        "/role-grants/{grant_id}/revoke",
        "/audit",
        "/audit/verify",
    ):
        assert expected in paths


@pytest.mark.parametrize(("method", "path", "op", "role"), CELLS)
def test_role_endpoint_cell(api_world, db, method, path, op, role):
    if PERMISSION_KEY not in op:
        pytest.fail(f"{method} {path} declares no {PERMISSION_KEY}")
    response = _call(api_world.clients[role], method, _url(path, op, api_world))
    if _allowed(role, op):
        assert response.status_code != 403, response.content
        assert response.status_code < 500, response.content
        assert response.status_code != 401, response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["errors"][0]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path", "op"),
    [pytest.param(m, p, op, id=f"{m} {p.removeprefix(API)}") for m, p, op in OPERATIONS],
)
def test_unauthenticated_is_401(api_world, db, method, path, op):
    response = _call(client_for(None), method, _url(path, op, api_world))
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["code"] == "unauthenticated"


def test_http_basic_auth_logs_in(api_world, db):
    import base64

    from django.test import Client

    from safework.accounts.tests.world import make_user

    user = make_user("basic-officer", password="a-Long-pass-4-tests")
    from safework.accounts.tests.world import grant

    grant(user, Role.SAFETY_OFFICER, site=api_world.site_a)
    token = base64.b64encode(b"basic-officer:a-Long-pass-4-tests").decode()
    ok = Client(HTTP_AUTHORIZATION=f"Basic {token}").get(f"{API}/persons")
    assert ok.status_code == 200
    bad = base64.b64encode(b"basic-officer:wrong").decode()
    assert Client(HTTP_AUTHORIZATION=f"Basic {bad}").get(f"{API}/persons").status_code == 401


def test_contractor_manager_sees_own_staff_and_404_for_another_contractors(api_world, db):
    client = client_for(api_world.users[Role.CONTRACTOR_MANAGER])
    assert client.get(f"{API}/persons/{api_world.p_x.pk}").status_code == 200
    other = client.get(f"{API}/persons/{api_world.p_y.pk}")
    assert other.status_code == 404
    assert other.json()["errors"][0]["code"] == "not_found"
    listed = client.get(f"{API}/persons").json()
    assert [p["id"] for p in listed["items"]] == [api_world.p_x.pk]
    # the other contractor's manager sees the mirror image
    client = client_for(api_world.users["other_manager"])
    assert client.get(f"{API}/persons/{api_world.p_x.pk}").status_code == 404
    assert client.get(f"{API}/persons/{api_world.p_y.pk}").status_code == 200
    assert client.get(f"{API}/health-checks/{api_world.check_x.pk}").status_code == 404


def test_inspector_is_refused_every_write(api_world, db):
    client = client_for(api_world.users[Role.INSPECTOR])
    # by the declared action: a question asked with POST (a qualification check) is a read.
    # Their own API tokens are every role's to manage (a credential, not a record).
    writes = [
        (m, p, op)
        for m, p, op in OPERATIONS
        if op[PERMISSION_KEY]["action"] == "write" and op[PERMISSION_KEY]["resource"] != "tokens"
    ]
    assert len(writes) > 30
    statuses = {
        f"{m} {p}": _call(client, m, _url(p, op, api_world)).status_code for m, p, op in writes
    }
    assert set(statuses.values()) == {403}, statuses
    # …while reading works
    assert client.get(f"{API}/persons").status_code == 200
    assert client.get(f"{API}/audit").status_code == 200


def test_id_numbers_masked_for_workshop_head_full_for_safety_officer(api_world, db):
    number = api_world.p_own.id_number
    masked = number[:6] + "********" + number[-4:]
    head = client_for(api_world.users[Role.WORKSHOP_HEAD])
    assert head.get(f"{API}/persons/{api_world.p_own.pk}").json()["id_number"] == masked
    listed = head.get(f"{API}/persons").json()["items"]
    assert listed and all("*" * 8 in p["id_number"] for p in listed)
    officer = client_for(api_world.users[Role.SAFETY_OFFICER])
    assert officer.get(f"{API}/persons/{api_world.p_own.pk}").json()["id_number"] == number
    inspector = client_for(api_world.users[Role.INSPECTOR])
    bar = inspector.get(f"{API}/blacklist/{api_world.bar_x.pk}").json()
    x_number = api_world.p_x.id_number
    assert bar["id_number"] == x_number[:6] + "********" + x_number[-4:]
    # a worker sees their own full number
    worker = client_for(api_world.users[Role.WORKER])
    me = api_world.person_of(Role.WORKER)
    assert worker.get(f"{API}/persons/{me.pk}").json()["id_number"] == me.id_number


def test_scopes_of_the_roles_on_persons(api_world, db):
    def seen(role):
        client = client_for(api_world.users[role])
        return {p["id"] for p in client.get(f"{API}/persons?limit=500").json()["items"]}

    w = api_world
    site_a_staff = {w.p_own.pk, w.p_x.pk, w.p_y.pk} | {
        w.person_of(r).pk for r in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER)
    }
    assert seen(Role.SAFETY_OFFICER) == site_a_staff
    assert seen(Role.INSPECTOR) == site_a_staff
    team = {w.p_own.pk} | {w.person_of(r).pk for r in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER)}
    assert seen(Role.TEAM_LEADER) == team
    assert seen(Role.WORKSHOP_HEAD) == team  # T is W's only team
    assert seen(Role.WORKER) == {w.person_of(Role.WORKER).pk}
    assert w.p_b.pk in seen(Role.ADMINISTRATOR)
    assert w.p_z.pk not in seen(Role.PRINCIPAL)

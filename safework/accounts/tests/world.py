"""A small enterprise with one user per role, for API tests.

Site A holds the grants: a company-level department C (no site) with workshop W (site A) and its
team T; workshop WB at site B. Contractors X and Y are engaged at site A, Z at site B. Users are
made without password hashing (tests log in with `force_login`); `client_for(user)` gives a
logged-in test client whose JSON helpers send `application/json`.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import Client

from safework.accounts.models import Role, RoleGrant, User
from safework.org.tests.factories import (
    AreaFactory,
    DepartmentFactory,
    GroupFactory,
    PositionFactory,
    SiteFactory,
)
from safework.people.models import BlacklistEntry
from safework.people.tests.factories import (
    ContractorFactory,
    EmploymentFactory,
    EngagementFactory,
    HealthCheckFactory,
    PersonFactory,
)

PASSWORD = "pw-for-tests-1"


def make_user(username: str, *, person=None, password: str | None = None, **extra) -> User:
    user = User(username=username, person=person, **extra)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def grant(user, role, **where) -> RoleGrant:
    return RoleGrant.objects.create(user=user, role=role, **where)


@dataclass
class World:
    group: object = None
    site_a: object = None
    site_b: object = None
    area_a: object = None
    area_b: object = None
    dept_c: object = None
    dept_w: object = None
    dept_t: object = None
    dept_wb: object = None
    position: object = None
    contractor_x: object = None
    contractor_y: object = None
    contractor_z: object = None
    engagement_x: object = None
    p_own: object = None
    p_b: object = None
    p_x: object = None
    p_y: object = None
    p_z: object = None
    check_own: object = None
    check_x: object = None
    check_b: object = None
    bar_x: object = None
    bar_unregistered: object = None
    bar_b: object = None
    users: dict = field(default_factory=dict)  # role (or "stranger", "other_manager") → user
    target_user: object = None
    target_grant: object = None
    clients: dict = field(default_factory=dict)  # role → logged-in client (session in the world)

    def person_of(self, role):
        return self.users[role].person


def build_world() -> World:
    w = World()
    w.group = GroupFactory()
    w.site_a = SiteFactory(group=w.group, name="甲厂区", code="site-a")
    w.site_b = SiteFactory(group=w.group, name="乙厂区", code="site-b")
    w.area_a = AreaFactory(
        site=w.site_a,
        code="area-a",
        radius_m=100,
        center_latitude="31.23",
        center_longitude="121.47",
    )
    w.area_b = AreaFactory(site=w.site_b, code="area-b")
    w.dept_c = DepartmentFactory(group=w.group, site=None, kind="company", code="dept-c")
    w.dept_w = DepartmentFactory(group=w.group, parent=w.dept_c, site=w.site_a, code="dept-w")
    w.dept_t = DepartmentFactory(
        group=w.group, parent=w.dept_w, site=None, kind="team", code="dept-t"
    )
    w.dept_wb = DepartmentFactory(group=w.group, parent=w.dept_c, site=w.site_b, code="dept-wb")
    w.position = PositionFactory(code="welder-test")

    w.contractor_x = ContractorFactory(name="承包商X")
    w.contractor_y = ContractorFactory(name="承包商Y")
    w.contractor_z = ContractorFactory(name="承包商Z")
    w.engagement_x = EngagementFactory(contractor=w.contractor_x, site=w.site_a)
    EngagementFactory(contractor=w.contractor_y, site=w.site_a)
    EngagementFactory(contractor=w.contractor_z, site=w.site_b)

    def own(dept):
        return EmploymentFactory(department=dept).person

    def staff(contractor):
        return EmploymentFactory(employer_kind="contractor", contractor=contractor).person

    w.p_own = own(w.dept_t)
    w.p_b = own(w.dept_wb)
    w.p_x = staff(w.contractor_x)
    w.p_y = staff(w.contractor_y)
    w.p_z = staff(w.contractor_z)
    w.check_own = HealthCheckFactory(person=w.p_own)
    w.check_x = HealthCheckFactory(person=w.p_x)
    w.check_b = HealthCheckFactory(person=w.p_b)
    today = dt.date(2026, 1, 1)
    w.bar_x = BlacklistEntry.objects.create(
        id_number=w.p_x.id_number, reason="违章动火", starts_on=today, created_by_label="t"
    )
    w.bar_b = BlacklistEntry.objects.create(
        id_number=w.p_b.id_number, reason="违章作业", starts_on=today, created_by_label="t"
    )
    w.bar_unregistered = BlacklistEntry.objects.create(
        id_number=PersonFactory.build().id_number,
        reason="伪造证件",
        starts_on=today,
        created_by_label="t",
    )

    site_a = {"site": w.site_a}
    for role in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER):
        user = make_user(role, person=own(w.dept_t))
        grant(user, role, **site_a)
        w.users[role] = user
    for role in (
        Role.SAFETY_OFFICER,
        Role.SAFETY_HEAD,
        Role.TECHNICAL_LEAD,
        Role.PRINCIPAL,
        Role.INSPECTOR,
    ):
        w.users[role] = make_user(role)
        grant(w.users[role], role, **site_a)
    w.users[Role.ADMINISTRATOR] = make_user("administrator")
    grant(w.users[Role.ADMINISTRATOR], Role.ADMINISTRATOR, **site_a)
    w.users[Role.WORKSHOP_HEAD] = make_user("workshop_head")
    grant(w.users[Role.WORKSHOP_HEAD], Role.WORKSHOP_HEAD, department=w.dept_w, **site_a)
    w.users[Role.TEAM_LEADER] = make_user("team_leader")
    grant(w.users[Role.TEAM_LEADER], Role.TEAM_LEADER, department=w.dept_t, **site_a)
    w.users[Role.CONTRACTOR_MANAGER] = make_user("contractor_manager")
    grant(w.users[Role.CONTRACTOR_MANAGER], Role.CONTRACTOR_MANAGER, contractor=w.contractor_x)
    w.users["other_manager"] = make_user("other_manager")
    grant(w.users["other_manager"], Role.CONTRACTOR_MANAGER, contractor=w.contractor_y)
    w.users["stranger"] = make_user("stranger")

    w.target_user = make_user("target")
    w.target_grant = grant(w.target_user, Role.INSPECTOR, site=w.site_b)
    w.clients = {role: client_for(user) for role, user in w.users.items()}
    return w


class JsonClient(Client):
    """A test client whose post/patch/put send JSON (dict bodies), as API clients do."""

    def _json(self, method, path, data=None, **kwargs):
        kwargs.setdefault("content_type", "application/json")
        if data is not None and not isinstance(data, str | bytes):
            data = json.dumps(data, default=str)
        return getattr(super(), method)(path, data, **kwargs)

    def post(self, path, data=None, **kwargs):
        return self._json("post", path, data, **kwargs)

    def patch(self, path, data=None, **kwargs):
        return self._json("patch", path, data, **kwargs)

    def put(self, path, data=None, **kwargs):
        return self._json("put", path, data, **kwargs)


def client_for(user=None) -> JsonClient:
    client = JsonClient()
    if user is not None:
        client.force_login(user)
    return client


API = "/api/v1"


def world_fixture(*, catalogue: bool = False):
    """A module-scoped fixture building the world once; each test rolls back to it.

    The world is made inside an outer transaction that is rolled back after the module; each
    test's own transaction (pytest-django's `db`) nests inside it as a savepoint.
    Use: `api_world = world_fixture()` at module level, then request `api_world` and `db`.
    """

    @pytest.fixture(scope="module")
    def api_world(django_db_setup, django_db_blocker):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer.__enter__()
            try:
                if catalogue:
                    from safework.core.catalogue import load_catalogue

                    load_catalogue()
                yield build_world()
            finally:
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)

    return api_world

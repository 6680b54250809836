"""A site with a geofenced hazardous area, the users who apply for and approve permits there, and
a hot-work crew qualified on D (10 March 2026, a Tuesday): each test changes one fact."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from safework.accounts.models import User
from safework.accounts.tests.factories import RoleGrantFactory
from safework.org.models import Position
from safework.org.tests.factories import AreaFactory, DepartmentFactory
from safework.permits import services
from safework.qualification.tests.qualification_fixtures import (
    SHANGHAI,
    D,
    at,
    hot_work_crew,
    member,
    site,
)

__all__ = ["D", "SHANGHAI", "World", "at", "build_world", "hot_work_data", "ON_SITE", "OFF_SITE"]

CENTRE = (Decimal("31.230400"), Decimal("121.473700"))
# About 11 m and 1.1 km north of the area's centre; the fence is 200 m.
ON_SITE = {"lat": 31.2305, "lon": 121.4737, "accuracy_m": 10}
OFF_SITE = {"lat": 31.2404, "lon": 121.4737, "accuracy_m": 10}


@dataclass
class World:
    site: object
    area: object
    dept: object
    users: dict = field(default_factory=dict)
    welder: object = None
    guardian: object = None
    tester: object = None
    leader: object = None

    def user(self, name):
        return self.users[name]


def _user(name, role, **grant):
    user = User.objects.create(username=name)  # no password: hashing one costs a second
    RoleGrantFactory(user=user, role=role, **grant)
    return user


def build_world() -> World:
    here = site()
    area = AreaFactory(
        site=here,
        code="unit-1",
        name="一号装置",
        fire_explosion_hazard=True,
        center_latitude=CENTRE[0],
        center_longitude=CENTRE[1],
        radius_m=200,
    )
    dept = DepartmentFactory(site=here)
    w = World(site=here, area=area, dept=dept)
    w.welder, w.guardian, w.tester = hot_work_crew(here)
    w.leader = member(here, position="team-leader", certs=(("internal", "GUARDIAN"),))
    w.users = {
        "applicant": _user("applicant", "team_leader", site=here),
        "shift": _user("shift", "team_leader", site=here),
        "workshop": _user("workshop", "workshop_head", site=here),
        "workshop2": _user("workshop2", "workshop_head", site=here),
        "safety_head": _user("safety_head", "safety_head", site=here),
        "principal": _user("principal", "principal", site=here),
        "officer": _user("officer", "safety_officer", site=here),
        "tester": _user("tester_user", "gas_tester", site=here),
    }
    w.users["tester"].person = w.tester
    w.users["tester"].save()
    assert Position.objects.filter(code="welder").exists()
    return w


def hot_work_data(w: World, *, start=None, hours=7, **overrides) -> dict:
    """A level-1 hot-work job (fire/explosion hazardous area) appointed the day before."""
    start = start or at(D, 10)
    data = {
        "work_type": "hot_work",
        "site_id": w.site.pk,
        "area_id": w.area.pk,
        "place": "一号装置 P-101 泵出口管线",
        "content": "更换泵出口法兰，焊接",
        "planned_start": start,
        "planned_end": start + dt.timedelta(hours=hours),
        "work_unit_id": w.dept.pk,
        "work_leader_id": w.leader.pk,
        "fields": {"method": "welding"},
        "inputs": {"height_m": 0.5},
        "crew": [
            {"person_id": w.leader.pk, "role": "site_lead"},
            {"person_id": w.welder.pk, "role": "worker"},
            {"person_id": w.guardian.pk, "role": "guardian"},
            {"person_id": w.tester.pk, "role": "gas_tester"},
        ],
        "risks": [{"hazard": "法兰残液", "controls": "排净、置换、盲板隔离"}],
    }
    data.update(overrides)
    return data


def create(w: World, *, created=None, **overrides):
    created = created or at(D - dt.timedelta(days=1), 9)
    return services.create_permit(w.user("applicant"), hot_work_data(w, **overrides), at=created)


def approve_all(w: World, permit, *, when=None, position=ON_SITE):
    """Sign every pending step with the user who holds its role."""
    when = when or at(D - dt.timedelta(days=1), 11)
    by_role = {
        "workshop_head": "workshop",
        "safety_head": "safety_head",
        "principal": "principal",
        "team_leader": "shift",
        "safety_officer": "officer",
    }
    for _ in range(20):
        step = services.current_step(permit)
        if step is None:
            break
        role = next(r for r in step.roles if not step.signatures.filter(role=r).exists())
        services.approve(permit, w.user(by_role[role]), at=when, position=position)
        permit.refresh_from_db()
    return permit


def ready_to_start(w: World, permit, *, start):
    """Confirm every measure, brief the crew, test the gas 10 minutes before, check everyone in."""
    checklist = [{"id": pk} for pk in permit.measures.values_list("pk", flat=True)]
    services.confirm_measures(
        permit, checklist, w.user("applicant"), at=start - dt.timedelta(minutes=40)
    )
    crew = [c.person_id for c in permit.crew.filter(removed_at=None)]
    services.record_briefing(
        permit,
        w.user("applicant"),
        briefer_id=w.leader.pk,
        recipient_ids=crew,
        at=start - dt.timedelta(minutes=35),
    )
    services.record_gas_test(
        permit,
        w.user("tester"),
        at=start - dt.timedelta(minutes=10),
        taken_at=start - dt.timedelta(minutes=10),
        point="动火点",
        gas="combustible",
        value=Decimal("0.10"),
        unit="%vol",
        lel_percent=Decimal("5.0"),
        instrument="GD-01",
        calibrated_on=D - dt.timedelta(days=30),
        tester_id=w.tester.pk,
    )
    for person_id in crew:
        services.check_in(
            permit,
            w.user("applicant"),
            person_id=person_id,
            at=start - dt.timedelta(minutes=5),
            position=ON_SITE,
        )
    permit.refresh_from_db()
    return permit

"""A hot-work permit through the API: a qualified crew at site A of the accounts test world, a
request body, and the steps that take a permit from draft to any later state.

Time: the permit is drafted on Wednesday 20 May 2026 at 10:00 (Shanghai) for Thursday 21 May
09:00–17:00: a working day in daylight (no upgrade), appointed a day ahead, level 2 (outside
fire/explosion hazardous places), 8 h within level 2's 72 h.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import time_machine

from safework.accounts.models import Role
from safework.accounts.tests.world import API
from safework.qualification.tests.qualification_fixtures import member

SHANGHAI = ZoneInfo("Asia/Shanghai")
DRAFTED = dt.datetime(2026, 5, 20, 10, 0, tzinfo=SHANGHAI)
START = dt.datetime(2026, 5, 21, 9, 0, tzinfo=SHANGHAI)
END = dt.datetime(2026, 5, 21, 17, 0, tzinfo=SHANGHAI)
ON_SITE = {"lat": 31.2301, "lon": 121.4701, "accuracy_m": 10}  # ~15 m from area A's centre
OFF_SITE = {"lat": 31.2400, "lon": 121.4701, "accuracy_m": 10}  # ~1.1 km away


@dataclass
class Crew:
    lead: object
    welder: object
    guardian: object
    tester: object

    @property
    def persons(self):
        return [self.lead, self.welder, self.guardian]


def make_crew(world, contractor=None) -> Crew:
    where = world.site_a
    kw = {"contractor": contractor} if contractor is not None else {}
    return Crew(
        lead=member(where, position="team-leader", certs=(), **kw),
        welder=member(where, **kw),
        guardian=member(where, position="team-leader", certs=(("internal", "GUARDIAN"),), **kw),
        tester=member(where, position="gas-analyst", certs=(("internal", "GAS-TESTER"),)),
    )


def body(world, crew: Crew, **over) -> dict:
    data = {
        "work_type": "hot_work",
        "site_id": world.site_a.pk,
        "area_id": world.area_a.pk,
        "place": "甲厂区 3号泵房 出口管线",
        "content": "更换出口法兰，焊接",
        "planned_start": START.isoformat(),
        "planned_end": END.isoformat(),
        "work_unit_id": world.dept_t.pk,
        "work_leader_id": crew.lead.pk,
        "fields": {"method": "welding"},
        "inputs": {"height_m": 0.5},
        "crew": [
            {"person_id": crew.lead.pk, "role": "site_lead"},
            {"person_id": crew.welder.pk, "role": "worker"},
            {"person_id": crew.guardian.pk, "role": "guardian"},
        ],
    }
    data.update(over)
    return data


def ok(response, status=200):
    assert response.status_code == status, response.content.decode()
    return response.json()


class Flow:
    """Drive one permit through the API as the roles of the world would."""

    def __init__(self, world, crew: Crew, permit_id: int | None = None):
        self.w, self.crew, self.id = world, crew, permit_id

    def client(self, role):
        return self.w.clients[role]

    def url(self, suffix=""):
        return f"{API}/permits/{self.id}{suffix}"

    def create(self, role=Role.SAFETY_OFFICER, **over):
        with time_machine.travel(DRAFTED, tick=False):
            out = ok(self.client(role).post(f"{API}/permits", body(self.w, self.crew, **over)), 201)
        self.id = out["id"]
        return out

    def post(self, role, suffix, data=None, *, at, status=200):
        with time_machine.travel(at, tick=False):
            response = self.client(role).post(self.url(suffix), data or {})
        if status is None:
            return response
        return ok(response, status)

    def submit(self):
        return self.post(Role.SAFETY_OFFICER, "/submit", at=DRAFTED + dt.timedelta(minutes=5))

    def approve(self):
        return self.post(
            Role.WORKSHOP_HEAD,
            "/approve",
            {"position": ON_SITE, "note": "同意"},
            at=DRAFTED + dt.timedelta(hours=2),
        )

    def prepare(self):
        """Everything before the start: the shift check, measures, briefing, gas, check-ins."""
        before = START - dt.timedelta(minutes=40)
        self.post(Role.TEAM_LEADER, "/sign", {"position": ON_SITE}, at=before)
        with time_machine.travel(before, tick=False):
            detail = ok(self.client(Role.SAFETY_OFFICER).get(self.url()))
        for m in detail["measures"]:
            self.post(Role.SAFETY_OFFICER, f"/measures/{m['id']}/confirm", at=before)
        self.post(
            Role.SAFETY_OFFICER,
            "/briefings",
            {"briefer_id": self.crew.lead.pk, "recipient_ids": [p.pk for p in self.crew.persons]},
            at=before,
            status=201,
        )
        for person in self.crew.persons:
            self.post(
                Role.SAFETY_OFFICER,
                "/check-in",
                {"person_id": person.pk, "position": ON_SITE},
                at=before,
            )

    def gas_test(self, *, taken_at, value="0.1", at=None):
        return self.post(
            Role.SAFETY_OFFICER,
            "/gas-tests",
            {
                "taken_at": taken_at.isoformat(),
                "point": "动火点",
                "gas": "combustible",
                "value": value,
                "unit": "%vol",
                "lel_percent": "5",
                "instrument": "PID-007",
                "calibrated_on": "2026-05-01",
                "tester_id": self.crew.tester.pk,
                "position": ON_SITE,
            },
            at=at or taken_at,
            status=201,
        )

    def start(self, at=START + dt.timedelta(minutes=10), status=200):
        return self.post(
            Role.SAFETY_OFFICER,
            "/start",
            {"weather": {"wind_force": 3, "conditions": []}, "position": ON_SITE},
            at=at,
            status=status,
        )

    def to_approved(self):
        self.create()
        self.submit()
        return self.approve()

    def to_active(self):
        self.to_approved()
        self.prepare()
        self.gas_test(taken_at=START - dt.timedelta(minutes=5))
        return self.start()

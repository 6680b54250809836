"""Demo permits: on the Nanjing demo site, permits in every state and a few refused actions with
their alarms, made through the permit services (so every gate, signature, audit record and park
push is real), relative to the time of seeding.

The crew is chosen among the demo staff whom the qualification engine clears for the window, so
the demo stays valid whatever day `make run` seeds it; the refusals use staff it does not clear.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils import timezone

from safework.accounts.models import User
from safework.core.refusals import Refused
from safework.org import geo
from safework.org.models import Area, Site
from safework.people.models import Person
from safework.permits import services
from safework.permits.models import Permit
from safework.qualification.engine import CrewMember, assess_crew
from safework.work import services as work_services

logger = logging.getLogger(__name__)
CALENDARS = Path(work_services.__file__).parent / "catalogue" / "calendar"
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
SITE = "demo-nanjing"


def _staff(site: Site, position: str) -> list[Person]:
    return list(
        Person.objects.filter(
            position__code=position,
            current_employment__department__effective_site=site,
        ).order_by("pk")[:40]
    )


def _cleared(people, role, work_type, level, site, start, end, attrs) -> list[Person]:
    out = []
    for p in people:
        ok = all(
            assess_crew(
                [CrewMember(p.pk, role)], work_type, level, site, when, attrs
            ).decision.allowed
            for when in (start, end - MIN)
        )
        if ok:
            out.append(p)
    return out


def _inside(area: Area) -> dict:
    if area.polygon:
        lat = sum(Decimal(str(p[0])) for p in area.polygon) / len(area.polygon)
        lon = sum(Decimal(str(p[1])) for p in area.polygon) / len(area.polygon)
    else:
        lat, lon = area.center_latitude, area.center_longitude
    assert geo.inside_fence(area, lat, lon)
    return {"lat": float(lat), "lon": float(lon), "accuracy_m": 8}


class _Demo:
    def __init__(self, now: dt.datetime, site: str = SITE, area: str = "polypropylene"):
        self.now = now.replace(second=0, microsecond=0)
        self.site = Site.objects.get(code=site)
        areas = Area.objects.filter(site=self.site)
        self.area = areas.filter(code=area).first() or areas.first()
        self.pos = _inside(self.area)
        self.users = {u.username: u for u in User.objects.filter(username__startswith="demo_")}
        self.counts: Counter[str] = Counter()
        self.preferred: list[Person] = []
        guardian = getattr(self.users.get("demo_guardian"), "person", None)
        self.reserved = {guardian.pk} if guardian else set()

    def user(self, name):
        return self.users[name]

    def crew(self, start, end, *, level="level1", exclude=()):
        attrs = {"height_m": 0.5, "hot_work_method": "welding"}
        pick = {}
        for key, position, role in (
            ("welder", "welder", "worker"),
            ("leader", "team-leader", "site_lead"),
            ("guardian", "process-operator", "guardian"),
            ("tester", "gas-analyst", "gas_tester"),
        ):
            # The demo guardian's person is on the permits it is preferred for only, so that the
            # guardian's login sees "their" permits, not the whole site's.
            others = [
                p
                for p in _staff(self.site, position)
                if p.pk not in exclude and p.pk not in self.reserved
            ]
            preferred = [p for p in self.preferred if p.position_id and p.position.code == position]
            people = preferred + others[:12]
            cleared = _cleared(people, role, "hot_work", level, self.site, start, end, attrs)
            if not cleared:
                raise LookupError(f"no demo {position} cleared for {role}")
            pick[key] = cleared[0]
        return pick

    def data(self, start, hours=6, crew=None, **overrides):
        crew = crew or self.crew(start, start + hours * H)
        unit = crew["leader"].current_employment.department_id  # the leader's team
        data = {
            "work_type": "hot_work",
            "site_id": self.site.pk,
            "area_id": self.area.pk,
            "place": f"{self.area.name} 换热器E-1203出口管线",
            "content": "更换出口短节，氩弧焊打底、电焊盖面",
            "planned_start": start,
            "planned_end": start + hours * H,
            "work_unit_id": unit,
            "work_leader_id": crew["leader"].pk,
            "inputs": {"height_m": 0.5},
            "fields": {"method": "welding", "plan_ref": "FA-2026-118"},
            "crew": [
                {"person_id": crew["leader"].pk, "role": "site_lead"},
                {"person_id": crew["welder"].pk, "role": "worker"},
                {"person_id": crew["guardian"].pk, "role": "guardian"},
                {"person_id": crew["tester"].pk, "role": "gas_tester"},
            ],
            "risks": [{"hazard": "管线残存可燃介质", "controls": "倒空、氮气置换、加盲板隔离"}],
        }
        data.update(overrides)
        return data, crew

    def draft(self, start, **kw) -> tuple[Permit, dict]:
        data, crew = self.data(start, **kw)
        created = min(self.now, start) - dt.timedelta(days=1, hours=2)
        permit = services.create_permit(self.user("demo_safety_officer"), data, at=created)
        self.counts["created"] += 1
        return permit, crew

    def submitted(self, start, **kw):
        permit, crew = self.draft(start, **kw)
        when = permit.created_at + 10 * MIN
        return services.submit(permit, self.user("demo_safety_officer"), at=when), crew

    def approved(self, start, **kw):
        permit, crew = self.submitted(start, **kw)
        when = permit.submitted_at + 20 * MIN
        names = {
            "workshop_head": "demo_workshop_head",
            "safety_head": "demo_safety_head",
            "principal": "demo_principal",
            "team_leader": "demo_team_leader",
            "safety_officer": "demo_safety_officer",
            "technical_lead": "demo_technical_lead",
        }
        for _ in range(10):
            step = services.current_step(permit)
            if step is None:
                break
            role = next(
                r
                for r in step.roles
                if not step.signatures.filter(role=r, action="approve").exists()
            )
            services.approve(permit, self.user(names[role]), at=when, position=self.pos)
            permit.refresh_from_db()
            when += 15 * MIN
        return permit, crew

    def ready(self, permit, crew, start):
        officer = self.user("demo_safety_officer")
        checklist = [{"id": pk} for pk in permit.measures.values_list("pk", flat=True)]
        services.confirm_measures(permit, checklist, officer, at=start - 40 * MIN)
        people = [c.person_id for c in permit.crew.filter(removed_at=None)]
        services.record_briefing(
            permit,
            officer,
            briefer_id=crew["leader"].pk,
            recipient_ids=people,
            at=start - 30 * MIN,
            content="作业危害、安全措施、应急处置，现场交底",
        )
        services.record_gas_test(
            permit,
            self.user("demo_gas_tester"),
            at=start - 10 * MIN,
            taken_at=start - 10 * MIN,
            point="动火点下风向1 m",
            gas="combustible",
            value=Decimal("0.08"),
            unit="%vol",
            lel_percent=Decimal("2.7"),
            instrument="PGM-2400 #07",
            calibrated_on=timezone.localdate(start) - dt.timedelta(days=20),
            tester_id=crew["tester"].pk,
            position=self.pos,
        )
        for pid in people:
            services.check_in(permit, officer, person_id=pid, at=start - 5 * MIN, position=self.pos)

    def active(self, start, **kw):
        permit, crew = self.approved(start, **kw)
        self.ready(permit, crew, start)
        return services.start(
            permit,
            self.user("demo_safety_officer"),
            at=start,
            weather={"wind_force": 3, "conditions": []},
            position=self.pos,
        ), crew


def _refused_blinding(demo: _Demo, start: dt.datetime) -> None:
    """One blinding permit that inserts and removes the same blind: refused, alarm 20."""
    fitters = _cleared(
        _staff(demo.site, "fitter")[:12],
        "worker",
        "blinding",
        None,
        demo.site,
        start,
        start + 4 * H,
        {},
    )
    if not fitters:
        return
    blind = {
        "line": "P-1203 裂解气出口",
        "medium": "裂解气",
        "temperature_c": 45,
        "pressure_mpa": 0.2,
        "size": "DN150",
        "number": "MB-1203-02",
        "action": "insert",
    }
    data, _crew = demo.data(start, hours=4)
    data.update(
        work_type="blinding",
        content="P-1203出口法兰加盲板并于检修后拆除",
        inputs={},
        fields={"blinds": [blind, {**blind, "action": "remove"}]},
        risks=[],
        crew=[c for c in data["crew"] if c["role"] in ("site_lead", "guardian")]
        + [{"person_id": fitters[0].pk, "role": "worker"}],
    )
    officer = demo.user("demo_safety_officer")
    permit = services.create_permit(officer, data, at=start - dt.timedelta(days=1))
    services.add_attachment(
        permit,
        officer,
        name="盲板位置图",
        kind="drawing",
        at=permit.created_at,
        upload=ContentFile("盲板位置图（演示）".encode(), name="blinds.pdf"),
    )
    try:
        services.submit(permit, officer, at=permit.created_at + MIN)
    except Refused:
        demo.counts["refused_submit"] += 1


def load_calendars() -> None:
    """The shipped holiday calendars (work/catalogue/calendar/*.yaml), loaded once each."""
    for path in sorted(CALENDARS.glob("*.yaml")):
        work_services.load_calendar(work_services.read_calendar_file(path))


def seed_permits(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Permits in every state on the Nanjing demo site (once: nothing when it has permits)."""
    site = Site.objects.filter(code=SITE).first()
    if site is None or Permit.objects.filter(site=site).exists():
        return {}
    demo = _Demo(now or timezone.now())
    now = demo.now
    officer = demo.user("demo_safety_officer")
    today10 = now.replace(hour=2, minute=0)  # 10:00 in Shanghai (UTC+8)
    if today10 > now:
        today10 -= dt.timedelta(days=1)
    tomorrow = today10 + dt.timedelta(days=1)
    try:
        demo.draft(tomorrow)
        demo.submitted(tomorrow + H)  # waits for the workshop head
        demo.approved(tomorrow + 2 * H)
        guardian = demo.users["demo_guardian"].person
        demo.preferred = [guardian] if guardian else []
        running, _ = demo.active(now - H, hours=6)
        demo.preferred = []
        services.add_attachment(
            running,
            officer,
            name="动火作业方案",
            kind="plan",
            at=now - 2 * H,
            upload=ContentFile("特级动火作业方案（演示）".encode(), name="plan.pdf"),
        )
        paused, _ = demo.active(now - 2 * H, hours=6)
        services.suspend(paused, officer, at=now - 30 * MIN, reason="监护人临时离开，收回作业票")
        for state in ("completed", "accepted", "closed"):
            start = today10 - dt.timedelta(days=1)
            permit, _ = demo.active(start, hours=4)
            permit = services.complete(permit, officer, at=start + 3 * H, cleaned_up=True)
            if state in ("accepted", "closed"):
                permit = services.accept(
                    permit, demo.user("demo_workshop_head"), at=start + 3 * H + 20 * MIN
                )
            if state == "closed":
                services.close(permit, officer, at=start + 3 * H + 30 * MIN)
            demo.counts[state] += 1
        rejected, _ = demo.submitted(tomorrow + 3 * H)
        services.reject(
            rejected,
            demo.user("demo_workshop_head"),
            at=now - 10 * MIN,
            reason="动火点周边15 m内有可燃物未清理，补充措施后重新申请",
        )
        cancelled, _ = demo.submitted(tomorrow + 4 * H)
        services.cancel(cancelled, officer, at=now - 5 * MIN, reason="检修计划调整")
        expired, _ = demo.approved(today10 - dt.timedelta(days=2), hours=4)
        services.expire_due(at=now)
        # A refused start: approved, but no gas analysis (the explosion case): alarm 01.
        no_gas, crew = demo.approved(now - 10 * MIN, hours=6)
        try:
            services.start(no_gas, officer, at=now, weather={"wind_force": 2}, position=demo.pos)
        except Refused:
            demo.counts["refused_start"] += 1
        # A refused submission: a worker whose welding certificate does not clear: alarm 50/51.
        uncleared = [
            p
            for p in _staff(demo.site, "welder")
            if p
            not in _cleared(
                [p],
                "worker",
                "hot_work",
                "level1",
                demo.site,
                tomorrow,
                tomorrow + 6 * H,
                {"height_m": 0.5},
            )
        ]
        if uncleared:
            permit, crew = demo.draft(tomorrow + 5 * H, hours=6)
            if uncleared[0].pk in {c.pk for c in crew.values()}:
                uncleared = []
        if uncleared:
            services.change_crew(
                permit,
                officer,
                at=permit.created_at,
                add=[{"person_id": uncleared[0].pk, "role": "worker"}],
            )
            try:
                services.submit(permit, officer, at=permit.created_at + MIN)
            except Refused:
                demo.counts["refused_submit"] += 1
        _refused_blinding(demo, tomorrow + 6 * H)
        # Zibo has no approver of its own in the demo: one refused blinding permit there.
        _refused_blinding(_Demo(now, site="demo-zibo", area="hydrocracking"), tomorrow + 6 * H)
    except (LookupError, Refused) as exc:  # the demo staff changed: say so, keep what was made
        logger.warning("demo permits: stopped early: %s", exc)
    return dict(demo.counts)

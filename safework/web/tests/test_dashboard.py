"""The dashboard's aggregates against rows built by hand: "active today" against yesterday and
tomorrow, alarms of the last 7 days against 8 days ago, the weekly median approval time, the
certificate colours per site and department, and each user's scope (a contractor manager sees
only their contractor's permits and staff)."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from safework.accounts.models import Role
from safework.accounts.tests.world import world_fixture
from safework.certs.models import Verification
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.scope import Scope
from safework.permits import queries
from safework.permits.models import Alarm, AlarmType, Permit
from safework.work.models import WorkLevel, WorkType

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2027, 3, 10, 10, 0, tzinfo=SHANGHAI)  # a Wednesday
TODAY = NOW.date()

dash_world = world_fixture(catalogue=True)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI)


_serial = iter(range(1, 10_000))


def permit(
    w,
    *,
    start,
    end,
    status="approved",
    work_type="hot_work",
    level="level1",
    site=None,
    contractor=None,
    submitted=None,
    approved=None,
) -> Permit:
    wt = WorkType.objects.get(code=work_type)
    p = Permit.objects.create(
        number=f"T{next(_serial):06d}",
        work_type=wt,
        level=WorkLevel.objects.get(work_type=wt, code=level) if level else None,
        site=site or w.site_a,
        place="P-101",
        content="检修",
        planned_start=start,
        planned_end=end,
        applicant=w.users["stranger"],
        contractor=contractor,
        created_at=start - dt.timedelta(days=2),
        submitted_at=submitted,
        approved_at=approved,
    )
    Permit.objects.filter(pk=p.pk).update(status=status)  # the status field is protected
    return p


def alarm(p, *, raised_at) -> Alarm:
    return Alarm.objects.create(
        alarm_type=AlarmType.objects.order_by("code").first(),
        key=f"t:{p.pk}:{raised_at.isoformat()}",
        permit=p,
        site=p.site,
        message="测试",
        raised_at=raised_at,
    )


def cell(cells, work_type="hot_work", level="level1") -> dict:
    [found] = [c for c in cells if (c["work_type"], c["level"]) == (work_type, level)]
    return found


def everything(w):
    scope = Scope(group_wide=True)
    return queries.permits_visible_to(scope), queries.alarms_visible_to(scope)


def test_active_today_counts_the_permits_whose_window_touches_today(dash_world, db):
    w = dash_world
    midnight = _midnight(TODAY)
    tomorrow = _midnight(TODAY + dt.timedelta(days=1))
    permit(w, start=midnight - dt.timedelta(hours=8), end=midnight)  # ended at midnight: no
    permit(w, start=midnight - dt.timedelta(hours=8), end=midnight + dt.timedelta(minutes=1))
    permit(w, start=tomorrow - dt.timedelta(minutes=1), end=tomorrow + dt.timedelta(hours=8))
    permit(w, start=tomorrow, end=tomorrow + dt.timedelta(hours=8))  # tomorrow: no
    permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), status="active")
    permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), status="closed")
    for status in ("draft", "in_approval", "rejected", "cancelled"):  # never authorised work
        permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), status=status)
    permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), level="level2")

    cells = queries.risk_heat_map(*everything(w), at=NOW)
    assert cell(cells)["active"] == 4
    assert cell(cells, level="level2")["active"] == 1
    assert cell(cells, level="special")["active"] == 0
    # Every level of the catalogue is a cell, and a work type without levels has one.
    assert {c["level"] for c in cells if c["work_type"] == "hot_work"} == {
        "special",
        "level1",
        "level2",
    }
    without_levels = [c for c in cells if c["level"] == ""]
    assert without_levels and all(c["active"] == 0 for c in without_levels)


def test_anomalies_are_the_alarms_of_the_last_seven_days(dash_world, db):
    w = dash_world
    p = permit(w, start=NOW - dt.timedelta(days=9), end=NOW - dt.timedelta(days=8, hours=20))
    alarm(p, raised_at=NOW - dt.timedelta(days=7))  # exactly 7 days: counts
    alarm(p, raised_at=NOW - dt.timedelta(days=6, hours=23))
    alarm(p, raised_at=NOW - dt.timedelta(days=7, minutes=1))  # just before: no
    alarm(p, raised_at=NOW - dt.timedelta(days=8))
    alarm(p, raised_at=NOW + dt.timedelta(minutes=1))  # after the moment asked: no
    other = permit(w, start=NOW, end=NOW + dt.timedelta(hours=2), level="level2")
    alarm(other, raised_at=NOW - dt.timedelta(hours=1))

    cells = queries.risk_heat_map(*everything(w), at=NOW)
    assert (cell(cells)["anomalies"], cell(cells)["active"]) == (2, 0)
    assert (cell(cells, level="level2")["anomalies"], cell(cells, level="level2")["active"]) == (
        1,
        1,
    )


def test_approval_trend_is_the_weekly_median_in_hours(dash_world, db):
    w = dash_world
    monday = _midnight(TODAY - dt.timedelta(days=TODAY.weekday()))

    def approved(at, hours):
        permit(w, start=at, end=at + dt.timedelta(hours=4), submitted=at - hours, approved=at)

    this_week = monday + dt.timedelta(hours=9)
    for hours in (2, 4, 10):
        approved(this_week, dt.timedelta(hours=hours))
    first_week = monday - dt.timedelta(weeks=11)
    approved(first_week, dt.timedelta(hours=3))  # Monday 00:00 of the first week: counts
    approved(first_week - dt.timedelta(minutes=1), dt.timedelta(hours=99))  # the week before
    approved(NOW + dt.timedelta(minutes=5), dt.timedelta(hours=99))  # not yet

    trend = queries.approval_time_trend(everything(w)[0], at=NOW)
    assert len(trend) == 12
    assert trend[-1] == {"week": TODAY - dt.timedelta(days=2), "n": 3, "median_hours": 4.0}
    assert trend[0] == {"week": first_week.date(), "n": 1, "median_hours": 3.0}
    assert all(t["n"] == 0 and t["median_hours"] is None for t in trend[1:-1])


def _certificates(w):
    so = item("special_operation", "2.1")
    issued = TODAY - dt.timedelta(days=100)

    def cert(person, days_left):
        return CertificateFactory(
            person=person,
            item=so,
            issued_on=issued,
            valid_until=TODAY + dt.timedelta(days_left),
            verification=Verification.VERIFIED,  # unverified ones are yellow
        )

    cert(w.p_own, 400)  # green
    cert(w.p_own, 30)  # yellow
    cert(w.p_b, -1)  # red, at site B
    cert(w.p_x, -1)  # red, contractor X's staff
    cert(w.p_y, 400)  # green, contractor Y's staff


def client_for(user) -> Client:
    """A logged-in client; make it inside the time travel (a session from today would have
    expired by NOW)."""
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("who", "sites", "departments"),
    [
        (
            Role.SAFETY_OFFICER,
            {"甲厂区": (0, 1, 1), "": (1, 0, 1)},
            {"dept_t": (0, 1, 1), "承包商X": (1, 0, 0), "承包商Y": (0, 0, 1)},
        ),
        (Role.CONTRACTOR_MANAGER, {"": (1, 0, 0)}, {"承包商X": (1, 0, 0)}),
    ],
)
def test_certificate_colours_per_site_and_department_in_the_scope(
    dash_world, db, who, sites, departments
):
    w = dash_world
    _certificates(w)
    with time_machine.travel(NOW, tick=False):
        response = client_for(w.users[who]).get(reverse("web:dashboard"))
    assert response.status_code == 200
    by_site = {r["site"]: (r["red"], r["yellow"], r["green"]) for r in response.context["by_site"]}
    assert by_site == sites
    names = {"dept_t": w.dept_t.name}
    by_department = {
        r["label"]: (r["red"], r["yellow"], r["green"]) for r in response.context["by_department"]
    }
    assert by_department == {names.get(k, k): v for k, v in departments.items()}


def test_a_contractor_manager_sees_only_their_contractors_permits(dash_world, db):
    w = dash_world
    ours = permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), contractor=w.contractor_x)
    theirs = permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), contractor=w.contractor_y)
    permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), status="active")  # own staff's work
    alarm(ours, raised_at=NOW - dt.timedelta(hours=1))
    alarm(theirs, raised_at=NOW - dt.timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        manager = client_for(w.users[Role.CONTRACTOR_MANAGER]).get(reverse("web:dashboard"))
        officer = client_for(w.users[Role.SAFETY_OFFICER]).get(reverse("web:dashboard"))
    mine = manager.context
    assert [(r["work_type"], r["status"], r["n"]) for r in mine["by_type"]] == [
        ("hot_work", "approved", 1)
    ]
    assert (cell(mine["cells"])["active"], cell(mine["cells"])["anomalies"]) == (1, 1)
    site = officer.context
    assert {(r["status"], r["n"]) for r in site["by_type"]} == {("approved", 2), ("active", 1)}
    assert (cell(site["cells"])["active"], cell(site["cells"])["anomalies"]) == (3, 2)


def test_heat_map_cells_drill_down_to_the_ledger_filtered_by_type_and_level(dash_world, db):
    w = dash_world
    level1 = permit(w, start=NOW, end=NOW + dt.timedelta(hours=4))
    level2 = permit(w, start=NOW, end=NOW + dt.timedelta(hours=4), level="level2")
    with time_machine.travel(NOW, tick=False):
        client = client_for(w.users[Role.SAFETY_OFFICER])
        page = client.get(reverse("web:dashboard"))
        url = cell(page.context["cells"], level="level2")["url"]
        assert url == reverse("web:permits") + "?work_type=hot_work&level=level2"
        assert url.replace("&", "&amp;") in page.content.decode()
        ledger = client.get(url)
    assert [p.pk for p in ledger.context["page"]] == [level2.pk]
    assert level1.number not in ledger.content.decode()


def test_the_dashboard_reads_a_fixed_number_of_queries(dash_world, db):
    w = dash_world

    def count():
        with time_machine.travel(NOW, tick=False):
            client = client_for(w.users[Role.SAFETY_OFFICER])
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(reverse("web:dashboard")).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    _certificates(w)
    for i in range(6):
        p = permit(
            w,
            start=NOW - dt.timedelta(days=i),
            end=NOW + dt.timedelta(hours=4),
            level=("level1", "level2")[i % 2],
            submitted=NOW - dt.timedelta(days=i, hours=5),
            approved=NOW - dt.timedelta(days=i),
        )
        alarm(p, raised_at=NOW - dt.timedelta(days=i))
    assert count() == few


def test_a_worker_without_certificates_or_permits_scope_is_refused(dash_world, db):
    stranger = client_for(dash_world.users["stranger"])
    assert stranger.get(reverse("web:dashboard")).status_code == 403


@pytest.mark.parametrize(
    "username",
    [
        "demo_worker",
        "demo_team_leader",
        "demo_safety_officer",
        "demo_contractor_manager",
        "demo_inspector",
        "demo_admin",
    ],
)
def test_the_new_pages_answer_every_role_on_the_demo(demo, username):
    from safework.accounts.models import User

    client = client_for(User.objects.get(username=username))
    for name in ("web:inbox", "web:explain", "web:dashboard"):
        status = client.get(reverse(name)).status_code
        assert status in (200, 403), (name, status)
    assert client.get(reverse("web:inbox")).status_code == 200  # everyone has an inbox

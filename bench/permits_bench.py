"""Benchmark: the permit ledger over 1,000,000 permits, one permit's lifecycle, the printed permit.

    .venv/bin/python bench/permits_bench.py                      # PostgreSQL, 1,000,000 permits
    .venv/bin/python bench/permits_bench.py --permits 100000 --lifecycles 20 --explain

PostgreSQL only (the data is loaded with COPY). The work runs in a child process with its own
settings, in database `sw_permits_bench` (created when missing). The child migrates, loads the
catalogue, builds the bench world once (a synthetic group with 3 sites, their areas — one
geofenced fire/explosion-hazardous unit as in `permits.tests.world` —, departments, contractors,
applicants and approvers, and a hot-work crew qualified on 10 March 2026 built with the
qualification fixtures), and loads the permits with COPY (secondary indexes and foreign keys
dropped during the load and rebuilt after, then VACUUM ANALYZE), or reuses them when the same
number is already there. The permits are synthetic (group `permits-bench`, is_synthetic;
content "基准合成许可"): spread over the 3 sites, the 8 work types and their levels, two
years of planned starts up to a week past "now" (10 March 2026 09:00 Shanghai), statuses by
time (the past closed, cancelled, rejected, expired; the present approved and active; the future
drafts and in approval), ~20 % contractor
work. Child tables stay empty except a 1 % sample with a crew.

Then it times, with "now" fixed:

1. The permit list as the API serves it (`GET /api/v1/permits`): `queries.ledger_list` for a
   safety officer scoped to one site, with the ledger's filters (status, work type, level,
   period on planned start, contractor flag, in five shapes): its total (a COUNT per way of
   visibility) and the first page of 50 with the related rows — beside the same statements
   hand-written in raw SQL on the same connection, interleaved (the ratio). Target p95 ≤ 100 ms,
   aim ≤ 30 ms.
2. One permit's lifecycle through `permits.services` (create → submit → every approval step →
   measures → briefing → gas test → check-in → start → complete → accept → close) of a level-1
   hot-work job, with the million permits present: median, p95, queries per lifecycle. Target
   median ≤ 50 ms, aim ≤ 20 ms. Beside it, interleaved, the baseline: the very statements of a
   lifecycle (captured, undone, the sequences set back) replayed through the bare psycopg cursor
   in the same transactions: what the database and driver cost, without the ORM and the
   service code (the ratio).
3. The printed permit `permits.printing.permit_pdf` of a closed lifecycle permit (first and warm).
   Target ≤ 1 s.

`--explain` prints PostgreSQL's plan (EXPLAIN ANALYZE) of each statement of each list shape.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
D = dt.date(2026, 3, 10)  # the day the world's crew is qualified on (qualification_fixtures.D)
NOW = dt.datetime(2026, 3, 10, 9, tzinfo=TZ)  # the bench's "now"
GROUP = "permits-bench"
SYNTHETIC = "基准合成许可（bench synthetic）"
PG_URL = "postgres://postgres@127.0.0.1:5432/sw_permits_bench"
PAGE = 50
LEAN_PREFETCH = ("area", "applicant", "work_unit", "contractor", "work_leader")

# (work type, level or None, share of permits, typical hours, maximum hours)
KINDS = [
    ("hot_work", "level2", 18, 8, 72),
    ("hot_work", "level1", 12, 6, 8),
    ("hot_work", "special", 2, 6, 8),
    ("confined_space", None, 8, 8, 24),
    ("blinding", None, 6, 4, 24),
    ("height", "I", 8, 8, 168),
    ("height", "II", 5, 8, 168),
    ("height", "III", 3, 8, 168),
    ("height", "IV", 1, 8, 168),
    ("lifting", "III", 6, 6, 24),
    ("lifting", "II", 3, 6, 24),
    ("lifting", "I", 1, 6, 24),
    ("temporary_power", None, 12, 72, 360),
    ("excavation", None, 8, 24, 72),
    ("road_closure", None, 7, 8, 24),
]
SITE_SHARE = (50, 30, 20)


# --- parent: one child process for PostgreSQL ----------------------------------------------------


def _pg_reachable(url: str) -> bool:
    try:
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
            name = url.rsplit("/", 1)[1]
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except Exception as exc:
        print(f"postgresql: skipped ({exc})")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permits", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=500, help="list requests timed")
    parser.add_argument("--lifecycles", type=int, default=50)
    parser.add_argument("--pdfs", type=int, default=10)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--profile", type=int, default=0, help="print the N costliest functions of the lifecycles"
    )
    parser.add_argument("--var-dir", default="/tmp/sw-permits-bench")
    parser.add_argument("--postgres-url", default=os.environ.get("SW_PERMITS_BENCH_PG", PG_URL))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not _pg_reachable(args.postgres_url):
        sys.exit(1)
    env = dict(
        os.environ, DATABASE_URL=args.postgres_url, DJANGO_SETTINGS_MODULE="safework.settings"
    )
    env.setdefault("SAFEWORK_VAR_DIR", args.var_dir)  # secrets and media only; data is in PG
    passed = [a for a in sys.argv[1:] if a != "--child"]
    done = subprocess.run([sys.executable, __file__, "--child", *passed], env=env, cwd=ROOT)
    sys.exit(done.returncode)


# --- the world: sites, areas, people, users (built once, found again by code and name) -----------


def _world_exists() -> bool:
    from safework.org.models import Group

    return Group.objects.filter(code=GROUP).exists()


def build_world() -> None:
    """Three sites of a synthetic group; site 1 is `permits.tests.world` (a geofenced hazardous
    unit, approvers of every role, a hot-work crew qualified on D, built with the qualification
    fixtures), the others have applicants and workers for the generated permits."""
    from django.db import transaction

    from safework.accounts.models import User
    from safework.accounts.tests.factories import RoleGrantFactory
    from safework.org.models import Group
    from safework.org.tests.factories import AreaFactory, DepartmentFactory, SiteFactory
    from safework.people.tests.factories import ContractorFactory, EngagementFactory
    from safework.permits.tests.world import CENTRE
    from safework.qualification.tests.qualification_fixtures import member

    def user(name, role, site):
        u = User.objects.create(username=name)  # no password: hashing one costs a second
        RoleGrantFactory(user=u, role=role, site=site)
        return u

    with transaction.atomic():
        group = Group.objects.create(name="许可基准集团", code=GROUP, is_synthetic=True)
        for i in (1, 2, 3):
            site = SiteFactory(group=group, name=f"基准厂区{i}", code=f"pb-site-{i}")
            AreaFactory(
                site=site,
                code="unit-1",
                name="一号装置",
                fire_explosion_hazard=True,
                center_latitude=CENTRE[0],
                center_longitude=CENTRE[1],
                radius_m=200,
            )
            for j, name in ((2, "二号装置"), (3, "罐区"), (4, "公用工程")):
                AreaFactory(site=site, code=f"unit-{j}", name=name)
            DepartmentFactory(group=group, site=site, name=f"基准车间{i}", code=f"pb-dept-{i}")
            for k in (1, 2):
                contractor = ContractorFactory(name=f"基准承包商{i}-{k}", is_synthetic=True)
                EngagementFactory(contractor=contractor, site=site, starts_on=dt.date(2024, 1, 1))
            for k in range(10):
                user(f"pb-applicant-{i}-{k}", "team_leader", site)
            user(f"pb-officer-{i}", "safety_officer", site)
            for k in range(4):
                member(site, name=f"基准焊工{i}-{k}")
            member(
                site, position="team-leader", certs=(("internal", "GUARDIAN"),), name=f"基准监护{i}"
            )
            member(
                site,
                position="gas-analyst",
                certs=(("internal", "GAS-TESTER"),),
                name=f"基准分析{i}",
            )
            member(
                site,
                position="team-leader",
                certs=(("internal", "GUARDIAN"),),
                name=f"基准负责人{i}",
            )
            if i == 1:
                for name, role in (
                    ("shift", "team_leader"),
                    ("workshop", "workshop_head"),
                    ("safety_head", "safety_head"),
                    ("principal", "principal"),
                    ("tester", "gas_tester"),
                ):
                    user(f"pb-{name}", role, site)


def load_world():
    """The objects the bench uses, found by their codes and names."""
    from safework.accounts.models import User
    from safework.org.models import Area, Department, Site
    from safework.people.models import Contractor, Person
    from safework.permits.tests.world import World

    sites = list(Site.objects.filter(group__code=GROUP).order_by("code"))
    out = {"sites": sites, "areas": {}, "depts": {}, "contractors": {}, "applicants": {}}
    persons = {p.name: p for p in Person.objects.filter(name__startswith="基准")}
    for i, site in enumerate(sites, start=1):
        out["areas"][site.pk] = list(Area.objects.filter(site=site).order_by("code"))
        out["depts"][site.pk] = Department.objects.get(code=f"pb-dept-{i}")
        out["contractors"][site.pk] = list(
            Contractor.objects.filter(name__startswith=f"基准承包商{i}-").order_by("name")
        )
        out["applicants"][site.pk] = list(
            User.objects.filter(username__startswith=f"pb-applicant-{i}-").order_by("username")
        )
        out.setdefault("leaders", {})[site.pk] = persons[f"基准负责人{i}"]
        out.setdefault("crews", {})[site.pk] = [
            persons[f"基准焊工{i}-0"],
            persons[f"基准监护{i}"],
            persons[f"基准分析{i}"],
        ]
    first = sites[0]
    w = World(site=first, area=out["areas"][first.pk][0], dept=out["depts"][first.pk])
    w.welder, w.guardian, w.tester = out["crews"][first.pk]
    w.leader = out["leaders"][first.pk]
    users = {u.username: u for u in User.objects.filter(username__startswith="pb-")}
    w.users = {
        "applicant": out["applicants"][first.pk][0],
        "officer": users["pb-officer-1"],
        **{n: users[f"pb-{n}"] for n in ("shift", "workshop", "safety_head", "principal")},
        "tester": users["pb-tester"],
    }
    if w.users["tester"].person_id != w.tester.pk:
        w.users["tester"].person = w.tester
        w.users["tester"].save(update_fields=["person"])
    out["world"] = w
    return out


# --- the permits: COPY, indexes rebuilt, a sample with a crew ------------------------------------


COLUMNS = [
    "status",
    "uuid",
    "number",
    "work_type_id",
    "level_id",
    "derived_level_id",
    "level_basis",
    "upgraded",
    "upgrade_kinds",
    "calendar_basis",
    "site_id",
    "area_id",
    "place",
    "latitude",
    "longitude",
    "content",
    "open_air",
    "is_emergency",
    "emergency_reason",
    "planned_start",
    "planned_end",
    "applicant_id",
    "work_unit_id",
    "contractor_id",
    "work_leader_id",
    "inputs",
    "fields",
    "equipment",
    "created_at",
    "submitted_at",
    "approved_at",
    "started_at",
    "suspended_at",
    "completed_at",
    "accepted_at",
    "closed_at",
    "cancelled_at",
    "cancel_reason",
    "reject_reason",
    "change_reason",
    "updated_at",
]


def _cumulative(pairs):
    values, total, cum = [], 0, []
    for value, weight in pairs:
        total += weight
        values.append(value)
        cum.append(total)
    return values, cum


FUTURE = _cumulative([("draft", 30), ("in_approval", 40), ("approved", 27), ("cancelled", 3)])
PRESENT = _cumulative(
    [("approved", 30), ("active", 45), ("suspended", 5), ("in_approval", 12), ("draft", 8)]
)
PAST = _cumulative(  # a few left "active" past their end: expired when read
    [
        ("closed", 84),
        ("cancelled", 6),
        ("rejected", 3),
        ("expired", 4),
        ("accepted", 1),
        ("completed", 1),
        ("active", 1),
    ]
)


REACHED = {  # the timestamps a permit in each status has
    "approved": ("approved_at",),
    "active": ("approved_at", "started_at"),
    "suspended": ("approved_at", "started_at", "suspended_at"),
    "completed": ("approved_at", "started_at", "completed_at"),
    "accepted": ("approved_at", "started_at", "completed_at", "accepted_at"),
    "closed": ("approved_at", "started_at", "completed_at", "accepted_at", "closed_at"),
    "expired": ("approved_at", "started_at"),
}


def _status(rng: random.Random, start: dt.datetime, end: dt.datetime) -> str:
    if start > NOW + dt.timedelta(days=1):
        values, cum = FUTURE
    elif end > NOW:  # under way around now
        values, cum = PRESENT
    else:
        values, cum = PAST
    return rng.choices(values, cum_weights=cum)[0]


def _kinds():
    """KINDS with the work type rows and level ids (read before the COPY holds the connection)."""
    from safework.work.models import WorkLevel, WorkType

    types = {t.code: t for t in WorkType.objects.all()}
    levels = {(lv.work_type.code, lv.code): lv.pk for lv in WorkLevel.objects.select_related()}
    return [(types[t], levels.get((t, lv)) if lv else None, h, m) for t, lv, _s, h, m in KINDS]


def permit_rows(n: int, world: dict, kinds):
    """n synthetic permits as COPY rows (deterministic; no query while the COPY runs)."""
    rng = random.Random(20260310)
    kind_cum = _cumulative((None, k[2]) for k in KINDS)[1]
    sites = world["sites"]
    site_cum = _cumulative((None, w) for w in SITE_SHARE)[1]
    span = int((dt.timedelta(days=730) + dt.timedelta(days=7)).total_seconds() // 1800)
    first = NOW - dt.timedelta(days=730)
    hour = dt.timedelta(hours=1)
    for i in range(1, n + 1):
        wt, level_id, typical, maximum = rng.choices(kinds, cum_weights=kind_cum)[0]
        site = rng.choices(sites, cum_weights=site_cum)[0]
        start = first + dt.timedelta(minutes=30 * rng.randrange(span))
        hours = min(maximum, max(1, round(rng.expovariate(1 / typical))))
        end = start + hours * hour
        status = _status(rng, start, end)
        contractor = None
        if rng.random() < 0.2:
            contractor = rng.choice(world["contractors"][site.pk])
        area = rng.choice(world["areas"][site.pk])
        created = start - dt.timedelta(hours=rng.randint(26, 72))
        times = dict.fromkeys(
            COLUMNS[COLUMNS.index("submitted_at") : COLUMNS.index("cancel_reason")]
        )
        if status != "draft":
            times["submitted_at"] = created + hour
        reached = REACHED.get(status, ())
        stamp = {
            "approved_at": created + 3 * hour,
            "started_at": start,
            "suspended_at": start + hour,
            "completed_at": end - hour / 2,
            "accepted_at": end - hour / 4,
            "closed_at": end,
        }
        for name in reached:
            times[name] = stamp[name]
        if status == "cancelled":
            times["cancelled_at"] = created + 2 * hour
        last = max([t for t in times.values() if t is not None], default=created)
        number = None
        if status != "draft":
            number = f"{wt.permit_code}{start.astimezone(TZ):%Y%m%d}-Z{i:07d}"
        yield (
            status,
            uuid.UUID(int=rng.getrandbits(128), version=4),
            number,
            wt.pk,
            level_id,
            level_id,
            "[]",
            False,
            "[]",
            "",
            site.pk,
            area.pk,
            f"{area.name} 基准位置{i % 97}",
            None,
            None,
            SYNTHETIC,
            True,
            False,
            "",
            start,
            end,
            rng.choice(world["applicants"][site.pk]).pk,
            None if contractor else world["depts"][site.pk].pk,
            contractor.pk if contractor else None,
            world["leaders"][site.pk].pk,
            "{}",
            "{}",
            "",
            created,
            *times.values(),
            "bench" if status == "cancelled" else "",
            "bench" if status == "rejected" else "",
            "",
            last,
        )


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    cursor.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.tablename = %s AND i.schemaname = current_schema()
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
        [table],
    )
    return cursor.fetchall()


def _foreign_keys(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's own foreign keys."""
    cursor.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE contype = 'f' AND conrelid = %s::regclass""",
        [table],
    )
    return cursor.fetchall()


def generate(n: int, world: dict) -> None:
    from django.db import connection, transaction

    from safework.core import audit
    from safework.org.models import Group
    from safework.permits.models import CrewAssignment, Permit
    from safework.work.models import CrewRole

    table = Permit._meta.db_table
    timings = {}
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        # The load runs without the secondary indexes and the foreign keys, which are rebuilt
        # and validated after it in one pass each (row by row they cost 300 µs a permit).
        indexes = _secondary_indexes(cursor, table)
        foreign_keys = _foreign_keys(cursor, table)
        for name, _definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        kinds = _kinds()
        mark = time.perf_counter()
        copy_sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for row in permit_rows(n, world, kinds):
                copy.write_row(row)
        timings["COPY"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for _name, definition in indexes:
            cursor.execute(definition)
        timings[f"{len(indexes)} indexes"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        timings[f"{len(foreign_keys)} foreign keys"] = time.perf_counter() - mark
        mark = time.perf_counter()
        # A 1 % sample of the closed permits with a crew (leader, welder, guardian, tester).
        roles = {r.code: r for r in CrewRole.objects.all()}
        crew_rows = []
        sample = Permit.objects.filter(status="closed").values_list(
            "pk", "site_id", "planned_start"
        )[: max(1, n // 100)]
        for pk, site_id, start in sample:
            welder, guardian, tester = world["crews"][site_id]
            leader = world["leaders"][site_id]
            for person, role in (
                (leader, "site_lead"),
                (welder, "worker"),
                (guardian, "guardian"),
                (tester, "gas_tester"),
            ):
                crew_rows.append(
                    CrewAssignment(
                        permit_id=pk, person=person, role=roles[role], added_at=start, attrs={}
                    )
                )
        CrewAssignment.objects.bulk_create(crew_rows, batch_size=5000)
        timings["crew sample"] = time.perf_counter() - mark
        group = Group.objects.get(code=GROUP)
        audit.record(
            action="bench.seeded",
            target=("org.group", str(group.pk), group.name),
            after={"permits": n, "crew_sample": len(crew_rows) // 4},
        )
    mark = time.perf_counter()
    with connection.cursor() as cursor:
        # Statistics, and the visibility map autovacuum would have set on a table this old
        # (without it a COUNT cannot use an index-only scan).
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"VACUUM ANALYZE {CrewAssignment._meta.db_table}")
    timings["VACUUM ANALYZE"] = time.perf_counter() - mark
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    print(
        f"  generated {n:,} permits in {time.perf_counter() - started:.1f} s ({parts})",
        flush=True,
    )


# --- 1. the permit list ---------------------------------------------------------------------------


def _shapes(world: dict, rng: random.Random):
    """The officer's list with the ledger's filters, in five shapes, values drawn at random."""
    from safework.permits.queries import LedgerFilter

    types = [(t, lv) for t, lv, *_ in KINDS]

    def month():
        days = rng.randrange(0, 700)
        start = (NOW - dt.timedelta(days=days)).date()
        return start, start + dt.timedelta(days=30)

    def quarter():
        start = (NOW - dt.timedelta(days=rng.randrange(0, 640))).date()
        return start, start + dt.timedelta(days=91)

    def default():
        return LedgerFilter()

    def status_month():
        a, b = month()
        status = rng.choice(["closed", "cancelled", "expired", "rejected"])
        return LedgerFilter(status=status, date_from=a, date_to=b)

    def type_level_quarter():
        a, b = quarter()
        t, lv = rng.choice(types)
        return LedgerFilter(work_type=t, level=lv, date_from=a, date_to=b)

    def contractor_status():
        status = rng.choice(["active", "approved", "in_approval", "closed"])
        return LedgerFilter(status=status, contractor="contractor")

    def everything():
        a, b = quarter()
        t, lv = rng.choice(types)
        return LedgerFilter(
            status="closed",
            work_type=t,
            level=lv,
            date_from=a,
            date_to=b,
            contractor=rng.choice(["own", "contractor"]),
        )

    return [default, status_month, type_level_quarter, contractor_status, everything]


def raw_list(scope, user, f, at):
    """The list's statements written by hand, as `queries.ledger_list` sends them for the
    officer (a site grant, and the permits they applied for): the codes read as ids, the COUNT of
    each way of visibility (the site's; the applicant's outside it), and the first page — the
    newest of each way, then the page among them — with its related rows (the same columns the
    ORM reads, in one join), the ledger's semantics (status as read at `at`)."""
    from django.utils import timezone

    from safework.permits.workflow import VALID

    lookups = []
    if f.work_type:
        lookups.append(("SELECT id FROM work_worktype WHERE code = %s", [f.work_type]))
    if f.level:
        sql = "SELECT id FROM work_worklevel WHERE code = %s"
        params = [f.level]
        if f.work_type:
            sql += " AND work_type_id IN (SELECT id FROM work_worktype WHERE code = %s)"
            params.append(f.work_type)
        lookups.append((sql, params))

    def statements(ids):
        where, params = [], []
        valid = list(VALID)
        if f.status == "expired":
            where.append("(p.status = 'expired' OR (p.status = ANY(%s) AND p.planned_end <= %s))")
            params += [valid, at]
        elif f.status in VALID:
            where.append("p.status = %s AND p.planned_end > %s")
            params += [f.status, at]
        elif f.status:
            where.append("p.status = %s")
            params.append(f.status)
        ids = list(ids)
        if f.work_type:
            where.append("p.work_type_id = ANY(%s)")
            params.append(ids.pop(0))
        if f.level:
            where.append("p.level_id = ANY(%s)")
            params.append(ids.pop(0))
        if f.contractor == "own":
            where.append("p.contractor_id IS NULL")
        elif f.contractor == "contractor":
            where.append("p.contractor_id IS NOT NULL")
        tz = timezone.get_current_timezone()
        if f.date_from:
            where.append("p.planned_start >= %s")
            params.append(dt.datetime.combine(f.date_from, dt.time(), tzinfo=tz))
        if f.date_to:
            where.append("p.planned_start < %s")
            params.append(
                dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time(), tzinfo=tz)
            )
        cond = " AND ".join(where) or "TRUE"
        site = "p.site_id = ANY(%s)"
        mine = "p.applicant_id = %s"
        sites, me = list(scope.site_ids), user.pk
        counts = [
            (f"SELECT COUNT(*) FROM permits_permit p WHERE {cond} AND {site}", [*params, sites]),
            (
                f"SELECT COUNT(*) FROM permits_permit p WHERE {cond} AND {mine} AND NOT ({site})",
                [*params, me, sites],
            ),
        ]
        newest = f"ORDER BY p.planned_start DESC, p.id DESC LIMIT {PAGE}"
        # The candidates first (materialised: joined to nine tables, the IN list let PostgreSQL
        # join the million rows before it).
        page = f"""
            WITH candidates AS MATERIALIZED (
                (SELECT p.id FROM permits_permit p WHERE {cond} AND {site} {newest})
                UNION ALL
                (SELECT p.id FROM permits_permit p WHERE {cond} AND {mine} {newest}))
            SELECT p.*, CASE WHEN p.status = ANY(%s) AND p.planned_end <= %s THEN 'expired'
                             ELSE p.status END,
                   wt.*, lv.*, s.*, a.*, u.*, wu.*, c.*, wl.*
            FROM (SELECT DISTINCT id FROM candidates) x
            JOIN permits_permit p ON p.id = x.id
            JOIN work_worktype wt ON wt.id = p.work_type_id
            LEFT JOIN work_worklevel lv ON lv.id = p.level_id
            JOIN org_site s ON s.id = p.site_id
            LEFT JOIN org_area a ON a.id = p.area_id
            JOIN accounts_user u ON u.id = p.applicant_id
            LEFT JOIN org_department wu ON wu.id = p.work_unit_id
            LEFT JOIN people_contractor c ON c.id = p.contractor_id
            LEFT JOIN people_person wl ON wl.id = p.work_leader_id
            ORDER BY p.planned_start DESC, p.id DESC
            LIMIT {PAGE}"""
        return counts, (page, [*params, sites, *params, me, valid, at])

    return lookups, statements


def time_lists(args, world: dict) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.accounts.scope import scope_for
    from safework.permits import queries
    from safework.permits.permissions import PERMITS

    officer = world["world"].user("officer")
    scope = scope_for(officer, PERMITS)
    rng = random.Random(14)
    shapes = _shapes(world, rng)

    def orm(f):  # as GET /api/v1/permits lists it
        return queries.ledger_list(scope, officer, f, at=NOW, offset=0, limit=PAGE)

    def lean(f):
        """The same list with three joins and the other five related rows prefetched: the planner
        searches the join order of the nine-table statement for longer than it runs."""
        qs = (
            queries.ledger(queries.permits_visible_to(scope, officer), f, at=NOW)
            .select_related(None)
            .select_related("work_type", "level", "site")
            .prefetch_related(*LEAN_PREFETCH)
        )
        total = qs.count()
        rows = list(qs[:PAGE])
        return total, rows

    def raw(f):
        lookups, statements = raw_list(scope, officer, f, NOW)
        with connection.cursor() as cursor:
            ids = []
            for sql, params in lookups:
                cursor.execute(sql, params)
                ids.append([r[0] for r in cursor.fetchall()])
            counts, (page_sql, page_params) = statements(ids)
            total = 0
            for sql, params in counts:
                cursor.execute(sql, params)
                total += cursor.fetchone()[0]
            cursor.execute(page_sql, page_params)
            return total, cursor.fetchall()

    # The two agree (same count, same page), or the baseline is not the same query.
    for shape in shapes:
        f = shape()
        (t1, rows1), (t2, rows2) = orm(f), raw(f)
        assert t1 == t2 and [p.pk for p in rows1] == [r[0] for r in rows2], (shape.__name__, f)
    for _ in range(10):  # warm the caches and the database's pages
        for shape in shapes:
            f = shape()
            orm(f)
            raw(f)
            lean(f)
    with CaptureQueriesContext(connection) as captured:
        orm(shapes[-1]())
    per_shape: dict[str, list] = {s.__name__: [] for s in shapes}
    orm_ms, raw_ms, lean_ms, totals = [], [], [], []
    for i in range(args.lists):
        shape = shapes[i % len(shapes)]
        f = shape()
        started = time.perf_counter()
        total, _rows = orm(f)
        elapsed = (time.perf_counter() - started) * 1000
        orm_ms.append(elapsed)
        totals.append(total)
        started = time.perf_counter()
        raw(f)
        raw_elapsed = (time.perf_counter() - started) * 1000
        raw_ms.append(raw_elapsed)
        per_shape[shape.__name__].append((elapsed, raw_elapsed))
        started = time.perf_counter()
        lean(f)
        lean_ms.append((time.perf_counter() - started) * 1000)
    n = connection_permits()
    print(
        f"list ({n:,} permits; officer of one site; {len(shapes)} filter shapes; COUNT + first "
        f"{PAGE} with related rows, {len(captured)} queries): "
        f"ORM p95 {p95(orm_ms):.1f} ms, median {statistics.median(orm_ms):.1f} ms | raw SQL "
        f"p95 {p95(raw_ms):.1f} ms, median {statistics.median(raw_ms):.1f} ms | ORM / raw "
        f"{p95(orm_ms) / p95(raw_ms):.2f}x at p95, "
        f"{statistics.median(orm_ms) / statistics.median(raw_ms):.2f}x at the median "
        f"(target p95 <= 100 ms, aim <= 30 ms); totals {min(totals):,}–{max(totals):,}",
        flush=True,
    )
    for name, pairs in per_shape.items():
        o, r = [x for x, _ in pairs], [y for _, y in pairs]
        if not pairs:  # a shape the draw did not pick (a handful of --lists)
            continue
        print(
            f"  {name:<20} ORM p95 {p95(o):7.1f} ms median {statistics.median(o):7.1f} ms | "
            f"raw p95 {p95(r):7.1f} ms median {statistics.median(r):7.1f} ms",
            flush=True,
        )
    print(
        f"  variant: the ledger with select_related(work_type, level, site) and the other five "
        f"prefetched ({2 + len(LEAN_PREFETCH)} queries): p95 {p95(lean_ms):.1f} ms, median "
        f"{statistics.median(lean_ms):.1f} ms",
        flush=True,
    )
    if args.explain:
        explain(shapes, scope, officer)


def connection_permits() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'permits_permit'")
        return cursor.fetchone()[0]


def explain(shapes, scope, officer) -> None:
    """PostgreSQL's plan of every statement the list sends (as captured, parameters bound)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.permits import queries

    for shape in shapes:
        f = shape()
        print(f"--- EXPLAIN {shape.__name__}: {f}")
        with CaptureQueriesContext(connection) as captured:
            queries.ledger_list(scope, officer, f, at=NOW, offset=0, limit=PAGE)
        for i, query in enumerate(captured.captured_queries, start=1):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
                plan = [r[0] for r in cursor.fetchall()]
            print(f"  [{i}] {query['sql'][:100]}")
            for line in plan:
                print(f"    {line}")


# --- 2. one permit's lifecycle ------------------------------------------------------------------


def lifecycle(w, by_role: dict, mark=lambda stage: None):
    """create → submit → every step → measures → briefing → gas test → check-in → start →
    complete → accept → close, through permits.services, as the API would call them."""
    from decimal import Decimal

    from safework.permits import services
    from safework.permits.tests.world import ON_SITE, hot_work_data

    day_before = NOW - dt.timedelta(days=1)
    start = dt.datetime(D.year, D.month, D.day, 10, tzinfo=TZ)
    applicant = w.user("applicant")
    permit = services.create_permit(applicant, hot_work_data(w, start=start), at=day_before)
    mark("create")
    permit = services.submit(permit, applicant, at=day_before + dt.timedelta(hours=1))
    mark("submit")
    signed_at = day_before + dt.timedelta(hours=2)
    while (step := services.current_step(permit)) is not None:
        for role in step.roles:
            permit = services.approve(permit, by_role[role], at=signed_at, position=ON_SITE)
    mark("approve (every step)")
    checklist = [{"id": pk} for pk in permit.measures.values_list("pk", flat=True)]
    services.confirm_measures(permit, checklist, applicant, at=start - dt.timedelta(minutes=40))
    mark("confirm measures (the checklist signed at once)")
    crew = [w.leader.pk, w.welder.pk, w.guardian.pk, w.tester.pk]
    services.record_briefing(
        permit,
        applicant,
        briefer_id=w.leader.pk,
        recipient_ids=crew,
        at=start - dt.timedelta(minutes=35),
    )
    mark("briefing")
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
    mark("gas test")
    for person_id in crew:
        services.check_in(
            permit,
            applicant,
            person_id=person_id,
            at=start - dt.timedelta(minutes=5),
            position=ON_SITE,
        )
    mark("check-in")
    permit = services.start(permit, applicant, at=start, weather={"wind_force": 3})
    mark("start")
    end = start + dt.timedelta(hours=5)
    permit = services.complete(permit, applicant, at=end, cleaned_up=True)
    mark("complete")
    permit = services.accept(permit, w.user("workshop"), at=end + dt.timedelta(minutes=10))
    mark("accept")
    permit = services.close(permit, applicant, at=end + dt.timedelta(minutes=20))
    mark("close")
    assert permit.status == "closed", permit.status
    return permit


def time_lifecycles(args, world: dict):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.permits.models import Permit

    w = world["world"]
    by_role = {
        "workshop_head": w.user("workshop"),
        "safety_head": w.user("safety_head"),
        "principal": w.user("principal"),
        "team_leader": w.user("shift"),
        "safety_officer": w.user("officer"),
    }
    # The lifecycles of earlier runs go, so that every run starts from the same data.
    Permit.objects.filter(site=w.site).exclude(content=SYNTHETIC).delete()
    for _ in range(3):  # warm the catalogue caches, the templates, the database's pages
        lifecycle(w, by_role)
    stages: list[tuple[str, int, float]] = []
    with CaptureQueriesContext(connection) as captured:
        last = [0, time.perf_counter()]

        def mark(stage):
            now = time.perf_counter()
            stages.append((stage, len(captured) - last[0], (now - last[1]) * 1000))
            last[:] = [len(captured), now]

        lifecycle(w, by_role, mark)
    timings, cpu, raw, permit = [], [], [], None
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    for _ in range(args.lifecycles):  # interleaved: a service-layer run, then a raw replay
        if profiler is not None:
            profiler.enable()
        started, started_cpu = time.perf_counter(), time.process_time()
        permit = lifecycle(w, by_role)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if profiler is not None:
            profiler.disable()
        raw.append(replay(capture_lifecycle(w, by_role)))
    if profiler is not None:
        import pstats

        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    steps = permit.steps.count()
    print(
        f"lifecycle (level-1 hot work, {steps} signed steps, create -> close through "
        f"permits.services, {args.lifecycles} runs): median {statistics.median(timings):.1f} ms, "
        f"p95 {p95(timings):.1f} ms (this process's CPU: median {statistics.median(cpu):.1f} ms); "
        f"{len(captured)} queries per lifecycle (target median <= 50 ms, aim <= 20 ms)",
        flush=True,
    )
    print(
        f"  baseline: the same statements replayed raw on the same connection (no ORM, no "
        f"service code; one transaction per service call, as committed): median "
        f"{statistics.median(raw):.1f} ms, p95 {p95(raw):.1f} ms | service layer / raw "
        f"{statistics.median(timings) / statistics.median(raw):.2f}x at the median",
        flush=True,
    )
    print(
        "  queries (and ms, with query logging) per stage: "
        + ", ".join(f"{stage} {n} ({ms:.0f})" for stage, n, ms in stages),
        flush=True,
    )
    return permit


def capture_lifecycle(w, by_role) -> list[tuple[str, object, bool]]:
    """One lifecycle's statements (SQL, parameters, executemany), captured as the service layer
    sends them and then undone: the lifecycle runs inside a transaction that is rolled back, and
    the sequences it drew from are set back, so that a replay inserts the same ids and the audit
    chain it appends continues the same head."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value, "
            "start_value FROM pg_sequences"
        )
        sequences = cursor.fetchall()
    statements: list[tuple[str, object, bool]] = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params, many))
        return execute(sql, params, many, context)

    with transaction.atomic():
        with connection.execute_wrapper(capture):
            lifecycle(w, by_role)
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        for name, last, first in sequences:
            called = last is not None
            cursor.execute("SELECT setval(%s, %s, %s)", [name, last if called else first, called])
    return statements


def replay(statements) -> float:
    """Send `statements` through the bare driver cursor (psycopg), each service call's
    transaction as its own (the service's outermost savepoint becomes BEGIN … COMMIT, as when it
    runs outside the capture's transaction; the happy path rolls none back); milliseconds
    taken."""
    from django.db import connection

    depth = 0
    started = time.perf_counter()
    with connection.connection.cursor() as cursor:
        for sql, params, many in statements:
            head = sql.lstrip()[:20].upper()
            if head.startswith("SAVEPOINT"):
                depth += 1
                if depth == 1:
                    sql, params = "BEGIN", None
            elif head.startswith("RELEASE SAVEPOINT"):
                depth -= 1
                if depth == 0:
                    sql, params = "COMMIT", None
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
    return (time.perf_counter() - started) * 1000


# --- 3. the printed permit --------------------------------------------------------------------


def time_pdf(args, permit) -> None:
    try:
        from safework.permits.printing import permit_pdf
    except ImportError:
        print("PDF: not available in this tree", flush=True)
        return
    at = NOW + dt.timedelta(days=1)
    started = time.perf_counter()
    try:
        pdf = permit_pdf(permit, at=at)
    except Exception as exc:  # a missing font names its fix
        print(f"PDF: not available ({exc})", flush=True)
        return
    first = (time.perf_counter() - started) * 1000
    timings, cpu = [], []
    for _ in range(args.pdfs):
        started, started_cpu = time.perf_counter(), time.process_time()
        pdf = permit_pdf(permit, at=at)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    print(
        f"PDF (closed level-1 hot-work permit, {len(pdf) // 1024} KiB): first {first:.0f} ms, "
        f"then median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms over "
        f"{args.pdfs} (this process's CPU: median {statistics.median(cpu):.0f} ms) "
        f"(target <= 1 s)",
        flush=True,
    )


# --- child --------------------------------------------------------------------------------------


def p95(values):
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def child(args) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from safework.core.catalogue import load_catalogue
    from safework.permits.models import Permit

    assert connection.vendor == "postgresql", "the permits bench runs on PostgreSQL"
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        load_catalogue()
    if not _world_exists():
        started = time.perf_counter()
        build_world()
        print(f"  built the bench world in {time.perf_counter() - started:.1f} s", flush=True)
    world = load_world()
    if Permit.objects.filter(content=SYNTHETIC).count() != args.permits:
        generate(args.permits, world)
    else:
        print(f"  reusing {args.permits:,} permits", flush=True)
    print(f"postgresql: load average {os.getloadavg()[0]:.1f}", flush=True)
    time_lists(args, world)
    permit = time_lifecycles(args, world)
    time_pdf(args, permit)


if __name__ == "__main__":
    main()

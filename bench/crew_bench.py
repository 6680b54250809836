"""Benchmark: a 10-person crew qualification check against 100,000 persons / 300,000 certificates.

    .venv/bin/python bench/crew_bench.py                  # SQLite and, if reachable, PostgreSQL
    .venv/bin/python bench/crew_bench.py --only sqlite --persons 20000

Each database runs in a child process with its own settings: SQLite in a var folder of its own
(default /tmp/sw-h6-bench), PostgreSQL in database `sw_h6_bench` (created when missing). The child
migrates, loads the catalogue and builds the bench data with bulk_create in one transaction (one
summary audit record), or reuses it when the same number of persons is already there. Then it
times `qualification.check_crew` for random crews (8 welders, a guardian, a gas tester; ~10 %
contractor staff) with a warm per-process catalogue cache, and prints the median and p95, the
reads per check and how many crews were allowed. Target: median ≤ 20 ms; aim ≤ 3 ms.

In the same run, interleaved with the checks (so both see the same load), it times a raw-SQL
baseline: one hand-written statement reading the facts of the same crew (persons, the employment
in force, the latest health check, certificates) through the same connection, and prints the
engine's median as a multiple of it. Issue 13 aims at ≤ 2 ms and ≤ 5× raw on PostgreSQL.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.date(2026, 3, 10)  # the fixed "today" of the bench data
GROUP = "h6-bench"
PG_URL = "postgres://postgres@127.0.0.1:5432/sw_h6_bench"


# --- parent: one child process per database ------------------------------------------------------


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
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--certs-per-person", type=int, default=3)
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--crew", type=int, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--sqlite-dir", default="/tmp/sw-h6-bench")
    parser.add_argument("--postgres-url", default=os.environ.get("SW_H6_BENCH_PG", PG_URL))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    common = [
        "--persons",
        str(args.persons),
        "--certs-per-person",
        str(args.certs_per_person),
        "--checks",
        str(args.checks),
        "--crew",
        str(args.crew),
    ]
    targets = []
    if args.only in (None, "sqlite"):
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["SAFEWORK_VAR_DIR"] = args.sqlite_dir
        targets.append(("sqlite", env))
    if args.only in (None, "postgres") and _pg_reachable(args.postgres_url):
        env = dict(os.environ, DATABASE_URL=args.postgres_url)
        env.setdefault("SAFEWORK_VAR_DIR", args.sqlite_dir)  # secrets only; data is in PG
        targets.append(("postgresql", env))
    status = 0
    for _label, env in targets:
        env["DJANGO_SETTINGS_MODULE"] = "safework.settings"
        done = subprocess.run(
            [sys.executable, __file__, "--child", *common], env=env, cwd=ROOT, check=False
        )
        status = status or done.returncode
    sys.exit(status)


# --- child: build (or reuse) the data, then time the checks --------------------------------------


def _identities(n: int):
    """n distinct synthetic ID numbers (real region codes, sequence 900–999, valid check)."""
    from stdnum.cn import ric

    from safework.people.synthetic import REGION_CODES, make_id_number

    day, out = 0, []
    while len(out) < n:
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        day += 1
        for region in REGION_CODES:
            for seq in range(901, 1000, 2):
                number = make_id_number(region, birth, seq)
                if ric.is_valid(number):
                    out.append((number, birth))
                    if len(out) == n:
                        return out
    return out


def _bench_exists(n: int) -> bool:
    from safework.org.models import Group
    from safework.people.models import Person

    return (
        Group.objects.filter(code=GROUP).exists()
        and Person.objects.filter(is_synthetic=True, name__startswith="基准").count() == n
    )


def _drop_bench() -> None:
    from safework.certs.models import Certificate
    from safework.org.models import Department, Group, Site
    from safework.people.models import (
        Contractor,
        ContractorEngagement,
        Employment,
        HealthCheck,
        Person,
    )

    persons = Person.objects.filter(is_synthetic=True, name__startswith="基准")
    for qs in (
        Certificate.objects.filter(person__in=persons),
        HealthCheck.objects.filter(person__in=persons),
    ):
        qs._raw_delete(qs.db)
    persons.update(current_employment=None)
    emps = Employment.objects.filter(person__in=persons)
    emps._raw_delete(emps.db)
    persons._raw_delete(persons.db)
    for qs in (
        ContractorEngagement.objects.filter(site__group__code=GROUP),
        Contractor.objects.filter(name__startswith="基准承包商"),
        Department.objects.filter(group__code=GROUP),
        Site.objects.filter(group__code=GROUP),
        Group.objects.filter(code=GROUP),
    ):
        qs._raw_delete(qs.db)


def build(n: int, certs_per_person: int) -> None:
    from django.db import transaction

    from safework.certs.models import Certificate, CertificateItem
    from safework.core import audit
    from safework.org.models import Department, Group, Position, Site
    from safework.people.models import (
        Contractor,
        ContractorEngagement,
        Employment,
        HealthCheck,
        Person,
    )
    from safework.people.rules import uscc_check_char

    rng = random.Random(20260310)
    started = time.perf_counter()
    with transaction.atomic():
        _drop_bench()
        group = Group.objects.create(name="基准集团", code=GROUP, is_synthetic=True)
        site = Site.objects.create(
            group=group, name="基准厂区", code=f"{GROUP}-site", latitude=32, longitude=120
        )
        dept = Department.objects.create(
            group=group,
            site=site,
            effective_site=site,
            name="基准车间",
            code=f"{GROUP}-dept",
            kind="workshop",
            path="/",
        )
        dept.path = f"/{dept.pk}/"
        dept.save(update_fields=["path"])
        first17 = "91320000H6BENCH00"
        contractor = Contractor.objects.create(
            name="基准承包商", uscc=first17 + uscc_check_char(first17), is_synthetic=True
        )
        ContractorEngagement.objects.create(
            contractor=contractor, site=site, starts_on=dt.date(2025, 1, 1)
        )
        positions = {p.code: p for p in Position.objects.all()}
        items = {
            (i.scheme.code, i.code): i for i in CertificateItem.objects.select_related("scheme")
        }
        kinds = [  # position, extra items (PLANT-ANNUAL and 2.1 or a role item first)
            ("welder", [("special_operation", "2.1"), ("special_operation", "3.2")]),
            ("team-leader", [("internal", "GUARDIAN"), ("special_operation", "2.1")]),
            ("gas-analyst", [("internal", "GAS-TESTER"), ("special_operation", "2.1")]),
        ]
        chunk = 10_000
        identities = _identities(n)
        for start in range(0, n, chunk):
            batch = identities[start : start + chunk]
            people, roles = [], []
            for offset, (number, birth) in enumerate(batch):
                i = start + offset
                kind = kinds[0] if i % 10 < 8 else kinds[1 + i % 2]
                roles.append(kind)
                people.append(
                    Person(
                        id_number=number,
                        name=f"基准{i:06d}",
                        gender="male",
                        birth_date=birth,
                        position=positions[kind[0]],
                        is_synthetic=True,
                    )
                )
            Person.objects.bulk_create(people, batch_size=2000)
            emps = [
                Employment(
                    person=p,
                    employer_kind="contractor" if rng.random() < 0.1 else "own",
                    department=None,
                    site=site,
                    started_on=dt.date(2020, 1, 1),
                )
                for p in people
            ]
            for e in emps:
                if e.employer_kind == "contractor":
                    e.contractor, e.site = contractor, None
                else:
                    e.department = dept
            Employment.objects.bulk_create(emps, batch_size=2000)
            for p, e in zip(people, emps, strict=True):
                p.current_employment = e
            Person.objects.bulk_update(people, ["current_employment"], batch_size=2000)
            HealthCheck.objects.bulk_create(
                [
                    HealthCheck(
                        person=p,
                        checked_on=NOW - dt.timedelta(days=rng.randint(5, 80)),
                        conclusion="fit",
                        is_synthetic=True,
                    )
                    for p in people
                ],
                batch_size=2000,
            )
            certs = []
            for p, (_position, extra) in zip(people, roles, strict=True):
                wanted = [("internal", "PLANT-ANNUAL"), *extra][:certs_per_person]
                for scheme, code in wanted:
                    item = items[(scheme, code)]
                    issued = NOW - dt.timedelta(days=rng.randint(10, 300))
                    if scheme == "internal":
                        until = issued + dt.timedelta(days=364)
                    else:
                        issued = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
                        until = issued + dt.timedelta(days=6 * 365)
                    if rng.random() < 0.02:  # a few expired: some crews are refused
                        until = NOW - dt.timedelta(days=rng.randint(1, 30))
                        issued = min(issued, until)
                    certs.append(
                        Certificate(
                            person=p,
                            scheme=item.scheme,
                            item=item,
                            number=f"H6B{p.pk:07d}{code}",
                            issued_on=issued,
                            first_issued_on=issued,
                            valid_from=issued,
                            valid_until=until,
                            verification="verified",
                            catalogue_version=item.catalogue_version,
                            is_synthetic=True,
                        )
                    )
            Certificate.objects.bulk_create(certs, batch_size=5000)
        audit.record(
            action="bench.seeded",
            target=("org.group", str(group.pk), group.name),
            after={"persons": n, "certificates_per_person": certs_per_person},
        )
    print(f"  built {n} persons in {time.perf_counter() - started:.1f} s", flush=True)


def raw_statement(n: int) -> str:
    """One statement reading the facts of n persons on a date: person, the employment in force,
    the latest health check on or before the date, every certificate (one row per certificate).
    Portable SQL (a correlated subquery, not LATERAL), so it runs on SQLite too."""
    from safework.certs.models import Certificate
    from safework.people.models import Employment, HealthCheck, Person

    person, emp = Person._meta.db_table, Employment._meta.db_table
    check, cert = HealthCheck._meta.db_table, Certificate._meta.db_table
    ids = ", ".join(["%s"] * n)
    return f"""
        SELECT p.id, p.id_number, p.name, p.is_active, p.position_id,
               e.id, e.employer_kind, e.contractor_id, e.started_on, e.ended_on, e.status,
               h.id, h.checked_on, h.conclusion, h.valid_until, h.restricted_work_types,
               c.id, c.scheme_id, c.item_id, c.number, c.restriction, c.issued_on,
               c.valid_from, c.valid_until, c.next_review_due, c.state, c.verification,
               c.predecessor_id, c.last_practised_on, c.reapply_allowed_from
        FROM {person} p
        LEFT JOIN {emp} e ON e.person_id = p.id AND e.started_on <= %s
             AND (e.ended_on IS NULL OR e.ended_on >= %s)
        LEFT JOIN {check} h ON h.id = (
             SELECT h2.id FROM {check} h2 WHERE h2.person_id = p.id AND h2.checked_on <= %s
             ORDER BY h2.checked_on DESC LIMIT 1)
        LEFT JOIN {cert} c ON c.person_id = p.id
        WHERE p.id IN ({ids})"""


def child(args) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.certs.models import Certificate
    from safework.core.catalogue import load_catalogue
    from safework.org.models import Site
    from safework.people.models import Person
    from safework.qualification import engine as qualification

    label = connection.vendor
    call_command("migrate", verbosity=0)
    from django.db import transaction

    with transaction.atomic():
        load_catalogue()
    if not _bench_exists(args.persons):
        build(args.persons, args.certs_per_person)
        if connection.vendor == "postgresql":
            # Fresh statistics after the bulk load: without them the planner takes 100,000
            # employments for a few thousand and scans them all (75 ms instead of 0.7 ms).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    site = Site.objects.get(code=f"{GROUP}-site")
    persons = list(
        Person.objects.filter(is_synthetic=True, name__startswith="基准").values_list(
            "pk", "position__code"
        )
    )
    by_position: dict[str, list[int]] = {}
    for pk, position in persons:
        by_position.setdefault(position, []).append(pk)
    n_certs = Certificate.objects.count()
    rng = random.Random(7)
    at = dt.datetime(NOW.year, NOW.month, NOW.day, 9, tzinfo=dt.UTC)
    attrs = {"hot_work_method": "welding", "height_m": 3.0}

    def crew():
        welders = rng.sample(by_position["welder"], args.crew - 2)
        return (
            [qualification.CrewMember(pk, "worker") for pk in welders]
            + [qualification.CrewMember(rng.choice(by_position["team-leader"]), "guardian")]
            + [qualification.CrewMember(rng.choice(by_position["gas-analyst"]), "gas_tester")]
        )

    raw_sql = raw_statement(args.crew)

    def raw(members) -> int:
        with connection.cursor() as cursor:
            cursor.execute(raw_sql, [NOW, NOW, NOW, *(m.person_id for m in members)])
            return len(cursor.fetchall())

    for _ in range(20):  # warm the catalogue and settings cache and the database's pages
        qualification.check_crew(crew(), "hot_work", "level1", site, at, attrs)
        raw(crew())
    with CaptureQueriesContext(connection) as captured:
        qualification.check_crew(crew(), "hot_work", "level1", site, at, attrs)
    timings, cpu, raw_timings, raw_cpu, allowed = [], [], [], [], 0
    for _ in range(args.checks):
        members = crew()
        started, started_cpu = time.perf_counter(), time.process_time()
        decision = qualification.check_crew(members, "hot_work", "level1", site, at, attrs)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        allowed += decision.allowed
        started, started_cpu = time.perf_counter(), time.process_time()
        raw(members)
        raw_timings.append((time.perf_counter() - started) * 1000)
        raw_cpu.append((time.process_time() - started_cpu) * 1000)

    def p95(values):
        return sorted(values)[max(0, int(len(values) * 0.95) - 1)]

    load = os.getloadavg()[0]
    print(
        f"{label}: {len(persons)} persons, {n_certs} certificates; {args.checks} checks of a "
        f"{args.crew}-person crew: median {statistics.median(timings):.2f} ms, "
        f"p95 {p95(timings):.2f} ms (this process's CPU: median {statistics.median(cpu):.2f} ms, "
        f"p95 {p95(cpu):.2f} ms); {len(captured)} queries per check; {allowed} allowed; "
        f"load average {load:.1f}",
        flush=True,
    )
    engine, baseline = statistics.median(timings), statistics.median(raw_timings)
    print(
        f"{label}: raw SQL baseline (one statement, same crews): median {baseline:.2f} ms, "
        f"p95 {p95(raw_timings):.2f} ms (CPU: median {statistics.median(raw_cpu):.2f} ms); "
        f"engine / raw = {engine / baseline:.1f}x "
        f"(aim: engine <= 2 ms and <= 5x raw)",
        flush=True,
    )


if __name__ == "__main__":
    main()

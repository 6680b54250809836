"""Benchmark of the set-based certificate status (`certs.queries.with_status`).

Builds (or reuses) N synthetic persons with K certificates each (default 100,000 × 3 = 300,000)
with `bulk_create`, then times `with_status(Certificate.objects.all(), on=…)` over every row:

  * counts per status, in one SQL statement (`values("status").annotate(Count)`),
  * counts per status *and* colour, in one statement,
  * fetching every row's (id, status, usable, colour, days_left),
  * fetching every row as a model instance (iterator),

on SQLite and on PostgreSQL (database `sw_h5_bench`, created when missing). Target ≤ 5 s, aim
≤ 0.3 s for the aggregate. Each database runs in its own child process, since the settings read
DATABASE_URL once.

    .venv/bin/python bench/status_bench.py                      # both databases, 100,000 × 3
    .venv/bin/python bench/status_bench.py --db sqlite --persons 10000
    .venv/bin/python bench/status_bench.py --rebuild            # drop and rebuild the data

The data is deterministic for (persons, certs per person, seed); the bench's own database files
live in --var-dir (default var/status-bench, git-ignored), never the project's database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/sw_h5_bench"
ON = dt.date(2026, 6, 1)  # the date asked: the day Order No. 19 takes effect
PREFIX = "BENCH-"
# (scheme, item, restriction kinds) the bench certificates cycle through.
ITEMS = (
    ("special_operation", "2.1"),
    ("special_operation", "3.1"),
    ("special_operation", "1.2"),
    ("special_equipment", "Q2"),
    ("special_equipment", "N1"),
    ("construction", "01"),
    ("internal", "PLANT-ANNUAL"),
    ("internal", "GUARDIAN"),
)
# What a status list shows of a record (the fields of `with_status` plus its identity).
LEAN_FIELDS = (
    "person_id",
    "scheme_id",
    "item_id",
    "number",
    "valid_from",
    "valid_until",
    "next_review_due",
    "state",
    "state_changed_on",
    "verification",
    "predecessor_id",
)
VERIFICATION_WEIGHTS = {
    "verified": 70,
    "unverified": 20,
    "mismatch": 3,
    "not_found": 3,
    "expired": 2,
    "revoked": 2,
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--persons", type=int, default=100_000)
    p.add_argument("--certs-per-person", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="runs per timing (best is reported)")
    p.add_argument("--rebuild", action="store_true", help="drop the bench data and rebuild it")
    p.add_argument("--var-dir", type=Path, default=ROOT / "var" / "status-bench")
    p.add_argument("--postgres-url", default=os.environ.get("STATUS_BENCH_PG", DEFAULT_PG))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --- parent: one child process per database ----------------------------------------------------


def ensure_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def run_children(args) -> int:
    targets = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    args.var_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for target in targets:
        env = dict(os.environ, SAFEWORK_VAR_DIR=str(args.var_dir))
        if target == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{args.var_dir / 'status_bench.sqlite3'}"
        else:
            ensure_pg_database(args.postgres_url)
            env["DATABASE_URL"] = args.postgres_url
        cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
        print(f"== {target}", flush=True)
        last = ""
        with subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
            for line in child.stdout:  # progress as it comes; the last line is the JSON result
                if line.startswith("{"):
                    last = line
                else:
                    print(line, end="", flush=True)
        if child.returncode != 0 or not last:
            print(f"{target}: failed (exit {child.returncode})")
            return child.returncode or 1
        results[target] = json.loads(last)
    print("\n== summary (seconds, best of runs)")
    keys = list(next(iter(results.values()))["timings"])
    print(f"{'':46}" + "".join(f"{t:>12}" for t in results))
    for key in keys:
        print(f"{key:46}" + "".join(f"{r['timings'][key]:>12.3f}" for r in results.values()))
    worst = max(r["timings"]["counts per status (1 query)"] for r in results.values())
    print(f"\naggregate over all rows: {worst:.3f} s (target ≤ 5 s, aim ≤ 0.3 s)")
    return 0 if worst <= 5 else 1


# --- child: build or reuse, then time ----------------------------------------------------------


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")
    import django

    django.setup()


def bench_counts(n_persons: int, k: int) -> tuple[int, int]:
    from safework.certs.models import Certificate
    from safework.people.models import Person

    return (
        Person.objects.filter(name__startswith=PREFIX).count(),
        Certificate.objects.filter(number__startswith=PREFIX).count(),
    )


def drop_bench_data() -> None:
    from safework.certs.models import Certificate
    from safework.people.models import Person

    certs = Certificate.objects.filter(number__startswith=PREFIX)
    certs.exclude(predecessor=None).update(predecessor=None)
    certs.delete()
    Person.objects.filter(name__startswith=PREFIX).delete()


def identity(i: int) -> tuple[str, dt.date, str]:
    """A unique, valid synthetic ID number for person i: sequence 900–999, real region codes."""
    from safework.people.rules import ric_check_char
    from safework.people.synthetic import REGION_CODES

    sequence, j = 900 + i % 100, i // 100
    region = REGION_CODES[j % len(REGION_CODES)]
    birth = dt.date(1966, 1, 1) + dt.timedelta(days=j // len(REGION_CODES))
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + ric_check_char(first17), birth, "male" if sequence % 2 else "female"


def build(n_persons: int, k: int, seed: int) -> None:
    from django.db import transaction

    from safework.certs.models import Certificate, CertificateItem, CertState
    from safework.certs.rules import RuleBook, default_valid_until, first_unpassed_review
    from safework.people.models import Person

    rng = random.Random(seed)
    book = RuleBook.load()
    items = {
        (it.scheme.code, it.code): it
        for it in CertificateItem.objects.select_related("scheme").filter(
            code__in=[code for _s, code in ITEMS]
        )
    }
    verifications = list(VERIFICATION_WEIGHTS)
    weights = list(VERIFICATION_WEIGHTS.values())
    chunk = 5000
    started = time.perf_counter()
    for start in range(0, n_persons, chunk):
        with transaction.atomic():
            persons = []
            for i in range(start, min(start + chunk, n_persons)):
                number, birth, gender = identity(i)
                persons.append(
                    Person(
                        id_number=number,
                        name=f"{PREFIX}{i:06d}",
                        gender=gender,
                        birth_date=birth,
                        is_synthetic=True,
                    )
                )
            Person.objects.bulk_create(persons, batch_size=1000)
            certs, renewals = [], []
            for person in persons:
                previous = None
                for n in range(k):
                    scheme, code = ITEMS[rng.randrange(len(ITEMS))]
                    renew = previous is not None and n == k - 1 and rng.random() < 0.1
                    if renew:
                        it = previous.item  # a renewal of the record before, maybe a vacuum
                        valid_from = previous.valid_until + dt.timedelta(days=rng.randint(-20, 8))
                    else:
                        it = items[(scheme, code)]
                        valid_from = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(3100))
                    rule = book.rule_for(it.scheme_id, it.pk, valid_from)
                    valid_until = default_valid_until(
                        valid_from, rule, calendar_year=it.calendar_year
                    ) or valid_from + dt.timedelta(days=365)
                    roll = rng.random()
                    state = (
                        CertState.REVOKED
                        if roll < 0.02
                        else CertState.CANCELLED
                        if roll < 0.03
                        else CertState.ACTIVE
                    )
                    cert = Certificate(
                        person=person,
                        scheme_id=it.scheme_id,
                        item=it,
                        number=f"{PREFIX}{person.name[len(PREFIX) :]}-{n}",
                        restriction=it.restriction_kinds[0] if it.restriction_kinds else "",
                        first_issued_on=previous.first_issued_on if renew else valid_from,
                        issued_on=valid_from,
                        valid_from=valid_from,
                        valid_until=valid_until,
                        state=state,
                        state_changed_on=(
                            valid_from + dt.timedelta(days=rng.randrange(700))
                            if state != CertState.ACTIVE
                            else None
                        ),
                        verification=rng.choices(verifications, weights)[0],
                        catalogue_version=it.catalogue_version,
                        is_synthetic=True,
                    )
                    # Reviews due before the date asked: 70% passed in time, 30% missed.
                    passed = []
                    due = first_unpassed_review(cert, book, passed)
                    while due and due[0] < ON and rng.random() < 0.7:
                        passed.append((due[0], due[0]))
                        due = first_unpassed_review(cert, book, passed)
                    cert.next_review_due = due[0] if due else None
                    certs.append(cert)
                    if renew:
                        renewals.append((cert, previous))
                    previous = cert
            Certificate.objects.bulk_create(certs, batch_size=1000)
            for cert, previous in renewals:
                cert.predecessor_id = previous.pk
            Certificate.objects.bulk_update(
                [c for c, _p in renewals], ["predecessor"], batch_size=1000
            )
        done = min(start + chunk, n_persons)
        if done % 20000 == 0 or done == n_persons:
            print(f"  built {done:,} persons in {time.perf_counter() - started:.1f} s", flush=True)


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def child(args) -> int:
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from safework.certs.models import Certificate
    from safework.certs.queries import status_settings, with_status
    from safework.certs.rules import RuleBook, certificate_status
    from safework.core.catalogue import load_catalogue

    call_command("migrate", verbosity=0)
    load_catalogue()
    vendor = connection.vendor
    expected = (args.persons, args.persons * args.certs_per_person)
    if args.rebuild or bench_counts(*expected) != expected:
        print(f"  building {expected[0]:,} persons / {expected[1]:,} certificates …", flush=True)
        drop_bench_data()
        build(args.persons, args.certs_per_person, args.seed)
        if vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
    else:
        print(f"  reusing {expected[0]:,} persons / {expected[1]:,} certificates", flush=True)

    total = Certificate.objects.count()
    # No ordering: Meta.ordering would join person, scheme and item into every statement.
    everything = Certificate.objects.order_by()

    def counts():
        qs = with_status(everything, on=ON).values("status").annotate(n=Count("id"))
        return {row["status"]: row["n"] for row in qs}

    def counts_by_colour():
        qs = with_status(everything, on=ON).values("status", "colour").annotate(n=Count("id"))
        return list(qs)

    def rows():
        qs = with_status(everything, on=ON).order_by()
        return list(qs.values_list("pk", "status", "usable", "colour", "days_left"))

    def instances():
        qs = with_status(everything, on=ON).order_by()
        return sum(1 for _c in qs.iterator(chunk_size=5000))

    def lean_instances():
        qs = with_status(everything, on=ON).only(*LEAN_FIELDS)
        return sum(1 for _c in qs.iterator(chunk_size=5000))

    with CaptureQueriesContext(connection) as ctx:
        per_status = counts()
    statements = [q["sql"] for q in ctx.captured_queries if "certs_certificate" in q["sql"]]
    assert len(statements) == 1, statements
    assert sum(per_status.values()) == total

    timings = {}
    for label, fn in (
        ("counts per status (1 query)", counts),
        ("counts per status and colour (1 query)", counts_by_colour),
        ("fetch all rows: id+status fields", rows),
        ("fetch all rows: model instances", instances),
        ("fetch all rows: model instances, 12 fields", lean_instances),
    ):
        best, median, result = best_of(args.repeat, fn)
        timings[label] = best
        size = len(result) if isinstance(result, list | dict) else result
        print(f"  {label:46} best {best:7.3f} s  median {median:7.3f} s  ({size:,})", flush=True)

    # A spot check that the SQL twin agrees with the per-object rule on real bench rows (the
    # bench writes no review events, so the stored next_review_due is the fact to compare on).
    book, settings = RuleBook.load(), status_settings()
    sample = list(with_status(everything.order_by("?"), on=ON)[:2000])

    def per_object(c):
        s = certificate_status(
            c,
            on=ON,
            book=book,
            predecessor_valid_until=c.predecessor_valid_until,
            settings=settings,
        )
        return (s.status, s.usable, s.colour, s.days_left)

    mismatches = [
        c.pk for c in sample if per_object(c) != (c.status, c.usable, c.colour, c.days_left)
    ]
    print(f"  {total:,} rows on {vendor} on {ON}: {dict(sorted(per_status.items()))}")
    print(
        f"  spot check of {len(sample)} rows against certificate_status: {len(mismatches)} differ"
    )
    print(json.dumps({"vendor": vendor, "rows": total, "timings": timings}))
    return 1 if mismatches else 0


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(child(arguments) if arguments.child else run_children(arguments))

"""Benchmark of the ledger import: a 100,000-row certificate workbook on SQLite and PostgreSQL.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--sqlite] [--postgres]

Writes the workbook once (openpyxl write-only; about 40,000 persons with 2–3 certificates each,
a title row, text and date cells), then for each database runs the import in a fresh process on
a fresh database (SQLite in a temporary folder; PostgreSQL database `sw_h8_bench` on
$BENCH_PG, default postgres://postgres@127.0.0.1:5432) and prints the wall time of the import
(upload, read, check, write, audit) with the CPU time it took (the wall time on a shared machine
includes waiting for the CPU), and the process's peak RSS. A second run of the same file (nothing
changes) is timed too. Target ≤ 60 s and ≤ 1 GiB, aim ≤ 5 s.

Then a workbook of 10,000 rows whose ID numbers all fail the checksum (--bad-rows) is imported
in the same process: every row is reported and the error file written. Target ≤ 30 s (a bound
that was once a wall-clock assert in test_import_files; the test keeps the behaviour).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PG_NAME = "sw_h8_bench"


def generate(path: Path, rows: int) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")
    os.environ.setdefault("SAFEWORK_VAR_DIR", tempfile.mkdtemp(prefix="sw-h8-gen-"))
    import django

    django.setup()
    from safework.ledger.testing import write_bench_ledger

    started = time.perf_counter()
    persons = write_bench_ledger(path, rows, department="焊接车间")
    print(
        f"workbook: {rows} rows, {persons} persons, {path.stat().st_size / 1e6:.1f} MB, "
        f"written in {time.perf_counter() - started:.1f} s"
    )


def generate_bad(path: Path, rows: int) -> None:
    """`rows` rows of one certificate each, every ID number's check digit wrong."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")
    os.environ.setdefault("SAFEWORK_VAR_DIR", tempfile.mkdtemp(prefix="sw-h8-gen-"))
    import django

    django.setup()
    from safework.ledger.testing import identities, xlsx_bytes

    ids = [number for number, _name in identities(6, seed=82)]
    table = [["序号", "姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]]
    for i in range(rows):
        number = ids[i % len(ids)]
        wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
        table.append([i + 1, "某人", wrong, "2.1", f"B-{i}", "2024-01-10", "2030-01-09"])
    path.write_bytes(xlsx_bytes(table))


def child(file: Path, database: str, bad: Path | None = None) -> None:
    """Runs in its own process: fresh database, migrate, catalogue, then the timed import."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "safework.settings"
    import django

    django.setup()
    from django.core.files import File
    from django.core.management import call_command

    from safework.certs.models import Certificate
    from safework.core.catalogue import load_catalogue
    from safework.core.models import AuditRecord
    from safework.ledger.services import run_import, start_import
    from safework.people.models import Person

    call_command("migrate", verbosity=0)
    load_catalogue()
    from safework.org.tests.factories import DepartmentFactory

    DepartmentFactory(name="焊接车间", code="bench-welding")

    timings = []
    runs = [("first", file), ("again", file)] + ([("bad", bad)] if bad else [])
    for attempt, path in runs:
        started, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as f:
            job = start_import(
                by=None, file_obj=File(f, name=path.name), original_name=path.name, enqueue=False
            )
        job = run_import(job.pk)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        timings.append(
            {
                "run": attempt,
                "status": job.status,
                "seconds": round(elapsed, 2),
                "cpu_seconds": round(cpu, 2),
                "rows": job.total_rows,
                "error_rows": job.error_rows,
                "created": job.created_count,
                "updated": job.updated_count,
                "unchanged": job.unchanged_count,
            }
        )
    timings.append(
        {
            "persons": Person.objects.count(),
            "certificates": Certificate.objects.count(),
            "audit_records": AuditRecord.objects.count(),
            "database": database,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    )
    print(json.dumps(timings))


def run_on(
    file: Path, label: str, database_url: str, var_dir: Path, bad: Path | None = None
) -> None:
    env = dict(os.environ, DATABASE_URL=database_url, SAFEWORK_VAR_DIR=str(var_dir))
    env.setdefault("SAFEWORK_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024))
    extra = ["--bad-file", str(bad)] if bad else []
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(file), "--database", label, *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"{label}: the import process failed")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for run in result[:-1]:
        print(
            f"{label:10} {run['run']:5}: {run['seconds']:6.2f} s (CPU {run['cpu_seconds']:.2f} s)  "
            f"{run['status']}  "
            f"rows {run['rows']}, errors {run['error_rows']}, created {run['created']}, "
            f"updated {run['updated']}, unchanged {run['unchanged']}"
            + ("  (target ≤ 30 s)" if run["run"] == "bad" else "")
        )
    totals = result[-1]
    print(
        f"{label:10} peak RSS {totals['peak_rss_kib'] / 1024:.0f} MiB; persons "
        f"{totals['persons']}, certificates {totals['certificates']}, audit records "
        f"{totals['audit_records']}"
    )


def reset_postgres() -> str:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_NAME}")
    return f"{PG_SERVER}/{PG_NAME}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--file", type=Path, help="reuse this workbook")
    parser.add_argument(
        "--bad-rows", type=int, default=10_000, help="rows of the all-bad workbook (0: skip it)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--bad-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.database, args.bad_file)
        return
    both = not (args.sqlite or args.postgres)
    work = Path(tempfile.mkdtemp(prefix="sw-h8-bench-"))
    file = args.file or work / f"ledger-{args.rows}.xlsx"
    if not file.exists():
        generate(file, args.rows)
    bad = work / f"bad-{args.bad_rows}.xlsx" if args.bad_rows else None
    if bad:
        generate_bad(bad, args.bad_rows)
    if args.sqlite or both:
        var = work / "sqlite"
        var.mkdir()
        run_on(file, "sqlite", f"sqlite:///{var}/bench.sqlite3", var, bad)
    if args.postgres or both:
        var = work / "postgres"
        var.mkdir()
        run_on(file, "postgresql", reset_postgres(), var, bad)


if __name__ == "__main__":
    main()

"""Time and peak memory of the export and coverage jobs on 150,000 certificates, beside a baseline.

    .venv/bin/python bench/export_bench.py                 # SQLite in a fresh temporary var/
    .venv/bin/python bench/export_bench.py --postgres      # and PostgreSQL (sw_h_jobs_bench)

The data is `safework seed --scale 50000 --certs-per-person 3` (150,000 certificates; see
seed_bench.py, whose helpers this reuses) on a fresh, migrated database. Then, each in a child
process of its own (os.wait4 gives that process's peak RSS and CPU time):

  * export job: `report_jobs.run_report` of a certificate export as an administrator sees it
    (every row's status on a date, masking, formula escaping, xlsx), stored as the job's file;
  * coverage job: the same for the coverage report (position needs against usable certificates);
  * baseline: one raw SQL SELECT of the same certificate rows (person, item, scheme joined)
    written with openpyxl's write-only workbook: what reading and writing alone cost.

Before issue 17 the export and the report ran inside a web request (26–49 s measured on this data);
now the request answers 202 at once and these times are spent in the task worker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_bench import fresh_postgres, postgres_url, run  # noqa: E402

ON = "2026-06-01"
MODES = ("export", "coverage", "baseline")
BASELINE_SQL = """
SELECT p.name, p.id_number, s.name, i.code, i.name, c.number, c.first_issued_on, c.issued_on,
       c.valid_from, c.valid_until, c.next_review_due, c.verification, c.issuing_authority
FROM certs_certificate c
JOIN people_person p ON p.id = c.person_id
JOIN certs_certificateitem i ON i.id = c.item_id
JOIN certs_scheme s ON s.id = c.scheme_id
ORDER BY p.name, p.id, s.code, i.code, c.issued_on DESC
"""


def child(mode: str) -> None:
    """Runs in its own process; prints one JSON line."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")
    import django

    django.setup()
    from safework.certs.models import Certificate

    started = time.perf_counter()
    if mode == "baseline":
        import io

        from django.db import connection
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("certificates")
        rows = 0
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            while batch := cursor.fetchmany(2000):
                for row in batch:
                    ws.append(list(row))
                rows += len(batch)
        buf = io.BytesIO()
        wb.save(buf)
        size = len(buf.getvalue())
    else:
        from safework.ledger import report_jobs

        kind = "certificates" if mode == "export" else "coverage"
        job = report_jobs.start_report(by=None, kind=kind, params={"on": ON}, enqueue=False)
        job = report_jobs.run_report(job.pk)
        if job.status != "succeeded":
            raise SystemExit(f"{mode} job {job.status}: {job.message}")
        rows, size = job.total, job.file.size
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": rows,
                "bytes": size,
                "seconds": seconds,
                "certificates": Certificate.objects.count(),
            }
        )
    )


def measure(label: str, env: dict, opts, *, seed: bool = True) -> None:
    if seed:
        run(["migrate", "--noinput", "-v0"], env)
        run(["catalogue", "load"], env)
        seeded = run(
            ["seed", "--scale", str(opts.persons), "--seed", "1", "--certs-per-person", "3"], env
        )
        print(f"{label}: seeded in {seeded[1]:.1f} s: {seeded[0].strip().splitlines()[-1]}")
    for mode in opts.modes:
        started = time.perf_counter()
        # wait4 on our own child: the peak RSS and CPU time of that process alone.
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", mode],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{mode} failed:\n{err[-3000:]}")
        proc.returncode = os.waitstatus_to_exitcode(status)
        r = json.loads(out.strip().splitlines()[-1])
        cpu = usage.ru_utime + usage.ru_stime
        print(
            f"{label} {mode:8}: {r['seconds']:6.1f} s ({r['rows']} rows of "
            f"{r['certificates']} certificates, {r['bytes'] / 2**20:.1f} MiB xlsx; process "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU), peak RSS {usage.ru_maxrss / 1024:.0f} MiB",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=50_000, help="3 certificates each")
    parser.add_argument("--postgres", nargs="?", const="", metavar="URL")
    parser.add_argument("--pg-database", default="sw_h_jobs_bench", help="dropped and re-created")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--var-dir", type=Path, help="SQLite: keep the seeded database here and reuse it"
    )
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child(opts.child)
        return 0
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    folders = []
    try:
        if not opts.no_sqlite and opts.var_dir:
            opts.var_dir.mkdir(parents=True, exist_ok=True)
            seeded = (opts.var_dir / "safework.sqlite3").exists()
            measure(
                "sqlite", {**base, "SAFEWORK_VAR_DIR": str(opts.var_dir)}, opts, seed=not seeded
            )
        elif not opts.no_sqlite:
            folder = tempfile.mkdtemp(prefix="sw-export-bench-sqlite-")
            folders.append(folder)
            measure("sqlite", {**base, "SAFEWORK_VAR_DIR": folder}, opts)
        url = postgres_url(opts)
        if url:
            fresh_postgres(url)
            folder = tempfile.mkdtemp(prefix="sw-export-bench-pg-")
            folders.append(folder)
            measure("postgres", {**base, "SAFEWORK_VAR_DIR": folder, "DATABASE_URL": url}, opts)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

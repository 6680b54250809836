"""Benchmark: the monthly certificate health and contractor compliance reports on the database
the environment names (DATABASE_URL, else SQLite under SAFEWORK_VAR_DIR).

    SAFEWORK_VAR_DIR=/tmp/sw-reports .venv/bin/python bench/reports_bench.py --prepare
    SAFEWORK_VAR_DIR=/tmp/sw-reports .venv/bin/python bench/reports_bench.py --scale 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sw_reports_bench \\
        .venv/bin/python bench/reports_bench.py --prepare --scale 20000

`--prepare` migrates, loads the catalogue and seeds the demo (if empty); `--scale N` adds the
bench group of N persons (`safework seed --scale N --seed 1`, three certificates each). Then for
each month asked (default 2026-05, with Order No. 30 reviews due, and 2026-11) it prints, per
report, the statements and the time of the figures (group-wide), of the xlsx and of the PDF,
and the totals. The first PDF of a process includes loading WeasyPrint and decoding the font.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="migrate, catalogue, demo seed")
    parser.add_argument("--scale", type=int, default=0, help="add a bench group of N persons")
    parser.add_argument("--months", nargs="*", default=["2026-05", "2026-11"])
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.certs.models import Certificate
    from safework.core.scope import Scope
    from safework.people.models import Person
    from safework.reports import queries, render
    from safework.reports.queries import Month

    if args.prepare:
        call_command("migrate", verbosity=0)
        call_command("catalogue", "load", verbosity=0)
        call_command("seed", "--demo", "--if-empty", verbosity=0)
    if args.scale:
        call_command("seed", "--scale", str(args.scale), "--seed", "1", verbosity=0)
    print(
        f"{connection.vendor}: {Person.objects.count()} persons, "
        f"{Certificate.objects.count()} certificates"
    )
    builders = (
        ("health", queries.certificate_health),
        ("compliance", queries.contractor_compliance),
    )
    for text in args.months:
        month = Month.parse(text)
        for kind, build in builders:
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                report = build(Scope.everything(), month)
                figures = time.perf_counter() - t
            t = time.perf_counter()
            xlsx = render.to_xlsx(kind, report)
            t_xlsx = time.perf_counter() - t
            t = time.perf_counter()
            pdf = render.to_pdf(kind, report)
            t_pdf = time.perf_counter() - t
            f = report.total
            print(
                f"{month} {kind:10}: {len(ctx.captured_queries):2} statements"
                f" {figures * 1000:6.0f} ms"
                f" | xlsx {t_xlsx * 1000:5.0f} ms {len(xlsx):6} B | pdf {t_pdf * 1000:5.0f} ms"
                f" {len(pdf):6} B | valid at start {f.valid_at_start}, expired {f.expired},"
                f" reviews {f.reviews_timely}/{f.reviews_due}, coverage {f.covered}/"
                f"{f.in_positions}, cross-site {f.cross_site}"
            )


if __name__ == "__main__":
    main()

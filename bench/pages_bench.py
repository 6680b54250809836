"""Benchmark: the main web pages on the demo data, and their queries at two data sizes.

    .venv/bin/python bench/pages_bench.py                      # demo, then demo + 5,000 persons
    .venv/bin/python bench/pages_bench.py --requests 50 --scale 20000

Runs on SQLite in a var folder of its own (default /tmp/sw-web-bench, emptied first: migrated,
catalogue loaded, demo seeded, as `make run` does). Each page is requested through Django's test
client (the whole middleware stack: sessions, CSP, locale, axes) by the user it is for: the site
safety officer for the officer's pages, the contractor manager for the portal, the administrator
(who sees every row) for the second table. Prints the median and p95 of each page beside a
baseline (the anonymous login page: the same layout with no data), target median ≤ 200 ms, and
the queries per page.

Then it adds a bench group of `--scale` persons (`safework seed --scale`, ~3 certificates each)
and counts the queries of the list pages again as the administrator, who sees both sizes: the
counts must be equal (lists are paginated and read their rows' status in the same statement, so
no query per row). The process exits non-zero when a count differs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup(var_dir: str) -> None:
    os.environ["SAFEWORK_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def _prepare() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("catalogue", "load", verbosity=0)
    call_command("seed", demo=True, if_empty=True, verbosity=0)
    # The notices of the demo's events (certificate warnings, permits waiting for approval) in
    # the inboxes, as the task worker would have made them.
    from safework.notify import scan, services

    scan.run_scan()
    services.fan_out()


def _client(username: str | None):
    from django.test import Client

    from safework.accounts.models import User

    client = Client()
    if username:
        client.force_login(User.objects.get(username=username))
    return client


def _pages(
    officer_person_id: int, explained: str, permit_id: int
) -> list[tuple[str, str, str | None]]:
    """(label, path, username): the main pages, each by the user it is for."""
    officer = "demo_safety_officer"
    return [
        ("baseline: login page", "/login/", None),
        ("home", "/", officer),
        ("people", "/persons/", officer),
        ("people: search", "/persons/?q=王", officer),
        ("person", f"/persons/{officer_person_id}/", officer),
        ("certificates", "/certificates/", officer),
        ("certificates: red", "/certificates/?colour=red", officer),
        ("qualification form", "/qualification/", officer),
        ("ledger imports", "/imports/", officer),
        ("rosters", "/rosters/", officer),
        ("registry checks", "/verifications/", officer),
        ("contractor portal", "/contractor/", "demo_contractor_manager"),
        ("inbox", "/inbox/", officer),
        ("why wasn't I told", f"/inbox/explain/?person={explained}", officer),
        ("dashboard", "/dashboard/", officer),
        ("dashboard: contractor", "/dashboard/", "demo_contractor_manager"),
        ("permit ledger", "/work-permits/", officer),
        ("permit ledger: filtered", "/work-permits/?work_type=hot_work&contractor=own", officer),
        ("permit", f"/work-permits/{permit_id}/", officer),
        ("apply: hot work form", "/work-permits/new/?type=hot_work", officer),
        ("approvals inbox", "/approvals/", "demo_workshop_head"),
    ]


def _queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(ctx.captured_queries)


def _time(client, path: str, n: int) -> list[float]:
    for _ in range(3):  # warm: caches, template loading
        client.get(path)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return out


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--scale", type=int, default=5000, help="persons added for size two")
    parser.add_argument("--var-dir", default="/tmp/sw-web-bench")
    args = parser.parse_args()
    shutil.rmtree(args.var_dir, ignore_errors=True)  # its own folder: the demo alone, each run
    _setup(args.var_dir)
    _prepare()

    from safework.accounts.models import User
    from safework.people.models import Person

    officer_person = User.objects.get(username="demo_safety_officer").person
    # A person with certificates, health checks and history: the demo's first contractor welder.
    person = (
        Person.objects.filter(certificates__isnull=False, employments__isnull=False)
        .filter(pk__in=_visible_ids("demo_safety_officer"))
        .order_by("pk")
        .first()
        or officer_person
    )
    clients: dict[str | None, object] = {}
    print(f"pages on the demo data ({Person.objects.count()} persons), {args.requests} requests")
    print(f"{'page':<24} {'median ms':>10} {'p95 ms':>8} {'× base':>7} {'queries':>8}")
    base = None
    from safework.permits.models import Permit

    permit = Permit.objects.filter(status="active").order_by("pk").first()
    for label, path, username in _pages(person.pk, person.id_number, permit.pk):
        client = clients.setdefault(username, _client(username))
        queries = _queries(client, path)
        times = _time(client, path, args.requests)
        median = statistics.median(times)
        base = base or median
        print(f"{label:<24} {median:>10.1f} {_p95(times):>8.1f} {median / base:>7.1f} {queries:>8}")

    lists = [
        ("home", "/"),
        ("people", "/persons/"),
        ("certificates", "/certificates/"),
        ("certificates: red", "/certificates/?colour=red"),
        ("person", f"/persons/{person.pk}/"),
        ("ledger imports", "/imports/"),
        ("registry checks", "/verifications/"),
        ("inbox", "/inbox/"),
        ("dashboard", "/dashboard/"),
        ("permit ledger", "/work-permits/"),
    ]
    admin = _client("demo_admin")
    before = {label: _queries(admin, path) for label, path in lists}
    n_before = Person.objects.count()
    from django.core.management import call_command

    call_command("seed", scale=args.scale, seed=7, verbosity=0)
    n_after = Person.objects.count()
    after = {label: _queries(admin, path) for label, path in lists}
    print(f"\nqueries per page as the administrator: {n_before} persons → {n_after} persons")
    print(f"{'page':<24} {'queries':>8} {'queries':>8}")
    failed = False
    for label, _path in lists:
        mark = "" if before[label] == after[label] else "  ← grows with the rows"
        failed |= bool(mark)
        print(f"{label:<24} {before[label]:>8} {after[label]:>8}{mark}")
    sys.exit(1 if failed else 0)


def _visible_ids(username: str):
    from safework.accounts.models import User
    from safework.accounts.scope import scope_for
    from safework.people.queries import persons_visible_to

    user = User.objects.get(username=username)
    return persons_visible_to(scope_for(user, "people", "read")).values("pk")


if __name__ == "__main__":
    main()

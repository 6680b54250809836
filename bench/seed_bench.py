"""Time and peak memory of `safework seed --scale N` (default 100,000 persons, 3 certificates each).

    .venv/bin/python bench/seed_bench.py                 # SQLite in a fresh temporary var/ folder
    .venv/bin/python bench/seed_bench.py --postgres      # and PostgreSQL (DATABASE_URL's server)
    .venv/bin/python bench/seed_bench.py --rerun         # also time replacing the bench group

Each database is fresh and migrated, the catalogue loaded, then the seed runs as a child process
whose own resource usage (os.wait4) gives the peak RSS and CPU time. One line per database:

    sqlite: 100000 persons, 300000 certificates in 8.4 s (seed 7.2 s, CPU 8.1 s), peak RSS 150 MiB

"in" is the child's wall time including Django start-up; "seed" the time the command itself
reports (delete + build + write + commit). Target (decisions.md, a 2-core CI machine): ≤ 60 s
and ≤ 1 GiB. Wall time on a busy machine is longer than CPU time; both are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60
TARGET_BYTES = 1024**3
# The command speaks the operator's language: Chinese by default, English when asked.
SUMMARY = re.compile(
    r"bench: (\d+) persons, (\d+) certificates, .* in ([\d.]+) s"
    r"|压测：(\d+) 人，(\d+) 张证书，.*用时 ([\d.]+) 秒"
)


def run(args: list[str], env: dict) -> tuple[str, float, float, int]:
    """Run `manage.py args`; (output, wall s, CPU s, peak RSS bytes) of that child alone."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = proc.stdout.read()
    proc.stdout.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({proc.returncode}):\n{output}")
    # Linux reports ru_maxrss in KiB.
    return output, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def measure(label: str, env: dict, opts) -> bool:
    run(["migrate", "--noinput", "-v0"], env)
    run(["catalogue", "load"], env)
    seed = [
        "seed",
        "--scale",
        str(opts.persons),
        "--seed",
        str(opts.seed),
        "--certs-per-person",
        str(opts.certs_per_person),
    ]
    ok = True
    for attempt in ("", " (rerun)") if opts.rerun else ("",):
        output, wall, cpu, rss = run(seed, env)
        found = SUMMARY.search(output)
        if not found:
            raise SystemExit(f"unexpected seed output:\n{output}")
        persons, certs, seconds = (g for g in found.groups() if g is not None)
        within = wall <= TARGET_SECONDS and rss <= TARGET_BYTES
        ok &= within
        print(
            f"{label}{attempt}: {persons} persons, {certs} certificates in {wall:.1f} s "
            f"(seed {float(seconds):.1f} s, CPU {cpu:.1f} s), peak RSS {rss / 2**20:.0f} MiB"
            f"{'' if within else '  OVER TARGET (60 s, 1 GiB)'}",
            flush=True,
        )
    return ok


def postgres_url(opts) -> str | None:
    raw = opts.postgres
    if raw is None:
        env_url = os.environ.get("DATABASE_URL", "")
        if not env_url.startswith(("postgres://", "postgresql://")):
            return None
        raw = env_url
    if raw == "":
        raw = os.environ.get("DATABASE_URL", "") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(raw)
    return urlunsplit(parts._replace(path=f"/{opts.pg_database}"))


def fresh_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--certs-per-person", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rerun", action="store_true", help="seed twice: time the replacement")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        metavar="URL",
        help="also on PostgreSQL (default: DATABASE_URL's server, else 127.0.0.1:5432)",
    )
    parser.add_argument("--pg-database", default="sw_h4_bench", help="dropped and re-created")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary var/ folders")
    opts = parser.parse_args()

    ok = True
    folders = []
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    try:
        if not opts.no_sqlite:
            folder = tempfile.mkdtemp(prefix="sw-h4-bench-sqlite-")
            folders.append(folder)
            ok &= measure("sqlite", {**base, "SAFEWORK_VAR_DIR": folder}, opts)
        url = postgres_url(opts)
        if url:
            fresh_postgres(url)
            folder = tempfile.mkdtemp(prefix="sw-h4-bench-pg-")
            folders.append(folder)
            env = {**base, "SAFEWORK_VAR_DIR": folder, "DATABASE_URL": url}
            ok &= measure("postgresql", env, opts)
    finally:
        for folder in folders:
            if opts.keep:
                print(f"kept {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

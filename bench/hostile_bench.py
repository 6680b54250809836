"""Peak RSS of the import worker on hostile files, beside a normal 10-row import in the same run.

    .venv/bin/python bench/hostile_bench.py

Each file is imported (start_import + run_import, as the task worker runs it) in a fresh child
process on one migrated SQLite database in a temporary folder; the child's address space is
limited to 4 GiB, so that a file that is not refused fails its child instead of the machine. The
peak RSS is the child's, as wait4 reports it (ru_maxrss). Files: the issue's workbook (one 1 MiB
shared string in 20,000 cells), the same with an incompressible string, a zip bomb (a 400 MiB
member), a member that inflates past its declared size, a billion-laughs shared-string part, a
CSV with a 40 MiB line, and the largest workbook the text limit accepts (a 32,767-character
string, Latin or Chinese, in enough cells to reach IMPORT_MAX_TEXT_CHARS: what is accepted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETUP = """
import os, sys
sys.path.insert(0, {root!r})
import django
django.setup()
"""

BUILD = (
    SETUP
    + """
import random, string
from pathlib import Path
from django.conf import settings
from safework.ledger import hostile
from safework.ledger.testing import identities, xlsx_bytes
out = Path({folder!r})
rows = [["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]]
for i, (number, name) in enumerate(identities(10, seed=17)):
    rows.append([name, number, "2.1", f"N-{{i}}", "2024-01-10", "2030-01-09"])
rng = random.Random(17)
noise = "".join(rng.choice(string.ascii_letters) for _ in range(1 << 20))
limit = settings.IMPORT_MAX_CELL_CHARS
files = {{
    "baseline-10-rows.xlsx": xlsx_bytes(rows),
    "issue-1MiB-string-x20000.xlsx": hostile.shared_string_bomb(20_000, 1 << 20),
    "incompressible-1MiB-string-x20000.xlsx": hostile.workbook_bytes(
        hostile.sheet_xml([[("s", 0)]] + [[("s", 1)] for _ in range(20_000)]),
        hostile.shared_strings_xml(["姓名", noise]),
    ),
    "zip-bomb-400MiB-member.xlsx": hostile.zeros_member_workbook(400 << 20),
    "lying-member-64MiB.xlsx": hostile.lying_member_workbook(1000, 64 << 20),
    "billion-laughs.xlsx": hostile.billion_laughs(),
    "csv-40MiB-line.csv": hostile.csv_long_line(40 << 20),
    "at-text-limit.xlsx": hostile.shared_text_workbook(
        limit, (settings.IMPORT_MAX_TEXT_CHARS - 2) // limit
    ),
    "at-text-limit-chinese.xlsx": hostile.shared_text_workbook(
        limit, (settings.IMPORT_MAX_TEXT_CHARS - 2) // limit, char="安"
    ),
}}
for name, content in files.items():
    (out / name).write_bytes(content)
"""
)

MIGRATE = (
    SETUP
    + """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from safework.core.catalogue import load_catalogue
load_catalogue()
"""
)

IMPORT = (
    SETUP
    + """
import json, resource
from pathlib import Path
from django.core.files import File
from safework.ledger.services import run_import, start_import
path = Path({path!r})
with path.open("rb") as f:
    try:
        job = start_import(by=None, file_obj=File(f, name=path.name), original_name=path.name,
                           enqueue=False)
    except Exception as exc:  # refused at the door
        print(json.dumps({{"status": "refused", "codes": [e.code for e in exc.errors]}}))
        raise SystemExit(0)
job = run_import(job.pk)
print(json.dumps({{"status": job.status, "codes": sorted({{e["code"] for e in job.errors}}),
                  "rows": job.total_rows}}))
"""
)


def main() -> None:
    from safework.ledger.hostile import run_measured

    folder = Path(tempfile.mkdtemp(prefix="sw-hostile-bench-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "safework.settings",
        "SAFEWORK_VAR_DIR": str(folder / "var"),
        "DATABASE_URL": f"sqlite:///{folder}/var/bench.sqlite3",
    }
    (folder / "var").mkdir()
    files = folder / "files"
    files.mkdir()
    for step, script in (("build", BUILD), ("migrate", MIGRATE)):
        code, out, _rss = run_measured(script.format(root=str(ROOT), folder=str(files)), env=env)
        if code != 0:
            sys.exit(f"{step} failed:\n{out[-3000:]}")
    print(f"{'file':42} {'size':>10} {'peak RSS':>10}  result")
    for path in sorted(files.iterdir(), key=lambda p: (not p.name.startswith("baseline"), p.name)):
        code, out, rss_kib = run_measured(
            IMPORT.format(root=str(ROOT), path=str(path)), env=env, address_space=4 << 30
        )
        lines = out.strip().splitlines()
        result = lines[-1] if code == 0 and lines else f"child exit {code}: {out[-300:]!r}"
        try:
            result = json.loads(result)
            result = f"{result['status']} {','.join(result['codes'])}"
        except (ValueError, KeyError):
            pass
        size = path.stat().st_size
        print(f"{path.name:42} {size / 1024:>8.0f} K {rss_kib / 1024:>7.0f} MiB  {result}")
    subprocess.run(["rm", "-rf", str(folder)], check=False)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()

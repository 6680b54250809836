"""`safework audit verify` and `safework audit checkpoint`, in process and on a copied database."""

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from safework.core import audit

from .test_audit_chain import attacker, write_chain


def run(*args):
    out = StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_verify_reports_the_head():
    write_chain(3)
    head = audit.verify_chain().head_hash
    assert run("verify").strip() == f"audit chain ok: 3 records, head #3 {head}"


@pytest.mark.django_db
def test_verify_of_an_empty_chain_passes():
    assert "audit chain ok: 0 records" in run("verify")


@pytest.mark.django_db
def test_a_failed_verify_raises_naming_the_record():
    write_chain(4)
    with attacker() as cur:
        cur.execute("UPDATE core_auditrecord SET object_label = 'forged' WHERE seq = 2")
    with pytest.raises(CommandError, match=r"record #2: column object_label differs"):
        run("verify")


@pytest.mark.django_db
def test_checkpoint_appends_the_head_to_the_default_file(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "var" / "audit-checkpoints.log"
    write_chain(2)
    out = run("checkpoint")
    write_chain(1, start=3)
    run("checkpoint")
    lines = settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()
    heads = audit.read_checkpoints(settings.AUDIT_CHECKPOINT_FILE)
    assert [seq for seq, _ in heads] == [2, 3]
    assert f"head #2 {heads[0][1]} appended to {settings.AUDIT_CHECKPOINT_FILE}" in out
    assert len(lines[0].split()) == 3  # seq, hash, when it was taken
    # `--checkpoint` without a value means the default file.
    assert run("verify", "--checkpoint").strip().endswith("; 2 checkpoints match")


@pytest.mark.django_db
def test_checkpoint_refuses_to_save_the_head_of_a_broken_chain(tmp_path):
    checkpoints = tmp_path / "heads.log"
    write_chain(3)
    with attacker() as cur:
        cur.execute("UPDATE core_auditrecord SET action = 'test.forged' WHERE seq = 3")
    with pytest.raises(CommandError, match=r"no checkpoint stored: record #3: column action"):
        run("checkpoint", "--checkpoint", str(checkpoints))
    assert not checkpoints.exists()


@pytest.mark.django_db
def test_verify_with_a_checkpoint_reports_a_truncated_chain(tmp_path):
    checkpoints = tmp_path / "heads.log"
    write_chain(4)
    run("checkpoint", "--checkpoint", str(checkpoints))
    assert "audit chain ok: 4 records" in run("verify", "--checkpoint", str(checkpoints))
    with attacker() as cur:
        cur.execute("DELETE FROM core_auditrecord WHERE seq = 4")
    assert "audit chain ok: 3 records" in run("verify")
    with pytest.raises(CommandError, match=r"chain truncated: checkpoint names record #4"):
        run("verify", "--checkpoint", str(checkpoints))


@pytest.mark.django_db
def test_verify_with_a_missing_checkpoint_file_fails(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("verify", "--checkpoint", str(tmp_path / "nowhere.log"))


# ---------------------------------------------------------------------------------------------
# A copy of an on-disk database, changed behind the application's back, checked by the command
# in its own process with the same key.

KEY = "audit-key-for-the-copied-database-test"
MIGRATE_AND_WRITE = """
from django.core.management import call_command
from django.db import transaction
from safework.core import audit
call_command("migrate", "--noinput", "--skip-checks", verbosity=0)
with transaction.atomic():
    for i in range(1, 6):
        audit.record(action="test.thing_changed", target=("test.thing", str(i), f"thing {i}"))
"""


def manage(var_dir, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFEWORK_", "DATABASE_URL"))}
    env |= {
        "SAFEWORK_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'safework.sqlite3'}",
        "SAFEWORK_AUDIT_KEY": KEY,
        "DJANGO_SETTINGS_MODULE": "safework.settings",
    }
    return subprocess.run(
        [sys.executable, str(django_settings.BASE_DIR / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_verify_on_a_changed_copy_of_the_database_names_the_record(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    ok(manage(original, "shell", "--no-imports", "-c", MIGRATE_AND_WRITE))

    copy.mkdir()
    with (
        closing(sqlite3.connect(original / "safework.sqlite3")) as src,
        closing(sqlite3.connect(copy / "safework.sqlite3")) as dst,
    ):
        src.backup(dst)  # a consistent copy, WAL included
    assert "audit chain ok: 5 records" in ok(manage(copy, "audit", "verify", "--skip-checks"))

    with closing(sqlite3.connect(copy / "safework.sqlite3")) as db, db:
        db.execute(
            "UPDATE core_auditrecord SET payload = REPLACE(payload, 'thing 3', 'thing 9'),"
            " object_label = 'thing 9' WHERE seq = 3"
        )
    proc = manage(copy, "audit", "verify", "--skip-checks")
    assert proc.returncode != 0
    assert "record #3: hash does not match its payload" in proc.stderr

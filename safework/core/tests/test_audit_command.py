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
from django.utils import translation

from safework.core import audit

from .test_audit_chain import attacker, write_chain


@pytest.fixture(autouse=True)
def _english():
    """These tests name the broken record in the messages' source language (English); the
    Chinese default is tested in test_audit_command.py."""
    with translation.override("en"):
        yield


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
@pytest.mark.parametrize(
    "content",
    [
        "garbage\n",
        "3\n",  # a sequence without its hash
        "3 not-a-hash 2026-12-07T00:00:00\n",
        "1 " + "a" * 63 + "\n",  # one hex digit short
        "\ufeff\n" + "x" * 10,
    ],
)
def test_verify_with_a_malformed_checkpoint_file_fails_naming_the_line(tmp_path, content):
    write_chain(2)
    checkpoints = tmp_path / "heads.log"
    run("checkpoint", "--checkpoint", str(checkpoints))
    good = checkpoints.read_text()
    checkpoints.write_text(good + "\n" + content)
    with pytest.raises(CommandError, match=r"heads.log, line \d+: not a saved head"):
        run("verify", "--checkpoint", str(checkpoints))
    with pytest.raises(CommandError, match=r"line \d+: not a saved head"):
        run("checkpoint", "--checkpoint", str(checkpoints))


@pytest.mark.django_db
def test_verify_with_a_binary_or_contradicting_checkpoint_file_fails(tmp_path):
    write_chain(2)
    checkpoints = tmp_path / "heads.log"
    checkpoints.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CommandError, match="cannot be read"):
        run("verify", "--checkpoint", str(checkpoints))
    head = audit.verify_chain().head_hash
    checkpoints.write_text(f"2 {head}\n2 {'0' * 64}\n")
    with pytest.raises(CommandError, match=r"line 2: record #2 saved twice"):
        run("verify", "--checkpoint", str(checkpoints))
    checkpoints.write_text(f"\n2 {head} 2026-12-07T08:00:00+00:00\n\n")  # blank lines are fine
    assert "1 checkpoints match" in run("verify", "--checkpoint", str(checkpoints))


@pytest.mark.django_db
def test_verify_speaks_chinese_by_default(tmp_path):
    write_chain(2)
    with translation.override("zh-hans"):
        assert run("verify").startswith("审计链正常：2 条记录，链头 #2 ")
        with pytest.raises(CommandError, match="检查点文件 .* 不存在"):
            run("verify", "--checkpoint", str(tmp_path / "nowhere.log"))


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
    # The command speaks the default language, Chinese.
    assert "审计链正常：5 条记录" in ok(manage(copy, "audit", "verify", "--skip-checks"))

    with closing(sqlite3.connect(copy / "safework.sqlite3")) as db, db:
        db.execute(
            "UPDATE core_auditrecord SET payload = REPLACE(payload, 'thing 3', 'thing 9'),"
            " object_label = 'thing 9' WHERE seq = 3"
        )
    proc = manage(copy, "audit", "verify", "--skip-checks")
    assert proc.returncode != 0
    assert "记录 #3：哈希值与其内容不符" in proc.stderr

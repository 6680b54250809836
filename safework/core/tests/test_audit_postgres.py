"""PostgreSQL only: the append-only trigger, and the chain under concurrent writers."""

import threading
import time

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from safework.core import audit
from safework.core.models import AuditRecord, Setting


@pytest.fixture(autouse=True)
def _english():
    """These tests name the broken record in the messages' source language (English); the
    Chinese default is tested in test_audit_command.py."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.postgres

REFUSED = "Cannot update or delete rows from core_auditrecord"


def write_chain(n):
    with transaction.atomic():
        for i in range(1, n + 1):
            audit.record(action="test.thing_changed", target=("test.thing", str(i), f"thing {i}"))


@pytest.mark.django_db
def test_migrate_installs_the_append_only_trigger():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgname, tgenabled FROM pg_trigger"
            " WHERE tgrelid = 'core_auditrecord'::regclass AND NOT tgisinternal"
        )
        triggers = cur.fetchall()
    assert len(triggers) == 1
    name, enabled = triggers[0]
    assert name.startswith("pgtrigger_audit_append_only_")
    assert enabled == "O"  # fires in ordinary sessions


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE core_auditrecord SET object_label = 'forged' WHERE seq = 2",
        "UPDATE core_auditrecord SET seq = seq + 100",
        "DELETE FROM core_auditrecord WHERE seq = 3",
        "DELETE FROM core_auditrecord",
    ],
)
def test_the_trigger_refuses_raw_updates_and_deletes(statement):
    write_chain(3)
    with (
        pytest.raises(DatabaseError, match=REFUSED),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(statement)
    assert audit.verify_chain().ok
    assert AuditRecord.objects.count() == 3


@pytest.mark.django_db
def test_the_trigger_refuses_orm_updates_and_deletes():
    write_chain(3)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        AuditRecord.objects.filter(seq=2).update(action="test.forged")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        AuditRecord.objects.get(seq=3).delete()
    record = AuditRecord.objects.get(seq=1)
    record.object_label = "forged"
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        record.save()
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_an_attacker_who_disables_the_trigger_is_still_caught():
    """With DDL rights (ALTER TABLE … DISABLE TRIGGER) the edit goes through; verify finds it."""
    write_chain(4)
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE core_auditrecord DISABLE TRIGGER USER")
        cur.execute(
            "UPDATE core_auditrecord SET payload = REPLACE(payload, 'thing 2', 'thing 9')"
            " WHERE seq = 2"
        )
        cur.execute("ALTER TABLE core_auditrecord ENABLE TRIGGER USER")
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 2
    assert "record #2: hash does not match" in result.problem


WRITERS = 20
RECORDS_EACH = 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_one_unbroken_chain():
    """20 transactions append at once: the advisory lock serialises them into one chain."""
    start = threading.Barrier(WRITERS)
    errors = []

    def writer(n):
        try:
            start.wait(timeout=30)
            with transaction.atomic():
                # A domain change first, then the audit records as the last writes.
                Setting.objects.create(key=f"test.writer.{n}", value=n)
                for i in range(RECORDS_EACH):
                    audit.record(
                        action="test.thing_changed",
                        target=("test.thing", f"{n}.{i}", f"writer {n} record {i}"),
                        actor=f"writer {n}",
                    )
                    time.sleep(0.001)  # hold the transaction open so the writers interleave
        except Exception as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    seqs = list(AuditRecord.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * RECORDS_EACH + 1))  # no gap, no duplicate
    result = audit.verify_chain()
    assert result.ok, result.problem
    assert result.count == WRITERS * RECORDS_EACH
    # Each transaction's records are consecutive: nobody wrote into another's run.
    actors = list(AuditRecord.objects.values_list("actor_label", flat=True))
    runs = [actors[i : i + RECORDS_EACH] for i in range(0, len(actors), RECORDS_EACH)]
    assert all(len(set(run)) == 1 for run in runs)
    assert len({run[0] for run in runs}) == WRITERS

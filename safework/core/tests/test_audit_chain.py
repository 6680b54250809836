"""The audit chain detects tampering done with database access alone, and names the first broken
record. Each test plays an attacker who edits core_auditrecord with raw SQL; on PostgreSQL that
attacker also has DDL rights and switches the append-only trigger off first.
"""

import datetime as dt
import hashlib
import hmac
import json
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import translation

from safework.core import audit
from safework.core.models import AuditRecord, Setting
from safework.core.tests.tamper import append_only_off


@pytest.fixture(autouse=True)
def _english():
    """These tests name the broken record in the messages' source language (English); the
    Chinese default is tested in test_audit_command.py."""
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db

N = 5  # records in the chain each test starts from


def write_chain(n=N, start=1):
    with transaction.atomic():
        for i in range(start, start + n):
            audit.record(
                action="test.thing_changed",
                target=("test.thing", str(i), f"thing {i}"),
                actor="tester",
                before={"n": i - 1},
                after={"n": i},
            )


@pytest.fixture
def chain():
    write_chain()
    result = audit.verify_chain()
    assert result.ok, result.problem
    assert (result.count, result.head_seq) == (N, N)
    return {r.seq: r for r in AuditRecord.objects.all()}


@contextmanager
def attacker():
    """Raw database access. On PostgreSQL, with the rights to switch the append-only trigger off."""
    with append_only_off():
        yield connection.cursor()


def sql(statement, params=()):
    with attacker() as cur:
        cur.execute(statement, params)


def assert_broken_at(seq, *words, checkpoints=None):
    result = audit.verify_chain(checkpoints=checkpoints)
    assert not result.ok
    assert result.broken_seq == seq
    assert f"record #{seq}" in result.problem
    for word in words:
        assert word in result.problem
    return result


def test_an_untouched_chain_verifies(chain):
    assert [r.seq for r in chain.values()] == [1, 2, 3, 4, 5]
    assert chain[1].prev_hash == audit.GENESIS
    assert all(chain[s].prev_hash == chain[s - 1].hash for s in range(2, N + 1))
    assert audit.verify_chain().summary().startswith(f"audit chain ok: {N} records, head #{N}")


def test_the_hash_is_an_hmac_of_previous_hash_and_payload(chain, settings):
    row = chain[3]
    expected = hmac.new(
        settings.AUDIT_KEY.encode(), (row.prev_hash + row.payload).encode(), hashlib.sha256
    ).hexdigest()
    assert row.hash == expected
    payload = json.loads(row.payload)
    assert list(payload) == sorted(payload)
    assert payload["seq"] == 3
    assert payload["object_label"] == "thing 3"
    assert payload["at"].endswith("+00:00")  # UTC, with microseconds
    assert len(payload["at"].split("T")[1].split("+")[0]) == len("00:00:00.000000")


def test_editing_a_payload_is_detected(chain):
    sql(
        "UPDATE core_auditrecord SET payload = REPLACE(payload, 'thing 3', 'thing 9') WHERE seq = 3"
    )
    assert_broken_at(3, "hash does not match its payload")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_label", "someone else"),
        ("action", "test.nothing_happened"),
        ("object_type", "test.other"),
        ("object_id", "99"),
        ("object_label", "thing 9"),
        ("client_addr", "10.0.0.9"),
        ("actor_id", 42),
    ],
)
def test_editing_a_column_without_its_payload_is_detected(chain, column, value):
    sql(f"UPDATE core_auditrecord SET {column} = %s WHERE seq = 3", [value])
    assert_broken_at(3, f"column {column} differs from its payload")


def test_editing_the_time_column_is_detected(chain):
    earlier = chain[3].at - dt.timedelta(days=1)
    sql(
        "UPDATE core_auditrecord SET at = %s WHERE seq = 3",
        [connection.ops.adapt_datetimefield_value(earlier)],
    )
    assert_broken_at(3, "column at differs from its payload")


def test_rewriting_a_hash_column_is_detected(chain):
    sql("UPDATE core_auditrecord SET hash = %s WHERE seq = 3", ["f" * 64])
    assert_broken_at(3, "hash does not match")


def test_deleting_a_middle_record_is_detected(chain):
    sql("DELETE FROM core_auditrecord WHERE seq = 3")
    assert_broken_at(3, "is missing", "found #4 next")


def test_deleting_the_first_record_is_detected(chain):
    sql("DELETE FROM core_auditrecord WHERE seq = 1")
    assert_broken_at(1, "is missing")


def test_deleting_the_last_record_is_detected_with_a_checkpoint(chain, tmp_path):
    checkpoints = tmp_path / "audit-checkpoints.log"
    assert audit.store_checkpoint(to=checkpoints)[:2] == (N, chain[N].hash)
    sql("DELETE FROM core_auditrecord WHERE seq = %s", [N])
    # Without the saved head a shorter chain is still a valid chain…
    assert audit.verify_chain().ok
    # …and with it the cut is reported, naming the first record that went missing.
    result = assert_broken_at(N, "chain truncated", checkpoints=checkpoints)
    assert result.head_seq == N - 1


def test_cutting_the_tail_and_writing_on_is_detected_with_a_checkpoint(chain, tmp_path):
    checkpoints = tmp_path / "audit-checkpoints.log"
    audit.store_checkpoint(to=checkpoints)
    sql("DELETE FROM core_auditrecord WHERE seq >= 4")
    write_chain(n=2)  # honest records appended after the cut take seq 4 and 5 again
    assert audit.verify_chain().ok
    assert_broken_at(N, "differs from the checkpoint", checkpoints=checkpoints)


def test_swapping_the_sequence_of_two_records_is_detected(chain):
    with attacker() as cur:
        cur.execute("UPDATE core_auditrecord SET seq = 1000 WHERE seq = 2")
        cur.execute("UPDATE core_auditrecord SET seq = 2 WHERE seq = 4")
        cur.execute("UPDATE core_auditrecord SET seq = 4 WHERE seq = 1000")
    assert_broken_at(2, "previous hash does not match")


def test_swapping_neighbours_is_detected(chain):
    with attacker() as cur:
        cur.execute("UPDATE core_auditrecord SET seq = 1000 WHERE seq = 3")
        cur.execute("UPDATE core_auditrecord SET seq = 3 WHERE seq = 4")
        cur.execute("UPDATE core_auditrecord SET seq = 4 WHERE seq = 1000")
    assert_broken_at(3, "previous hash does not match")


def forged_row(seq, prev_hash, *, key="not the key", plain_sha256=False):
    """A record as an attacker without the key would compute it, in the project's own format."""
    at = dt.datetime.now(dt.UTC)
    data = {
        "seq": seq,
        "at": at,
        "actor_id": None,
        "actor_label": "tester",
        "action": "test.thing_changed",
        "object_type": "test.thing",
        "object_id": "77",
        "object_label": "forged thing",
        "client_addr": "",
        "before": None,
        "after": {"n": 77},
    }
    payload = audit.canonical(data)
    message = (prev_hash + payload).encode()
    if plain_sha256:
        digest = hashlib.sha256(message).hexdigest()
    else:
        digest = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return [
        seq,
        connection.ops.adapt_datetimefield_value(at),
        None,
        "tester",
        "test.thing_changed",
        "test.thing",
        "77",
        "forged thing",
        "",
        payload,
        prev_hash,
        digest,
    ]


INSERT = (
    "INSERT INTO core_auditrecord (seq, at, actor_id, actor_label, action, object_type, object_id,"
    " object_label, client_addr, payload, prev_hash, hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def test_inserting_a_record_in_the_middle_is_detected(chain):
    forged = forged_row(3, chain[2].hash)
    with attacker() as cur:
        for seq in range(N, 2, -1):  # make room: 5→6, 4→5, 3→4
            cur.execute("UPDATE core_auditrecord SET seq = seq + 1 WHERE seq = %s", [seq])
        # The old record 3 still names record 2's hash; prev_hash is UNIQUE, so a fork is
        # refused outright…
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(INSERT, forged)
        # …and a careful attacker relinks the old record 3 to the forged one first.
        cur.execute("UPDATE core_auditrecord SET prev_hash = %s WHERE seq = 4", [forged[-1]])
        cur.execute(INSERT, forged)
    assert AuditRecord.objects.count() == N + 1
    assert_broken_at(3, "hash does not match its payload")


@pytest.mark.parametrize("plain_sha256", [False, True], ids=["hmac-wrong-key", "plain-sha256"])
def test_appending_a_record_computed_without_the_key_is_detected(chain, plain_sha256):
    sql(INSERT, forged_row(N + 1, chain[N].hash, plain_sha256=plain_sha256))
    assert_broken_at(N + 1, "hash does not match its payload")


def test_the_same_row_appended_with_the_key_verifies(chain, settings):
    """The control for the test above: the forgery fails only for want of the key."""
    sql(INSERT, forged_row(N + 1, chain[N].hash, key=settings.AUDIT_KEY))
    assert audit.verify_chain().ok


def test_verify_with_another_key_fails_at_the_first_record(chain, settings):
    settings.AUDIT_KEY = "another key"
    assert_broken_at(1, "hash does not match")


def test_sequence_and_previous_hash_are_unique(chain):
    with attacker() as cur:
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(INSERT, forged_row(3, "e" * 64))  # seq 3 taken
        with pytest.raises(IntegrityError), transaction.atomic():
            cur.execute(INSERT, forged_row(N + 1, chain[2].hash))  # a fork after record 2


def test_the_first_broken_record_is_named_when_several_are(chain):
    sql("UPDATE core_auditrecord SET object_label = 'x' WHERE seq IN (2, 4)")
    assert_broken_at(2)


def test_long_texts_are_cut_to_their_columns_and_still_verify():
    with transaction.atomic():
        record = audit.record(
            action="test.thing_changed",
            target=("test.thing", "1", "名" * 400),
            actor="a" * 250,
            client_addr="2001:db8::1" * 10,
        )
    record.refresh_from_db()
    assert len(record.object_label) == 300
    assert len(record.actor_label) == 200
    assert json.loads(record.payload)["object_label"] == record.object_label
    assert audit.verify_chain().ok


def test_a_checkpoint_of_the_empty_chain_stays_valid(tmp_path):
    checkpoints = tmp_path / "audit-checkpoints.log"
    assert audit.store_checkpoint(to=checkpoints)[:2] == (0, audit.GENESIS)
    assert audit.verify_chain(checkpoints=checkpoints).ok
    write_chain(n=2)
    audit.store_checkpoint(to=checkpoints)
    assert len(audit.read_checkpoints(checkpoints)) == 2
    assert audit.verify_chain(checkpoints=checkpoints).ok


def test_bulk_records_continue_the_chain(chain):
    with transaction.atomic():
        rows = audit.record_many(
            audit.entry(action="test.imported", target=("test.thing", str(i), f"row {i}"))
            for i in range(3)
        )
    assert [r.seq for r in rows] == [N + 1, N + 2, N + 3]
    assert rows[0].prev_hash == chain[N].hash
    assert audit.verify_chain(chunk=2).ok  # verification reads in chunks across the joins


def test_a_model_instance_is_stored_as_ids_and_labels(chain):
    with transaction.atomic():
        setting = Setting.objects.create(key="test.threshold", value=60)
        before = audit.snapshot(setting)
        setting.value = 30
        setting.save()
        rec = audit.record(action="setting.changed", target=setting, before=before)
    data = json.loads(rec.payload)
    assert (rec.object_type, rec.object_id) == ("core.setting", str(setting.pk))
    assert data["before"]["value"] == 60
    assert data["after"]["value"] == 30
    assert rec.actor_id is None and rec.actor_label == "system"


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record(action="test.thing_changed", target=("test.thing", "1", "thing 1"))
    assert not AuditRecord.objects.exists()


def test_a_record_numbered_zero_is_refused_by_the_table(chain):
    # A plain INSERT (the append-only trigger covers UPDATE and DELETE, not INSERT), so that
    # nothing runs after the error inside the aborted savepoint.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(INSERT, forged_row(0, "0" * 63 + "1"))


def test_a_record_before_the_first_is_detected(chain):
    """An attacker who also drops the seq ≥ 1 check puts a row where the walk from #1 never
    looks: verify counts the table's rows and names it."""
    with attacker() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE core_auditrecord DROP CONSTRAINT audit_seq_from_one")
        else:
            cur.execute("PRAGMA ignore_check_constraints = ON")
        try:
            cur.execute(INSERT, forged_row(0, "0" * 63 + "1"))
        finally:
            if connection.vendor != "postgresql":
                cur.execute("PRAGMA ignore_check_constraints = OFF")
    assert AuditRecord.objects.count() == N + 1
    result = assert_broken_at(0, "outside the chain")
    assert result.count == N


def test_a_deferred_block_appends_its_records_at_its_end_in_order():
    before = AuditRecord.objects.count()
    with transaction.atomic():
        with audit.deferred():
            audit.record(action="test.first", target=("x", "1", "一"))
            with audit.deferred():  # a block inside another is part of it
                audit.record_many([audit.entry(action="test.second", target=("x", "2", "二"))])
            assert AuditRecord.objects.count() == before  # nothing written yet
        rows = list(AuditRecord.objects.order_by("seq")[before:])
    assert [r.action for r in rows] == ["test.first", "test.second"]
    assert rows[1].seq == rows[0].seq + 1 and rows[1].prev_hash == rows[0].hash
    assert audit.verify_chain().ok


def test_a_deferred_block_that_raises_appends_nothing():
    before = AuditRecord.objects.count()
    with pytest.raises(ValueError), transaction.atomic(), audit.deferred():
        audit.record(action="test.lost", target=("x", "1", "一"))
        raise ValueError
    assert AuditRecord.objects.count() == before


def stored(seqs):
    """The rows of `seqs` as the database holds them (no ORM conversion), by seq."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT seq, at, actor_id, actor_label, action, object_type, object_id, object_label,"
            " client_addr, payload FROM core_auditrecord WHERE seq IN (%s, %s) ORDER BY seq",
            list(seqs),
        )
        return cur.fetchall()


def test_a_deferred_blocks_end_stores_what_the_orm_stores_for_the_same_entries():
    """The block's end writes its records with its own INSERT; `record_many` outside a block
    writes them through the ORM. Same entries, same stored values (but for the chain links)."""
    shanghai = dt.timezone(dt.timedelta(hours=8))
    entries = [
        audit.entry(
            action="permit.signed",
            target=("permits.permit", "7", "动火作业 一级 DH20260309-001"),
            actor="张三",
            before={"status": "in_approval"},
            after={"steps": [{"role": "安全", "at": None, "n": 2}], "ok": True, "x": {"y": 1.5}},
            at=dt.datetime(2026, 3, 9, 8, 0, 0, 123456, tzinfo=shanghai),  # 00:00 UTC
            client_addr="10.0.0.1",
        ),
        audit.entry(
            action="permit.routed",
            target=("permits.permit", "7", "二"),
            actor=None,
            at=dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=dt.UTC),
        ),
    ]
    with transaction.atomic():
        with audit.deferred():
            audit.record_many(entries)
        by_orm = audit.record_many(entries)
    assert [r.pk is not None for r in by_orm] == [True, True]  # outside a block: with their ids
    rows = list(AuditRecord.objects.order_by("seq"))
    deferred_rows, orm_rows = rows[:2], rows[2:]
    assert [r.seq for r in orm_rows] == [r.seq for r in by_orm] == [3, 4]
    for mine, theirs in zip(deferred_rows, orm_rows, strict=True):
        mine_payload, theirs_payload = json.loads(mine.payload), json.loads(theirs.payload)
        assert mine_payload.pop("seq") == mine.seq and theirs_payload.pop("seq") == theirs.seq
        assert mine_payload == theirs_payload
        for name in ("at", "actor_id", "actor_label", "action", "object_type", "object_id"):
            assert getattr(mine, name) == getattr(theirs, name), name
        assert (mine.object_label, mine.client_addr) == (theirs.object_label, theirs.client_addr)
    first = deferred_rows[0]
    assert first.at == dt.datetime(2026, 3, 9, 0, 0, 0, 123456, tzinfo=dt.UTC)
    assert first.object_label == "动火作业 一级 DH20260309-001" and first.actor_label == "张三"
    assert json.loads(first.payload)["after"]["steps"] == [{"role": "安全", "at": None, "n": 2}]
    # The columns as stored, not only as the ORM reads them back.
    raw_mine, raw_theirs = stored([1, 2]), stored([3, 4])
    assert [r[1:9] for r in raw_mine] == [r[1:9] for r in raw_theirs]
    assert audit.verify_chain().ok

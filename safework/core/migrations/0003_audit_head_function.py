"""PostgreSQL: one statement takes the audit chain's lock and reads its head
(`core.audit.record_many`), where two did. A VOLATILE PL/pgSQL function, because each statement
inside one takes a fresh snapshot (READ COMMITTED): the head is read after the lock is held, so
it includes every record committed by the transaction that held the lock before. (One plain
statement would read the head as of its own start, before the lock was granted: stale.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION safework_audit_lock_head(lock_id bigint)
RETURNS TABLE (head_seq bigint, head_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_id);
    RETURN QUERY SELECT r.seq, r.hash FROM core_auditrecord r ORDER BY r.seq DESC LIMIT 1;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS safework_audit_lock_head(bigint)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_audit_seq_from_one"),
    ]

    operations = [migrations.RunPython(create, drop)]

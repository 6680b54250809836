"""An attacker's raw access to the audit table, for the tamper tests."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def append_only_off():
    """Inside the test's transaction, the audit table's append-only trigger stands aside (on
    PostgreSQL, for someone with the rights to switch it off); elsewhere there is no trigger.

    `pgtrigger.ignore` would do it by prefixing every query with its `set_config` (a statement
    list), which server-side binding refuses (settings: prepared statements); here the same
    setting, `pgtrigger.ignore` local to the transaction, is one statement of its own."""
    if connection.vendor != "postgresql":
        yield
        return
    from pgtrigger import registry

    ((model, trigger),) = registry.registered("core.AuditRecord:audit_append_only")
    pgid = trigger.get_pgid(model)
    # The trigger's function accepts the trigger's id or, as older versions wrote it, the
    # table-qualified one: set both, as pgtrigger does.
    ignored = "{" + f"{model._meta.db_table}:{pgid},{pgid}" + "}"
    with connection.cursor() as cur:
        cur.execute("SELECT set_config('pgtrigger.ignore', %s, true)", [ignored])
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT set_config('pgtrigger.ignore', NULL, true)")

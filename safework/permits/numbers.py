"""Permit numbers (decisions): type prefix + local date + serial per type and day, e.g.
DH20261207-003; unique, never reused, assigned at submission."""

import datetime as dt

from django.db import connection
from django.utils import timezone

from safework.permits.models import PermitNumberCounter


def next_number(prefix: str, at: dt.datetime) -> str:
    """The next number for `prefix` on the local day of `at`, drawn in one statement (an upsert
    that creates the day's counter or adds one to it). The counter row stays locked for the rest
    of the caller's transaction, so two submissions never draw the same serial (the second waits,
    then adds one to the first's); a serial drawn by a submission that then rolls back is drawn
    again by the next (it was never shown)."""
    day = timezone.localdate(at)
    meta = PermitNumberCounter._meta
    qn = connection.ops.quote_name
    table, last = qn(meta.db_table), qn("last")
    sql = (
        f"INSERT INTO {table} ({qn('prefix')}, {qn('day')}, {last}) VALUES (%s, %s, 1) "
        f"ON CONFLICT ({qn('prefix')}, {qn('day')}) DO UPDATE SET {last} = {table}.{last} + 1 "
        f"RETURNING {last}"
    )
    day_field = meta.get_field("day")
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix, day_field.get_db_prep_save(day, connection)])
        (serial,) = cursor.fetchone()
    return f"{prefix}{day:%Y%m%d}-{serial:03d}"

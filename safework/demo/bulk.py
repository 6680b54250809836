"""Set-based writes for the bench: many rows as tuples, ids handed out in advance.

`bulk_create` prepares every field of every model instance in Python (~100 µs a certificate
measured here), which alone would take most of a minute for 300,000 certificates. `Inserter`
writes plain tuples instead, converting only the columns that need it (dates on SQLite, JSON)
with memoised `Field.get_db_prep_save`, and filling the columns a caller does not give once from
the model's defaults (so a field added later with a default still gets it): `executemany` of one
prepared INSERT on SQLite, `COPY … FROM STDIN` on PostgreSQL. No per-row save, no signals — as
with bulk_create.

`allocate_ids` reserves primary keys before the rows exist (the sequence on PostgreSQL; past the
largest used id on SQLite, where the IMMEDIATE transaction holds the writer lock), so a person can
point at their employment in the same INSERT; foreign keys are checked at commit (Django creates
them DEFERRABLE INITIALLY DEFERRED).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from django.db import connection, models

# Internal types whose Python value is already what the database driver takes.
_AS_IS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
}


def _memoised(convert: Callable) -> Callable:
    cache: dict = {}

    def prepared(value):
        key = tuple(value) if isinstance(value, list) else value
        try:
            return cache[key]
        except KeyError:
            out = cache[key] = convert(value)
            return out
        except TypeError:  # unhashable: convert every time
            return convert(value)

    return prepared


class Inserter:
    """INSERT rows of `model` given as tuples in the order of `fields` (names or attnames)."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], *, now: dt.datetime):
        opts = model._meta
        given = [opts.get_field(name) for name in fields]
        given_names = {f.name for f in given}
        # Columns not given: a primary key left out is the database's to assign; the others
        # get their default (or the timestamp, for auto_now fields), prepared once.
        self.rest = [
            f for f in opts.concrete_fields if f.name not in given_names and not f.primary_key
        ]
        self.consts = tuple(
            f.get_db_prep_save(
                now
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
                else f.get_default(),
                connection,
            )
            for f in self.rest
        )
        quote = connection.ops.quote_name
        self.table = quote(opts.db_table)
        self.columns = [quote(f.column) for f in given] + [quote(f.column) for f in self.rest]
        self.converters = [
            (i, _memoised(lambda v, f=f: f.get_db_prep_save(v, connection)))
            for i, f in enumerate(given)
            if f.get_internal_type() not in _AS_IS
        ]

    def _prepare(self, rows: Iterable[tuple]) -> list[tuple]:
        converters, consts = self.converters, self.consts
        out = []
        for row in rows:
            if converters:
                row = list(row)
                for i, convert in converters:
                    row[i] = convert(row[i])
            out.append((*row, *consts))
        return out

    def write(self, rows: Iterable[tuple]) -> int:
        prepared = self._prepare(rows)
        if not prepared:
            return 0
        columns = ", ".join(self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy:
                    for row in prepared:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(
                    f"INSERT INTO {self.table} ({columns}) VALUES ({marks})", prepared
                )
        return len(prepared)


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve `count` primary keys of `model` for rows about to be inserted with them."""
    if count <= 0:
        return []
    opts = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [quote(opts.db_table), opts.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor != "sqlite":
            raise NotImplementedError(f"allocate_ids on {connection.vendor}")
        if not connection.in_atomic_block:
            raise RuntimeError("allocate ids inside the transaction that inserts the rows")
        cursor.execute(f"SELECT MAX({quote(opts.pk.column)}) FROM {quote(opts.db_table)}")
        highest = cursor.fetchone()[0] or 0
        # AUTOINCREMENT never reuses an id, even of a deleted row: start past its counter too.
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [opts.db_table])
        row = cursor.fetchone()
        start = max(highest, row[0] if row else 0) + 1
        return list(range(start, start + count))

"""Rows appended with multi-row INSERTs whose SQL text is built once per table, columns and row
count: the writes every service call ends with (its audit records, its timeline events) are a
few rows each, and `bulk_create` spent ~0.5 ms compiling each of them.

The caller gives the values as the database takes them (`Field.get_db_prep_save`); no ids come
back.
"""

from __future__ import annotations

import functools

from django.db import connection

# Rows per statement: it bounds the SQL texts kept per table (one per row count up to it) and
# the parameters of one statement (SQLite binds at most 32,766).
ROWS_PER_STATEMENT = 100


@functools.cache
def _sql(vendor: str, table: str, columns: tuple[str, ...], rows: int) -> str:
    quote = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    names = ", ".join(quote(c) for c in columns)
    return f"INSERT INTO {quote(table)} ({names}) VALUES {', '.join([one] * rows)}"


def insert(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT `rows` (values in `columns` order) into `table`, in order."""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            batch = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                _sql(connection.vendor, table, columns, len(batch)),
                [value for row in batch for value in row],
            )

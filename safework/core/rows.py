"""Rows read with hand-written SQL and made into model instances as the ORM makes them: for the
few statements run on every permit action, where compiling the ORM's query cost several times
what the database spent running it (`permits.services._lock`, the approval steps).

`Columns.of(model, alias)` names a model's columns for a SELECT and turns a row's slice of them
into an instance (`Model.from_db`, with the ORM's converters); `order_by(model, alias)` is its
default ordering as ORDER BY terms. The SQL built from them is meant to be built once
(functools.cache) per backend.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Columns:
    """A model's columns as a hand-written SELECT names them (`sql`, under a table alias), and
    how a row's slice of them becomes an instance: their attnames, where the primary key is, and
    the converters the ORM would apply (JSON; dates, decimals and booleans on SQLite)."""

    model: type
    sql: str
    attnames: tuple[str, ...]
    pk_index: int
    converters: tuple

    @classmethod
    def of(cls, model, table: str) -> Columns:
        ops = connection.ops
        fields = model._meta.concrete_fields
        converters = []
        for i, f in enumerate(fields):
            col = f.get_col(model._meta.db_table)
            funcs = ops.get_db_converters(col) + col.get_db_converters(connection)
            if funcs:
                converters.append((i, tuple(funcs), col))
        return cls(
            model,
            ", ".join(f"{table}.{ops.quote_name(f.column)}" for f in fields),
            tuple(f.attname for f in fields),
            fields.index(model._meta.pk),
            tuple(converters),
        )

    def instance(self, values, alias: str):
        """The instance of these column values, as the ORM's `from_db` makes it; None for no
        row (None, or the NULLs of an outer join that found none)."""
        if values is None or values[self.pk_index] is None:
            return None
        values = list(values)
        for i, funcs, col in self.converters:
            for convert in funcs:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(alias, self.attnames, values)


def order_by(model, table: str) -> list[str]:
    """The model's default ordering (`Meta.ordering`, field names) as ORDER BY terms."""
    qn = connection.ops.quote_name
    terms = []
    for name in model._meta.ordering:
        field = model._meta.get_field(name.removeprefix("-"))
        terms.append(f"{table}.{qn(field.column)}{' DESC' if name.startswith('-') else ''}")
    return terms

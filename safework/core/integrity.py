"""A lost race on a unique key is a 422 naming the field, never a 500.

Services check a unique key before they insert (`Person.objects.filter(id_number=…).exists()`),
which answers the usual case with a clear message. Two requests that check at the same moment
both pass, and the database's unique constraint stops the second insert with an IntegrityError.
`unique_or_422()` (and `save_unique(obj)`) turn that error into the same kind of field error: the
violated key is found from the error itself (the constraint's name on PostgreSQL, the columns
SQLite names), its message is the one the app described with `describe_unique`, or else Django's
own "… with this … already exists". The savepoint is rolled back and `InvalidInput` propagates,
so the caller's transaction rolls back too: nothing is half-written and no audit record is left.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils.translation import gettext as _

from safework.core.errors import FieldError, InvalidInput, request_field_name

DUPLICATE = "duplicate"

# (app_label.ModelName, key) → the field error a service gives for that key. `key` is a unique
# field's name or a UniqueConstraint's name.
_DESCRIBED: dict[tuple[str, str], FieldError] = {}

# SQLite: "UNIQUE constraint failed: people_person.id_number" or "… failed: index 'grant_unique'"
_SQLITE_COLUMNS = re.compile(r"UNIQUE constraint failed: (?P<cols>[\w.]+(?:, [\w.]+)*)")
_SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '(?P<name>[^']+)'")


@dataclass(frozen=True)
class UniqueKey:
    model: type[models.Model]
    name: str  # the unique field's name, or the constraint's name
    fields: tuple[str, ...]  # model field names; empty for a constraint on expressions


def describe_unique(model: type[models.Model], key: str, *, field: str, message, code=DUPLICATE):
    """Register the field error (lazy message) for a violation of `key` on `model`."""
    _DESCRIBED[(model._meta.label, key)] = FieldError(field, code, message)


def unique_keys(model: type[models.Model]) -> list[UniqueKey]:
    """Every unique key of the model: unique fields, unique_together and UniqueConstraints."""
    keys = [
        UniqueKey(model, f.name, (f.name,))
        for f in model._meta.local_concrete_fields
        if f.unique and not f.primary_key
    ]
    keys += [
        UniqueKey(model, "__".join(together), tuple(together))
        for together in model._meta.unique_together
    ]
    keys += [
        UniqueKey(model, c.name, tuple(c.fields))
        for c in model._meta.constraints
        if isinstance(c, models.UniqueConstraint)
    ]
    return keys


def error_for(key: UniqueKey) -> FieldError:
    """The field error for a violation of `key`: the described one, else Django's message."""
    described = _DESCRIBED.get((key.model._meta.label, key.name))
    if described is not None:
        return described
    fields = key.fields or ("",)
    field = _reported_field(key.model, fields)
    if not key.fields:
        return FieldError(field, DUPLICATE, _("This record exists already."))
    error = key.model.unique_error_message(key.model(), key.model, fields)
    return FieldError(field, DUPLICATE, error.messages[0])


def _reported_field(model, fields) -> str:
    """The field a multi-field key reports on: its last field that is not a reference
    ((person, checked_on) → checked_on), as the API spells it."""
    plain = [f for f in fields if f and not _is_relation(model, f)]
    return request_field_name(model, (plain or list(fields))[-1])


def _is_relation(model, name: str) -> bool:
    try:
        return model._meta.get_field(name).is_relation
    except Exception:
        return False


def _model_of_table(table: str):
    for model in apps.get_models():
        if model._meta.db_table == table:
            return model
    return None


def _columns_of(model, key: UniqueKey) -> set[str]:
    return {model._meta.get_field(f).column for f in key.fields}


def _key_by_columns(model, columns: set[str]) -> UniqueKey | None:
    for key in unique_keys(model):
        if key.fields and _columns_of(model, key) == columns:
            return key
    return None


def _key_by_name(model, name: str) -> UniqueKey | None:
    return next((key for key in unique_keys(model) if key.name == name), None)


def violated_key(exc: IntegrityError) -> UniqueKey | None:
    """The unique key an IntegrityError reports, or None (another kind of integrity error)."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:  # psycopg
        if getattr(cause, "sqlstate", None) != "23505":  # unique_violation
            return None
        return _pg_key(diag.table_name or "", diag.constraint_name or "", diag.message_detail)
    text = str(exc)
    if match := _SQLITE_INDEX.search(text):
        for model in apps.get_models():
            if key := _key_by_name(model, match["name"]):
                return key
        return None
    if match := _SQLITE_COLUMNS.search(text):
        pairs = [c.rsplit(".", 1) for c in match["cols"].split(", ")]
        model = _model_of_table(pairs[0][0])
        if model is not None:
            return _key_by_columns(model, {column for _table, column in pairs})
    return None


def _pg_key(table: str, constraint: str, detail: str | None) -> UniqueKey | None:
    model = _model_of_table(table)
    if model is None:
        return None
    if key := _key_by_name(model, constraint):
        return key
    # A unique field's constraint is named by PostgreSQL (<table>_<column>_key) or by Django
    # (<table>_<column>_<hash>_uniq); ask the catalogue which columns it covers.
    columns = _constraint_columns(table, constraint)
    if columns is None and detail and (match := re.match(r"Key \((?P<cols>[^)]*)\)=", detail)):
        columns = {c.strip().strip('"') for c in match["cols"].split(",")}
    return _key_by_columns(model, columns) if columns else None


def _constraint_columns(table: str, constraint: str) -> set[str] | None:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, table).get(constraint)
    except DatabaseError:  # the transaction is aborted; the caller tries the error's detail
        return None
    return set(found["columns"]) if found and found.get("columns") else None


def conflict_error(exc: IntegrityError) -> FieldError | None:
    """The field error for a unique violation, or None if `exc` is another integrity error."""
    key = violated_key(exc)
    return error_for(key) if key is not None else None


@contextmanager
def unique_or_422():
    """Run the block in a savepoint; a unique violation inside it raises InvalidInput (422)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        error = conflict_error(exc)
        if error is None:
            raise
        raise InvalidInput(error) from exc


def save_unique(obj: models.Model, **save_kwargs) -> None:
    """`obj.save()`; a concurrent twin on a unique key is a 422 naming the field."""
    with unique_or_422():
        obj.save(**save_kwargs)

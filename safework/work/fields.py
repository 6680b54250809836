"""A permit's type-specific fields checked against JSON Schema: the built-in form of the type
(PermitRule.form_schema in force) and the enterprise's active PermitFieldSchema rows, as one
object schema; a field none of them names is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import jsonschema
from django.db.models import DateField, IntegerField, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import memo
from safework.core.errors import FieldError, InvalidInput
from safework.work.levels import _levels
from safework.work.models import PermitFieldSchema, PermitRule, WorkType

PREFIX = "fields"


def form_schemas(work_type: WorkType) -> list[tuple[dt.date | None, dt.date | None, dict]]:
    """Every form schema of the type as (effective_from, effective_to, schema), in the order they
    merge: the PermitRule forms by level rank (the type-wide row last), then by date; then the
    active PermitFieldSchema rows by code (no dates: in force while active).

    One statement without joins, read once per service call (validation and the routing
    conditions' types both ask); callers pick the rows in force on their date."""
    return memo.get(("work.form_schemas", work_type.pk), lambda: _load_form_schemas(work_type))


def _load_form_schemas(work_type: WorkType) -> list[tuple[dt.date | None, dt.date | None, dict]]:
    rules = (
        PermitRule.objects.filter(work_type=work_type)
        .order_by()
        .annotate(part=Value(0), code_=Value(""))
        .values_list("part", "level_id", "effective_from", "effective_to", "code_", "form_schema")
    )
    fields = (
        PermitFieldSchema.objects.filter(work_type=work_type, is_active=True)
        .order_by()
        .annotate(
            part=Value(1),
            level_=Value(None, output_field=IntegerField()),
            from_=Value(None, output_field=DateField()),
            to_=Value(None, output_field=DateField()),
        )
        .values_list("part", "level_", "from_", "to_", "code", "schema")
    )
    rows = list(rules.union(fields, all=True).order_by())
    level_ids = {row[1] for row in rows if row[0] == 0 and row[1] is not None}
    # The levels' ranks only when two levels' rows must be ordered (the levels are read once
    # per call anyway by the level decision).
    rank = {lv.pk: lv.rank for lv in _levels(work_type)} if len(level_ids) > 1 else {}
    last = max(rank.values(), default=0) + 1

    def order(row):
        part, level_id, effective_from, _to, code, _schema = row
        if part == 0:
            return (0, last if level_id is None else rank.get(level_id, 0), effective_from, "")
        return (1, 0, dt.date.min, code)

    return [(row[2], row[3], row[5] or {}) for row in sorted(rows, key=order)]


memo.forget_on_change(PermitRule, PermitFieldSchema)


def _in_force(effective_from, effective_to, on: dt.date) -> bool:
    return effective_from is None or (
        effective_from <= on and (effective_to is None or on < effective_to)
    )


def combined_schema(work_type: WorkType, on: dt.date | None = None) -> dict:
    """One object schema: the properties and required names of every schema of the type in
    force on `on` (today if not given)."""
    on = on or timezone.localdate()
    schemas = [s for f, t, s in form_schemas(work_type) if _in_force(f, t, on)]
    properties, required = {}, []
    for schema in schemas:
        properties |= schema.get("properties") or {}
        required += [r for r in schema.get("required") or [] if r not in required]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _where(path) -> str:
    return ".".join([PREFIX, *(str(p) for p in path)])


def _message(error: jsonschema.ValidationError) -> tuple[str, str, str]:
    """(field, code, message) of one schema error, in the active language."""
    v, value = error.validator, error.validator_value
    path = list(error.absolute_path)
    if v == "required":
        missing = [
            n for n in value if isinstance(error.instance, Mapping) and n not in error.instance
        ]
        return (
            _where([*path, missing[0] if missing else ""]),
            "required",
            _("This field is required."),
        )
    if v == "additionalProperties":
        known = set((error.schema.get("properties") or {}).keys())
        extra = sorted(k for k in error.instance if k not in known)
        return _where([*path, extra[0] if extra else ""]), "unknown_field", _("Unknown field.")
    field = _where(path)
    if v == "type":
        names = {
            "number": _("Must be a number."),
            "integer": _("Must be a whole number."),
            "string": _("Must be text."),
            "boolean": _("Must be true or false."),
            "array": _("Must be a list."),
            "object": _("Must be an object."),
        }
        kind = value[0] if isinstance(value, list) else value
        return field, "invalid_type", names.get(kind, _("The value has the wrong type."))
    if v == "enum":
        return (
            field,
            "invalid_choice",
            _("Must be one of: %(choices)s.") % {"choices": ", ".join(str(c) for c in value)},
        )
    if v in ("minimum", "exclusiveMinimum"):
        return field, "too_small", _("Must be at least %(n)s.") % {"n": value}
    if v in ("maximum", "exclusiveMaximum"):
        return field, "too_large", _("Must be at most %(n)s.") % {"n": value}
    if v == "minLength":
        return field, "too_short", _("At least %(n)s characters.") % {"n": value}
    if v == "maxLength":
        return field, "too_long", _("At most %(n)s characters.") % {"n": value}
    if v == "minItems":
        return field, "too_short", _("At least %(n)s items.") % {"n": value}
    if v == "maxItems":
        return field, "too_long", _("At most %(n)s items.") % {"n": value}
    if v == "pattern":
        return field, "invalid_format", _("The format is not valid.")
    return field, "invalid", _("The value is not valid.")


def validate_fields(work_type: WorkType, data, *, on: dt.date | None = None) -> dict:
    """The fields, checked; InvalidInput with one FieldError("fields.<path>", …) per problem."""
    if not isinstance(data, Mapping):
        raise InvalidInput(FieldError(PREFIX, "invalid_type", _("Must be an object.")))
    schema = combined_schema(work_type, on)
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(
        validator.iter_errors(dict(data)), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        problems.append(FieldError(*_message(error)))
    if problems:
        raise InvalidInput(problems)
    return dict(data)


def schema_problem(schema) -> str:
    """What is wrong with a JSON Schema given in the admin ("" if nothing)."""
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        return _('A JSON Schema of an object: {"type": "object", "properties": {…}}.')
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return _("Not a valid JSON Schema: %(problem)s") % {"problem": exc.message}
    return ""

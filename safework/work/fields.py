"""A permit's type-specific fields checked against JSON Schema: the built-in form of the type
(PermitRule.form_schema in force) and the enterprise's active PermitFieldSchema rows, as one
object schema; a field none of them names is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import jsonschema
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core.errors import FieldError, InvalidInput
from safework.work.models import PermitFieldSchema, PermitRule, WorkType, in_force_q

PREFIX = "fields"


def combined_schema(work_type: WorkType, on: dt.date | None = None) -> dict:
    """One object schema: the properties and required names of every schema of the type."""
    on = on or timezone.localdate()
    schemas = list(
        PermitRule.objects.filter(in_force_q(on), work_type=work_type)
        .exclude(form_schema={})
        .values_list("form_schema", flat=True)
    )
    schemas += list(
        PermitFieldSchema.objects.filter(work_type=work_type, is_active=True)
        .order_by("code")
        .values_list("schema", flat=True)
    )
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

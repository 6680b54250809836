"""Input checking shared by the API and the services.

- `translate_pydantic_errors`: pydantic's English validation errors as our field errors in the
  request's language, with field names as the request spells them (`employment.started_on`,
  `polygon.2.0`).
- `JsonParser`: the API's body parser; a body that is not JSON, or not sent as JSON, is a 400.
- `visible_ref` / `clean_model`: references and model validators as 422 field errors.
- `RowId`: an id filter bounded to what the database can hold.
"""

import json
from typing import Annotated

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from ninja.parser import Parser
from pydantic import Field

from safework.core.errors import BadRequest, FieldError, InvalidInput, request_field_name
from safework.core.text import control_character_error, model_text_errors

BIGINT_MAX = 2**63 - 1
# A row id as the database holds it (bigint). A number past that is the caller's error, 422
# too_large/too_small on every backend: unbounded, PostgreSQL answers "no such row" (200, empty)
# where SQLite cannot bind it (422), and a plain integer column finds nothing on both.
RowId = Annotated[int, Field(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]

# pydantic error type → (our code, message template)
_MESSAGES = {
    "missing": ("required", lambda e: _("This field is required.")),
    "string_too_long": (
        "too_long",
        lambda e: _("At most %(n)s characters.") % {"n": e.get("ctx", {}).get("max_length")},
    ),
    "string_too_short": (
        "too_short",
        lambda e: _("At least %(n)s characters.") % {"n": e.get("ctx", {}).get("min_length")},
    ),
    "string_pattern_mismatch": ("invalid_format", lambda e: _("The format is not valid.")),
    "string_type": ("invalid_type", lambda e: _("Must be text.")),
    "int_parsing": ("invalid_type", lambda e: _("Must be a whole number.")),
    "int_type": ("invalid_type", lambda e: _("Must be a whole number.")),
    "int_from_float": ("invalid_type", lambda e: _("Must be a whole number.")),
    "float_parsing": ("invalid_type", lambda e: _("Must be a number.")),
    "float_type": ("invalid_type", lambda e: _("Must be a number.")),
    "finite_number": ("invalid_type", lambda e: _("Must be a number.")),
    "decimal_parsing": ("invalid_type", lambda e: _("Must be a number.")),
    "decimal_type": ("invalid_type", lambda e: _("Must be a number.")),
    "bool_parsing": ("invalid_type", lambda e: _("Must be true or false.")),
    "bool_type": ("invalid_type", lambda e: _("Must be true or false.")),
    "date_from_datetime_parsing": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "date_from_datetime_inexact": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "date_parsing": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "date_type": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "datetime_parsing": ("invalid_datetime", lambda e: _("Must be a date and time (ISO 8601).")),
    "datetime_type": ("invalid_datetime", lambda e: _("Must be a date and time (ISO 8601).")),
    "datetime_from_date_parsing": (
        "invalid_datetime",
        lambda e: _("Must be a date and time (ISO 8601)."),
    ),
    "timezone_aware": ("invalid_datetime", lambda e: _("The time must include a time zone.")),
    "enum": (
        "invalid_choice",
        lambda e: _("Must be one of: %(choices)s.") % {"choices": e.get("ctx", {}).get("expected")},
    ),
    "literal_error": (
        "invalid_choice",
        lambda e: _("Must be one of: %(choices)s.") % {"choices": e.get("ctx", {}).get("expected")},
    ),
    "greater_than_equal": (
        "too_small",
        lambda e: _("Must be at least %(n)s.") % {"n": e.get("ctx", {}).get("ge")},
    ),
    "less_than_equal": (
        "too_large",
        lambda e: _("Must be at most %(n)s.") % {"n": e.get("ctx", {}).get("le")},
    ),
    "greater_than": (
        "too_small",
        lambda e: _("Must be greater than %(n)s.") % {"n": e.get("ctx", {}).get("gt")},
    ),
    "less_than": (
        "too_large",
        lambda e: _("Must be less than %(n)s.") % {"n": e.get("ctx", {}).get("lt")},
    ),
    "too_short": (
        "too_short",
        lambda e: _("At least %(n)s items.") % {"n": e.get("ctx", {}).get("min_length")},
    ),
    "too_long": (
        "too_long",
        lambda e: _("At most %(n)s items.") % {"n": e.get("ctx", {}).get("max_length")},
    ),
    "list_type": ("invalid_type", lambda e: _("Must be a list.")),
    "tuple_type": ("invalid_type", lambda e: _("Must be a list.")),
    "dict_type": ("invalid_type", lambda e: _("Must be an object.")),
    "model_type": ("invalid_type", lambda e: _("Must be an object.")),
    "model_attributes_type": ("invalid_type", lambda e: _("Must be an object.")),
    "uuid_parsing": ("invalid_type", lambda e: _("Must be a UUID.")),
    "uuid_type": ("invalid_type", lambda e: _("Must be a UUID.")),
    "extra_forbidden": ("unknown_field", lambda e: _("Unknown field.")),
}

# Errors about the request body as a whole rather than a field: 400, not 422.
_MALFORMED_TYPES = {"json_invalid", "model_attributes_type", "model_type", "dict_type"}

# Where ninja says a value came from. A body is nested under its parameter's name
# (("body", "payload", "employment", "started_on")); query, path, form and header parameters
# are flattened (("query", "site_id")).
_SOURCES = {"body", "query", "path", "form", "header", "cookie", "file"}

# The parts pydantic inserts into a location for the member of a union it tried
# (("x", "int"), ("x", "str"), ("d", "function-after[check(), date]")); they are not fields.
_UNION_TAGS = {
    "int",
    "str",
    "float",
    "bool",
    "none",
    "date",
    "datetime",
    "time",
    "timedelta",
    "decimal",
    "uuid",
    "bytes",
    "list",
    "tuple",
    "set",
    "frozenset",
    "dict",
    "literal",
    "enum",
    "url",
    "model",
    "nullable",
    "default",
    "chain",
    "lax-or-strict",
    "json-or-python",
    "is-instance",
}


def _is_union_tag(part) -> bool:
    return isinstance(part, str) and ("[" in part or part in _UNION_TAGS)


def field_of(loc) -> tuple[str, bool]:
    """(field name as the request spells it, is it the whole body?) of a pydantic location."""
    parts = list(loc)
    source = parts[0] if parts and parts[0] in _SOURCES else None
    if source == "body":
        inner = parts[2:]
        whole_body = not inner
    elif source is not None:
        inner, whole_body = parts[1:], False
    else:
        inner, whole_body = parts, False
    return ".".join(str(p) for p in inner if not _is_union_tag(p)), whole_body


def translate_pydantic_errors(errors) -> tuple[list[FieldError], bool]:
    """(field errors, malformed?) — malformed when the body itself is not what was expected.

    One error per field: a union (`int | str`) reports each member it tried, which says the
    same thing twice.
    """
    out, seen, malformed = [], set(), False
    for e in errors:
        etype = e.get("type", "")
        field, whole_body = field_of(e.get("loc", ()))
        if etype == "json_invalid" or (whole_body and etype in _MALFORMED_TYPES):
            malformed = True
            error = FieldError("", "malformed", _("The request body is not a JSON object."))
        elif whole_body and etype == "missing":
            malformed = True
            error = FieldError("", "body_required", _("The request needs a JSON body."))
        elif etype == "value_error":
            # our own validators raise ValueError("code: message")
            text = str(e.get("ctx", {}).get("error", e.get("msg", "")))
            code, _sep, message = text.partition(": ")
            if not message or " " in code:
                code, message = "invalid", text
            error = FieldError(field, code, message)
        else:
            code, message = _MESSAGES.get(etype, ("invalid", lambda e: _("Invalid value.")))
            error = FieldError(field, code, message(e))
        if error.field in seen and error.field:
            continue
        seen.add(error.field)
        out.append(error)
    return out, malformed


_JSON_TYPES = ("application/json",)


class JsonParser(Parser):
    """JSON bodies only: another content type, or text that is not JSON, is a 400.

    A body that ninja re-parses from a multipart form field has no content type of its own
    (`content_type is None`); it is JSON by construction.
    """

    def parse_body(self, request):
        content_type = getattr(request, "content_type", None)
        if content_type is not None and not (
            content_type in _JSON_TYPES or content_type.endswith("+json")
        ):
            raise BadRequest(
                _("Send the request body as JSON (Content-Type: application/json)."),
                code="unsupported_content_type",
            )
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(_("The request body is not valid JSON."), code="malformed")
        if errors := _nul_errors(data, ""):
            raise InvalidInput(errors)  # ninja wraps it; api.http_error unwraps it to a 422
        return data

    def parse_querydict(self, data, list_fields, request):
        # PostgreSQL refuses NUL in any text (a 500 in a filter); other controls are the
        # fields' own concern (core.text, through clean_model).
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                raise InvalidInput(control_character_error(key.replace("\x00", "")))
        return super().parse_querydict(data, list_fields, request)


def _nul_errors(value, path: str) -> list[FieldError]:
    """NUL anywhere in a JSON body (keys included): one error naming where."""
    if isinstance(value, str):
        return [control_character_error(path)] if "\x00" in value else []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return [control_character_error(path)]
        if errors := _nul_errors(item, here):
            return errors
    return []


def visible_ref(qs: models.QuerySet, pk, field: str):
    """The object `pk` of a visibility queryset, or a 422 on `field`: an unknown reference and
    one outside the user's scope read the same, so the answer does not reveal which."""
    if pk is None:
        return None
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise InvalidInput(
            FieldError(field, "unknown", _("No such object, or it is outside your scope."))
        )
    return obj


def clean_model(obj: models.Model, *, exclude=()) -> None:
    """The model's own field validators (ranges, slugs, choices) as a 422 with request names.

    Uniqueness and constraints are the services' explicit checks, which give clearer messages.
    Control characters in any text field are refused first (`core.text`).
    """
    errors = model_text_errors(obj, exclude=exclude)
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        seen = {e.field for e in errors}
        errors += [
            FieldError(request_field_name(type(obj), name), e.code or "invalid", str(m))
            for name, errs in exc.error_dict.items()
            for e in errs
            for m in e.messages
            if request_field_name(type(obj), name) not in seen
        ]
    if errors:
        raise InvalidInput(errors)

"""Pydantic's English validation errors, as our field errors in the request's language."""

from django.utils.translation import gettext as _

from safework.core.errors import FieldError

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
    "string_type": ("invalid_type", lambda e: _("Must be text.")),
    "int_parsing": ("invalid_type", lambda e: _("Must be a whole number.")),
    "int_type": ("invalid_type", lambda e: _("Must be a whole number.")),
    "int_from_float": ("invalid_type", lambda e: _("Must be a whole number.")),
    "float_parsing": ("invalid_type", lambda e: _("Must be a number.")),
    "decimal_parsing": ("invalid_type", lambda e: _("Must be a number.")),
    "bool_parsing": ("invalid_type", lambda e: _("Must be true or false.")),
    "bool_type": ("invalid_type", lambda e: _("Must be true or false.")),
    "date_from_datetime_parsing": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "date_parsing": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "date_type": ("invalid_date", lambda e: _("Must be a date (YYYY-MM-DD).")),
    "datetime_parsing": ("invalid_datetime", lambda e: _("Must be a date and time (ISO 8601).")),
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
    "list_type": ("invalid_type", lambda e: _("Must be a list.")),
    "dict_type": ("invalid_type", lambda e: _("Must be an object.")),
    "model_attributes_type": ("invalid_type", lambda e: _("Must be an object.")),
    "extra_forbidden": ("unknown_field", lambda e: _("Unknown field.")),
}

# Errors about the request as a whole rather than a field: 400, not 422.
_MALFORMED_TYPES = {"json_invalid", "model_attributes_type", "dict_type"}


def _field_of(loc) -> tuple[str, bool]:
    parts = [str(p) for p in loc]
    whole_body = len(parts) <= 2 and parts[:1] == ["body"]
    # ("body", "payload", "field", 0) → "field.0"; ninja prefixes the source and the param name
    if parts and parts[0] in {"body", "query", "path", "form", "header", "cookie", "file"}:
        parts = parts[2:] if len(parts) > 2 else parts[1:]
    return ".".join(parts), whole_body


def translate_pydantic_errors(errors) -> tuple[list[FieldError], bool]:
    """(field errors, malformed?) — malformed when the body itself is not what was expected."""
    out, malformed = [], False
    for e in errors:
        etype = e.get("type", "")
        field, whole_body = _field_of(e.get("loc", ()))
        if etype in _MALFORMED_TYPES and whole_body or etype == "json_invalid":
            malformed = True
            out.append(FieldError("", "malformed", _("The request body is not valid JSON object.")))
            continue
        if etype == "value_error":
            # our own validators raise ValueError("code: message")
            text = str(e.get("ctx", {}).get("error", e.get("msg", "")))
            code, _sep, message = text.partition(": ")
            if not message:
                code, message = "invalid", text
            out.append(FieldError(field, code, message))
            continue
        code, message = _MESSAGES.get(etype, ("invalid", lambda e: _("Invalid value.")))
        out.append(FieldError(field, code, message(e)))
    return out, malformed

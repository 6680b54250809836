"""Text that cannot be: control characters in names, numbers and notes.

NUL ends a string in C and PostgreSQL refuses it outright (a 500 where it reaches the database);
the other C0 controls and DEL are invisible, break exports and sorting, and no one types them. So
every text field refuses them; free text over several lines (notes) keeps tab and line breaks.
Checked in `core.validation.clean_model` (every service that saves a model), so the API, the
admin and the imports share one rule.
"""

from __future__ import annotations

import re

from django.db import models
from django.utils.translation import gettext as _

from safework.core.errors import FieldError, request_field_name

# C0 controls and DEL; a note (TextField) may hold tab, line feed and carriage return.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_NOTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    return bool((_CONTROL_IN_NOTES if multiline else CONTROL).search(value))


def control_character_error(field: str) -> FieldError:
    return FieldError(
        field,
        "control_characters",
        _("The text contains control characters (such as NUL); type it again."),
    )


def text_errors(value, field: str, *, multiline: bool = False) -> list[FieldError]:
    """One error if `value` (text, or a list or dict of texts) holds a control character."""
    if isinstance(value, str):
        return (
            [control_character_error(field)]
            if has_control_characters(value, multiline=multiline)
            else []
        )
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if errors := text_errors(item, f"{field}.{i}", multiline=multiline):
                return errors
    if isinstance(value, dict):
        for key, item in value.items():
            if errors := text_errors(key, field) or text_errors(item, f"{field}.{key}"):
                return errors
    return []


def model_text_errors(obj: models.Model, *, exclude=()) -> list[FieldError]:
    """Control characters in any text or JSON field of a model instance, per field."""
    errors = []
    for f in obj._meta.concrete_fields:
        if f.name in exclude or not isinstance(
            f, models.CharField | models.TextField | models.JSONField
        ):
            continue
        value = getattr(obj, f.attname)
        multiline = isinstance(f, models.TextField)
        name = request_field_name(type(obj), f.name)
        errors += text_errors(value, name, multiline=multiline)
    return errors

"""The API's error shapes: 422 field errors, 400 malformed requests, 409 refusals.

`{"errors": [{"field", "code", "message"}]}` in the request's language (Chinese by default);
`{"reasons": [{"code", "message", "clause", "subject"}]}` for refusals.
"""

from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import models


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": str(self.message)}


class InvalidInput(Exception):
    """Raised by services for input that fails validation (→ 422). Nothing has been saved."""

    def __init__(self, errors):
        if isinstance(errors, FieldError):
            errors = [errors]
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


class BadRequest(Exception):
    """A malformed request (→ 400)."""

    def __init__(self, message, code="bad_request", field=""):
        self.error = FieldError(field, code, message)
        super().__init__(message)


def request_field_name(model: type[models.Model], name: str) -> str:
    """A model field's name as the API spells it: foreign keys as `<name>_id`."""
    if name == NON_FIELD_ERRORS:
        return ""
    try:
        f = model._meta.get_field(name)
    except Exception:
        return name
    return f.attname if isinstance(f, models.ForeignKey) else name

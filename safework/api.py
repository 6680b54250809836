"""The REST API under /api/v1/: one NinjaAPI, its auth, and the one place errors become HTTP."""

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from safework.accounts.access import PERMISSION_KEY
from safework.accounts.lockout import LoginLockedOut
from safework.core.errors import BadRequest, FieldError, InvalidInput
from safework.core.integrity import conflict_error
from safework.core.middleware import api_error_response
from safework.core.openapi import SwaggerWithCsrf, complete_schema
from safework.core.refusals import Refused
from safework.core.validation import JsonParser, translate_pydantic_errors


class JsonRenderer(JSONRenderer):
    """UTF-8 JSON with Chinese as characters, not \\u escapes: readable in curl and logs."""

    json_dumps_params = {"ensure_ascii": False}


class SafeWorkAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return complete_schema(schema, permission_key=PERMISSION_KEY)


api = SafeWorkAPI(
    title="SafeWork API",
    version="1",
    description="People, certificates and the qualification engine for special work.",
    # Each operation sets its own auth with accounts.access.access(resource, action).
    urls_namespace="api",
    parser=JsonParser(),  # a body not sent as JSON, or not JSON, is a 400
    renderer=JsonRenderer(),
    docs=SwaggerWithCsrf(),
)


def _errors(request, errors, status):
    return api.create_response(request, {"errors": [e.as_dict() for e in errors]}, status=status)


@api.exception_handler(NinjaValidationError)
def validation_error(request, exc):
    errors, malformed = translate_pydantic_errors(exc.errors)
    return _errors(request, errors, 400 if malformed else 422)


@api.exception_handler(InvalidInput)
def invalid_input(request, exc):
    return _errors(request, exc.errors, 422)


@api.exception_handler(ValidationError)
def django_validation_error(request, exc):
    if hasattr(exc, "error_dict"):
        errors = [
            FieldError(field, e.code or "invalid", " ".join(e.messages))
            for field, errs in exc.error_dict.items()
            for e in errs
        ]
    else:
        errors = [FieldError("", e.code or "invalid", " ".join(e.messages)) for e in exc.error_list]
    return _errors(request, errors, 422)


@api.exception_handler(BadRequest)
def bad_request(request, exc):
    return _errors(request, [exc.error], 400)


@api.exception_handler(Refused)
def refused(request, exc):
    return api.create_response(request, {"reasons": [r.as_dict() for r in exc.reasons]}, status=409)


@api.exception_handler(Http404)
def not_found(request, exc):
    return _errors(request, [FieldError("", "not_found", _("Not found."))], 404)


@api.exception_handler(PermissionDenied)
def forbidden(request, exc):
    return _errors(request, [FieldError("", "forbidden", _("You may not do this."))], 403)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return _errors(request, [FieldError("", "unauthenticated", _("Log in first."))], 401)


@api.exception_handler(LoginLockedOut)
def locked_out(request, exc):
    # Too many failed logins (accounts.lockout): 429, and when to try again.
    response = _errors(request, [FieldError("", "locked_out", str(exc))], 429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(HttpError)
def http_error(request, exc):
    if isinstance(exc.__cause__, BadRequest):  # ninja wraps the body parser's error
        return bad_request(request, exc.__cause__)
    if isinstance(exc.__cause__, InvalidInput):  # e.g. NUL in the body (core.validation)
        return invalid_input(request, exc.__cause__)
    if exc.status_code == 403 and "csrf" in str(exc).lower():
        # ninja's session auth: a browser write without the CSRF token (a page older than the
        # session, or a script using the cookie); English from the library otherwise.
        message = _("The CSRF token is missing or wrong: reload the page and try again.")
        return _errors(request, [FieldError("", "csrf_failed", message)], 403)
    response = api_error_response(exc.status_code)
    return api.create_response(request, json.loads(response.content), status=exc.status_code)


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def out_of_range(request, exc):
    # A number too large for the database, or a date past 9999-12-31 after arithmetic: the
    # input is at fault, so a 422 rather than a 500 (schemas bound what they can up front).
    message = _("A number or date in the request is out of range.")
    return _errors(request, [FieldError("", "out_of_range", message)], 422)


@api.exception_handler(IntegrityError)
def integrity_error(request, exc):
    # Backstop for a write that lost a race outside `core.integrity.unique_or_422`: the
    # transaction has rolled back; say which key, or that the data changed meanwhile.
    error = conflict_error(exc) or FieldError(
        "", "conflict", _("The data changed while saving; reload and try again.")
    )
    return _errors(request, [error], 422)


@api.exception_handler(RecursionError)
def too_deep(request, exc):
    message = _("The request is nested too deeply.")
    return _errors(request, [FieldError("", "malformed", message)], 400)


def _register_routers():
    # Each app owns its router; imported here so the URL list is complete at start-up.
    from safework.accounts.api import router as accounts_router
    from safework.accounts.api_audit import router as audit_router
    from safework.certs.api import router as certs_router
    from safework.ledger.api import router as imports_router
    from safework.notify.api import router as notify_router
    from safework.org.api import router as org_router
    from safework.people.api import router as people_router
    from safework.permits.api import router as permits_router
    from safework.qualification.api import router as qualification_router
    from safework.registry.api import router as registry_router
    from safework.reports.api import router as reports_router
    from safework.rosters.api import router as rosters_router

    api.add_router("/", audit_router)
    api.add_router("/", org_router)
    api.add_router("/", people_router)
    api.add_router("/", accounts_router)
    api.add_router("/", certs_router)
    api.add_router("/", qualification_router)
    api.add_router("/", rosters_router)
    api.add_router("/", registry_router)
    api.add_router("/", imports_router)
    api.add_router("/", permits_router)
    api.add_router("/", notify_router)
    api.add_router("/", reports_router)


_register_routers()
__all__ = ["api"]

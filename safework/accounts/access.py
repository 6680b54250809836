"""Access checks for the API: every endpoint declares (resource, action) in one place.

    @router.get("/persons", response=Page[PersonOut], **access(PEOPLE, READ))
    def list_persons(request, ...):
        qs = persons_visible_to(request.scope)          # someone else's object → 404

`access()` gives the operation an auth callable that logs the user in (session or HTTP Basic),
answers 401 without a login and 403 when the permission matrix says no, **before** the body is
validated (so an inspector's write is 403, not 422), and leaves the user's `Scope` on
`request.scope`. It also writes `x-safework-permission` into the OpenAPI operation; the
role × endpoint test reads it from /api/v1/openapi.json, so a new endpoint cannot skip the matrix.
"""

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from ninja.security import HttpBasicAuth, SessionAuth

from safework.accounts.matrix import READ, WRITE  # noqa: F401  re-exported for endpoints
from safework.accounts.scope import scope_for, sees_full_id_numbers
from safework.core.scope import Scope
from safework.people.rules import mask_id_number

PERMISSION_KEY = "x-safework-permission"


class BasicAuth(HttpBasicAuth):
    """HTTP Basic for scripts and curl (`curl -u user:password …`)."""

    def authenticate(self, request, username, password):
        user = authenticate(request, username=username, password=password)
        if user is not None and user.is_active:
            request.user = user
            return user
        return None


_session = SessionAuth()  # checks CSRF on unsafe methods when the session cookie is used
_basic = BasicAuth()


class Permission:
    """Ninja auth callable: logged in, and the matrix allows (resource, action)."""

    def __init__(self, resource: str, action: str):
        self.resource, self.action = resource, action

    def __call__(self, request):
        # A script sending HTTP Basic has no CSRF token to give; the session path (a browser)
        # must pass the CSRF check, so it is only taken without an Authorization header.
        if request.headers.get("Authorization", "").lower().startswith("basic "):
            user = _basic(request)
        else:
            user = _session(request)
        if not user:
            return None  # → 401
        scope = scope_for(user, self.resource, self.action)
        if scope is None:
            raise PermissionDenied(f"{self.resource}.{self.action}")
        request.scope = scope
        return user


def perm(resource: str, action: str) -> dict:
    return {PERMISSION_KEY: {"resource": resource, "action": action}}


def access(resource: str, action: str) -> dict:
    """Keyword arguments for a router decorator: auth + the OpenAPI permission mark."""
    return {"auth": [Permission(resource, action)], "openapi_extra": perm(resource, action)}


def require(request, resource: str, action: str) -> Scope:
    """The user's scope for another (resource, action) inside a view, or PermissionDenied."""
    scope = scope_for(request.user, resource, action)
    if scope is None:
        raise PermissionDenied(f"{resource}.{action}")
    return scope


def shown_id_number(user, id_number: str) -> str:
    """The ID number as this user may see it: full, or masked (110105********1234)."""
    return id_number if sees_full_id_numbers(user) else mask_id_number(id_number)

"""Access checks for the API: every endpoint declares (resource, action) and asks for its scope.

    @router.get("/persons", response=Page[PersonOut], openapi_extra=perm(PEOPLE, READ))
    def list_persons(request, ...):
        scope = require(request, PEOPLE, READ)          # 403 when the role may not
        qs = persons_visible_to(scope)                  # someone else's object → 404

`perm()` writes `x-safework-permission` into the OpenAPI operation; the role × endpoint test reads
it from /api/v1/openapi.json, so a new endpoint cannot skip the matrix.
"""

from django.core.exceptions import PermissionDenied

from safework.accounts.matrix import READ, WRITE  # noqa: F401  re-exported for endpoints
from safework.accounts.scope import scope_for, sees_full_id_numbers
from safework.core.scope import Scope
from safework.people.rules import mask_id_number

PERMISSION_KEY = "x-safework-permission"


def perm(resource: str, action: str) -> dict:
    return {PERMISSION_KEY: {"resource": resource, "action": action}}


def require(request, resource: str, action: str) -> Scope:
    """The user's scope for (resource, action), or PermissionDenied (→ 403)."""
    scope = scope_for(request.user, resource, action)
    if scope is None:
        raise PermissionDenied(f"{resource}.{action}")
    return scope


def shown_id_number(user, id_number: str) -> str:
    """The ID number as this user may see it: full, or masked (110105********1234)."""
    return id_number if sees_full_id_numbers(user) else mask_id_number(id_number)

"""Access checks for the API: every endpoint declares (resource, action) in one place.

    @router.get("/persons", response=Page[PersonOut], **access(PEOPLE, READ))
    def list_persons(request, ...):
        qs = persons_visible_to(request.scope)          # someone else's object → 404

`access()` gives the operation an auth callable that logs the user in (session, HTTP Basic or an
API token sent as `Authorization: Bearer …`; a token narrows its owner's permissions),
answers 401 without a login and 403 when the policy says no, **before** the body is validated
(so an inspector's write is 403, not 422), and leaves the user's `Scope` on `request.scope`:
the check is `guard.require(request, "<resource>.<action>")`, the same as the admin's and the
pages'. An endpoint acting on one object may call `require(request, perm, obj)` again for its
object rules. `access()` also writes `x-safework-permission` into the OpenAPI operation; the
role × endpoint test reads it from /api/v1/openapi.json, so a new endpoint cannot skip it.
"""

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from ninja.security import HttpBasicAuth, HttpBearer, SessionAuth

from safework.accounts import services, tokens
from safework.accounts.guard import require  # noqa: F401  re-exported for endpoints
from safework.accounts.lockout import LoginLockedOut
from safework.accounts.matrix import READ, WRITE  # noqa: F401  re-exported for endpoints
from safework.accounts.scope import sees_full_id_numbers
from safework.core.policy import perm_name
from safework.people.masking import (
    mask_birth_date,
    mask_certificate_number,
    mask_id_number,
    masked,
)

PERMISSION_KEY = "x-safework-permission"
GROUP_WIDE_KEY = "x-safework-group-wide-only"


class BasicAuth(HttpBasicAuth):
    """HTTP Basic for scripts and curl (`curl -u user:password …`), counted by axes like the
    admin's login form: a locked-out login is a 429, even with the right password."""

    def authenticate(self, request, username, password):
        user = authenticate(request, username=username, password=password)
        if getattr(request, "axes_locked_out", False):
            raise LoginLockedOut(request)
        if user is not None and user.is_active:
            request.user = user
            return user
        return None


class TokenAuth(HttpBearer):
    """An API token (`Authorization: Bearer sw_…`). A wrong token is a 401 and is not counted
    against the owner's logins: the prefix is not secret, and anyone could otherwise lock the
    owner out; guessing the 256-bit secret is hopeless and each try costs one HMAC."""

    def authenticate(self, request, token):
        now = timezone.now()
        api_token = tokens.find(token, at=now)
        if api_token is None:
            return None
        services.touch_token(api_token, at=now)
        request.user = api_token.user
        request.api_token = api_token
        return api_token.user


_session = SessionAuth()  # checks CSRF on unsafe methods when the session cookie is used
_basic = BasicAuth()
_token = TokenAuth()


class Permission:
    """Ninja auth callable: logged in, and the policy allows (resource, action)."""

    def __init__(self, resource: str, action: str, *, group_wide: bool = False):
        self.perm = perm_name(resource, action)
        self.group_wide = group_wide

    def __call__(self, request):
        # A script sending HTTP Basic or a token has no CSRF token to give; the session path (a
        # browser) must pass the CSRF check, so it is only taken without an Authorization header.
        authorization = request.headers.get("Authorization", "").lower()
        if authorization.startswith("basic "):
            user = _basic(request)
        elif authorization.startswith("bearer "):
            user = _token(request)
        else:
            user = _session(request)
        if not user:
            return None  # → 401
        scope = require(request, self.perm)  # 403, and request.scope
        if self.group_wide and not scope.group_wide:
            raise PermissionDenied(self.perm)
        return user


def perm(resource: str, action: str) -> dict:
    return {PERMISSION_KEY: {"resource": resource, "action": action}}


def access(resource: str, action: str, *, group_wide: bool = False) -> dict:
    """Keyword arguments for a router decorator: auth + the OpenAPI permission mark.

    `group_wide=True`: the object is shared by every site (the group, positions, a contractor's
    own record), so only a group-wide grant may do this; a site-scoped one gets 403.
    """
    extra = perm(resource, action)
    if group_wide:
        extra[GROUP_WIDE_KEY] = True
    return {"auth": [Permission(resource, action, group_wide=group_wide)], "openapi_extra": extra}


def shown_id_number(user, id_number: str) -> str:
    """The ID number as this user may see it: full, or masked (110105********1234)."""
    return id_number if sees_full_id_numbers(user) else mask_id_number(id_number)


def shown_birth_date(user, birth_date):
    """The birth date as this user may see it: the date, or its year only (1975-**-**), for
    those who see ID numbers masked (the number holds the date)."""
    return birth_date if sees_full_id_numbers(user) else mask_birth_date(birth_date)


def shown_number(user, number: str, id_number: str = "") -> str:
    """A certificate number as this user may see it: certificates are often numbered with their
    holder's ID number, so it is masked as the ID number is for users who may not see those."""
    return number if sees_full_id_numbers(user) else mask_certificate_number(number, id_number)


def shown_text(user, value):
    """`value` (a text, or a list/dict of them) with ID numbers (and birth dates under their
    key) masked unless the user may see them in full."""
    return value if sees_full_id_numbers(user) else masked(value)


def shown_reason(reason, persons: dict, user) -> dict:
    """A refusal's reason (`core.refusals.Reason`) as output, with the ID number of the person it
    is about (often also the certificate number) masked for users who may not see it in full.
    `persons` maps person ids to the persons the reasons may name. The API and the pages both
    show reasons through this."""
    out = reason.as_dict()
    person = persons.get(reason.data.get("person_id"))
    if person is not None:
        shown = shown_id_number(user, person.id_number)
        if shown != person.id_number:
            for key in ("subject", "message"):
                out[key] = out[key].replace(person.id_number, shown)
            if "data" in out:
                out["data"] = {
                    k: (v.replace(person.id_number, shown) if isinstance(v, str) else v)
                    for k, v in out["data"].items()
                }
    return out

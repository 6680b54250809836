"""Who may do what, checked in one place for the API, the admin and server-rendered pages.

    scope = require(request, "people.write", person)     # or require(user, …) outside a request

1. The cell: a grant of the user holds a role that may do this (`core.policy`, declared by the
   resource's app); an API token may narrow its owner's permissions. Otherwise PermissionDenied
   (403).
2. The object, if one is given, lies inside the scope of those grants: the visibility query its
   resource declared for the model finds it. Otherwise Http404: someone else's object does not
   exist for this user.
3. The permission's object rules, rules predicates added with `object_rule`: e.g. for permits,
   `holds_role_at_site(Role.APPROVER) & ~is_applicant`. Otherwise PermissionDenied (403).

Then `request.scope` is that scope (the doors' `…_visible_to(request.scope)` queries read it) and
it is returned. `may(...)` asks the same question and answers True or False (the admin's
`has_*_permission`). The API calls `require` through `access()`; pages use the `requires(perm)`
decorator or the `RequiresPermission` mixin, and `require(request, perm, obj)` for an object.

Every declared permission is also a rules permission built from the same predicates, so
`user.has_perm("people.write", person)` and the `rules` template tags agree with `require`.
Superusers pass every check, as Django's `has_perm` lets them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import rules
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from safework.accounts import tokens
from safework.accounts.scope import grants_of, scope_for
from safework.core import policy
from safework.core.scope import Scope

# Object rules beyond the scope, per permission name; composed with & | ~ like any predicate.
OBJECT_RULES = rules.RuleSet()

Within = Callable[[Scope, object], bool]


def _who(user_or_request):
    if isinstance(user_or_request, HttpRequest):
        return user_or_request.user, user_or_request
    return user_or_request, None


def scope_in(user_or_request, resource: str, action: str) -> Scope | None:
    """The scope in which the user may do `action` on `resource` (None: nowhere); cached on the
    request for the rest of it."""
    user, request = _who(user_or_request)
    if request is None:
        return scope_for(user, resource, action)
    cache = request.__dict__.setdefault("_sw_scopes", {})
    key = (user.pk, resource, action)  # the API's auth may log a user in mid-request
    if key not in cache:
        cache[key] = scope_for(user, resource, action)
    return cache[key]


def inside(user, scope: Scope, obj, within: Within | None = None) -> bool:
    """Is `obj` inside `scope`? By `within(scope, obj)` if given (the admin's own rule for its
    rows), else by the visibility query declared for the object's model; a model nobody declared
    is seen group-wide only (fail closed)."""
    if within is not None:
        return within(scope, obj)
    if scope.group_wide:
        return True
    meta = getattr(obj, "_meta", None)
    query = policy.visibility(meta.label_lower) if meta is not None else None
    if query is None:
        return False
    return query(scope, user).filter(pk=obj.pk).exists()


def _object_rules_pass(perm: str, user, obj) -> bool:
    if obj is None or not OBJECT_RULES.rule_exists(perm):
        return True
    if user.is_active and user.is_superuser:
        return True
    return OBJECT_RULES.test_rule(perm, user, obj)


def _check(user_or_request, perm: str, obj=None, *, within: Within | None = None) -> Scope:
    resource, action = policy.split(perm)
    user, request = _who(user_or_request)
    scope = scope_in(user_or_request, resource, action)
    if scope is None:
        raise PermissionDenied(perm)
    api_token = getattr(request, "api_token", None) if request is not None else None
    if api_token is not None and not tokens.allows(api_token, resource, action):
        raise PermissionDenied(perm)
    if obj is not None:
        if not inside(user, scope, obj, within):
            raise Http404(perm)
        if not _object_rules_pass(perm, user, obj):
            raise PermissionDenied(perm)
    return scope


def require(user_or_request, perm: str, obj=None, *, within: Within | None = None) -> Scope:
    """The user's scope for `perm` ("people.write"), after the checks of the module docstring;
    PermissionDenied (403) or Http404 otherwise. With a request, also `request.scope`."""
    scope = _check(user_or_request, perm, obj, within=within)
    _user, request = _who(user_or_request)
    if request is not None:
        request.scope = scope
    return scope


def may(user_or_request, perm: str, obj=None, *, within: Within | None = None) -> bool:
    """`require` as a question: True or False, and `request.scope` left as it was."""
    try:
        _check(user_or_request, perm, obj, within=within)
    except (PermissionDenied, Http404):
        return False
    return True


def object_rule(perm: str, predicate: rules.Predicate) -> None:
    """Add an object-level rule to a declared permission (in the app's permissions.py):

    object_rule("permits.approve", holds_role_at_site(Role.APPROVER) & ~is_applicant)
    """
    policy.split(perm)  # declared?
    OBJECT_RULES.set_rule(perm, predicate)


# ---- predicates ------------------------------------------------------------------------------


def has_cell(perm: str) -> rules.Predicate:
    """Some grant of the user holds a role that may do `perm` somewhere."""
    resource, action = policy.split(perm)

    @rules.predicate(name=f"has_cell({perm})")
    def predicate(user) -> bool:
        return scope_for(user, resource, action) is not None

    return predicate


def inside_scope(perm: str) -> rules.Predicate:
    """The object lies inside the scope in which the user may do `perm` (no object: true)."""
    resource, action = policy.split(perm)

    @rules.predicate(name=f"inside_scope({perm})")
    def predicate(user, obj) -> bool:
        if obj is None:
            return True
        scope = scope_for(user, resource, action)
        return scope is not None and inside(user, scope, obj)

    return predicate


def holds_role_at_site(*roles: str) -> rules.Predicate:
    """The user holds one of `roles` at the object's site (`obj.site_id`): by a grant naming that
    site, or a group-wide grant (site NULL). For permits: the approver of this permit's site."""

    @rules.predicate(name=f"holds_role_at_site({', '.join(roles)})")
    def predicate(user, obj) -> bool:
        if obj is None or not user.is_authenticated:
            return False
        site_id = getattr(obj, "site_id", None)
        return any(
            g.role in roles and (g.site_id is None or g.site_id == site_id) for g in grants_of(user)
        )

    return predicate


def user_is(field: str) -> rules.Predicate:
    """The user is the object's `field` (a foreign key to the user: "applicant", "created_by")."""

    @rules.predicate(name=f"user_is({field})")
    def predicate(user, obj) -> bool:
        if obj is None or user.pk is None:
            return False
        return getattr(obj, f"{field}_id", None) == user.pk

    return predicate


# The permit applicant never approves their own permit (separation of duties).
is_applicant = user_is("applicant")


def _object_rules(perm: str) -> rules.Predicate:
    @rules.predicate(name=f"object_rules({perm})")
    def predicate(user, obj) -> bool:
        return _object_rules_pass(perm, user, obj)

    return predicate


def _register(resource: policy.Resource) -> None:
    """Each declared permission as a rules permission (`user.has_perm(perm, obj)`)."""
    for action in resource.actions:
        perm = policy.perm_name(resource.name, action)
        rules.set_perm(perm, has_cell(perm) & inside_scope(perm) & _object_rules(perm))


policy.subscribe(_register)


# ---- server-rendered views -------------------------------------------------------------------


def requires(perm: str):
    """Decorate a page view: log in first (redirect), then `require(request, perm)` (403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            require(request, perm)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RequiresPermission:
    """Mixin for class-based page views: `permission = "people.read"`, checked as `requires`
    does before the view runs. Object views call `require(request, perm, obj)` on their object."""

    permission: str = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        require(request, self.permission)
        return super().dispatch(request, *args, **kwargs)

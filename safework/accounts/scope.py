"""Build a user's `Scope` from their role grants (decisions.md: the layer that knows roles)."""

from safework.accounts import matrix
from safework.accounts.models import Role, RoleGrant
from safework.core import policy
from safework.core.scope import Scope

_PERSONAL = {Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER}
_DEPARTMENT = {Role.WORKSHOP_HEAD, Role.TEAM_LEADER}


def grant_scope(grant: RoleGrant, user) -> Scope:
    if grant.role == Role.ADMINISTRATOR:
        return Scope.everything()
    if grant.role == Role.CONTRACTOR_MANAGER:
        return Scope(contractor_ids=frozenset({grant.contractor_id}))
    if grant.role in _PERSONAL:
        return Scope(person_id=user.person_id) if user.person_id else Scope.nothing()
    if grant.role in _DEPARTMENT:
        if grant.department_id:
            return Scope(department_ids=frozenset({grant.department_id}))
        return Scope(site_ids=frozenset({grant.site_id})) if grant.site_id else Scope.nothing()
    # principal, head of safety, safety officer, inspector: a site, or group-wide
    if grant.site_id is None:
        return Scope.everything() if grant.role != Role.SAFETY_OFFICER else Scope.nothing()
    return Scope(site_ids=frozenset({grant.site_id}))


def grants_of(user) -> list[RoleGrant]:
    """The user's role grants, read once per user object."""
    cache = getattr(user, "_safework_grants", None)
    if cache is None:
        cache = list(user.grants.all()) if user.pk else []
        user._safework_grants = cache
    return cache


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return {g.role for g in grants_of(user)}


def scope_for(user, resource: str, action: str = matrix.READ) -> Scope | None:
    """The scope in which `user` may do `action` on `resource`; None when no grant allows it."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Scope.everything()
    scope = None
    for grant in grants_of(user):
        if not policy.allows(grant.role, resource, action):
            continue
        s = grant_scope(grant, user)
        scope = s if scope is None else scope.union(s)
    return scope


def scope_of(user) -> Scope:
    """Everything the user may read anything of (used where no single resource applies)."""
    scope = Scope.nothing()
    for resource in policy.resources():
        s = scope_for(user, resource)
        if s is not None:
            scope = scope.union(s)
    return scope


def sees_full_id_numbers(user) -> bool:
    """Full numbers only when every grant that shows people to the user allows them.

    A user's scopes are unioned, so one full-number grant (say, worker: their own number) must
    not unmask what another grant shows them masked (say, inspector: everyone at the site).
    """
    if user.is_superuser:
        return True
    showing = [g for g in grants_of(user) if policy.allows(g.role, matrix.PEOPLE, matrix.READ)]
    return bool(showing) and all(g.role in matrix.FULL_ID_NUMBERS for g in showing)

"""Reads of logins, role grants and API tokens, filtered by a visibility scope (the API and the
admin filter through these)."""

from django.db.models import QuerySet

from safework.accounts.matrix import ACCOUNTS, READ
from safework.accounts.models import ApiToken, RoleGrant, User
from safework.accounts.scope import scope_for
from safework.core.audit_visibility import register_audit_visibility
from safework.core.scope import Scope


def users_visible_to(scope: Scope) -> QuerySet[User]:
    """Accounts are administrators' business: group-wide only."""
    qs = User.objects.prefetch_related("grants")
    return qs if scope.group_wide else qs.none()


def grants_visible_to(scope: Scope) -> QuerySet[RoleGrant]:
    return RoleGrant.objects.all() if scope.group_wide else RoleGrant.objects.none()


def tokens_visible_to(user, action: str = READ) -> QuerySet[ApiToken]:
    """A user's own tokens; an administrator's view of accounts shows everyone's."""
    accounts_scope = scope_for(user, ACCOUNTS, action)
    if accounts_scope is not None and accounts_scope.group_wide:
        return ApiToken.objects.all()
    return ApiToken.objects.filter(user_id=user.pk)


# Audit records about these objects are seen by whoever sees the objects; a token's by
# administrators (group-wide) and by its owner (their own actions) only.
register_audit_visibility("accounts.user", users_visible_to)
register_audit_visibility("accounts.rolegrant", grants_visible_to)
register_audit_visibility("accounts.apitoken", lambda scope: ApiToken.objects.none())

"""REST endpoints of accounts: users and role grants (resource ACCOUNTS: administrators)."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from safework.accounts import services
from safework.accounts.access import READ, WRITE, access
from safework.accounts.matrix import ACCOUNTS
from safework.accounts.models import RoleGrant, User
from safework.accounts.schemas import (
    GrantFilter,
    GrantIn,
    GrantOut,
    GrantPatch,
    UserFilter,
    UserIn,
    UserOut,
    UserPatch,
)
from safework.core.audit_visibility import register_audit_visibility
from safework.core.pagination import Page, PageParams, paginate
from safework.core.scope import Scope

router = Router(tags=["accounts"])


def users_visible_to(scope: Scope):
    """Accounts are administrators' business: group-wide only."""
    qs = User.objects.prefetch_related("grants")
    return qs if scope.group_wide else qs.none()


def grants_visible_to(scope: Scope):
    return RoleGrant.objects.all() if scope.group_wide else RoleGrant.objects.none()


register_audit_visibility("accounts.user", users_visible_to)
register_audit_visibility("accounts.rolegrant", grants_visible_to)


# --- users ---------------------------------------------------------------------------------


@router.get("/users", response=Page[UserOut], **access(ACCOUNTS, READ))
def list_users(request, filters: Query[UserFilter], page: Query[PageParams]):
    qs = users_visible_to(request.scope)
    qs = qs.filter(pk__in=filters.filter(qs).values("pk")).order_by("username", "pk")
    return paginate(qs, page)


@router.get("/users/{user_id}", response=UserOut, **access(ACCOUNTS, READ))
def get_user(request, user_id: int):
    return get_object_or_404(users_visible_to(request.scope), pk=user_id)


@router.post("/users", response={201: UserOut}, **access(ACCOUNTS, WRITE))
def create_user(request, payload: UserIn):
    user = services.create_user(by=request.user, values=payload.dict())
    return Status(201, users_visible_to(request.scope).get(pk=user.pk))


@router.patch("/users/{user_id}", response=UserOut, **access(ACCOUNTS, WRITE))
def update_user(request, user_id: int, payload: UserPatch):
    user = get_object_or_404(users_visible_to(request.scope), pk=user_id)
    services.update_user(by=request.user, user=user, changes=payload.dict(exclude_unset=True))
    return users_visible_to(request.scope).get(pk=user.pk)


@router.post("/users/{user_id}/deactivate", response=UserOut, **access(ACCOUNTS, WRITE))
def deactivate_user(request, user_id: int):
    user = get_object_or_404(users_visible_to(request.scope), pk=user_id)
    services.deactivate_user(by=request.user, user=user)
    return users_visible_to(request.scope).get(pk=user.pk)


# --- role grants ---------------------------------------------------------------------------


@router.get("/role-grants", response=Page[GrantOut], **access(ACCOUNTS, READ))
def list_grants(request, filters: Query[GrantFilter], page: Query[PageParams]):
    qs = filters.filter(grants_visible_to(request.scope)).order_by("user_id", "role", "pk")
    return paginate(qs, page)


@router.get("/role-grants/{grant_id}", response=GrantOut, **access(ACCOUNTS, READ))
def get_grant(request, grant_id: int):
    return get_object_or_404(grants_visible_to(request.scope), pk=grant_id)


@router.post("/role-grants", response={201: GrantOut}, **access(ACCOUNTS, WRITE))
def grant_role(request, payload: GrantIn):
    return Status(201, services.grant_role(by=request.user, **payload.dict()))


@router.patch("/role-grants/{grant_id}", response=GrantOut, **access(ACCOUNTS, WRITE))
def update_grant(request, grant_id: int, payload: GrantPatch):
    grant = get_object_or_404(grants_visible_to(request.scope), pk=grant_id)
    return services.update_grant(
        by=request.user, grant=grant, changes=payload.dict(exclude_unset=True)
    )


@router.post("/role-grants/{grant_id}/revoke", response={204: None}, **access(ACCOUNTS, WRITE))
def revoke_grant(request, grant_id: int):
    """The grant row goes; the audit trail keeps what it was."""
    grant = get_object_or_404(grants_visible_to(request.scope), pk=grant_id)
    services.revoke_grant(by=request.user, grant=grant)
    return Status(204, None)

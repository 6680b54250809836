"""REST endpoints of accounts: users, role grants and login lockouts (resource ACCOUNTS:
administrators); API tokens (resource TOKENS: everyone their own)."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from safework.accounts import services
from safework.accounts.access import READ, WRITE, access
from safework.accounts.matrix import ACCOUNTS, TOKENS
from safework.accounts.queries import grants_visible_to, tokens_visible_to, users_visible_to
from safework.accounts.schemas import (
    GrantFilter,
    GrantIn,
    GrantOut,
    GrantPatch,
    TokenCreated,
    TokenIn,
    TokenOut,
    UnlockIn,
    UnlockOut,
    UserFilter,
    UserIn,
    UserOut,
    UserPatch,
)
from safework.core.pagination import Page, PageParams, paginate
from safework.core.validation import RowId

router = Router(tags=["accounts"])


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


# --- login lockouts ------------------------------------------------------------------------


@router.post("/users/{user_id}/unlock", response=UnlockOut, **access(ACCOUNTS, WRITE))
def unlock_user(request, user_id: int, payload: UnlockIn):
    """End a login lockout of this user (at one address, or everywhere), audited."""
    user = get_object_or_404(users_visible_to(request.scope), pk=user_id)
    cleared = services.unlock_login(
        by=request.user, username=user.username, client_addr=payload.client_addr
    )
    return {"cleared": cleared}


# --- API tokens ----------------------------------------------------------------------------


@router.get("/tokens", response=Page[TokenOut], **access(TOKENS, READ))
def list_tokens(request, page: Query[PageParams], user_id: RowId | None = None):
    qs = tokens_visible_to(request.user)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    return paginate(qs.order_by("-created_at", "-pk"), page)


@router.post("/tokens", response={201: TokenCreated}, **access(TOKENS, WRITE))
def create_token(request, payload: TokenIn):
    """A token for yourself, acting with your roles (narrowed as asked). The token is in this
    answer only; SafeWork keeps a keyed hash of it."""
    token, raw = services.create_token(by=request.user, **payload.dict())
    return Status(201, TokenOut.model_validate(token).model_dump() | {"token": raw})


@router.post("/tokens/{token_id}/revoke", response=TokenOut, **access(TOKENS, WRITE))
def revoke_token(request, token_id: int):
    token = get_object_or_404(tokens_visible_to(request.user, WRITE), pk=token_id)
    return services.revoke_token(by=request.user, token=token)

"""Input, output and filter schemas of the accounts API (users and role grants)."""

from datetime import datetime
from typing import Annotated

from django.db.models import Q
from ninja import Field, FilterLookup, FilterSchema, Schema
from pydantic import AwareDatetime, ConfigDict

from safework.accounts.models import Role
from safework.core.validation import RowId

Username = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


class UserIn(In):
    username: Username
    password: str | None = Field(None, max_length=128, description="none: cannot log in yet")
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    email: str = Field("", max_length=254)
    is_staff: bool = Field(False, description="may log into the admin")
    person_id: int | None = None


class UserPatch(In):
    username: Username = None
    password: str = Field(None, max_length=128)
    first_name: str = Field(None, max_length=150)
    last_name: str = Field(None, max_length=150)
    email: str = Field(None, max_length=254)
    is_staff: bool = None
    person_id: int | None = None


class GrantOut(Schema):
    id: int
    user_id: int
    role: str
    site_id: int | None
    contractor_id: int | None
    department_id: int | None
    created_at: datetime


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    person_id: int | None
    last_login: datetime | None
    date_joined: datetime
    grants: list[GrantOut] = Field(alias="grants.all")


class UserFilter(FilterSchema):
    username: Annotated[str | None, FilterLookup("username__icontains")] = None
    is_active: bool | None = None
    is_staff: bool | None = None
    person_id: RowId | None = None
    role: Role | None = None

    def filter_role(self, value) -> Q:
        return Q(grants__role=value)


class GrantIn(In):
    user_id: int
    role: Role
    site_id: int | None = Field(None, description="empty: group-wide")
    contractor_id: int | None = Field(None, description="a contractor manager's contractor")
    department_id: int | None = Field(None, description="a workshop head's or team leader's")


class GrantPatch(In):
    site_id: int | None = None
    contractor_id: int | None = None
    department_id: int | None = None


class GrantFilter(FilterSchema):
    user_id: RowId | None = None
    role: Role | None = None
    site_id: RowId | None = None
    contractor_id: RowId | None = None
    department_id: RowId | None = None


class TokenIn(In):
    name: str = Field(..., min_length=1, max_length=100, description="what uses the token")
    read_only: bool = Field(False, description="refuse every write (403)")
    resources: list[str] = Field(
        default_factory=list, max_length=20, description="empty: every resource of the owner"
    )
    expires_at: AwareDatetime | None = Field(None, description="none: until revoked")


class TokenOut(Schema):
    id: int
    user_id: int
    name: str
    prefix: str
    read_only: bool
    resources: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown only in this answer: store it now")


class UnlockIn(In):
    client_addr: str = Field("", max_length=45, description="empty: every address")


class UnlockOut(Schema):
    cleared: int = Field(description="failure counters cleared (0: nothing was locked)")

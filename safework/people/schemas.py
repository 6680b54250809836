"""Input, output and filter schemas of the people API.

ID numbers leave the API only through `shown_id_number(user, …)`: the `*_out` functions take the
request's user. Input schemas forbid unknown fields (gender and birth date are derived, so
sending them is a 422, not silently ignored); PATCH schemas leave omitted fields alone and
refuse an explicit `null` for non-nullable ones.
"""

import json
from datetime import date, datetime
from typing import Annotated, Literal

from django.db.models import Q
from ninja import Field, FilterLookup, FilterSchema, Schema
from pydantic import ConfigDict

from safework.core.validation import RowId
from safework.people.models import (
    ContractorStatus,
    Education,
    EmployerKind,
    EmploymentStatus,
    EngagementStatus,
    HealthConclusion,
)
from safework.people.rules import normalise_id_text
from safework.people.services import EmploymentIn, EngagementIn

Name = Annotated[str, Field(min_length=1, max_length=100)]
IdNumberText = Annotated[str, Field(max_length=40, description="18 characters; NFKC-normalised")]
WorkType = Literal[
    "hot_work",
    "confined_space",
    "blinding",
    "height",
    "lifting",
    "temporary_power",
    "excavation",
    "road_closure",
]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- persons and employment ----------------------------------------------------------------


class EmploymentBlock(In):
    employer_kind: EmployerKind
    started_on: date
    contractor_id: int | None = None
    department_id: int | None = None

    def value(self) -> EmploymentIn:
        return EmploymentIn(**self.dict())


class PersonIn(In):
    id_number: IdNumberText
    name: Name
    former_names: list[Annotated[str, Field(max_length=100)]] = []
    phone: str = Field("", max_length=30)
    education: Education = Education.UNKNOWN
    position_id: int | None = None
    employment: EmploymentBlock | None = None

    def values(self) -> dict:
        data = self.dict(exclude={"employment"})
        data["employment"] = self.employment.value() if self.employment else None
        return data


class PersonPatch(In):
    id_number: IdNumberText = None
    name: Name = None
    former_names: list[Annotated[str, Field(max_length=100)]] = None
    phone: str = Field(None, max_length=30)
    education: Education = None
    position_id: int | None = None


class EmploymentOut(Schema):
    id: int
    person_id: int
    employer_kind: str
    contractor_id: int | None
    contractor_name: str | None
    department_id: int | None
    department_name: str | None
    site_id: int | None
    started_on: date
    ended_on: date | None
    status: str


def employment_out(e) -> dict | None:
    if e is None:
        return None
    return {
        "id": e.pk,
        "person_id": e.person_id,
        "employer_kind": e.employer_kind,
        "contractor_id": e.contractor_id,
        "contractor_name": e.contractor.name if e.contractor_id else None,
        "department_id": e.department_id,
        "department_name": e.department.name if e.department_id else None,
        "site_id": e.site_id,
        "started_on": e.started_on,
        "ended_on": e.ended_on,
        "status": e.status,
    }


class PersonOut(Schema):
    id: int
    id_number: str = Field(description="masked (110105********1234) for roles without full view")
    name: str
    former_names: list[str]
    gender: str
    birth_date: str = Field(
        description="YYYY-MM-DD; the year only (1975-**-**) for roles without full view"
    )
    phone: str
    education: str
    position_id: int | None
    current_employment: EmploymentOut | None
    is_active: bool
    is_synthetic: bool
    created_at: datetime
    updated_at: datetime


class SubmittedOut(Schema):
    """A registration waiting for the site's safety officer (contractor managers): the same
    answer whoever holds the number."""

    status: Literal["pending_review"]
    message: str
    import_id: int = Field(description="the review item (GET /imports/{id})")


def person_out(p, shown, shown_birth) -> dict:
    """`shown` is `lambda number: shown_id_number(user, number)`, `shown_birth` likewise
    `shown_birth_date(user, …)`: the number holds the birth date, so both are masked alike."""
    return {
        "id": p.pk,
        "id_number": shown(p.id_number),
        "name": p.name,
        "former_names": p.former_names,
        "gender": p.gender,
        "birth_date": str(shown_birth(p.birth_date)),
        "phone": p.phone,
        "education": p.education,
        "position_id": p.position_id,
        "current_employment": employment_out(p.current_employment),
        "is_active": p.is_active,
        "is_synthetic": p.is_synthetic,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


class PersonFilter(FilterSchema):
    name: str | None = Field(None, description="part of the name or of a former name")
    id_number: str | None = Field(None, description="the full number (normalised)")
    is_active: bool | None = None
    position_id: RowId | None = None
    employer_kind: Annotated[
        EmployerKind | None, FilterLookup("current_employment__employer_kind")
    ] = None
    contractor_id: Annotated[RowId | None, FilterLookup("current_employment__contractor_id")] = None
    department_id: Annotated[RowId | None, FilterLookup("current_employment__department_id")] = None
    site_id: Annotated[RowId | None, FilterLookup("current_employment__site_id")] = None
    is_synthetic: bool | None = None

    def filter_id_number(self, value) -> Q:
        return Q(id_number=normalise_id_text(value))

    def filter_name(self, value) -> Q:
        # SQLite keeps json.dumps' ASCII escapes in JSON text ("\\u65e7" for 旧).
        escaped = json.dumps(value)[1:-1]
        q = Q(name__icontains=value) | Q(former_names__icontains=value)
        return q | Q(former_names__icontains=escaped) if escaped != value else q


class EmploymentChangeIn(In):
    employment: EmploymentBlock
    ended_on: date | None = Field(
        None, description="end of the current employment; default the day before the new start"
    )


class EmploymentPatch(In):
    department_id: int | None = None
    started_on: date = None
    ended_on: date | None = None
    status: Literal["active", "suspended"] = None


class EndIn(In):
    ended_on: date | None = Field(None, description="default today")


class EmploymentFilter(FilterSchema):
    person_id: RowId | None = None
    employer_kind: EmployerKind | None = None
    contractor_id: RowId | None = None
    department_id: RowId | None = None
    site_id: RowId | None = None
    status: EmploymentStatus | None = None


# --- contractors and engagements -----------------------------------------------------------


class EngagementBlock(In):
    site_id: int
    starts_on: date
    ends_on: date | None = None

    def value(self) -> EngagementIn:
        return EngagementIn(**self.dict())


class ContractorIn(In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    uscc: Annotated[str, Field(max_length=40, description="unified social credit code")]
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=30)
    engagement: EngagementBlock | None = Field(
        None, description="engage it at a site at once (needed by a site-scoped writer)"
    )

    def values(self) -> dict:
        data = self.dict(exclude={"engagement"})
        data["engagement"] = self.engagement.value() if self.engagement else None
        return data


class ContractorPatch(In):
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    uscc: Annotated[str, Field(max_length=40)] = None
    contact_name: str = Field(None, max_length=100)
    contact_phone: str = Field(None, max_length=30)
    status: ContractorStatus = None


class ContractorOut(Schema):
    id: int
    name: str
    uscc: str
    contact_name: str
    contact_phone: str
    status: str
    is_synthetic: bool


class ContractorFilter(FilterSchema):
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    uscc: str | None = None
    status: ContractorStatus | None = None
    site_id: Annotated[RowId | None, FilterLookup("engagements__site_id")] = None

    def filter_uscc(self, value) -> Q:
        return Q(uscc="".join(str(value).split()).upper())


class EngagementCreateIn(In):
    contractor_id: int
    site_id: int
    starts_on: date
    ends_on: date | None = None
    status: EngagementStatus = EngagementStatus.ACTIVE


class EngagementPatch(In):
    site_id: int = None
    starts_on: date = None
    ends_on: date | None = None
    status: EngagementStatus = None


class EngagementOut(Schema):
    id: int
    contractor_id: int
    contractor_name: str = Field(alias="contractor.name")
    site_id: int
    site_name: str = Field(alias="site.name")
    starts_on: date
    ends_on: date | None
    status: str


class EngagementFilter(FilterSchema):
    contractor_id: RowId | None = None
    site_id: RowId | None = None
    status: EngagementStatus | None = None


# --- health checks -------------------------------------------------------------------------


class HealthCheckIn(In):
    person_id: int
    checked_on: date
    conclusion: HealthConclusion
    restricted_work_types: list[WorkType] = []
    restriction_reason: str = Field("", max_length=300)
    valid_until: date | None = None
    institution: str = Field("", max_length=200)


class HealthCheckPatch(In):
    checked_on: date = None
    conclusion: HealthConclusion = None
    restricted_work_types: list[WorkType] = None
    restriction_reason: str = Field(None, max_length=300)
    valid_until: date | None = None
    institution: str = Field(None, max_length=200)


class HealthCheckOut(Schema):
    id: int
    person_id: int
    person_name: str = Field(alias="person.name")
    checked_on: date
    conclusion: str
    restricted_work_types: list[str]
    restriction_reason: str
    valid_until: date | None
    institution: str
    created_at: datetime


class HealthCheckFilter(FilterSchema):
    person_id: RowId | None = None
    conclusion: HealthConclusion | None = None
    checked_on: date | None = None
    checked_from: Annotated[date | None, FilterLookup("checked_on__gte")] = None
    checked_to: Annotated[date | None, FilterLookup("checked_on__lte")] = None
    restricted_work_type: WorkType | None = None

    def filter_restricted_work_type(self, value) -> Q:
        # JSON list membership without JSON containment (SQLite has none): the quoted code.
        return Q(restricted_work_types__icontains=f'"{value}"')


# --- blacklist -----------------------------------------------------------------------------


class BlacklistIn(In):
    id_number: IdNumberText
    name: str = Field("", max_length=100)
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    starts_on: date
    ends_on: date | None = None


class BlacklistPatch(In):
    name: str = Field(None, max_length=100)
    reason: Annotated[str, Field(min_length=1, max_length=500)] = None
    starts_on: date = None
    ends_on: date | None = None


class BlacklistOut(Schema):
    id: int
    id_number: str
    name: str
    reason: str
    created_by_label: str
    starts_on: date
    ends_on: date | None
    created_at: datetime


def blacklist_out(entry, shown) -> dict:
    return {
        "id": entry.pk,
        "id_number": shown(entry.id_number),
        "name": entry.name,
        "reason": entry.reason,
        "created_by_label": entry.created_by_label,
        "starts_on": entry.starts_on,
        "ends_on": entry.ends_on,
        "created_at": entry.created_at,
    }


class BlacklistFilter(FilterSchema):
    id_number: str | None = None
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    active_on: date | None = Field(None, description="entries in force on this date")

    def filter_id_number(self, value) -> Q:
        return Q(id_number=normalise_id_text(value))

    def filter_active_on(self, value) -> Q:
        return Q(starts_on__lte=value) & (Q(ends_on__isnull=True) | Q(ends_on__gte=value))

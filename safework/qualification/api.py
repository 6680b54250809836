"""Qualification checks and roster forward checks over the API.

`POST /qualifications/check` answers 200 with the decision: a refusal is an answer, not an error.
A person the caller may not see is a 404; a bad work type, level, role or attribute is a 422.
"""

import datetime as dt
from datetime import date
from typing import Annotated, Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import FilterLookup, Query, Router, Schema
from pydantic import AwareDatetime

from safework.accounts.access import READ, access, shown_reason
from safework.accounts.matrix import CATALOGUE, CERTIFICATES
from safework.certs.schemas import InForceFilter
from safework.core.errors import FieldError, InvalidInput
from safework.core.pagination import Page, PageParams, paginate
from safework.org.models import Site
from safework.people.queries import persons_visible_to
from safework.qualification import engine as qualification
from safework.qualification.models import Requirement, RequirementKind

router = Router(tags=["qualification"])


class RequirementFilter(InForceFilter):
    work_type: Annotated[str | None, FilterLookup("work_type__code")] = None
    crew_role: Annotated[str | None, FilterLookup("crew_role__code")] = None
    kind: RequirementKind | None = None
    is_active: bool | None = None


class RequirementOut(Schema):
    id: int
    code: str
    description: str
    work_type: str | None
    min_level: str | None
    crew_role: str | None
    kind: RequirementKind
    items: list[str]
    match_restriction: str
    condition: str
    clause: str
    effective_from: date
    effective_to: date | None
    is_active: bool

    @staticmethod
    def resolve_work_type(obj) -> str | None:
        return obj.work_type.code if obj.work_type_id else None

    @staticmethod
    def resolve_min_level(obj) -> str | None:
        return obj.min_level.code if obj.min_level_id else None

    @staticmethod
    def resolve_crew_role(obj) -> str | None:
        return obj.crew_role.code if obj.crew_role_id else None


@router.get("/catalogue/requirements", response=Page[RequirementOut], **access(CATALOGUE, READ))
def list_requirements(request, filters: Query[RequirementFilter], page: Query[PageParams]):
    qs = Requirement.objects.select_related("work_type", "min_level", "crew_role").order_by(
        "code", "pk"
    )
    return paginate(filters.filter(qs), page)


class MemberIn(Schema):
    person_id: int
    role: str
    attrs: dict[str, Any] | None = None


class CheckIn(Schema):
    """One person (`person_id` + `role`) or a crew (`crew`); `at` defaults to now."""

    person_id: int | None = None
    role: str | None = None
    crew: list[MemberIn] | None = None
    work_type: str
    level: str | None = None
    site_id: int
    at: AwareDatetime | None = None
    attrs: dict[str, Any] | None = None


class ReasonOut(Schema):
    code: str
    message: str
    clause: str
    subject: str
    blocking: bool
    data: dict[str, Any] | None = None


class MemberOut(Schema):
    person_id: int
    name: str
    role: str
    allowed: bool
    reasons: list[ReasonOut]


class CheckOut(Schema):
    allowed: bool
    at: dt.datetime
    on: dt.date
    work_type: str
    level: str | None
    site_id: int
    reasons: list[ReasonOut]
    members: list[MemberOut]


def _members(body: CheckIn) -> list[qualification.CrewMember]:
    if body.crew and (body.person_id is not None or body.role):
        raise InvalidInput(
            FieldError("crew", "ambiguous", _("Give either person_id and role, or crew."))
        )
    if body.crew:
        return [qualification.CrewMember(m.person_id, m.role, m.attrs) for m in body.crew]
    errors = []
    if body.person_id is None:
        errors.append(FieldError("person_id", "required", _("Give person_id and role, or crew.")))
    if not body.role:
        errors.append(FieldError("role", "required", _("This field is required.")))
    if errors:
        raise InvalidInput(errors)
    return [qualification.CrewMember(body.person_id, body.role)]


@router.post("/qualifications/check", response=CheckOut, **access(CERTIFICATES, READ))
def check_qualification(request, body: CheckIn):
    """May this person (or every member of this crew) do this work at this site at `at`?"""
    members = _members(body)
    ids = {m.person_id for m in members}
    persons = {p.pk: p for p in persons_visible_to(request.scope).filter(pk__in=ids)}
    if len(persons) != len(ids):
        raise Http404  # someone the caller may not see, or no one
    site = Site.objects.filter(pk=body.site_id).first()
    if site is None:
        raise InvalidInput(FieldError("site_id", "unknown_site", _("No such site.")))
    at = body.at or timezone.now()  # the API's documented default; the engine has none
    result = qualification.assess_crew(
        members,
        body.work_type,
        body.level,
        site,
        at,
        body.attrs,
        field_prefix="crew" if body.crew else "",
    )
    user = request.user
    return {
        "allowed": result.decision.allowed,
        "at": at,
        "on": result.on,
        "work_type": result.work_type,
        "level": result.level,
        "site_id": site.pk,
        "reasons": [shown_reason(r, persons, user) for r in result.decision.reasons],
        "members": [
            {
                "person_id": m.person_id,
                "name": persons[m.person_id].name,
                "role": m.role,
                "allowed": m.decision.allowed,
                "reasons": [shown_reason(r, persons, user) for r in m.decision.reasons],
            }
            for m in result.members
        ],
    }

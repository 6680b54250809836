"""REST endpoints of people: persons and their employment, contractors and their engagements,
health checks, the blacklist.

Each endpoint: visible (scope query, else 404) → permitted (access) → one service call. ID
numbers leave only through `shown_id_number`.
"""

from functools import partial

from django.db.models import F
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from safework.accounts.access import READ, WRITE, access, shown_birth_date, shown_id_number
from safework.accounts.matrix import BLACKLIST, CONTRACTORS, HEALTH, PEOPLE
from safework.core.errors import FieldError, InvalidInput
from safework.core.pagination import Page, PageParams, paginate
from safework.core.validation import visible_ref
from safework.people import queries, services
from safework.people.schemas import (
    BlacklistFilter,
    BlacklistIn,
    BlacklistOut,
    BlacklistPatch,
    ContractorFilter,
    ContractorIn,
    ContractorOut,
    ContractorPatch,
    EmploymentChangeIn,
    EmploymentFilter,
    EmploymentOut,
    EmploymentPatch,
    EndIn,
    EngagementCreateIn,
    EngagementFilter,
    EngagementOut,
    EngagementPatch,
    HealthCheckFilter,
    HealthCheckIn,
    HealthCheckOut,
    HealthCheckPatch,
    PersonFilter,
    PersonIn,
    PersonOut,
    PersonPatch,
    SubmittedOut,
    blacklist_out,
    employment_out,
    person_out,
)

router = Router(tags=["people"])


def _changes(payload) -> dict:
    return payload.dict(exclude_unset=True)


def _persons(scope):
    return queries.persons_visible_to(scope).select_related(
        "current_employment__contractor", "current_employment__department"
    )


def _person_out(request, person) -> dict:
    user = request.user
    return person_out(person, partial(shown_id_number, user), partial(shown_birth_date, user))


def _writable_employments(scope):
    """The employments a writer may change: group-wide all; otherwise only the current
    employment of a person they see (the past ones may be another employer's history)."""
    qs = queries.employments_visible_to(scope)
    return qs if scope.group_wide else qs.filter(person__current_employment=F("pk"))


# --- persons -------------------------------------------------------------------------------


@router.get("/persons", response=Page[PersonOut], **access(PEOPLE, READ))
def list_persons(request, filters: Query[PersonFilter], page: Query[PageParams]):
    qs = filters.filter(_persons(request.scope)).order_by("name", "pk")
    return paginate(qs, page, transform=lambda p: _person_out(request, p))


@router.get("/persons/{person_id}", response=PersonOut, **access(PEOPLE, READ))
def get_person(request, person_id: int):
    return _person_out(request, get_object_or_404(_persons(request.scope), pk=person_id))


@router.post(
    "/persons",
    response={200: PersonOut, 201: PersonOut, 202: SubmittedOut},
    **access(PEOPLE, WRITE),
)
def register_person(request, payload: PersonIn):
    """Gender and birth date derive from the ID number; `employment` opens the first one.

    Someone registered before who has no current employer comes back on their old record
    (200, with the new employment); anyone else already registered is a 422 duplicate.
    A contractor manager's registration goes to the site's safety officer for review (202),
    with the same answer whether or not someone outside their staff holds the number.
    """
    values = payload.values()
    submitted = services.submit_for_review(by=request.user, scope=request.scope, values=values)
    if submitted is not None:
        return Status(202, submitted)
    person, created = services.register_or_rehire_person(
        by=request.user, scope=request.scope, **values
    )
    out = _person_out(request, _persons(request.scope).get(pk=person.pk))
    return Status(201 if created else 200, out)


@router.patch("/persons/{person_id}", response=PersonOut, **access(PEOPLE, WRITE))
def update_person(request, person_id: int, payload: PersonPatch):
    person = get_object_or_404(_persons(request.scope), pk=person_id)
    changes = _changes(payload)
    if "id_number" in changes and queries.is_contractor_only(request.scope):
        # "already registered" would tell a contractor manager who else holds a number.
        raise InvalidInput(
            FieldError(
                "id_number",
                "review_required",
                _("Ask the site's safety officer to correct an ID number."),
            )
        )
    services.update_person(by=request.user, person=person, changes=changes)
    return _person_out(request, _persons(request.scope).get(pk=person.pk))


@router.post("/persons/{person_id}/deactivate", response=PersonOut, **access(PEOPLE, WRITE))
def deactivate_person(request, person_id: int):
    person = get_object_or_404(_persons(request.scope), pk=person_id)
    services.deactivate_person(by=request.user, person=person)
    return _person_out(request, _persons(request.scope).get(pk=person.pk))


@router.post("/persons/{person_id}/employments", response={201: PersonOut}, **access(PEOPLE, WRITE))
def change_employment(request, person_id: int, payload: EmploymentChangeIn):
    """A new employer (or the same one again): the current employment ends, the person's
    record and history stay one."""
    person = get_object_or_404(_persons(request.scope), pk=person_id)
    services.change_employment(
        by=request.user,
        person=person,
        employment=payload.employment.value(),
        ended_on=payload.ended_on,
        scope=request.scope,
    )
    return Status(201, _person_out(request, _persons(request.scope).get(pk=person.pk)))


# --- employment history --------------------------------------------------------------------


@router.get("/employments", response=Page[EmploymentOut], **access(PEOPLE, READ))
def list_employments(request, filters: Query[EmploymentFilter], page: Query[PageParams]):
    qs = filters.filter(queries.employments_visible_to(request.scope))
    return paginate(qs.order_by("person_id", "-started_on", "-pk"), page, transform=employment_out)


@router.get("/employments/{employment_id}", response=EmploymentOut, **access(PEOPLE, READ))
def get_employment(request, employment_id: int):
    qs = queries.employments_visible_to(request.scope)
    return employment_out(get_object_or_404(qs, pk=employment_id))


@router.patch("/employments/{employment_id}", response=EmploymentOut, **access(PEOPLE, WRITE))
def update_employment(request, employment_id: int, payload: EmploymentPatch):
    qs = _writable_employments(request.scope)
    employment = get_object_or_404(qs, pk=employment_id)
    employment = services.update_employment(
        by=request.user, employment=employment, changes=_changes(payload), scope=request.scope
    )
    return employment_out(qs.get(pk=employment.pk))


@router.post(
    "/employments/{employment_id}/deactivate",
    response=EmploymentOut,
    **access(PEOPLE, WRITE),
)
def end_employment(request, employment_id: int, payload: EndIn | None = None):
    """End the employment (status ended, `ended_on` default today)."""
    qs = _writable_employments(request.scope)
    employment = get_object_or_404(qs, pk=employment_id)
    ended_on = payload.ended_on if payload else None
    # The person leaves the writer's scope when their only employment ends: answer with the
    # ended record itself rather than look it up again.
    return employment_out(
        services.end_employment(by=request.user, employment=employment, ended_on=ended_on)
    )


# --- contractors ---------------------------------------------------------------------------


@router.get("/contractors", response=Page[ContractorOut], **access(CONTRACTORS, READ))
def list_contractors(request, filters: Query[ContractorFilter], page: Query[PageParams]):
    qs = queries.contractors_visible_to(request.scope)
    return paginate(qs.filter(pk__in=filters.filter(qs).values("pk")).order_by("name", "pk"), page)


@router.get("/contractors/{contractor_id}", response=ContractorOut, **access(CONTRACTORS, READ))
def get_contractor(request, contractor_id: int):
    return get_object_or_404(queries.contractors_visible_to(request.scope), pk=contractor_id)


@router.post("/contractors", response={201: ContractorOut}, **access(CONTRACTORS, WRITE))
def register_contractor(request, payload: ContractorIn):
    """The credit code is checked (GB 32100); a site-scoped writer engages it at their site."""
    return Status(
        201, services.register_contractor(by=request.user, scope=request.scope, **payload.values())
    )


@router.patch(
    "/contractors/{contractor_id}",
    response=ContractorOut,
    **access(CONTRACTORS, WRITE, group_wide=True),
)
def update_contractor(request, contractor_id: int, payload: ContractorPatch):
    contractor = get_object_or_404(queries.contractors_visible_to(request.scope), pk=contractor_id)
    return services.update_contractor(
        by=request.user, contractor=contractor, changes=_changes(payload)
    )


@router.post(
    "/contractors/{contractor_id}/deactivate",
    response=ContractorOut,
    **access(CONTRACTORS, WRITE, group_wide=True),
)
def deactivate_contractor(request, contractor_id: int):
    contractor = get_object_or_404(queries.contractors_visible_to(request.scope), pk=contractor_id)
    return services.deactivate_contractor(by=request.user, contractor=contractor)


# --- engagements ---------------------------------------------------------------------------


@router.get("/engagements", response=Page[EngagementOut], **access(CONTRACTORS, READ))
def list_engagements(request, filters: Query[EngagementFilter], page: Query[PageParams]):
    qs = filters.filter(queries.engagements_visible_to(request.scope))
    return paginate(qs.order_by("-starts_on", "-pk"), page)


@router.get("/engagements/{engagement_id}", response=EngagementOut, **access(CONTRACTORS, READ))
def get_engagement(request, engagement_id: int):
    return get_object_or_404(queries.engagements_visible_to(request.scope), pk=engagement_id)


@router.post("/engagements", response={201: EngagementOut}, **access(CONTRACTORS, WRITE))
def engage_contractor(request, payload: EngagementCreateIn):
    """A contract at one of the writer's sites: the contractor's staff become visible there."""
    engagement = services.engage_contractor(by=request.user, scope=request.scope, **payload.dict())
    return Status(201, queries.engagements_visible_to(request.scope).get(pk=engagement.pk))


@router.patch("/engagements/{engagement_id}", response=EngagementOut, **access(CONTRACTORS, WRITE))
def update_engagement(request, engagement_id: int, payload: EngagementPatch):
    qs = queries.engagements_visible_to(request.scope)
    engagement = get_object_or_404(qs, pk=engagement_id)
    services.update_engagement(
        by=request.user, engagement=engagement, changes=_changes(payload), scope=request.scope
    )
    return qs.get(pk=engagement.pk)


@router.post(
    "/engagements/{engagement_id}/deactivate",
    response=EngagementOut,
    **access(CONTRACTORS, WRITE),
)
def end_engagement(request, engagement_id: int):
    qs = queries.engagements_visible_to(request.scope)
    engagement = get_object_or_404(qs, pk=engagement_id)
    services.end_engagement(by=request.user, engagement=engagement)
    return qs.get(pk=engagement.pk)


# --- health checks -------------------------------------------------------------------------


@router.get("/health-checks", response=Page[HealthCheckOut], **access(HEALTH, READ))
def list_health_checks(request, filters: Query[HealthCheckFilter], page: Query[PageParams]):
    qs = filters.filter(queries.health_checks_visible_to(request.scope))
    return paginate(qs.order_by("-checked_on", "-pk"), page)


@router.get("/health-checks/{check_id}", response=HealthCheckOut, **access(HEALTH, READ))
def get_health_check(request, check_id: int):
    return get_object_or_404(queries.health_checks_visible_to(request.scope), pk=check_id)


@router.post("/health-checks", response={201: HealthCheckOut}, **access(HEALTH, WRITE))
def record_health_check(request, payload: HealthCheckIn):
    """Restrictions name work types of GB 30871's eight special works."""
    values = payload.dict()
    person = visible_ref(
        queries.persons_visible_to(request.scope), values.pop("person_id"), "person_id"
    )
    check = services.record_health_check(by=request.user, person=person, **values)
    return Status(201, check)


@router.patch("/health-checks/{check_id}", response=HealthCheckOut, **access(HEALTH, WRITE))
def update_health_check(request, check_id: int, payload: HealthCheckPatch):
    qs = queries.health_checks_visible_to(request.scope)
    check = get_object_or_404(qs, pk=check_id)
    services.update_health_check(by=request.user, check=check, changes=_changes(payload))
    return qs.get(pk=check.pk)


# --- blacklist -----------------------------------------------------------------------------


def _entry_out(request, entry) -> dict:
    return blacklist_out(entry, partial(shown_id_number, request.user))


@router.get("/blacklist", response=Page[BlacklistOut], **access(BLACKLIST, READ))
def list_blacklist(request, filters: Query[BlacklistFilter], page: Query[PageParams]):
    qs = filters.filter(queries.blacklist_visible_to(request.scope))
    return paginate(
        qs.order_by("-starts_on", "-pk"), page, transform=lambda e: _entry_out(request, e)
    )


@router.get("/blacklist/{entry_id}", response=BlacklistOut, **access(BLACKLIST, READ))
def get_blacklist_entry(request, entry_id: int):
    entry = get_object_or_404(queries.blacklist_visible_to(request.scope), pk=entry_id)
    return _entry_out(request, entry)


@router.post("/blacklist", response={201: BlacklistOut}, **access(BLACKLIST, WRITE))
def add_to_blacklist(request, payload: BlacklistIn):
    """Bars an ID number (registered or not) from special work for a period."""
    return Status(
        201, _entry_out(request, services.add_to_blacklist(by=request.user, **payload.dict()))
    )


@router.patch("/blacklist/{entry_id}", response=BlacklistOut, **access(BLACKLIST, WRITE))
def update_blacklist_entry(request, entry_id: int, payload: BlacklistPatch):
    entry = get_object_or_404(queries.blacklist_visible_to(request.scope), pk=entry_id)
    entry = services.update_blacklist_entry(by=request.user, entry=entry, changes=_changes(payload))
    return _entry_out(request, entry)


@router.post("/blacklist/{entry_id}/deactivate", response=BlacklistOut, **access(BLACKLIST, WRITE))
def lift_blacklist_entry(request, entry_id: int):
    """Lift the bar from today: it ends yesterday (or never applies, if it had not started)."""
    entry = get_object_or_404(queries.blacklist_visible_to(request.scope), pk=entry_id)
    return _entry_out(request, services.lift_blacklist_entry(by=request.user, entry=entry))

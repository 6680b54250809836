"""Reads of people, filtered by a visibility scope (shared by lists, details and exports)."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from safework.core.scope import Scope
from safework.org.models import Department
from safework.people.models import Contractor, ContractorEngagement, Person


def department_subtree_q(scope: Scope, prefix: str) -> Q:
    """Q over `<prefix>path` matching the subtrees of the scope's departments."""
    paths = Department.objects.filter(pk__in=scope.department_ids).values_list("path", flat=True)
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{prefix}path__startswith": path})
    return q


def person_scope_q(scope: Scope, prefix: str = "") -> Q:
    """A Q selecting the persons a scope sees, relative to `prefix` (e.g. "person__")."""
    if scope.group_wide:
        return Q()
    q = Q(pk__in=[])
    emp = f"{prefix}current_employment__"
    if scope.contractor_id:
        q |= Q(**{f"{emp}contractor_id": scope.contractor_id})
    if scope.person_id:
        q |= Q(**{f"{prefix}pk" if prefix else "pk": scope.person_id})
    if scope.site_ids:
        engaged = ContractorEngagement.objects.filter(
            contractor_id=OuterRef(f"{emp}contractor_id"), site_id__in=scope.site_ids
        )
        q |= Q(**{f"{emp}site_id__in": scope.site_ids}) | Q(Exists(engaged))
    if scope.department_ids:
        q |= department_subtree_q(scope, f"{emp}department__")
    return q


def persons_visible_to(scope: Scope) -> QuerySet[Person]:
    return Person.objects.filter(person_scope_q(scope))


def contractors_visible_to(scope: Scope) -> QuerySet[Contractor]:
    """Group-wide: all; a site: those engaged there; a contractor manager: their own."""
    if scope.group_wide:
        return Contractor.objects.all()
    q = Q(pk__in=[])
    if scope.contractor_id:
        q |= Q(pk=scope.contractor_id)
    if scope.site_ids:
        q |= Q(engagements__site_id__in=scope.site_ids)
    return Contractor.objects.filter(q).distinct()

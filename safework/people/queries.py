"""Reads of people, filtered by a visibility scope (shared by lists, details and exports)."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from safework.core.audit_visibility import register_audit_visibility
from safework.core.scope import Scope
from safework.org.queries import department_subtree_q  # noqa: F401  (re-exported)
from safework.people.models import (
    BlacklistEntry,
    Contractor,
    ContractorEngagement,
    Employment,
    HealthCheck,
    Person,
)


def is_contractor_only(scope: Scope) -> bool:
    """A contractor manager's scope alone: their company's staff, nothing of any site."""
    return bool(
        scope.contractor_ids
        and not (scope.group_wide or scope.site_ids or scope.department_ids or scope.person_id)
    )


def person_scope_q(scope: Scope, prefix: str = "") -> Q:
    """A Q selecting the persons a scope sees, relative to `prefix` (e.g. "person__")."""
    if scope.group_wide:
        return Q()
    q = Q(pk__in=[])
    emp = f"{prefix}current_employment__"
    if scope.contractor_ids:
        q |= Q(**{f"{emp}contractor_id__in": scope.contractor_ids})
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
    if scope.contractor_ids:
        q |= Q(pk__in=scope.contractor_ids)
    if scope.site_ids:
        q |= Q(
            pk__in=ContractorEngagement.objects.filter(site_id__in=scope.site_ids).values(
                "contractor_id"
            )
        )
    return Contractor.objects.filter(q)


def engagements_visible_to(scope: Scope) -> QuerySet[ContractorEngagement]:
    """A site sees the engagements at it; a contractor manager their contractor's."""
    qs = ContractorEngagement.objects.select_related("contractor", "site")
    if scope.group_wide:
        return qs
    q = Q(pk__in=[])
    if scope.contractor_ids:
        q |= Q(contractor_id__in=scope.contractor_ids)
    if scope.site_ids:
        q |= Q(site_id__in=scope.site_ids)
    return qs.filter(q)


def employments_visible_to(scope: Scope) -> QuerySet[Employment]:
    """The employment history of the persons the scope sees (their past employers too)."""
    return Employment.objects.filter(person_scope_q(scope, "person__")).select_related(
        "contractor", "department"
    )


def health_checks_visible_to(scope: Scope) -> QuerySet[HealthCheck]:
    return HealthCheck.objects.filter(person_scope_q(scope, "person__")).select_related("person")


def blacklist_visible_to(scope: Scope) -> QuerySet[BlacklistEntry]:
    """Group-wide: all. Otherwise the bars on persons the scope sees, and the bars on ID numbers
    nobody has registered yet (whoever registers that person must know)."""
    qs = BlacklistEntry.objects.all()
    if scope.group_wide:
        return qs
    registered = Person.objects.filter(id_number=OuterRef("id_number"))
    seen = persons_visible_to(scope).filter(id_number=OuterRef("id_number"))
    return qs.filter(Q(Exists(seen)) | ~Q(Exists(registered)))


# Audit records about these objects are seen by whoever sees the objects.
register_audit_visibility("people.person", persons_visible_to)
register_audit_visibility("people.employment", employments_visible_to)
register_audit_visibility("people.contractor", contractors_visible_to)
register_audit_visibility("people.contractorengagement", engagements_visible_to)
register_audit_visibility("people.healthcheck", health_checks_visible_to)
register_audit_visibility("people.blacklistentry", blacklist_visible_to)

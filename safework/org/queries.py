"""Reads of the organisation, filtered by a visibility scope.

A site-scoped user sees their sites with their areas and departments; a department-scoped user
(workshop head, team leader) their department subtree, with the site(s) and areas it works in;
group-wide users see everything. Positions are a catalogue everyone who reads org data sees.
"""

from django.db.models import Q, QuerySet

from safework.core.audit_visibility import register_audit_visibility
from safework.core.scope import Scope
from safework.org.models import Area, Department, Group, Position, Site


def department_subtree_q(scope: Scope, prefix: str = "") -> Q:
    """Q over `<prefix>path` matching the subtrees of the scope's departments."""
    paths = Department.objects.filter(pk__in=scope.department_ids).values_list("path", flat=True)
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{prefix}path__startswith": path})
    return q


def _subtree_site_ids(scope: Scope):
    return (
        Department.objects.filter(department_subtree_q(scope), effective_site__isnull=False)
        .values("effective_site_id")
        .distinct()
    )


def site_scope_q(scope: Scope, field: str = "pk") -> Q:
    """Q selecting rows whose `field` is a site the scope sees."""
    if scope.group_wide:
        return Q()
    q = Q(pk__in=[])
    if scope.site_ids:
        q |= Q(**{f"{field}__in": scope.site_ids})
    if scope.department_ids:
        q |= Q(**{f"{field}__in": _subtree_site_ids(scope)})
    return q


def sites_visible_to(scope: Scope) -> QuerySet[Site]:
    return Site.objects.filter(site_scope_q(scope)).select_related("group")


def areas_visible_to(scope: Scope) -> QuerySet[Area]:
    return Area.objects.filter(site_scope_q(scope, "site_id")).select_related("site")


def department_scope_q(scope: Scope, prefix: str = "") -> Q:
    """Q selecting the departments a scope sees, relative to `prefix` (e.g. "department__")."""
    if scope.group_wide:
        return Q()
    q = Q(pk__in=[])
    if scope.site_ids:
        q |= Q(**{f"{prefix}effective_site_id__in": scope.site_ids})
    if scope.department_ids:
        q |= department_subtree_q(scope, prefix)
    return q


def departments_visible_to(scope: Scope) -> QuerySet[Department]:
    return Department.objects.filter(department_scope_q(scope)).select_related(
        "parent", "site", "effective_site"
    )


def groups_visible_to(scope: Scope) -> QuerySet[Group]:
    if scope.group_wide:
        return Group.objects.all()
    sites = Site.objects.filter(site_scope_q(scope)).values("group_id")
    departments = Department.objects.filter(department_scope_q(scope)).values("group_id")
    return Group.objects.filter(Q(pk__in=sites) | Q(pk__in=departments))


def positions_visible_to(scope: Scope) -> QuerySet[Position]:
    """Posts are a catalogue, the same for every site: whoever reads org data sees them all."""
    return Position.objects.all()


# Audit records about these objects are seen by whoever sees the objects.
register_audit_visibility("org.group", groups_visible_to)
register_audit_visibility("org.site", sites_visible_to)
register_audit_visibility("org.area", areas_visible_to)
register_audit_visibility("org.department", departments_visible_to)

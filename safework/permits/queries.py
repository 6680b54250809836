"""Reads of permits and alarms, filtered by a visibility scope (API, admin, pages, exports)."""

from django.db.models import Q, QuerySet

from safework.core.scope import Scope
from safework.org.models import Department
from safework.permits.models import Alarm, CrewAssignment, Permit


def _permit_q(scope: Scope, user) -> Q:
    """Site grants see the site's permits; a workshop or team grant the permits of its sites and
    of its subtree's work; a contractor manager their contractor's; a person the permits they are
    on (crew, work leader) or applied for."""
    q = Q(pk__in=[])
    if scope.site_ids:
        q |= Q(site_id__in=scope.site_ids)
    if scope.department_ids:
        roots = Department.objects.filter(pk__in=scope.department_ids)
        paths = Q(pk__in=[])
        for root in roots.only("path"):
            paths |= Q(path__startswith=root.path)
        subtree = Department.objects.filter(paths)
        q |= Q(work_unit__in=subtree.values("pk"))
        q |= Q(site_id__in=subtree.exclude(effective_site=None).values("effective_site"))
    if scope.contractor_ids:
        q |= Q(contractor_id__in=scope.contractor_ids)
    if scope.person_id:
        q |= Q(work_leader_id=scope.person_id)
        crew = CrewAssignment.objects.filter(person_id=scope.person_id)
        q |= Q(pk__in=crew.values("permit_id"))
    if user is not None and getattr(user, "pk", None):
        q |= Q(applicant_id=user.pk)
    return q


def permits_visible_to(scope: Scope, user=None) -> QuerySet[Permit]:
    if scope.group_wide:
        return Permit.objects.all()
    return Permit.objects.filter(_permit_q(scope, user))


def alarms_visible_to(scope: Scope, user=None) -> QuerySet[Alarm]:
    if scope.group_wide:
        return Alarm.objects.all()
    q = Q(permit__in=permits_visible_to(scope, user).values("pk"))
    if scope.site_ids:
        q |= Q(site_id__in=scope.site_ids)
    return Alarm.objects.filter(q)

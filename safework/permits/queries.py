"""Reads of permits and alarms, filtered by a visibility scope (API, admin, pages, exports)."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.utils import timezone

from safework.core.scope import Scope
from safework.org.models import Department
from safework.permits.models import Alarm, CrewAssignment, Delegation, Permit
from safework.permits.workflow import VALID, PermitStatus
from safework.work.models import WorkLevel, WorkType


def _permit_branches(scope: Scope, user) -> list[Q]:
    """The ways a permit is visible, one Q each (their OR is the scope): site grants see the
    site's permits; a workshop or team grant the permits of its sites and of its subtree's work; a
    contractor manager their contractor's; a person the permits they are on (crew, work leader) or
    applied for."""
    out = []
    if scope.site_ids:
        out.append(Q(site_id__in=scope.site_ids))
    if scope.department_ids:
        roots = Department.objects.filter(pk__in=scope.department_ids)
        paths = Q(pk__in=[])
        for root in roots.only("path"):
            paths |= Q(path__startswith=root.path)
        subtree = Department.objects.filter(paths)
        out.append(Q(work_unit__in=subtree.values("pk")))
        out.append(Q(site_id__in=subtree.exclude(effective_site=None).values("effective_site")))
    if scope.contractor_ids:
        out.append(Q(contractor_id__in=scope.contractor_ids))
    if scope.person_id:
        out.append(Q(work_leader_id=scope.person_id))
        crew = CrewAssignment.objects.filter(person_id=scope.person_id)
        out.append(Q(pk__in=crew.values("permit_id")))
    if user is not None and getattr(user, "pk", None):
        out.append(Q(applicant_id=user.pk))
    return out


def _permit_q(scope: Scope, user) -> Q:
    q = Q(pk__in=[])
    for branch in _permit_branches(scope, user):
        q |= branch
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


# ---- the ledger (AQ 3064.2 §5.11): status as read, filters -------------------------------------


def status_q(status: str, at) -> Q:
    """The SQL twin of `Permit.status_at(at)` as a filter: a valid permit whose planned end has
    come counts as expired (AQ 3064.2 alarm 10), whether or not the sweep stored it."""
    past = Q(status__in=VALID, planned_end__lte=at)
    if status == PermitStatus.EXPIRED:
        return Q(status=PermitStatus.EXPIRED) | past
    if status in VALID:
        return Q(status=status, planned_end__gt=at)
    return Q(status=status)


def with_status_at(qs: QuerySet[Permit], at) -> QuerySet[Permit]:
    """Annotate `status_now`: the status as read at `at` (`Permit.status_at`), in the same SQL."""
    return qs.annotate(
        status_now=Case(
            When(Q(status__in=VALID, planned_end__lte=at), then=Value(PermitStatus.EXPIRED)),
            default=F("status"),
            output_field=CharField(),
        )
    )


@dataclass(frozen=True)
class LedgerFilter:
    """The ledger's questions (AQ 3064.2 §5.11): every field optional; dates are local days,
    `date_to` inclusive."""

    status: str | None = None
    work_type: str | None = None
    level: str | None = None
    site_id: int | None = None
    area_id: int | None = None
    applicant_id: int | None = None
    work_unit_id: int | None = None
    contractor: str | None = None  # "own" | "contractor"
    contractor_id: int | None = None
    person_id: int | None = None
    alarm_type: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


def ledger_q(f: LedgerFilter, *, at) -> Q:
    """The condition of the ledger's filters `f`, the status as read at `at`."""
    q = Q()
    if f.status:
        q &= status_q(f.status, at)
    # Codes read as ids first, so that the permit's own columns carry the condition (an index
    # range in order, not a join the planner cannot order by).
    if f.work_type:
        q &= Q(
            work_type_id__in=list(
                WorkType.objects.filter(code=f.work_type).values_list("pk", flat=True)
            )
        )
    if f.level:
        levels = WorkLevel.objects.filter(code=f.level)
        if f.work_type:
            levels = levels.filter(work_type__code=f.work_type)
        q &= Q(level_id__in=list(levels.values_list("pk", flat=True)))
    if f.site_id is not None:
        q &= Q(site_id=f.site_id)
    if f.area_id is not None:
        q &= Q(area_id=f.area_id)
    if f.applicant_id is not None:
        q &= Q(applicant_id=f.applicant_id)
    if f.work_unit_id is not None:
        root = Department.objects.filter(pk=f.work_unit_id).values_list("path", flat=True).first()
        subtree = Department.objects.filter(path__startswith=root) if root else None
        q &= Q(work_unit__in=subtree.values("pk")) if subtree is not None else Q(pk__in=[])
    if f.contractor == "own":
        q &= Q(contractor__isnull=True)
    elif f.contractor == "contractor":
        q &= Q(contractor__isnull=False)
    if f.contractor_id is not None:
        q &= Q(contractor_id=f.contractor_id)
    if f.person_id is not None:
        crew = CrewAssignment.objects.filter(person_id=f.person_id, removed_at=None)
        q &= Q(work_leader_id=f.person_id) | Q(pk__in=crew.values("permit_id"))
    if f.alarm_type:
        q &= Q(pk__in=Alarm.objects.filter(alarm_type__code=f.alarm_type).values("permit_id"))
    if f.date_from:
        q &= Q(planned_start__gte=_local_midnight(f.date_from))
    if f.date_to:
        q &= Q(planned_start__lt=_local_midnight(f.date_to + dt.timedelta(days=1)))
    if f.q and f.q.strip():
        text = f.q.strip()
        q &= Q(number__icontains=text) | Q(place__icontains=text) | Q(content__icontains=text)
    return q


ORDER = ("-planned_start", "-id")


def _listed(qs: QuerySet[Permit], at) -> QuerySet[Permit]:
    return (
        with_status_at(qs, at)
        # Three small tables joined, the rest read per page: on PostgreSQL planning a nine-table
        # join took longer than running it (bench/permits_bench.py: median 235 → 124 ms).
        .select_related("work_type", "level", "site")
        .prefetch_related("area", "applicant", "work_unit", "contractor", "work_leader")
        .order_by(*ORDER)
    )


def ledger(qs: QuerySet[Permit], f: LedgerFilter, *, at) -> QuerySet[Permit]:
    """The permits of `qs` that answer `f`, with `status_now`, newest planned start first."""
    return _listed(qs.filter(ledger_q(f, at=at)), at)


def ledger_page(
    scope: Scope, user, f: LedgerFilter, *, at, offset: int, limit: int
) -> list[Permit]:
    """`ledger(permits_visible_to(scope, user), f, at=at)[offset:offset + limit]`, read as the
    newest `offset + limit` of each way of visibility (each an index read in order: the site's,
    the applicant's…), then the page among those: with the ways OR-ed, PostgreSQL read and sorted
    every row that matched (bench/permits_bench.py). Where the database cannot order and limit
    inside a UNION (SQLite), the plain query."""
    branches = [] if scope.group_wide else _permit_branches(scope, user)
    if len(branches) < 2 or not connection.features.supports_slicing_ordering_in_compound:
        qs = ledger(permits_visible_to(scope, user), f, at=at)
        return list(qs[offset : offset + limit])
    condition = ledger_q(f, at=at)
    firsts = [
        Permit.objects.filter(condition, branch).order_by(*ORDER).values("pk")[: offset + limit]
        for branch in branches
    ]
    candidates = firsts[0].union(*firsts[1:], all=True)
    return list(_listed(Permit.objects.filter(pk__in=candidates), at)[offset : offset + limit])


def ledger_count(scope: Scope, user, f: LedgerFilter, *, at) -> int:
    """How many permits `ledger(permits_visible_to(scope, user), f, at=at)` lists, counted per
    way of visibility, each without the ways before it (so none is counted twice): the OR of a
    site grant with "applied for" made PostgreSQL read every row of the site from the table
    (bench/permits_bench.py: 290 ms over 500,000 permits), where one branch at a time is an
    index-only scan (the site's) plus a small one (the applicant's)."""
    condition = ledger_q(f, at=at)
    if scope.group_wide:
        return Permit.objects.filter(condition).count()
    total, before = 0, Q(pk__in=[])
    for branch in _permit_branches(scope, user):
        total += Permit.objects.filter(condition, branch).exclude(before).count()
        before |= branch
    return total


def ledger_list(
    scope: Scope, user, f: LedgerFilter, *, at, offset: int, limit: int
) -> tuple[int, list[Permit]]:
    """The ledger as the API lists it: the total and one page (`ledger_count`, `ledger_page`)."""
    total = ledger_count(scope, user, f, at=at)
    if offset >= total:
        return total, []
    return total, ledger_page(scope, user, f, at=at, offset=offset, limit=limit)


@dataclass(frozen=True)
class AlarmFilter:
    alarm_type: str | None = None
    status: str | None = None
    site_id: int | None = None
    permit_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def alarm_list(qs: QuerySet[Alarm], f: AlarmFilter) -> QuerySet[Alarm]:
    q = Q()
    if f.alarm_type:
        q &= Q(alarm_type__code=f.alarm_type)
    if f.status:
        q &= Q(status=f.status)
    if f.site_id is not None:
        q &= Q(site_id=f.site_id)
    if f.permit_id is not None:
        q &= Q(permit_id=f.permit_id)
    if f.date_from:
        q &= Q(raised_at__gte=_local_midnight(f.date_from))
    if f.date_to:
        q &= Q(raised_at__lt=_local_midnight(f.date_to + dt.timedelta(days=1)))
    return (
        qs.filter(q)
        .select_related("alarm_type", "permit", "site", "acknowledged_by", "handled_by")
        .order_by("-raised_at", "-id")
    )


def permit_parts_visible_to(model, scope: Scope, user=None) -> QuerySet:
    """The rows of a permit's part (crew, steps, signatures, measures, tests, events, …): those
    of the permits the scope sees."""
    if scope.group_wide:
        return model.objects.all()
    return model.objects.filter(permit__in=permits_visible_to(scope, user).values("pk"))


def delegations_visible_to(scope: Scope, user=None) -> QuerySet[Delegation]:
    """A site's delegations to whoever sees the site; one's own (given or received) always."""
    if scope.group_wide:
        return Delegation.objects.all()
    q = Q(site_id__in=scope.site_ids) if scope.site_ids else Q(pk__in=[])
    if user is not None and getattr(user, "pk", None):
        q |= Q(delegator_id=user.pk) | Q(delegate_id=user.pk)
    return Delegation.objects.filter(q)

"""Reads of permits and alarms, filtered by a visibility scope (API, admin, pages, exports)."""

import datetime as dt
import functools
import operator
import statistics
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from safework.accounts.scope import grants_of, roles_of
from safework.core.scope import Scope
from safework.org.models import Department
from safework.permits.models import (
    Alarm,
    ApprovalStep,
    CrewAssignment,
    Delegation,
    Permit,
    SignatureAction,
    StepStatus,
)
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
        # A delegate sees the delegating site's permits planned inside a delegation's window
        # (the ones they may stand in for), whatever their own scope. Read once per user: most
        # users have none, and then this way of seeing costs nothing.
        windows = [
            Q(site_id=site_id, planned_start__lt=ends, planned_end__gt=starts)
            for site_id, starts, ends in _delegations_to(user)
        ]
        if windows:
            out.append(functools.reduce(operator.or_, windows))
    return out


def _delegations_to(user) -> list[tuple[int, object, object]]:
    """(site, start, end) of every delegation to `user`, read once per user object."""
    cache = getattr(user, "_safework_delegations", None)
    if cache is None:
        cache = list(
            Delegation.objects.filter(delegate_id=user.pk).values_list(
                "site_id", "starts_at", "ends_at"
            )
        )
        user._safework_delegations = cache
    return cache


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


# ---- who signs a step (the services' check and the approvals inbox) -----------------------------


def roles_at_site(user, site_id: int) -> set[str]:
    """The roles `user` holds at a site: grants naming it, a department grant whose department
    lies at it, and group-wide grants (no site, no site-bound department)."""
    out = set()
    for g in grants_of(user):
        where = g.site_id
        if where is None and g.department_id is not None:
            where = g.department.effective_site_id
        if where in (None, site_id):
            out.add(g.role)
    return out


def signing_role(
    permit: Permit, step: ApprovalStep, user, *, held: set[str], delegations
) -> tuple[str | None, object]:
    """The one rule of who signs a step: the role of `step` `user` signs as, and on whose behalf
    (a delegation), or (None, None). Never their own permit (GB 30871-2022 4.11); a role of the
    step not yet signed that they hold at the permit's site (`held`), in their own name; else a
    role that a delegation in force to them names (`delegations`: the user's delegations in force
    at the site), on the delegator's behalf — and only while they hold that role themselves,
    at some site (AQ 3064.2-2025 5.5.3: only to someone with the same approval authority; a
    workshop head of another site standing in, say)."""
    if permit.applicant_id == user.pk:
        return None, None
    signed = {s.role for s in step.signatures.all() if s.action == SignatureAction.APPROVE}
    for role in step.roles:
        if role not in signed and role in held:
            return role, None
    authority = roles_of(user)
    for d in delegations:
        if d.role in step.roles and d.role not in signed and d.role in authority:
            return d.role, d.delegator
    return None, None


def steps_waiting_for(user, permits: QuerySet[Permit], *, at) -> list[ApprovalStep]:
    """The pending steps of `permits` that `user` may sign at `at` (`signing_role`), each with
    `signing_as`, `on_behalf_of` and `overdue`; overdue first, then the oldest. An approval step
    waits while its permit is in approval, a check before the start while it is approved and
    not past its validity (the states `services.approve` accepts)."""
    if not getattr(user, "pk", None):
        return []
    live = permits.exclude(status_q(PermitStatus.EXPIRED, at))
    steps = (
        ApprovalStep.objects.filter(status=StepStatus.PENDING, permit__in=live.values("pk"))
        .filter(
            Q(stage="approval", permit__status=PermitStatus.IN_APPROVAL)
            | (~Q(stage="approval") & Q(permit__status=PermitStatus.APPROVED))
        )
        .select_related("permit__work_type", "permit__level", "permit__site", "permit__area")
        .prefetch_related("signatures")
        .order_by(F("due_at").asc(nulls_last=True), "activated_at", "id")
    )
    delegations = list(
        Delegation.objects.filter(delegate=user, starts_at__lte=at, ends_at__gt=at).select_related(
            "delegator"
        )
    )
    out = []
    for step in steps:
        permit = step.permit
        role, on_behalf = signing_role(
            permit,
            step,
            user,
            held=roles_at_site(user, permit.site_id),
            delegations=[d for d in delegations if d.site_id == permit.site_id],
        )
        if role is None:
            continue
        step.signing_as, step.on_behalf_of = role, on_behalf
        step.overdue = step.due_at is not None and step.due_at <= at
        out.append(step)
    out.sort(key=lambda s: not s.overdue)  # stable: overdue first, each group by due time
    return out


# ---- dashboard aggregates: one GROUP BY each, whatever the number of permits --------------------

# A permit that was approved for work (whatever became of it since): it counts on the days its
# validity covers. Drafts, permits in approval, rejected and cancelled ones never authorised work.
APPROVED_FOR_WORK = (
    PermitStatus.APPROVED,
    PermitStatus.ACTIVE,
    PermitStatus.SUSPENDED,
    PermitStatus.COMPLETED,
    PermitStatus.ACCEPTED,
    PermitStatus.CLOSED,
    PermitStatus.EXPIRED,
)
ANOMALY_DAYS = 7
TREND_WEEKS = 12


def counts_by_type_and_status(qs: QuerySet[Permit], *, at) -> list[dict]:
    """Permits per (work type, status as read at `at`): rows of work_type, work_type_name,
    status, n; one query."""
    rows = (
        with_status_at(qs.order_by(), at)
        .values("work_type__code", "work_type__name", "work_type__order", "status_now")
        .annotate(n=Count("pk"))
        .order_by("work_type__order", "work_type__code", "status_now")
    )
    return [
        {
            "work_type": r["work_type__code"],
            "work_type_name": r["work_type__name"],
            "status": r["status_now"],
            "n": r["n"],
        }
        for r in rows
    ]


def active_on_q(day: dt.date) -> Q:
    """Permits approved for work whose validity window overlaps the local day `day`."""
    start = _local_midnight(day)
    end = _local_midnight(day + dt.timedelta(days=1))
    return Q(status__in=APPROVED_FOR_WORK, planned_start__lt=end, planned_end__gt=start)


def risk_heat_map(
    permits: QuerySet[Permit], alarms: QuerySet[Alarm], *, at, days: int = ANOMALY_DAYS
) -> list[dict]:
    """One cell per (work type, level) of the catalogue (a type without levels: one cell with
    level None): `active` = permits active on the local day of `at`, `anomalies` = alarms raised
    on those permits in the `days` × 24 h before `at` (an alarm exactly `days` days old counts).
    Three queries: the catalogue, the permits' GROUP BY, the alarms' GROUP BY."""
    day = timezone.localdate(at)
    active = {
        (r["work_type_id"], r["level_id"]): r["n"]
        for r in permits.order_by()
        .filter(active_on_q(day))
        .values("work_type_id", "level_id")
        .annotate(n=Count("pk"))
    }
    since = at - dt.timedelta(days=days)
    anomalies = {
        (r["permit__work_type_id"], r["permit__level_id"]): r["n"]
        for r in alarms.order_by()
        .filter(permit__isnull=False, raised_at__gte=since, raised_at__lte=at)
        .values("permit__work_type_id", "permit__level_id")
        .annotate(n=Count("pk"))
    }
    levels: dict[int, list] = {}
    for lv in WorkLevel.objects.order_by("work_type_id", "-rank"):
        levels.setdefault(lv.work_type_id, []).append(lv)
    cells = []
    for wt in WorkType.objects.order_by("order", "code"):
        for lv in levels.get(wt.pk) or [None]:
            key = (wt.pk, lv.pk if lv else None)
            cells.append(
                {
                    "work_type": wt.code,
                    "work_type_name": wt.name,
                    "level": lv.code if lv else "",
                    "level_name": lv.name if lv else "",
                    "active": active.get(key, 0),
                    "anomalies": anomalies.get(key, 0),
                }
            )
    return cells


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def approval_time_trend(qs: QuerySet[Permit], *, at, weeks: int = TREND_WEEKS) -> list[dict]:
    """Median hours from submission to (last) approval, per local week (Monday first) of the
    approval, for the `weeks` weeks up to the one of `at`: rows of week (its Monday), n and
    median_hours (None in a week without approvals). One query; the median in Python, the same
    on SQLite and PostgreSQL."""
    first = _monday(timezone.localdate(at)) - dt.timedelta(weeks=weeks - 1)
    pairs = (
        qs.order_by()
        .filter(
            approved_at__gte=_local_midnight(first),
            approved_at__lte=at,
            submitted_at__isnull=False,
        )
        .values_list("submitted_at", "approved_at")
    )
    hours: dict[dt.date, list[float]] = {}
    for submitted, approved in pairs:
        week = _monday(timezone.localdate(approved))
        hours.setdefault(week, []).append((approved - submitted).total_seconds() / 3600)
    out = []
    for i in range(weeks):
        week = first + dt.timedelta(weeks=i)
        values = hours.get(week, [])
        median = round(statistics.median(values), 1) if values else None
        out.append({"week": week, "n": len(values), "median_hours": median})
    return out

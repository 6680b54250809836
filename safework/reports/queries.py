"""The monthly certificate health report (NOTIFY-05) and the contractor compliance report
(CONTRACTOR-03): set-based counts, by site and by contractor, in a constant number of queries.

Definitions, for a calendar month M = [first day, last day] (local dates, Asia/Shanghai):

- **Expiry rate** = certificates that expired during M / certificates valid at the start of M.
  "Valid at the start" is a usable status (`certs.rules.STATUS_TABLE`: valid, expiring,
  unverified unless the settings make it blocking) on M's first day; "expired during M" is such
  a certificate whose status on the first day of the next month is `expired`: its last valid day
  (`valid_until`) lies in M. A certificate valid until the last day of M expires in M; one valid
  until the first day of the next month expires in that month. A certificate revoked or
  cancelled during M is not an expiry (the status list's precedence puts those first).
- **Review timeliness** = reviews done by their due date / reviews due in M. A review is due in
  M when a recorded review (`CertificateEvent` kind `review`) has its `due_on` in M, or an
  active certificate's `next_review_due` (the first unpassed review) lies in M. It was done in
  time when it passed on or before its due date ("on the due date" is in time; a day later is
  not); a review not recorded yet is not in time.
- **Coverage** = persons in positions requiring a certificate who hold a valid one / persons in
  such positions, on M's last day. A position requires a certificate when a position-permission
  row lets it take work for which an unconditional certificate requirement is in force
  (`work.PositionPermission` × `qualification.Requirement`, kind `certificate`, by work type and
  crew role); a person holds one when a certificate of one of the items those requirements name
  (scheme:code or scheme:prefix*) is usable on that day. This is the set-based count for the
  month's figures; the qualification engine's full answer per need (levels, equivalents, crane
  kinds, conditions) is the coverage report of CERT-10 (`qualification.coverage`).
- **Cross-site certificates** = certificates usable on M's last day whose holder worked on more
  than one site during M: roster entries dated in M, and crew places on permits approved to run
  (approved and after) whose planned time overlaps M, at two or more distinct sites.

Breakdown: **by contractor** each person counts under their current employer (the own
enterprise is one row); **by site** own staff count under their employment's site and contractor
staff under every site where their contractor is engaged during M (so site rows may add up to
more than the total, which is counted once per certificate or person). Every figure reads only
what the reader's scope sees (`person_scope_q`); a site-scoped reader gets rows of their sites.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.accounts.access import shown_id_number, shown_number
from safework.certs.models import (
    Certificate,
    CertificateEvent,
    CertificateItem,
    CertState,
    EventKind,
)
from safework.certs.queries import (
    status_expression,
    status_settings,
    usable_statuses,
    with_status_inputs,
)
from safework.certs.rules import Status
from safework.core.scope import Scope
from safework.org.models import Site
from safework.people.models import Contractor, Person
from safework.people.queries import contractors_visible_to, person_scope_q
from safework.permits.models import CrewAssignment
from safework.permits.workflow import PermitStatus
from safework.qualification.models import Requirement, RequirementKind
from safework.rosters.models import RosterEntry
from safework.work.models import PositionPermission

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Permits in these states were approved to run: their crew worked (or was to work) on the site.
_WORKED = (
    PermitStatus.APPROVED,
    PermitStatus.ACTIVE,
    PermitStatus.SUSPENDED,
    PermitStatus.COMPLETED,
    PermitStatus.ACCEPTED,
    PermitStatus.CLOSED,
    PermitStatus.EXPIRED,
)


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """ "2026-11" → the month; ValueError with a reason otherwise."""
        m = _MONTH.match(text or "")
        if not m or not 1 <= int(m[2]) <= 12:
            raise ValueError(_("A month is written YYYY-MM, e.g. 2026-11."))
        return cls(int(m[1]), int(m[2]))

    @classmethod
    def before(cls, on: dt.date) -> Month:
        """The month before the one `on` lies in."""
        first = on.replace(day=1) - dt.timedelta(days=1)
        return cls(first.year, first.month)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def end(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def next_start(self) -> dt.date:
        return self.end + dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass
class Figures:
    """The counts of one row (the whole scope, a site or a contractor)."""

    valid_at_start: int = 0
    expired: int = 0
    reviews_due: int = 0
    reviews_timely: int = 0
    in_positions: int = 0
    covered: int = 0
    cross_site: int = 0
    # The contractor compliance report's extra columns.
    staff: int = 0
    unusable_at_end: int = 0
    anomalies_at_end: int = 0
    unverified_at_end: int = 0
    spot_checks: int = 0
    spot_checks_passed: int = 0

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def expiry_rate(self):
        return self._rate(self.expired, self.valid_at_start)

    @property
    def review_timeliness(self):
        return self._rate(self.reviews_timely, self.reviews_due)

    @property
    def coverage(self):
        return self._rate(self.covered, self.in_positions)

    @property
    def spot_check_pass_rate(self):
        return self._rate(self.spot_checks_passed, self.spot_checks)

    def add(self, values: dict) -> None:
        for name, value in values.items():
            setattr(self, name, getattr(self, name) + (value or 0))


@dataclass(frozen=True)
class CrossSiteRow:
    person: str
    id_number: str
    item: str
    number: str
    valid_until: dt.date
    sites: str


@dataclass
class Report:
    month: Month
    generated_at: dt.datetime
    total: Figures
    by_site: list[tuple[str, Figures]]
    by_contractor: list[tuple[str, Figures]]
    cross_site_rows: list[CrossSiteRow] = field(default_factory=list)


# ---- breakdown ---------------------------------------------------------------------------------


def _distinct(aggregate: Count) -> Count:
    copy = aggregate.copy()
    copy.distinct = True
    return copy


class _Rows:
    """Figures accumulated per site id and per contractor id (None: own enterprise)."""

    def __init__(self):
        self.total = Figures()
        self.sites: dict[int | None, Figures] = defaultdict(Figures)
        self.contractors: dict[int | None, Figures] = defaultdict(Figures)

    def count(self, qs: QuerySet, person: str, month: Month, **aggregates) -> None:
        """Add `aggregates` over `qs` (whose person is reached by `person`, e.g. "person__"):
        per contractor (whose rows add up to the total: each row has one employer, or none),
        per own site, per engaged site: three GROUP BY statements."""
        qs = qs.order_by()
        emp = f"{person}current_employment__"
        names = list(aggregates)
        for row in qs.values(f"{emp}contractor_id").annotate(**aggregates):
            values = {n: row[n] for n in names}
            self.contractors[row[f"{emp}contractor_id"]].add(values)
            self.total.add(values)
        own = qs.filter(Q(**{f"{emp}contractor_id__isnull": True}))
        for row in own.values(f"{emp}site_id").annotate(**aggregates):
            self.sites[row[f"{emp}site_id"]].add({n: row[n] for n in names})
        eng = f"{emp}contractor__engagements__"
        engaged = qs.filter(
            Q(**{f"{eng}starts_on__lte": month.end})
            & (Q(**{f"{eng}ends_on__isnull": True}) | Q(**{f"{eng}ends_on__gte": month.start}))
        )
        # Two engagements of one contractor at one site in M (contract periods) join a row
        # twice: each row counts once per site.
        once = {n: _distinct(a) for n, a in aggregates.items()}
        for row in engaged.values(f"{eng}site_id").annotate(**once):
            self.sites[row[f"{eng}site_id"]].add({n: row[n] for n in names})

    def labelled(self, scope: Scope, *, with_own: bool = True):
        site_names = dict(
            Site.objects.filter(pk__in=[k for k in self.sites if k]).values_list("pk", "name")
        )
        contractor_names = dict(
            Contractor.objects.filter(pk__in=[k for k in self.contractors if k]).values_list(
                "pk", "name"
            )
        )
        by_site = []
        for pk, figures in self.sites.items():
            if (
                pk is not None
                and not scope.group_wide
                and scope.site_ids
                and pk not in scope.site_ids
            ):
                continue  # a contractor's other sites: not this reader's
            by_site.append((site_names.get(pk, _("no site")) if pk else _("no site"), figures))
        by_contractor = []
        for pk, figures in self.contractors.items():
            if pk is None and not with_own:
                continue
            label = contractor_names.get(pk, "") if pk else _("own enterprise")
            by_contractor.append((label, figures))
        return sorted(by_site, key=lambda r: r[0]), sorted(
            by_contractor, key=lambda r: (r[0] != _("own enterprise"), r[0])
        )


# ---- the figures -------------------------------------------------------------------------------


def _certificates(scope: Scope, month: Month):
    """Certificates the scope sees, with their status on the first day of M, of the next month
    and on M's last day (one CASE each, the twin of the status rule)."""
    settings = status_settings()
    qs = with_status_inputs(Certificate.objects.filter(person_scope_q(scope, "person__")))
    qs = qs.alias(
        status_start=status_expression(month.start, settings),
        status_after=status_expression(month.next_start, settings),
        status_end=status_expression(month.end, settings),
    )
    return qs, usable_statuses(settings)


def _expiry(rows: _Rows, scope: Scope, month: Month) -> None:
    qs, usable = _certificates(scope, month)
    was_valid = Q(status_start__in=usable)
    rows.count(
        qs,
        "person__",
        month,
        valid_at_start=Count("pk", filter=was_valid),
        expired=Count("pk", filter=was_valid & Q(status_after=Status.EXPIRED)),
    )


def _reviews(rows: _Rows, scope: Scope, month: Month) -> None:
    in_month = {"due_on__gte": month.start, "due_on__lte": month.end}
    events = CertificateEvent.objects.filter(
        person_scope_q(scope, "certificate__person__"), kind=EventKind.REVIEW, **in_month
    )
    rows.count(
        events,
        "certificate__person__",
        month,
        reviews_due=Count("pk"),
        reviews_timely=Count("pk", filter=Q(passed=True, on__lte=F("due_on"))),
    )
    # Due in M and not recorded: the stored first unpassed review of a certificate in force.
    pending = Certificate.objects.filter(
        person_scope_q(scope, "person__"),
        state=CertState.ACTIVE,
        next_review_due__gte=month.start,
        next_review_due__lte=month.end,
    ).exclude(
        Exists(
            CertificateEvent.objects.filter(
                certificate_id=OuterRef("pk"),
                kind=EventKind.REVIEW,
                due_on=OuterRef("next_review_due"),
            )
        )
    )
    rows.count(pending, "person__", month, reviews_due=Count("pk"))


def required_items_by_position(on: dt.date) -> dict[int, set[int]]:
    """Position id → the certificate item ids any one of which satisfies an unconditional
    certificate requirement of work the position may take (empty positions left out). Reads the
    catalogue (a few hundred rows at most) in three queries."""
    items = list(CertificateItem.objects.values_list("pk", "scheme__code", "code"))
    reqs = list(
        Requirement.objects.filter(
            Q(effective_to__isnull=True) | Q(effective_to__gt=on),
            kind=RequirementKind.CERTIFICATE,
            is_active=True,
            condition="",
            effective_from__lte=on,
        ).values_list("work_type_id", "crew_role_id", "items")
    )
    out: dict[int, set[int]] = defaultdict(set)
    for position_id, work_type_id, crew_role_id in PositionPermission.objects.values_list(
        "position_id", "work_type_id", "crew_role_id"
    ):
        for req_type, req_role, req_items in reqs:
            if req_type is not None and work_type_id is not None and req_type != work_type_id:
                continue
            if req_role is not None and req_role != crew_role_id:
                continue
            out[position_id] |= _item_ids(req_items or [], items)
    return {k: v for k, v in out.items() if v}


def _item_ids(patterns: Iterable[str], items) -> set[int]:
    found = set()
    for pattern in patterns:
        if "{" in pattern or ":" not in pattern:  # depends on an attribute of the work
            continue
        scheme, code = pattern.split(":", 1)
        prefix = code.endswith("*")
        code = code.rstrip("*")
        for pk, item_scheme, item_code in items:
            if item_scheme == scheme and (
                item_code.startswith(code) if prefix else item_code == code
            ):
                found.add(pk)
    return found


def _coverage(rows: _Rows, scope: Scope, month: Month) -> None:
    needs = required_items_by_position(month.end)
    if not needs:
        return
    settings = status_settings()
    usable = usable_statuses(settings)
    item_q = Q(pk__in=[])
    for position_id, item_ids in needs.items():
        item_q |= Q(person__position_id=position_id, item_id__in=item_ids)
    held = (
        with_status_inputs(Certificate.objects.filter(person_id=OuterRef("pk")))
        .alias(status_end=status_expression(month.end, settings))
        .filter(item_q, status_end__in=usable)
    )
    persons = Person.objects.filter(
        person_scope_q(scope), is_active=True, position_id__in=list(needs)
    ).alias(holds=Exists(held))
    rows.count(
        persons,
        "",
        month,
        in_positions=Count("pk"),
        covered=Count("pk", filter=Q(holds=True)),
    )


def _site_bounds(month: Month, person: str = "pk"):
    """Per person (the outer query's `person`): the lowest and highest site id they worked at
    in M."""
    tz = timezone.get_default_timezone()
    start_at = dt.datetime.combine(month.start, dt.time(), tzinfo=tz)
    next_at = dt.datetime.combine(month.next_start, dt.time(), tzinfo=tz)
    roster = RosterEntry.objects.filter(
        person_id=OuterRef(person),
        on__gte=month.start,
        on__lte=month.end,
        site_id__isnull=False,
    ).order_by()
    crew = CrewAssignment.objects.filter(
        person_id=OuterRef(person),
        permit__status__in=_WORKED,
        permit__planned_start__lt=next_at,
        permit__planned_end__gte=start_at,
    ).order_by()

    def bound(fn, qs, column):
        return Subquery(qs.values("person_id").annotate(v=fn(column)).values("v")[:1])

    r_min, r_max = bound(Min, roster, "site_id"), bound(Max, roster, "site_id")
    c_min, c_max = bound(Min, crew, "permit__site_id"), bound(Max, crew, "permit__site_id")
    low = Least(Coalesce(r_min, c_min), Coalesce(c_min, r_min))
    high = Greatest(Coalesce(r_max, c_max), Coalesce(c_max, r_max))
    return low, high, start_at, next_at


def _cross_site_persons(month: Month) -> list[int]:
    """Ids of the persons who worked at two or more sites in M (one statement; bounds read only
    for persons who worked at all in M). Fetched first: as a subquery, PostgreSQL would compute
    every certificate's status before joining it."""
    low, high, start_at, next_at = _site_bounds(month)
    worked = Q(
        pk__in=RosterEntry.objects.filter(
            on__gte=month.start, on__lte=month.end, site_id__isnull=False
        ).values("person_id")
    ) | Q(
        pk__in=CrewAssignment.objects.filter(
            permit__status__in=_WORKED,
            permit__planned_start__lt=next_at,
            permit__planned_end__gte=start_at,
        ).values("person_id")
    )
    return (
        Person.objects.filter(worked)
        .alias(site_low=low, site_high=high)
        .filter(site_high__gt=F("site_low"))
        .values_list("pk", flat=True)
    )


def _cross_site_certificates(scope: Scope, month: Month):
    qs, usable = _certificates(scope, month)
    qs = qs.filter(person_id__in=list(_cross_site_persons(month)), status_end__in=usable)
    return qs, usable


def _cross_site(rows: _Rows, scope: Scope, month: Month) -> None:
    qs, _usable = _cross_site_certificates(scope, month)
    rows.count(qs, "person__", month, cross_site=Count("pk"))


def cross_site_rows(scope: Scope, month: Month, *, user=None) -> list[CrossSiteRow]:
    """The cross-site certificates with their holders and the sites they worked at: three
    queries (the certificates; their holders' roster and permit sites)."""
    qs, _usable = _cross_site_certificates(scope, month)
    certs = list(
        qs.select_related("person", "item").order_by("person__name", "item__code", "number")
    )
    person_ids = {c.person_id for c in certs}
    _low, _high, start_at, next_at = _site_bounds(month)  # the same month bounds
    pairs = set(
        RosterEntry.objects.filter(
            person_id__in=person_ids, on__gte=month.start, on__lte=month.end, site__isnull=False
        ).values_list("person_id", "site__name")
    ) | set(
        CrewAssignment.objects.filter(
            person_id__in=person_ids,
            permit__status__in=_WORKED,
            permit__planned_start__lt=next_at,
            permit__planned_end__gte=start_at,
        ).values_list("person_id", "permit__site__name")
    )
    sites: dict[int, set[str]] = defaultdict(set)
    for person_id, name in pairs:
        sites[person_id].add(name)

    def shown(fn, *args):
        return args[0] if user is None else fn(user, *args)

    return [
        CrossSiteRow(
            person=c.person.name,
            id_number=shown(shown_id_number, c.person.id_number),
            item=f"{c.item.code} {c.item.name}",
            number=shown(shown_number, c.number, c.person.id_number),
            valid_until=c.valid_until,
            sites="、".join(sorted(sites[c.person_id])),
        )
        for c in certs
    ]


@contextlib.contextmanager
def _without_jit():
    """PostgreSQL prices the status CASE (a correlated EXISTS per row, several dates) high
    enough to JIT-compile each statement with inlining and optimisation: ~1.5 s of compiling
    for ~0.3 s of work on 60,000 certificates. These statements run faster interpreted."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def certificate_health(scope: Scope, month: Month, *, user=None) -> Report:
    """The monthly certificate health report of `month` as `scope` sees it (module docstring)."""
    rows = _Rows()
    with _without_jit():
        _expiry(rows, scope, month)
        _reviews(rows, scope, month)
        _coverage(rows, scope, month)
        _cross_site(rows, scope, month)
        cross_site = cross_site_rows(scope, month, user=user)
    by_site, by_contractor = rows.labelled(scope)
    return Report(
        month,
        timezone.now(),
        rows.total,
        by_site,
        by_contractor,
        cross_site,
    )


# Unusable at month end for a reason other than expiry: the anomalies of CONTRACTOR-03.
ANOMALIES = [
    str(s)
    for s in (
        Status.CANCELLED,
        Status.REVOKED,
        Status.REAPPLY_BARRED,
        Status.REVIEW_OVERDUE,
        Status.VACUUM,
        Status.REGISTRY_MISMATCH,
        Status.REGISTRY_NOT_FOUND,
    )
]


def contractor_compliance(
    scope: Scope, month: Month, *, contractor_id: int | None = None
) -> Report:
    """Per contractor the scope sees (a contractor manager: their own): staff, expiry rate,
    certificates unusable at M's end (expired; anomalies: revoked, cancelled, review overdue,
    vacuum, registry mismatch or not found, issued while barred), unverified ones, the registry
    spot checks of M (`CertificateEvent` kind `verification` dated in M, passed / done) and
    coverage, as the health report defines them. "Unusable" and "anomalies" count the records
    whose validity had not ended before M (`valid_until` on or after its first day) by their
    status on M's last day. Own staff are left out."""
    with _without_jit():
        return _compliance(scope, month, contractor_id)


def _compliance(scope: Scope, month: Month, contractor_id: int | None) -> Report:
    contractors = contractors_visible_to(scope)
    if contractor_id is not None:
        contractors = contractors.filter(pk=contractor_id)
    staff_q = Q(current_employment__contractor__in=contractors)
    scope_q = person_scope_q(scope) & staff_q
    rows = _Rows()

    persons = Person.objects.filter(scope_q, is_active=True)
    rows.count(persons, "", month, staff=Count("pk"))

    certs, usable = _certificates(scope, month)
    certs = certs.filter(person__current_employment__contractor__in=contractors)
    was_valid = Q(status_start__in=usable)
    in_month = Q(valid_until__gte=month.start)  # not a record that ended before M
    rows.count(
        certs,
        "person__",
        month,
        valid_at_start=Count("pk", filter=was_valid),
        expired=Count("pk", filter=was_valid & Q(status_after=Status.EXPIRED)),
        unusable_at_end=Count("pk", filter=in_month & ~Q(status_end__in=usable)),
        anomalies_at_end=Count("pk", filter=in_month & Q(status_end__in=ANOMALIES)),
        unverified_at_end=Count("pk", filter=Q(status_end=Status.UNVERIFIED)),
    )
    checks = CertificateEvent.objects.filter(
        person_scope_q(scope, "certificate__person__"),
        certificate__person__current_employment__contractor__in=contractors,
        kind=EventKind.VERIFICATION,
        on__gte=month.start,
        on__lte=month.end,
    )
    rows.count(
        checks,
        "certificate__person__",
        month,
        spot_checks=Count("pk"),
        spot_checks_passed=Count("pk", filter=Q(passed=True)),
    )
    sub = _Rows()
    _coverage(sub, Scope(contractor_ids=frozenset(contractors.values_list("pk", flat=True))), month)
    # Coverage read through the contractors' own scope, then narrowed to what `scope` sees.
    for pk, figures in sub.contractors.items():
        if pk is not None:
            rows.contractors[pk].add(
                {"in_positions": figures.in_positions, "covered": figures.covered}
            )
    rows.total.add(
        {
            "in_positions": sum(f.in_positions for k, f in sub.contractors.items() if k),
            "covered": sum(f.covered for k, f in sub.contractors.items() if k),
        }
    )
    by_site, by_contractor = rows.labelled(scope, with_own=False)
    # Every visible contractor gets a row, with zeros when it had nothing in M.
    named = {label for label, _f in by_contractor}
    for name in contractors.order_by("name").values_list("name", flat=True):
        if name not in named:
            by_contractor.append((name, Figures()))
    by_contractor.sort(key=lambda r: r[0])
    return Report(month, timezone.now(), rows.total, by_site, by_contractor)

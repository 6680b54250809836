"""Certificate coverage (CERT-10): who needs which certificate, and who holds a usable one.

"Needs" come from data: a person's position gives (work type, crew role) pairs through the
position permission matrix; a requirement row in force on the date applies to a pair when its
work type and crew role are empty or equal (a permission for every work type takes every work
type's rows). A row with a condition (welding method, height, forklift area …) applies only to
some work, so it is reported separately as "needed when …" and left out of the coverage rate.
Rows whose items depend on an attribute of the work ("special_operation:{process}") cannot be
judged per person and are left out.

"Holds": a certificate of a listed item ("scheme:code" or "scheme:prefix*") that is usable on the
date by the one status function; for a MEDICAL row, the latest medical check not unfit whose
validity (its own, else the MEDICAL item's rule) covers the date.

Grouped per site, department and contractor: own staff by their employment's site; contractor
staff by the sites where their contractor is engaged (or the site asked for).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from safework.accounts.shown import shown_id_number, shown_text
from safework.certs.models import Certificate, CertificateItem
from safework.certs.queries import status_settings, statuses_of
from safework.certs.rules import RuleBook
from safework.core import xlsx
from safework.core.scope import Scope
from safework.org.models import Department
from safework.people.models import ContractorEngagement, HealthCheck, HealthConclusion, Person
from safework.people.queries import persons_visible_to
from safework.qualification.models import Requirement, RequirementKind
from safework.work.models import PositionPermission

MEDICAL = ("internal", "MEDICAL")


@dataclass
class NeedRow:
    person: Person
    requirement: Requirement
    conditional: bool
    held: bool
    evidence: str


@dataclass
class GroupTotals:
    persons: int = 0
    persons_with_needs: int = 0
    without_position: int = 0
    needs: int = 0
    covered: int = 0
    conditional: int = 0
    conditional_held: int = 0
    by_requirement: dict[str, list[int]] = field(default_factory=dict)  # code → [needed, held]

    @property
    def missing(self) -> int:
        return self.needs - self.covered

    @property
    def rate(self) -> float | None:
        return round(self.covered / self.needs, 4) if self.needs else None


@dataclass
class Coverage:
    on: dt.date
    rows: list[NeedRow]
    groups: dict[tuple[str, str, str], GroupTotals]
    group_of: dict[int, tuple[str, str, str]]
    requirements: dict[str, Requirement]

    @property
    def total(self) -> GroupTotals:
        t = GroupTotals()
        for g in self.groups.values():
            for f in ("persons", "persons_with_needs", "without_position", "needs", "covered"):
                setattr(t, f, getattr(t, f) + getattr(g, f))
            t.conditional += g.conditional
            t.conditional_held += g.conditional_held
        return t


def _in_force(req: Requirement, on: dt.date) -> bool:
    return req.effective_from <= on and (req.effective_to is None or on < req.effective_to)


def needs_by_position(on: dt.date) -> dict[int, list[Requirement]]:
    """Position id → the requirement rows that apply to some (work type, role) it may take."""
    reqs = [
        r
        for r in Requirement.objects.filter(is_active=True).order_by("code")
        if _in_force(r, on) and not any("{" in str(i) for i in r.items)
    ]
    perms: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    for p in PositionPermission.objects.values("position_id", "work_type_id", "crew_role_id"):
        perms[p["position_id"]].append((p["work_type_id"], p["crew_role_id"]))
    out = {}
    for position_id, pairs in perms.items():
        out[position_id] = [
            r
            for r in reqs
            if any(
                (r.crew_role_id is None or r.crew_role_id == role)
                and (r.work_type_id is None or wt is None or r.work_type_id == wt)
                for wt, role in pairs
            )
        ]
    return out


def _matches(patterns, scheme_code: str, item_code: str) -> bool:
    for pattern in patterns:
        scheme, _sep, code = str(pattern).partition(":")
        if scheme != scheme_code:
            continue
        if code.endswith("*") and item_code.startswith(code[:-1]) or code == item_code:
            return True
    return False


def _persons(scope: Scope, site_id, department_id, contractor_id):
    qs = persons_visible_to(scope).filter(is_active=True)
    if site_id:
        engaged = ContractorEngagement.objects.filter(site_id=site_id).values("contractor_id")
        qs = qs.filter(
            Q(current_employment__site_id=site_id)
            | Q(current_employment__contractor_id__in=engaged)
        )
    if department_id:
        path = Department.objects.filter(pk=department_id).values_list("path", flat=True).first()
        qs = qs.filter(current_employment__department__path__startswith=path or "/-/")
    if contractor_id:
        qs = qs.filter(current_employment__contractor_id=contractor_id)
    return qs.select_related(
        "position",
        "current_employment__site",
        "current_employment__department",
        "current_employment__contractor",
    ).order_by("name", "pk")


def coverage(
    *,
    scope: Scope,
    on: dt.date,
    site_id: int | None = None,
    department_id: int | None = None,
    contractor_id: int | None = None,
    progress=None,
) -> Coverage:
    """`progress(done, total)`: persons whose certificates have been read, of all persons."""
    persons = list(_persons(scope, site_id, department_id, contractor_id))
    needs = needs_by_position(on)
    ids = [p.pk for p in persons]
    book = RuleBook.load()
    certs: dict[int, list[Certificate]] = defaultdict(list)
    for i in range(0, len(ids), 2000):
        chunk = list(
            Certificate.objects.filter(person_id__in=ids[i : i + 2000]).select_related(
                "item", "scheme"
            )
        )
        statuses = statuses_of(chunk, on=on, book=book, settings=status_settings())
        for c in chunk:
            c.usable_on = statuses[c.pk].usable
            c.status_on = statuses[c.pk].status
            certs[c.person_id].append(c)
        if progress:
            progress(min(i + 2000, len(ids)), len(ids))
    medical = _medical(ids, on, book)
    engaged = _engaged_sites({p.current_employment.contractor_id for p in persons if _emp(p)})
    own = _("own enterprise")
    rows, groups, group_of = [], {}, {}
    requirements: dict[str, Requirement] = {}
    for p in persons:
        emp = _emp(p)
        contractor = emp.contractor.name if emp and emp.contractor else own
        if emp and emp.contractor_id:
            sites = engaged.get(emp.contractor_id, [])
            if site_id:
                sites = [n for sid, n in sites if sid == site_id]
            else:
                sites = [n for _sid, n in sites]
            site = "、".join(sorted(set(sites)))
        else:
            site = emp.site.name if emp and emp.site else ""
        department = emp.department.name if emp and emp.department else ""
        key = (site, department, contractor)
        group_of[p.pk] = key
        g = groups.setdefault(key, GroupTotals())
        g.persons += 1
        if p.position_id is None:
            g.without_position += 1
            continue
        person_needs = needs.get(p.position_id, [])
        if any(not r.condition for r in person_needs):
            g.persons_with_needs += 1
        for r in person_needs:
            requirements[r.code] = r
            held, evidence = _held(r, certs.get(p.pk, []), medical.get(p.pk))
            conditional = bool(r.condition)
            rows.append(NeedRow(p, r, conditional, held, evidence))
            if conditional:
                g.conditional += 1
                g.conditional_held += held
            else:
                g.needs += 1
                g.covered += held
                counts = g.by_requirement.setdefault(r.code, [0, 0])
                counts[0] += 1
                counts[1] += held
    return Coverage(on, rows, groups, group_of, requirements)


def _emp(p: Person):
    return p.current_employment


def _engaged_sites(contractor_ids) -> dict[int, list[tuple[int, str]]]:
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = ContractorEngagement.objects.filter(
        contractor_id__in=[c for c in contractor_ids if c]
    ).values_list("contractor_id", "site_id", "site__name")
    for contractor_id, site_id, name in rows:
        out[contractor_id].append((site_id, name))
    return out


def _medical(person_ids: list[int], on: dt.date, book: RuleBook) -> dict[int, str]:
    """Person id → description of the medical check that covers `on` (absent: none does)."""
    item = (
        CertificateItem.objects.filter(scheme__code=MEDICAL[0], code=MEDICAL[1])
        .values_list("pk", "scheme_id")
        .first()
    )
    out: dict[int, str] = {}
    latest: dict[int, HealthCheck] = {}
    for i in range(0, len(person_ids), 2000):
        for h in HealthCheck.objects.filter(
            person_id__in=person_ids[i : i + 2000], checked_on__lte=on
        ).order_by("person_id", "checked_on"):
            latest[h.person_id] = h
    for person_id, h in latest.items():
        until = h.valid_until
        if until is None and item is not None:
            rule = book.rule_for(item[1], item[0], h.checked_on)
            if rule is not None and rule.validity_months:
                until = h.checked_on + relativedelta(months=rule.validity_months) - dt.timedelta(1)
        if h.conclusion != HealthConclusion.UNFIT and until is not None and on <= until:
            out[person_id] = f"{h.checked_on.isoformat()} {h.get_conclusion_display()} → {until}"
    return out


def _held(r: Requirement, certs: list[Certificate], medical: str | None) -> tuple[bool, str]:
    if r.kind == RequirementKind.MEDICAL:
        return medical is not None, medical or ""
    usable = [c for c in certs if c.usable_on and _matches(r.items, c.scheme.code, c.item.code)]
    if usable:
        best = max(usable, key=lambda c: c.valid_until)
        return True, f"{best.item.code} {best.number} → {best.valid_until.isoformat()}"
    held = [c for c in certs if _matches(r.items, c.scheme.code, c.item.code)]
    if held:
        c = max(held, key=lambda c: c.valid_until)
        return False, f"{c.item.code} {c.number} ({c.status_on})"
    return False, ""


def coverage_bytes(
    *,
    user,
    scope: Scope,
    on: dt.date,
    site_id: int | None = None,
    department_id: int | None = None,
    contractor_id: int | None = None,
    progress=None,
) -> bytes:
    cov = coverage(
        scope=scope,
        on=on,
        site_id=site_id,
        department_id=department_id,
        contractor_id=contractor_id,
        progress=progress,
    )
    wb = xlsx.new_workbook()

    def summary_rows():
        for (site, department, contractor), g in sorted(cov.groups.items()):
            yield [
                site,
                department,
                contractor,
                g.persons,
                g.without_position,
                g.persons_with_needs,
                g.needs,
                g.covered,
                g.missing,
                g.rate,
                g.conditional,
                g.conditional_held,
            ]
        t = cov.total
        yield [
            _("total"),
            "",
            "",
            t.persons,
            t.without_position,
            t.persons_with_needs,
            t.needs,
            t.covered,
            t.missing,
            t.rate,
            t.conditional,
            t.conditional_held,
        ]

    xlsx.add_sheet(
        wb,
        _("summary"),
        [
            _("site"),
            _("department"),
            _("employer"),
            _("persons"),
            _("without position"),
            _("persons with needs"),
            _("needed"),
            _("held"),
            _("missing"),
            _("coverage"),
            _("needed when (conditional)"),
            _("held (conditional)"),
        ],
        summary_rows(),
        widths=[16, 16, 20, 8, 8, 8, 8, 8, 8, 9, 10, 10],
    )

    def requirement_rows():
        for (site, department, contractor), g in sorted(cov.groups.items()):
            for code, (needed, held) in sorted(g.by_requirement.items()):
                r = cov.requirements[code]
                yield [
                    site,
                    department,
                    contractor,
                    code,
                    r.description,
                    "、".join(r.items) or _("medical check"),
                    needed,
                    held,
                    needed - held,
                ]

    xlsx.add_sheet(
        wb,
        _("by requirement"),
        [
            _("site"),
            _("department"),
            _("employer"),
            _("requirement"),
            _("description"),
            _("items"),
            _("needed"),
            _("held"),
            _("missing"),
        ],
        requirement_rows(),
        widths=[16, 16, 20, 26, 40, 26, 8, 8, 8],
    )

    def detail_rows():
        for row in cov.rows:
            site, department, contractor = cov.group_of[row.person.pk]
            yield [
                row.person.name,
                shown_id_number(user, row.person.id_number),
                site,
                department,
                contractor,
                row.person.position.name if row.person.position else "",
                row.requirement.code,
                row.requirement.description,
                "、".join(row.requirement.items) or _("medical check"),
                row.requirement.condition,
                _("yes") if row.held else _("no"),
                shown_text(user, row.evidence),  # holds certificate numbers
            ]

    xlsx.add_sheet(
        wb,
        _("detail"),
        [
            pgettext("person", "name"),
            _("ID number"),
            _("site"),
            _("department"),
            _("employer"),
            _("position"),
            _("requirement"),
            _("description"),
            _("items"),
            _("needed when"),
            _("held"),
            _("certificate"),
        ],
        detail_rows(),
        widths=[10, 20, 16, 16, 20, 12, 26, 40, 26, 30, 6, 30],
    )
    return xlsx.to_bytes(wb)


def build_report(*, user, scope, on, params, progress):
    """The coverage report as a report job builds it (`ledger.report_jobs`)."""
    content = coverage_bytes(
        user=user,
        scope=scope,
        on=on,
        site_id=params.get("site_id"),
        department_id=params.get("department_id"),
        contractor_id=params.get("contractor_id"),
        progress=progress,
    )
    return content, f"coverage-{on.isoformat()}.xlsx"

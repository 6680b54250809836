"""Certificate coverage (CERT-10): who needs which certificate, and who holds a usable one.

"Needs" come from data: a person's position gives (work type, crew role, maximum level) through
the position permission matrix (a row without work type: every work type); a requirement row
in force on the date applies to that work when the engine's filters let it through
(`requirements.in_scope`: work type, crew role, minimum level, effective dates). A row with a
condition (welding method, height, forklift area …) applies only to some work, so it is
reported separately as "needed when …" and left out of the coverage rate. Rows whose items
depend on an attribute of the work ("special_operation:{process}") are left out unless the
report is given that attribute.

"Holds" is the qualification engine's own answer (`requirements.judge_requirement`, as `check`
asks it): the row's items with their equivalents where the site counts construction
certificates, the crane kind the work needs, the one status function, the absence rule; for a
MEDICAL row the latest check with its validity, conclusion and restrictions and, for contractor
staff, its age. A need is held when it is met for every work of the position the row applies
to. `attrs` are the attributes of the work asked about (as a check takes them); where the
matching needs one the report was not given, a listed value (crane kind) is held when any
allowed value is met, and anything else is not held (the engine cannot decide it either).

Grouped per site, department and contractor: own staff by their employment's site; contractor
staff by the sites where their contractor is engaged (or the site asked for). The settings in
force are the site's asked for, else the own staff's site's, else the enterprise's.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from safework.accounts.shown import shown_id_number, shown_text
from safework.certs.models import Certificate
from safework.core import xlsx
from safework.core.scope import Scope
from safework.org.models import Department
from safework.people.models import (
    ContractorEngagement,
    EmployerKind,
    HealthCheck,
    Person,
)
from safework.people.queries import persons_visible_to
from safework.qualification import engine
from safework.qualification.models import Requirement, RequirementKind
from safework.qualification.requirements import (
    ATTRIBUTES,
    MissingAttribute,
    RuleSettings,
    Subject,
    Work,
    attribute_table,
    in_scope,
    judge_requirement,
    listed_choices,
    medical_valid_until,
    parse_attrs,
    placeholders,
)

CHUNK = 2000


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


@dataclass(frozen=True)
class Need:
    """A requirement row a position asks for, with the distinct works it is judged for."""

    requirement: Requirement
    works: tuple[Work, ...]


def _position_works(cat: engine.Catalogue, on: dt.date, attrs: Mapping) -> dict[int, list[Work]]:
    """Position id → the works it may take: (work type, crew role, its maximum level)."""
    out: dict[int, list[Work]] = defaultdict(list)
    for position_id, rows in cat.permissions.items():
        for row in rows:
            role = cat.roles[row.crew_role_id]
            if row.work_type_id is None:
                types, level = list(cat.work_types.values()), None
            else:
                types, level = [cat.work_types[row.work_type_id]], row.max_level
            out[position_id] += [Work(wt, level, role, on, attrs) for wt in types]
    return out


def _judged_by(req: Requirement, work: Work) -> tuple:
    """What of the work the engine's answer to this row depends on: two works with the same
    key get the same answer, so each is judged once."""
    if req.kind == RequirementKind.MEDICAL:
        return (work.work_type.code,)  # restrictions name work types
    names = sorted(placeholders(req.items))
    if req.match_restriction:
        names.append(req.match_restriction)
    return tuple(work.symbols.get(n) for n in names)


def needs_by_position(
    cat: engine.Catalogue, on: dt.date, attrs: Mapping | None = None
) -> dict[int, list[Need]]:
    """Position id → the requirement rows that apply to some work it may take, each with the
    works it applies to (one per distinct answer)."""
    attrs = attrs or {}
    out = {}
    for position_id, works in _position_works(cat, on, attrs).items():
        needs = []
        for req in cat.requirements:
            applicable = {}
            for w in works:
                filled = all(w.symbols.get(n) is not None for n in placeholders(req.items))
                if filled and in_scope(req, w):
                    applicable.setdefault(_judged_by(req, w), w)
            if applicable:
                needs.append(Need(req, tuple(applicable.values())))
        out[position_id] = needs
    return out


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


@dataclass
class _Held:
    """One person's facts as the engine reads them."""

    certificates: list[Certificate] = field(default_factory=list)
    checks: list[HealthCheck] = field(default_factory=list)  # the latest on or before the date


def _facts(person_ids: Sequence[int], on: dt.date) -> tuple[dict[int, _Held], dict]:
    """Certificates (with predecessors held elsewhere) and the latest medical check of these
    persons: three queries at most."""
    held: dict[int, _Held] = defaultdict(_Held)
    by_id: dict[int, Certificate] = {}
    for c in Certificate.objects.filter(person_id__in=person_ids).order_by():
        by_id[c.pk] = c
        held[c.person_id].certificates.append(c)
    missing = {c.predecessor_id for c in by_id.values() if c.predecessor_id} - set(by_id)
    if missing:
        by_id.update((c.pk, c) for c in Certificate.objects.filter(pk__in=missing).order_by())
    latest: dict[int, HealthCheck] = {}
    for h in HealthCheck.objects.filter(person_id__in=person_ids, checked_on__lte=on).order_by(
        "person_id", "checked_on", "pk"
    ):
        latest[h.person_id] = h
    for person_id, h in latest.items():
        held[person_id].checks.append(h)
    return held, by_id


class _Judge:
    """The engine's answer to each need of each person, as `held` and a line of evidence."""

    def __init__(self, cat: engine.Catalogue, site_id: int | None):
        self.cat = cat
        self.site_id = site_id
        self._settings: dict[int | None, RuleSettings] = {}

    def settings(self, person: Person) -> RuleSettings:
        emp = person.current_employment
        site_id = self.site_id or (emp.site_id if emp and not emp.contractor_id else None)
        found = self._settings.get(site_id)
        if found is None:
            found = self._settings[site_id] = engine.rule_settings(site_id)
        return found

    def need(self, person: Person, need: Need, held: _Held, by_id: Mapping) -> tuple[bool, str]:
        """Held when met for every work the row applies to; else the first failure's words."""
        emp = person.current_employment
        facts = {
            "who": Subject(person.pk, person.name),
            "held": held,
            "by_id": by_id,
            "settings": self.settings(person),
            "contractor": emp is not None and emp.employer_kind == EmployerKind.CONTRACTOR,
        }
        evidence = ""
        for work in need.works:
            ok, evidence = self.work(need.requirement, work, **facts)
            if not ok:
                return False, evidence
        return True, evidence

    def work(self, req, work: Work, **facts) -> tuple[bool, str]:
        try:
            return self._judge(req, work, **facts)
        except MissingAttribute as exc:
            return self._for_each_value(req, work, exc.name, **facts)

    def _for_each_value(self, req, work: Work, name: str, **facts) -> tuple[bool, str]:
        """The work does not say `name` (the crane kind): held for any of its listed values."""
        listed = ATTRIBUTES.get(name) is not None and "values" in attribute_table().get(name, {})
        if not listed or name in work.attrs:
            return False, _("Depends on the work's %(name)s, which the report was not given.") % {
                "name": name
            }
        failures = []
        for value in listed_choices(name).codes:
            attrs = {**work.attrs, name: value}
            ok, evidence = self.work(
                req, Work(work.work_type, work.level, work.role, work.on, attrs), **facts
            )
            if ok:
                return True, evidence
            failures.append(evidence)
        return False, failures[0]

    def _judge(self, req, work: Work, *, who, held, by_id, settings, contractor):
        cat = self.cat
        judgement = judge_requirement(
            req,
            work,
            who,
            certs=held.certificates,
            certs_by_id=by_id,
            checks=held.checks,
            items=cat.items,
            medical_item=cat.medical_item,
            book=cat.book,
            settings=settings,
            house_rules=cat.house_rules_on(work.on),
            is_contractor_staff=contractor,
            work_types=cat.work_types_by_code,
        )
        if not judgement.met:
            return False, "；".join(r.message for r in judgement.reasons if r.blocking)
        if req.kind == RequirementKind.MEDICAL:
            check = held.checks[-1]
            until, _clause = medical_valid_until(check, cat.medical_item, cat.book)
            return (
                True,
                f"{check.checked_on.isoformat()} {check.get_conclusion_display()} → {until}",
            )
        cert = judgement.certificate
        item = cat.items.by_id[cert.item_id]
        restriction = f" ({cert.restriction})" if cert.restriction else ""
        return True, f"{item.code} {cert.number}{restriction} → {cert.valid_until.isoformat()}"


def coverage(
    *,
    scope: Scope,
    on: dt.date,
    site_id: int | None = None,
    department_id: int | None = None,
    contractor_id: int | None = None,
    attrs: Mapping | None = None,
    progress=None,
) -> Coverage:
    """`progress(done, total)`: persons whose certificates have been read, of all persons.
    `attrs`: the attributes of the work asked about, as a qualification check takes them."""
    cat = engine.catalogue()
    attrs = parse_attrs(attrs, processes=cat.items.process_choices())
    persons = list(_persons(scope, site_id, department_id, contractor_id))
    needs = needs_by_position(cat, on, attrs)
    judge = _Judge(cat, site_id)
    engaged = _engaged_sites({p.current_employment.contractor_id for p in persons if _emp(p)})
    own = _("own enterprise")
    rows, groups, group_of = [], {}, {}
    requirements: dict[str, Requirement] = {}
    for i in range(0, len(persons), CHUNK):
        chunk = persons[i : i + CHUNK]
        held, by_id = _facts([p.pk for p in chunk], on)
        for p in chunk:
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
            if any(not n.requirement.condition for n in person_needs):
                g.persons_with_needs += 1
            for n in person_needs:
                r = n.requirement
                requirements[r.code] = r
                is_held, evidence = judge.need(p, n, held[p.pk], by_id)
                conditional = bool(r.condition)
                rows.append(NeedRow(p, r, conditional, is_held, evidence))
                if conditional:
                    g.conditional += 1
                    g.conditional_held += is_held
                else:
                    g.needs += 1
                    g.covered += is_held
                    counts = g.by_requirement.setdefault(r.code, [0, 0])
                    counts[0] += 1
                    counts[1] += is_held
        if progress:
            progress(min(i + CHUNK, len(persons)), len(persons))
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

"""The bench group: N synthetic persons with certificates and health checks, for load tests.

`seed_scale(n=N, seed=S)` replaces the previous bench group with a new one in one transaction:
set-based deletes of every bench row, then, 10,000 persons at a time (memory stays flat), their
employments, health checks, certificates and review/extension events as set-based inserts
(`bulk.Inserter`; the few organisation rows with `bulk_create`), ending with one summary audit
record. Primary keys are reserved up front (`bulk.allocate_ids`), so `Person.current_employment`
is written with the person and needs no second pass.

Deterministic for (N, S): one rng seeded with S, a fixed "now" (2026-01-01), catalogue rules for
every date. Bench rows live in their own group (code "bench-group", every code "bench-…") and
draw ID numbers from region codes the demo never uses, so the two never collide; a number that
a person outside the bench already holds is drawn again. The rerun deletes only rows reachable
from the bench group, never the demo.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.accounts.models import User
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateEvent,
    CertificateFile,
    CertificateItem,
    Verification,
)
from safework.certs.rules import RuleBook
from safework.core import audit
from safework.demo import plans
from safework.demo.bulk import Inserter, allocate_ids
from safework.demo.identities import BenchIdentities
from safework.org.models import Area, Department, DepartmentKind, Group, HazardClass, Position, Site
from safework.people.models import (
    Contractor,
    ContractorEngagement,
    Education,
    EmployerKind,
    Employment,
    EngagementStatus,
    HealthCheck,
    HealthConclusion,
    Person,
)
from safework.people.rules import uscc_check_char
from safework.registry.models import VerificationLookup

GROUP_CODE = "bench-group"
NOW = dt.date(2026, 1, 1)
ACTOR = "safework seed"
CHUNK = 10_000
BATCH = 2_000  # Django lowers it further where the database limits query parameters
PLAN_VARIANTS = 64  # date patterns per item and story, drawn once per run

# Real chemical parks, so maps of the bench look plausible; more sites repeat them, shifted.
PARKS = (
    ("上海化学工业区", "30.816000", "121.461000"),
    ("宁波石化经济技术开发区", "29.957000", "121.702000"),
    ("惠州大亚湾石化区", "22.735000", "114.556000"),
    ("天津南港工业区", "38.722000", "117.552000"),
    ("大连长兴岛石化基地", "39.601000", "121.652000"),
    ("连云港徐圩石化基地", "34.556000", "119.503000"),
    ("泉州泉港石化园区", "25.118000", "118.941000"),
    ("茂名石化工业区", "21.664000", "110.921000"),
    ("榆林煤化工园区", "38.302000", "109.734000"),
    ("宁东能源化工基地", "38.105000", "106.553000"),
)
AREA_KINDS = (
    ("tank-farm", "罐区", HazardClass.FIRE_A, True),
    ("unit-1", "一号装置", HazardClass.MAJOR, True),
    ("unit-2", "二号装置", HazardClass.FIRE_A, True),
    ("pipe-rack", "管廊", HazardClass.FIRE_B, True),
    ("warehouse", "仓库", HazardClass.NONE, False),
)
WORKSHOPS_PER_SITE = 6
TEAMS_PER_WORKSHOP = 6
PROCESSES = ("9.6", "9.14", "9.8", "9.2", "9.10", "9.15")  # one per production workshop

POSITIONS = (  # (code, weight)
    ("process-operator", 40),
    ("general-worker", 10),
    ("welder", 8),
    ("electrician", 8),
    ("fitter", 8),
    ("team-leader", 6),
    ("scaffolder", 5),
    ("crane-operator", 3),
    ("crane-signaller", 3),
    ("forklift-driver", 3),
    ("gas-analyst", 3),
    ("safety-officer", 2),
    ("workshop-head", 1),
)
PROCESS = "<process>"  # the workshop's process item
POSITION_ITEMS = {
    "process-operator": (PROCESS, "GUARDIAN"),
    "general-worker": (),
    "welder": ("2.1", "3.2", "GUARDIAN"),
    "electrician": ("1.2", "1.1", "1.3"),
    "fitter": ("GUARDIAN", "3.2"),
    "team-leader": ("GUARDIAN", PROCESS),
    "scaffolder": ("3.1", "3.2"),
    "crane-operator": ("Q2", "Q1"),
    "crane-signaller": ("Q1",),
    "forklift-driver": ("N1",),
    "gas-analyst": ("GAS-TESTER", "GUARDIAN"),
    "safety-officer": ("GUARDIAN", "A"),
    "workshop-head": ("GUARDIAN", "A"),
}
# Further items, in this order, for --certs-per-person beyond what the position holds.
POOL = (
    "2.1", "1.2", "3.1", "3.2", "1.1", "1.3", "2.2", "2.3", "9.16", "Q1", "Q2", "N1", "A", "R1",
    "G1", "GUARDIAN", "GAS-TESTER", "8.1", "4.1", "4.2",
)  # fmt: skip
MAX_CERTS = 1 + len(POOL)


@dataclass
class ScaleResult:
    persons: int
    certificates: int
    health_checks: int
    events: int
    employments: int
    deleted: dict[str, int]
    seconds: float

    def summary(self) -> str:
        return _(
            "bench: %(persons)s persons, %(certificates)s certificates, %(health_checks)s "
            "health checks, %(events)s certificate events in %(seconds).1f s"
        ) % {
            "persons": self.persons,
            "certificates": self.certificates,
            "health_checks": self.health_checks,
            "events": self.events,
            "seconds": self.seconds,
        }


def seed_scale(
    *,
    n: int,
    seed: int,
    certs_per_person: int = 3,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> ScaleResult:
    """Replace the bench group with N persons (deterministic for (N, seed)).

    Loads the catalogue first (its own transaction); everything else is one transaction that
    ends with one summary audit record.
    """
    if n < 1:
        raise ValueError("the bench needs at least one person")
    if not 0 <= certs_per_person <= MAX_CERTS:
        raise ValueError(f"certificates per person: 0 to {MAX_CERTS}")
    from safework.core.catalogue import load_catalogue

    load_catalogue()
    started = time.monotonic()
    result = _seed(n=n, seed=seed, k=certs_per_person, chunk=max(1, chunk), progress=progress)
    result.seconds = time.monotonic() - started
    return result


# -- deleting the previous bench ------------------------------------------------------------------
def _delete(qs: QuerySet) -> int:
    """DELETE … WHERE pk IN (qs): one statement, no rows loaded into Python.

    QuerySet.delete() would fetch every row to walk PROTECT and CASCADE relations; the order
    below deletes the dependants itself, and foreign keys are checked at commit (Django creates
    them DEFERRABLE INITIALLY DEFERRED on SQLite and PostgreSQL).
    """
    model = qs.model
    sql, params = qs.values("pk").query.sql_with_params()
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({sql})", params)
        return cursor.rowcount


def bench_querysets(group: Group) -> dict[str, QuerySet]:
    """Every bench row, reachable from the bench group only (so the demo is never touched)."""
    contractors = Contractor.objects.filter(
        is_synthetic=True,
        pk__in=ContractorEngagement.objects.filter(site__group=group).values("contractor_id"),
    )
    employments = Employment.objects.filter(
        Q(department__group=group) | Q(contractor__in=contractors.values("pk"))
    )
    persons = Person.objects.filter(is_synthetic=True, pk__in=employments.values("person_id"))
    certificates = Certificate.objects.filter(person__in=persons.values("pk"))
    return {
        "certificate_events": CertificateEvent.objects.filter(
            certificate__in=certificates.values("pk")
        ),
        "certificate_files": CertificateFile.objects.filter(
            certificate__in=certificates.values("pk")
        ),
        "verification_lookups": VerificationLookup.objects.filter(
            certificate__in=certificates.values("pk")
        ),
        "certificates": certificates,
        "health_checks": HealthCheck.objects.filter(person__in=persons.values("pk")),
        "persons": persons,  # before employments and contractors: they select the persons
        "employments": employments,
        "contractors": contractors,  # before engagements, which select the contractors
        "engagements": ContractorEngagement.objects.filter(site__group=group),
        "departments": Department.objects.filter(group=group),
        "areas": Area.objects.filter(site__group=group),
        "sites": Site.objects.filter(group=group),
        "groups": Group.objects.filter(pk=group.pk),
    }


def delete_bench() -> dict[str, int]:
    """Delete the bench group and everything in it (inside the caller's transaction)."""
    group = Group.objects.filter(code=GROUP_CODE).first()
    if group is None:
        return {}
    sets = bench_querysets(group)
    User.objects.filter(person__in=sets["persons"].values("pk")).update(person=None)
    return {name: _delete(qs) for name, qs in sets.items()}


# -- building the new one -------------------------------------------------------------------------
@transaction.atomic(durable=True)
def _seed(*, n: int, seed: int, k: int, chunk: int, progress) -> ScaleResult:
    deleted = {name: count for name, count in delete_bench().items() if count}
    rng = random.Random(seed)
    org = _Org.build(n)
    build = _Builder(rng, org, k)
    counts: Counter[str] = Counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        for name, count in build.chunk(start, size).items():
            counts[name] += count
        if progress:
            progress(start + size, n)
    audit.record(
        action="demo.bench_seeded",
        target=org.group,
        actor=ACTOR,
        after={
            "persons": n,
            "seed": seed,
            "certs_per_person": k,
            "now": NOW,
            "created": dict(sorted(counts.items())),
            "replaced": deleted,
        },
    )
    return ScaleResult(
        persons=counts["persons"],
        certificates=counts["certificates"],
        health_checks=counts["health_checks"],
        events=counts["certificate_events"],
        employments=counts["employments"],
        deleted=deleted,
        seconds=0.0,
    )


@dataclass
class _Org:
    group: Group
    sites: list[Site]
    teams: list[Department]  # own staff work in teams
    team_process: dict[int, str]  # team id → process item of its workshop
    contractors: list[Contractor]

    @classmethod
    def build(cls, n: int) -> _Org:
        group = Group(code=GROUP_CODE, name="压测集团（合成数据）", is_synthetic=True)
        Group.objects.bulk_create([group])
        site_count = max(2, min(20, -(-n // 50_000)))
        sites = []
        for i in range(site_count):
            name, lat, lon = PARKS[i % len(PARKS)]
            shift = Decimal(i // len(PARKS)) * Decimal("0.05")
            sites.append(
                Site(
                    group=group,
                    code=f"bench-site-{i + 1:02d}",
                    name=f"{name}（压测{i + 1:02d}）",
                    latitude=Decimal(lat) + shift,
                    longitude=Decimal(lon) + shift,
                )
            )
        Site.objects.bulk_create(sites)
        Area.objects.bulk_create(
            [
                Area(
                    site=site,
                    code=f"bench-{code}",
                    name=name,
                    hazard_class=hazard,
                    fire_explosion_hazard=fire,
                    center_latitude=site.latitude + Decimal("0.001") * j,
                    center_longitude=site.longitude - Decimal("0.001") * j,
                    radius_m=150,
                )
                for site in sites
                for j, (code, name, hazard, fire) in enumerate(AREA_KINDS)
            ]
        )
        # Departments level by level: each level needs its parents' ids for the tree paths.
        hq = Department(
            group=group, code="bench-hq", name="压测集团总部", kind=DepartmentKind.COMPANY
        )
        _save_level([hq])
        safety = Department(
            group=group,
            parent=hq,
            code="bench-safety",
            name="安全环保部",
            kind=DepartmentKind.OFFICE,
        )
        companies = [
            Department(
                group=group,
                parent=hq,
                site=site,
                code=f"{site.code}-company",
                name=f"{site.name}分公司",
                kind=DepartmentKind.COMPANY,
            )
            for site in sites
        ]
        _save_level([safety, *companies])
        workshops = [
            Department(
                group=group,
                parent=company,
                code=f"{company.site.code}-w{w + 1}",
                name=f"第{w + 1}车间",
                kind=DepartmentKind.WORKSHOP,
            )
            for company in companies
            for w in range(WORKSHOPS_PER_SITE)
        ]
        _save_level(workshops)
        teams, team_process = [], {}
        for workshop in workshops:
            for t in range(TEAMS_PER_WORKSHOP):
                teams.append(
                    Department(
                        group=group,
                        parent=workshop,
                        code=f"{workshop.code}-t{t + 1}",
                        name=f"{workshop.name}{t + 1}班",
                        kind=DepartmentKind.TEAM,
                    )
                )
        _save_level(teams)
        for i, team in enumerate(teams):
            team_process[team.pk] = PROCESSES[(i // TEAMS_PER_WORKSHOP) % WORKSHOPS_PER_SITE]
        contractor_count = max(2, min(100, n // 5_000))
        contractors = []
        for i in range(contractor_count):
            first17 = f"91310000BENCH{i + 1:04d}"
            contractors.append(
                Contractor(
                    name=f"压测承包商{i + 1:03d}有限公司",
                    uscc=first17 + uscc_check_char(first17),
                    contact_name="压测联系人",
                    is_synthetic=True,
                )
            )
        Contractor.objects.bulk_create(contractors)
        ContractorEngagement.objects.bulk_create(
            [
                ContractorEngagement(
                    contractor=c,
                    site=sites[i % len(sites)],
                    starts_on=dt.date(2025, 1, 1),
                    ends_on=dt.date(2027, 12, 31),
                    status=EngagementStatus.ACTIVE,
                )
                for i, c in enumerate(contractors)
            ]
        )
        return cls(group, sites, teams, team_process, contractors)


def _save_level(departments: list[Department]) -> None:
    """Insert one level of the tree, then its paths and effective sites from the parents."""
    for d in departments:
        d.path = "/"
    Department.objects.bulk_create(departments)
    for d in departments:
        parent = d.parent
        d.path = f"{parent.path if parent else '/'}{d.pk}/"
        d.effective_site_id = d.site_id or (parent.effective_site_id if parent else None)
    Department.objects.bulk_update(departments, ["path", "effective_site"])


class _Item(NamedTuple):
    pk: int
    scheme_id: int
    scheme: str
    code: str
    version: str
    kinds: list[str]


class _Builder:
    """Builds the rows of one chunk of persons at a time as tuples and writes them set-based."""

    def __init__(self, rng: random.Random, org: _Org, k: int):
        self.rng, self.org, self.k = rng, org, k
        self.ids = BenchIdentities(rng, now=NOW)
        items = CertificateItem.objects.select_related("scheme").filter(
            scheme__code__in=("special_operation", "special_equipment", "internal")
        )
        self.items = {i.code: i for i in items}
        if len(self.items) != len(items):
            raise RuntimeError("item codes repeat across schemes: the bench cannot name them")
        # What a certificate row needs of its item, read once (not through the ORM per row).
        self.info = {
            i.code: _Item(
                i.pk, i.scheme_id, i.scheme.code, i.code, i.catalogue_version, i.restriction_kinds
            )
            for i in items
        }
        self._item_lists: dict[tuple, list[str]] = {}
        self.position_ids = {p.code: p.pk for p in Position.objects.all()}
        self.position_codes = [code for code, _w in POSITIONS]
        self.position_weights = [w for _code, w in POSITIONS]
        self.planner = plans.Planner(RuleBook(CatalogueRule.objects.all()))
        self._variants: dict[tuple[str, str], list[plans.CertPlan | None]] = {}
        self._medical_until: dict[dt.date, dt.date | None] = {}
        self._verified_at: dict[dt.date, dt.datetime] = {}
        stamp = timezone.now()
        self.persons = Inserter(
            Person,
            (
                "id",
                "id_number",
                "name",
                "gender",
                "birth_date",
                "education",
                "position",
                "current_employment",
                "is_synthetic",
            ),
            now=stamp,
        )
        self.employments = Inserter(
            Employment,
            (
                "id",
                "person",
                "employer_kind",
                "contractor",
                "department",
                "site",
                "started_on",
            ),
            now=stamp,
        )
        self.checks = Inserter(
            HealthCheck,
            (
                "person",
                "checked_on",
                "conclusion",
                "restricted_work_types",
                "restriction_reason",
                "valid_until",
                "institution",
                "is_synthetic",
            ),
            now=stamp,
        )
        self.certificates = Inserter(
            Certificate,
            (
                "id",
                "person",
                "scheme",
                "item",
                "number",
                "restriction",
                "first_issued_on",
                "issued_on",
                "valid_from",
                "valid_until",
                "next_review_due",
                "verification",
                "verified_at",
                "verification_source",
                "catalogue_version",
                "is_synthetic",
            ),
            now=stamp,
        )
        self.events = Inserter(
            CertificateEvent,
            (
                "certificate",
                "kind",
                "on",
                "due_on",
                "passed",
                "previous_valid_until",
                "new_valid_until",
                "reason",
                "actor_label",
            ),
            now=stamp,
        )

    # One plan per (item, story) is drawn PLAN_VARIANTS times and then reused at random: the
    # rules run a few thousand times instead of once per certificate.
    def _plan(self, code: str, story: str) -> plans.CertPlan | None:
        variants = self._variants.get((code, story))
        if variants is None:
            item = self.items[code]
            variants = [
                self.planner.plan(item, on=NOW, story=story, rng=self.rng)
                for _ in range(PLAN_VARIANTS)
            ]
            self._variants[(code, story)] = variants
        return variants[int(self.rng.random() * PLAN_VARIANTS)]

    def _story(self, scheme: str) -> str:
        roll = self.rng.random()
        if roll < 0.08:
            return plans.EXPIRING
        if roll < 0.14:
            return plans.EXPIRED
        if scheme == "special_operation" and roll < 0.17:
            return plans.REVIEW_OVERDUE
        if scheme == "special_equipment" and roll < 0.40:
            return plans.EXTENDED
        return plans.VALID

    def _items(self, index: int, position: str, process: str | None) -> list[str]:
        key = (position, process, index % len(POOL))
        found = self._item_lists.get(key)
        if found is None:
            found = self._item_lists[key] = self._item_list(index, position, process)
        return found

    def _item_list(self, index: int, position: str, process: str | None) -> list[str]:
        wanted = ["PLANT-ANNUAL"]
        for code in POSITION_ITEMS[position]:
            code = process if code == PROCESS else code
            if code and code not in wanted:
                wanted.append(code)
        if len(wanted) < self.k:
            offset = index % len(POOL)
            for code in POOL[offset:] + POOL[:offset]:
                if code not in wanted:
                    wanted.append(code)
        return wanted[: self.k]

    def _identities(self, size: int) -> list[tuple]:
        """Draw `size` new identities; redraw any already held by a person outside the bench."""
        out = [self.ids.draw() for _ in range(size)]
        pending = list(range(size))
        while pending:
            taken = set()
            numbers = [out[i][0] for i in pending]
            for start in range(0, len(numbers), 5_000):
                taken.update(
                    Person.objects.filter(id_number__in=numbers[start : start + 5_000]).values_list(
                        "id_number", flat=True
                    )
                )
            pending = [i for i in pending if out[i][0] in taken]
            for i in pending:
                out[i] = self.ids.draw()
        return out

    def chunk(self, start: int, size: int) -> Counter:
        rng, org = self.rng, self.org
        identities = self._identities(size)
        positions = rng.choices(self.position_codes, self.position_weights, k=size)
        person_ids = allocate_ids(Person, size)
        employment_ids = allocate_ids(Employment, size)
        cert_ids = iter(allocate_ids(Certificate, size * self.k))
        educations = (Education.JUNIOR, Education.SENIOR, Education.SENIOR, Education.COLLEGE)
        contractors, teams = org.contractors, org.teams
        persons, employments, checks, certs, events = [], [], [], [], []
        for offset in range(size):
            number, name, birth, gender = identities[offset]
            position = positions[offset]
            person_id, employment_id = person_ids[offset], employment_ids[offset]
            index = start + offset
            persons.append(
                (
                    person_id,
                    number,
                    name,
                    gender,
                    birth,
                    rng.choice(educations),
                    self.position_ids.get(position),
                    employment_id,  # inserted just below; checked at commit
                    True,
                )
            )
            if rng.random() < 0.15:
                contractor = contractors[int(rng.random() * len(contractors))]
                process = None
                employments.append(
                    (
                        employment_id,
                        person_id,
                        EmployerKind.CONTRACTOR,
                        contractor.pk,
                        None,
                        None,
                        NOW - dt.timedelta(days=10 + int(rng.random() * 350)),
                    )
                )
            else:
                team = teams[int(rng.random() * len(teams))]
                process = org.team_process[team.pk]
                employments.append(
                    (
                        employment_id,
                        person_id,
                        EmployerKind.OWN,
                        None,
                        team.pk,
                        team.effective_site_id,
                        NOW - dt.timedelta(days=30 + int(rng.random() * 8970)),
                    )
                )
            checks.append(self._health_check(person_id))
            for code in self._items(index, position, process):
                item = self.info[code]
                plan = self._plan(code, self._story(item.scheme)) or self._plan(code, plans.VALID)
                cert_id = next(cert_ids)
                certs.append(self._certificate(cert_id, person_id, item, number, index, plan))
                for e in plan.events:
                    events.append(
                        (
                            cert_id,
                            e.kind,
                            e.on,
                            e.due_on,
                            e.passed,
                            e.previous_valid_until,
                            e.new_valid_until,
                            e.reason,
                            ACTOR,
                        )
                    )
        return Counter(
            persons=self.persons.write(persons),
            employments=self.employments.write(employments),
            health_checks=self.checks.write(checks),
            certificates=self.certificates.write(certs),
            certificate_events=self.events.write(events),
        )

    def _health_check(self, person_id: int) -> tuple:
        rng = self.rng
        roll = rng.random()
        checked = NOW - dt.timedelta(days=5 + int(rng.random() * 335))
        if roll < 0.06:  # expired
            checked = NOW - dt.timedelta(days=380 + int(rng.random() * 220))
        if checked not in self._medical_until:
            self._medical_until[checked] = self.planner.expiry(self.items["MEDICAL"], checked)
        until = None if rng.random() < 0.2 else self._medical_until[checked]
        conclusion, restricted, reason = HealthConclusion.FIT, [], ""
        if 0.06 <= roll < 0.12:
            conclusion, restricted, reason = HealthConclusion.RESTRICTED, ["height"], "高血压"
        elif 0.12 <= roll < 0.13:
            conclusion, reason = HealthConclusion.UNFIT, "不宜从事特种作业"
        return (
            person_id,
            checked,
            conclusion,
            restricted,
            reason,
            until,
            "压测职业健康体检中心",
            True,
        )

    def _certificate(self, cert_id, person_id, item, number, index, plan: plans.CertPlan) -> tuple:
        roll = self.rng.random()
        if item.scheme == "internal" or roll < 0.84:
            verification = Verification.VERIFIED
        elif roll < 0.97:
            verification = Verification.UNVERIFIED
        elif roll < 0.985:
            verification = Verification.MISMATCH
        else:
            verification = Verification.NOT_FOUND
        verified_at = None
        if verification != Verification.UNVERIFIED:
            day = max(plan.issued_on, NOW - dt.timedelta(days=index % 90 + 1))
            verified_at = self._verified_at.get(day)
            if verified_at is None:
                verified_at = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
                self._verified_at[day] = verified_at
        kinds = item.kinds
        return (
            cert_id,
            person_id,
            item.scheme_id,
            item.pk,
            # The registries' items print the ID number; internal records get our own number.
            number if item.scheme != "internal" else f"B{index:07d}-{item.code}",
            kinds[index % len(kinds)] if kinds else "",
            plan.first_issued_on,
            plan.issued_on,
            plan.valid_from,
            plan.valid_until,
            plan.next_review_due,
            verification,
            verified_at,
            "压测数据" if verified_at else "",
            item.version,
            True,
        )

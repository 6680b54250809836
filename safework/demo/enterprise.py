"""The demo enterprise: a chemical group with a site in Jiangsu and one in Shandong.

`seed_demo()` makes sure every demo row exists and creates only what is missing, so running it
again changes nothing (same counts, same passwords). Everything has a stable key: organisation
rows their codes, persons their ID numbers (drawn from a fixed rng against a fixed date), users
their usernames. A person is created together with their employment history, health checks and
certificates; a person who exists already is left as they are, so a demo someone has played with
is not reset. Certificate and health-check dates are set around the real today of the first run,
so the demo shows every status: valid, expiring within 60 days, expired yesterday, a renewal
with a vacuum gap, an Order-30 review overdue before 2026-06-01, and each verification state.

All demo rows are synthetic (`is_synthetic`, ID sequence 900–999, see `identities`); the group
and its sites carry "（演示）" in their names.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from safework.accounts.models import Role, RoleGrant, User
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateEvent,
    CertificateItem,
    CertState,
    EventKind,
    Verification,
)
from safework.certs.rules import RuleBook
from safework.core import audit
from safework.core.catalogue import load_catalogue
from safework.demo import plans
from safework.demo.identities import demo_identity, random_name
from safework.demo.logins import default_path, new_password, read_logins, write_logins
from safework.org.models import Area, Department, DepartmentKind, Group, HazardClass, Position, Site
from safework.org.services import department_path_and_site
from safework.people.models import (
    BlacklistEntry,
    Contractor,
    ContractorEngagement,
    Education,
    EmployerKind,
    Employment,
    EmploymentStatus,
    EngagementStatus,
    HealthCheck,
    HealthConclusion,
    Person,
)
from safework.people.rules import uscc_check_char

GROUP_CODE = "demo"
GROUP_NAME = "苏鲁新材料化工集团（演示）"
ACTOR = "safework seed"
# Identities are drawn against this fixed date, not today, so every run draws the same numbers.
IDENTITY_ANCHOR = dt.date(2026, 1, 1)
RNG_SEED = 20260601


# -- the organisation ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteSpec:
    key: str
    code: str
    name: str
    address: str
    lat: str
    lon: str
    so_authority: str  # who issues special-operation certificates in that province
    se_authority: str  # market regulation of the city
    clinic: str


SITES = (
    SiteSpec(
        "nj",
        "demo-nanjing",
        "南京基地（演示）",
        "江苏省南京市江北新区新材料科技园方水路",
        "32.253400",
        "118.787600",
        "江苏省应急管理厅",
        "南京市市场监督管理局",
        "南京市职业病防治院",
    ),
    SiteSpec(
        "zb",
        "demo-zibo",
        "淄博基地（演示）",
        "山东省淄博市临淄区齐鲁化学工业区清田路",
        "36.802500",
        "118.226300",
        "山东省应急管理厅",
        "淄博市市场监督管理局",
        "淄博市职业病防治院",
    ),
)
SITE_BY_KEY = {s.key: s for s in SITES}


@dataclass(frozen=True)
class AreaSpec:
    code: str
    name: str
    hazard: str
    fire: bool
    # (d_lat, d_lon) offset of the centre from the site, in degrees; a circle or a polygon
    offset: tuple[float, float]
    radius_m: int | None = None
    polygon: tuple[tuple[float, float], ...] | None = None  # offsets of the corners


AREAS = {
    "nj": (
        AreaSpec(
            "tank-farm",
            "中间罐区（乙烯、丙烯球罐）",
            HazardClass.FIRE_A,
            True,
            (0.0021, -0.0032),
            polygon=((0.0008, -0.0012), (0.0008, 0.0012), (-0.0008, 0.0012), (-0.0008, -0.0012)),
        ),
        AreaSpec(
            "ethylene",
            "乙烯裂解装置",
            HazardClass.MAJOR,
            True,
            (0.0, 0.0),
            radius_m=220,
        ),
        AreaSpec(
            "polypropylene",
            "聚丙烯装置",
            HazardClass.FIRE_A,
            True,
            (-0.0024, 0.0018),
            polygon=((0.0007, -0.0010), (0.0009, 0.0008), (-0.0006, 0.0011), (-0.0008, -0.0009)),
        ),
        AreaSpec(
            "pipe-rack",
            "主管廊",
            HazardClass.FIRE_B,
            True,
            (0.0006, 0.0030),
            polygon=((0.0002, -0.0028), (0.0002, 0.0028), (-0.0002, 0.0028), (-0.0002, -0.0028)),
        ),
        AreaSpec(
            "warehouse",
            "危险化学品仓库",
            HazardClass.FIRE_B,
            True,
            (-0.0040, -0.0030),
            radius_m=60,
        ),
    ),
    "zb": (
        AreaSpec(
            "tank-farm",
            "原油及成品油罐区",
            HazardClass.FIRE_A,
            True,
            (0.0030, 0.0020),
            polygon=((0.0010, -0.0014), (0.0010, 0.0014), (-0.0010, 0.0014), (-0.0010, -0.0014)),
        ),
        AreaSpec(
            "hydrocracking",
            "加氢裂化装置",
            HazardClass.MAJOR,
            True,
            (0.0, 0.0),
            radius_m=180,
        ),
        AreaSpec(
            "chlor-alkali",
            "氯碱装置（离子膜电解）",
            HazardClass.TOXIC,
            True,
            (-0.0026, -0.0015),
            polygon=((0.0006, -0.0008), (0.0006, 0.0008), (-0.0006, 0.0008), (-0.0006, -0.0008)),
        ),
        AreaSpec(
            "pipe-rack",
            "装置区管廊",
            HazardClass.FIRE_B,
            True,
            (0.0009, -0.0025),
            polygon=((0.0002, -0.0020), (0.0002, 0.0020), (-0.0002, 0.0020), (-0.0002, -0.0020)),
        ),
        AreaSpec(
            "warehouse",
            "备品备件仓库",
            HazardClass.NONE,
            False,
            (-0.0035, 0.0028),
            radius_m=50,
        ),
    ),
}


@dataclass(frozen=True)
class DeptSpec:
    code: str
    name: str
    kind: str
    parent: str | None = None
    site: str | None = None  # site key, where the department names its site itself


def _site_departments(key: str, company: str, w1: str, w2: str) -> list[DeptSpec]:
    p = f"demo-{key}"
    depts = [
        DeptSpec(p, company, DepartmentKind.COMPANY, "demo-hq", key),
        DeptSpec(f"{p}-safety", "安全环保科", DepartmentKind.OFFICE, p),
        DeptSpec(f"{p}-lab", "质检化验中心", DepartmentKind.OFFICE, p),
        DeptSpec(f"{p}-w1", w1, DepartmentKind.WORKSHOP, p),
        DeptSpec(f"{p}-w2", w2, DepartmentKind.WORKSHOP, p),
        DeptSpec(f"{p}-w3", "储运车间", DepartmentKind.WORKSHOP, p),
        DeptSpec(f"{p}-w4", "维修车间", DepartmentKind.WORKSHOP, p),
    ]
    for w in ("w1", "w2"):
        for n, shift in enumerate(("运行一班", "运行二班", "运行三班", "运行四班"), start=1):
            depts.append(DeptSpec(f"{p}-{w}-t{n}", shift, DepartmentKind.TEAM, f"{p}-{w}"))
    depts += [
        DeptSpec(f"{p}-w3-t1", "罐区班", DepartmentKind.TEAM, f"{p}-w3"),
        DeptSpec(f"{p}-w3-t2", "装卸班", DepartmentKind.TEAM, f"{p}-w3"),
        DeptSpec(f"{p}-w4-t1", "电仪班", DepartmentKind.TEAM, f"{p}-w4"),
        DeptSpec(f"{p}-w4-t2", "钳焊班", DepartmentKind.TEAM, f"{p}-w4"),
        DeptSpec(f"{p}-w4-t3", "起重班", DepartmentKind.TEAM, f"{p}-w4"),
    ]
    return depts


DEPARTMENTS = (
    DeptSpec("demo-hq", "集团总部", DepartmentKind.COMPANY),
    # Company-level: spans both sites, so it has no site of its own.
    DeptSpec("demo-safety", "安全环保部", DepartmentKind.OFFICE, "demo-hq"),
    *_site_departments("nj", "南京分公司", "乙烯车间", "聚丙烯车间"),
    *_site_departments("zb", "淄博分公司", "加氢裂化车间", "氯碱车间"),
)

# The hazardous-chemical process (Order-30 category 9) each production workshop runs.
WORKSHOP_PROCESS = {
    "demo-nj-w1": "9.6",  # 裂解（裂化）工艺
    "demo-nj-w2": "9.14",  # 聚合工艺
    "demo-zb-w1": "9.8",  # 加氢工艺
    "demo-zb-w2": "9.2",  # 氯碱电解工艺
}


def _site_staff(key: str) -> list[tuple[str, str | None, int]]:
    p = f"demo-{key}"
    staff = [
        (f"{p}-safety", "safety-officer", 3),
        (f"{p}-lab", "gas-analyst", 5),
    ]
    for w, operators in (("w1", 6), ("w2", 5)):
        staff.append((f"{p}-{w}", "workshop-head", 1))
        for t in range(1, 5):
            staff += [
                (f"{p}-{w}-t{t}", "team-leader", 1),
                (f"{p}-{w}-t{t}", "process-operator", operators),
            ]
    staff += [
        (f"{p}-w3", "workshop-head", 1),
        (f"{p}-w3-t1", "team-leader", 1),
        (f"{p}-w3-t1", "process-operator", 5),
        (f"{p}-w3-t2", "team-leader", 1),
        (f"{p}-w3-t2", "forklift-driver", 3),
        (f"{p}-w3-t2", "process-operator", 3),
        (f"{p}-w4", "workshop-head", 1),
        (f"{p}-w4-t1", "team-leader", 1),
        (f"{p}-w4-t1", "electrician", 6),
        (f"{p}-w4-t2", "team-leader", 1),
        (f"{p}-w4-t2", "welder", 4),
        (f"{p}-w4-t2", "fitter", 4),
        (f"{p}-w4-t3", "team-leader", 1),
        (f"{p}-w4-t3", "crane-operator", 2),
        (f"{p}-w4-t3", "crane-signaller", 2),
        (f"{p}-w4-t3", "scaffolder", 2),
    ]
    return staff


# (department code, position code or None, how many)
OWN_STAFF = (
    ("demo-hq", None, 1),  # the principal (总经理)
    ("demo-safety", "safety-officer", 3),  # the head of safety and two engineers
    *_site_staff("nj"),
    *_site_staff("zb"),
)


@dataclass(frozen=True)
class EngagementSpec:
    site: str
    starts_on: dt.date
    ends_on: dt.date
    status: str


@dataclass(frozen=True)
class ContractorSpec:
    key: str
    name: str
    first17: str  # the credit code without its check character
    contact: str
    clinic: str
    engagements: tuple[EngagementSpec, ...]
    staff: tuple[tuple[str | None, int], ...]


_CONTRACTOR_STAFF = (
    ("team-leader", 1),  # the project manager, who is also the contractor manager's login
    ("welder", 8),
    ("scaffolder", 10),
    ("crane-operator", 3),
    ("crane-signaller", 3),
    ("electrician", 4),
    ("fitter", 5),
    ("general-worker", 10),
)
CONTRACTORS = (
    ContractorSpec(
        "c1",
        "江苏华安石化建设工程有限公司",
        "91320116MA1W9DM01",
        "周建国",
        "南京江北新区人民医院体检中心",
        (EngagementSpec("nj", dt.date(2024, 3, 1), dt.date(2027, 2, 28), EngagementStatus.ACTIVE),),
        _CONTRACTOR_STAFF,
    ),
    ContractorSpec(
        "c2",
        "山东鲁建设备安装有限公司",
        "91370305MA3C8DM02",
        "孙立强",
        "临淄区人民医院体检中心",
        (
            EngagementSpec(
                "zb", dt.date(2025, 1, 1), dt.date(2026, 12, 31), EngagementStatus.ACTIVE
            ),
            EngagementSpec("nj", dt.date(2023, 5, 1), dt.date(2024, 4, 30), EngagementStatus.ENDED),
        ),
        _CONTRACTOR_STAFF,
    ),
)
CONTRACTOR_BY_KEY = {c.key: c for c in CONTRACTORS}


def contractor_uscc(spec: ContractorSpec) -> str:
    return spec.first17 + uscc_check_char(spec.first17)


# -- the people -----------------------------------------------------------------------------------
@dataclass
class PersonSpec:
    key: str  # "<department or contractor>/<position>/<n>": stable, names stories and users
    id_number: str
    name: str
    birth: dt.date
    gender: str
    education: str
    position: str | None
    department: str | None = None
    contractor: str | None = None
    former_names: list[str] = field(default_factory=list)

    @property
    def workshop(self) -> str | None:
        if not self.department:
            return None
        parts = self.department.split("-")
        return "-".join(parts[:3]) if len(parts) >= 3 else None

    @property
    def site(self) -> str | None:
        if self.contractor:
            return CONTRACTOR_BY_KEY[self.contractor].engagements[0].site
        parts = (self.department or "").split("-")
        return parts[1] if len(parts) >= 2 and parts[1] in SITE_BY_KEY else None


# Stories told by particular people, so the demo shows each case on the first screen.
CERT_STORIES = {
    "demo-nj-w4-t1/electrician/1": {"1.2": plans.REVIEW_OVERDUE},
    "demo-nj-w4-t1/electrician/2": {"1.2": plans.REVIEW_LATE},
    "demo-zb-w4-t1/electrician/1": {"1.2": plans.REVIEW_OVERDUE},
    "demo-nj-w4-t2/welder/1": {"2.1": plans.EXPIRING},
    "demo-zb-w4-t2/welder/1": {"2.1": plans.EXPIRED_YESTERDAY},
    "c1/scaffolder/1": {"3.1": plans.EXPIRED_YESTERDAY},
    "c1/scaffolder/2": {"3.1": plans.EXPIRING},
    "c2/scaffolder/1": {"3.1": plans.EXPIRED},
    "demo-nj-w4-t3/crane-operator/1": {"Q2": plans.EXTENDED},
    "c1/crane-operator/1": {"Q2": plans.EXPIRING},
    "demo-nj-lab/gas-analyst/2": {"GAS-TESTER": plans.EXPIRING},
    "demo-nj-w1-t2/process-operator/1": {"PLANT-ANNUAL": plans.EXPIRED_YESTERDAY},
    "demo-nj-w1-t1/process-operator/3": {"PLANT-ANNUAL": plans.EXPIRING},
}
VACUUM = {"c1/welder/1": "2.1"}  # renewed, but the new record starts after the old one ended
LONG_REVIEW = {"demo-nj-w4-t1/electrician/3"}  # 10+ years clean: reviewed every 6 years
VERIFICATION_STORIES = {
    "c1/welder/2": Verification.MISMATCH,
    "c2/welder/1": Verification.NOT_FOUND,
    "c2/crane-operator/1": Verification.UNVERIFIED,
}
REVOKED = {"c2/welder/2": "2.1"}
FORMER_NAME = {"demo-zb-w1-t1/process-operator/2", "c1/fitter/1"}
BLACKLISTED = {"c2/general-worker/1": "伪造特种作业操作证，登记库查无此证（演示）"}
HEALTH_STORIES = {
    "c1/scaffolder/3": "restricted",
    "demo-nj-w4-t3/scaffolder/1": "restricted",
    "demo-nj-w4-t2/welder/2": "expired",
    "c2/fitter/1": "stale",  # fit, but older than the contractor medical age
    "c1/general-worker/1": "unfit",
}
# Employment history: people who changed contractor, came back, or left us for a contractor.
HISTORY = {
    "c1/welder/3": "changed_contractor",
    "c1/scaffolder/4": "changed_contractor",
    "c1/general-worker/2": "changed_contractor",
    "c2/welder/3": "returned",
    "demo-nj-w1-t3/process-operator/1": "returned",
    "demo-zb-w4-t2/fitter/1": "returned",
    "c1/fitter/2": "former_own",
}


@dataclass(frozen=True)
class UserSpec:
    role: str
    username: str
    person: str | None = None  # person key
    site: str | None = None
    department: str | None = None
    contractor: str | None = None


USERS = (
    UserSpec(Role.WORKER, "demo_worker", "demo-nj-w1-t1/process-operator/1", site="nj"),
    UserSpec(
        Role.TEAM_LEADER,
        "demo_team_leader",
        "demo-nj-w1-t1/team-leader/1",
        department="demo-nj-w1-t1",
    ),
    UserSpec(Role.GUARDIAN, "demo_guardian", "demo-nj-w1-t1/process-operator/2", site="nj"),
    UserSpec(Role.GAS_TESTER, "demo_gas_tester", "demo-nj-lab/gas-analyst/1", site="nj"),
    UserSpec(
        Role.WORKSHOP_HEAD,
        "demo_workshop_head",
        "demo-nj-w4/workshop-head/1",
        department="demo-nj-w4",
    ),
    UserSpec(
        Role.SAFETY_OFFICER, "demo_safety_officer", "demo-nj-safety/safety-officer/1", site="nj"
    ),
    UserSpec(Role.SAFETY_HEAD, "demo_safety_head", "demo-safety/safety-officer/1"),
    UserSpec(Role.TECHNICAL_LEAD, "demo_technical_lead", site="nj"),
    UserSpec(Role.PRINCIPAL, "demo_principal", "demo-hq/-/1"),
    UserSpec(
        Role.CONTRACTOR_MANAGER, "demo_contractor_manager", "c1/team-leader/1", contractor="c1"
    ),
    UserSpec(Role.INSPECTOR, "demo_inspector"),
    UserSpec(Role.ADMINISTRATOR, "demo_admin"),
    # One contractor manager per demo contractor: the first one is the role's user above.
    UserSpec(
        Role.CONTRACTOR_MANAGER, "demo_contractor_manager_2", "c2/team-leader/1", contractor="c2"
    ),
)
GUARDIAN_KEYS = {"demo-nj-w1-t1/process-operator/2"}
NOT_GUARDIAN_KEYS = {"demo-nj-w1-t1/process-operator/1"}


def _education(rng: random.Random, position: str | None) -> str:
    if position in ("safety-officer", "workshop-head", None):
        return rng.choice((Education.BACHELOR, Education.BACHELOR, Education.COLLEGE))
    if position in ("process-operator", "team-leader", "gas-analyst"):
        # Hazardous-chemical operations need senior middle school (Order 30, Art. 4).
        return rng.choice((Education.SENIOR, Education.SENIOR, Education.COLLEGE))
    return rng.choice((Education.JUNIOR, Education.SENIOR, Education.SENIOR))


def person_specs() -> list[PersonSpec]:
    """Every demo person, in a fixed order from a fixed rng: the same list on every run."""
    rng = random.Random(RNG_SEED)
    out = []

    def add(prefix, position, n, **where):
        for i in range(1, n + 1):
            key = f"{prefix}/{position or '-'}/{i}"
            young = position in ("general-worker", "scaffolder", "process-operator")
            number, name, birth, gender = demo_identity(
                rng, anchor=IDENTITY_ANCHOR, max_age=45 if young else 56
            )
            spec = PersonSpec(
                key, number, name, birth, gender, _education(rng, position), position, **where
            )
            if key in FORMER_NAME:
                spec.former_names = [spec.name[0] + random_name(rng)[1:]]
            out.append(spec)

    for dept, position, n in OWN_STAFF:
        add(dept, position, n, department=dept)
    for c in CONTRACTORS:
        for position, n in c.staff:
            add(c.key, position, n, contractor=c.key)
    return out


# -- the seed -------------------------------------------------------------------------------------
@dataclass
class DemoResult:
    skipped: bool
    created: dict[str, int]
    logins: list[tuple[str, str, str]]
    logins_path: Path


def demo_exists() -> bool:
    return Group.objects.filter(code=GROUP_CODE).exists()


def seed_demo(
    *, today: dt.date | None = None, logins_path: Path | None = None, if_empty: bool = False
) -> DemoResult:
    """Make sure the demo enterprise, its people and one login per role exist.

    Creates only what is missing (a second run changes nothing), writes one summary audit record
    when it created anything, and keeps the logins in a 0600 file whose passwords are generated
    once. With `if_empty`, does nothing when the demo group exists.
    """
    path = logins_path or default_path()
    if if_empty and demo_exists():
        return DemoResult(True, {}, _rows(read_logins(path)), path)
    load_catalogue()  # its own transaction and audit record: the seed needs the items
    today = today or timezone.localdate()

    # Passwords: reuse the file's; hash new ones before the transaction (hashing is slow).
    known = read_logins(path)
    present = set(
        User.objects.filter(username__in=[u.username for u in USERS]).values_list(
            "username", flat=True
        )
    )
    passwords, hashes = {}, {}
    for u in USERS:
        password = known.get(u.username, (None, None))[1]
        if u.username not in present or password is None:
            # A user whose password is not in the file gets a new one: nobody could log in else.
            password = password or new_password()
            hashes[u.username] = make_password(password)
        passwords[u.username] = password

    created = _seed(today=today, password_hashes=hashes)
    rows = [(u.role, u.username, passwords[u.username]) for u in USERS]
    write_logins(path, rows)
    return DemoResult(False, created, rows, path)


def _rows(known: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    order = {u.username: i for i, u in enumerate(USERS)}
    rows = [(role, username, pw) for username, (role, pw) in known.items()]
    return sorted(rows, key=lambda r: order.get(r[1], len(order)))


@transaction.atomic(durable=True)
def _seed(*, today: dt.date, password_hashes: dict[str, str]) -> dict[str, int]:
    created: Counter[str] = Counter()
    group, sites = _ensure_org(created)
    departments = _ensure_departments(group, sites, created)
    contractors = _ensure_contractors(sites, created)
    persons = _ensure_persons(today, departments, contractors, created)
    _ensure_blacklist(today, persons, created)
    _ensure_users(persons, sites, departments, contractors, password_hashes, created)
    summary = {k: v for k, v in sorted(created.items()) if v}
    if summary:
        audit.record(
            action="demo.seeded",
            target=group,
            actor=ACTOR,
            after={"created": summary, "today": today},
        )
    return summary


def _ensure_org(created: Counter) -> tuple[Group, dict[str, Site]]:
    group, new = Group.objects.get_or_create(
        code=GROUP_CODE, defaults={"name": GROUP_NAME, "is_synthetic": True}
    )
    created["groups"] += new
    sites = {}
    for s in SITES:
        site, new = Site.objects.get_or_create(
            code=s.code,
            defaults={
                "group": group,
                "name": s.name,
                "address": s.address,
                "latitude": Decimal(s.lat),
                "longitude": Decimal(s.lon),
            },
        )
        created["sites"] += new
        sites[s.key] = site
        lat0, lon0 = float(s.lat), float(s.lon)
        for a in AREAS[s.key]:
            clat, clon = round(lat0 + a.offset[0], 6), round(lon0 + a.offset[1], 6)
            defaults = {
                "name": a.name,
                "hazard_class": a.hazard,
                "fire_explosion_hazard": a.fire,
            }
            if a.radius_m:
                defaults.update(
                    center_latitude=Decimal(f"{clat:.6f}"),
                    center_longitude=Decimal(f"{clon:.6f}"),
                    radius_m=a.radius_m,
                )
            else:
                defaults["polygon"] = [
                    [round(clat + dlat, 6), round(clon + dlon, 6)] for dlat, dlon in a.polygon
                ]
            _area, new = Area.objects.get_or_create(site=site, code=a.code, defaults=defaults)
            created["areas"] += new
    return group, sites


def _ensure_departments(group, sites, created: Counter) -> dict[str, Department]:
    existing = {
        d.code: d for d in Department.objects.filter(code__in=[d.code for d in DEPARTMENTS])
    }
    for spec in DEPARTMENTS:  # parents come first
        if spec.code in existing:
            continue
        dept = Department.objects.create(
            group=group,
            parent=existing[spec.parent] if spec.parent else None,
            site=sites[spec.site] if spec.site else None,
            name=spec.name,
            code=spec.code,
            kind=spec.kind,
            path="/",
        )
        dept.path, dept.effective_site_id = department_path_and_site(dept)
        dept.save(update_fields=["path", "effective_site"])
        existing[spec.code] = dept
        created["departments"] += 1
    return existing


def _ensure_contractors(sites, created: Counter) -> dict[str, Contractor]:
    out = {}
    for c in CONTRACTORS:
        contractor, new = Contractor.objects.get_or_create(
            uscc=contractor_uscc(c),
            defaults={"name": c.name, "contact_name": c.contact, "is_synthetic": True},
        )
        created["contractors"] += new
        for e in c.engagements:
            _eng, new = ContractorEngagement.objects.get_or_create(
                contractor=contractor,
                site=sites[e.site],
                starts_on=e.starts_on,
                defaults={"ends_on": e.ends_on, "status": e.status},
            )
            created["engagements"] += new
        out[c.key] = contractor
    return out


class _Book:
    """Catalogue look-ups the person builder needs, loaded once."""

    def __init__(self):
        self.items = {
            (i.scheme.code, i.code): i
            for i in CertificateItem.objects.select_related("scheme").filter(is_active=True)
        }
        self.positions = {p.code: p for p in Position.objects.all()}
        self.planner = plans.Planner(RuleBook(CatalogueRule.objects.all()))

    def item(self, code: str) -> CertificateItem:
        for scheme in ("special_operation", "special_equipment", "internal"):
            if (scheme, code) in self.items:
                return self.items[(scheme, code)]
        raise KeyError(f"catalogue item {code} is not loaded")


def _items_for(spec: PersonSpec, rng: random.Random) -> list[str]:
    """The certificate items a person of this position holds (PLANT-ANNUAL for everyone)."""
    pos, items = spec.position, []
    if pos == "welder":
        items.append("2.1")
        if rng.random() < 0.3:
            items.append("3.2")  # hot work at height: enterprise policy wants 3.x too
    elif pos == "electrician":
        items.append("1.2")
        if rng.random() < 0.4 or spec.key in LONG_REVIEW:
            items.append("1.1")
        if rng.random() < 0.3:
            items.append("1.3")  # explosion-proof electrical, for the hazardous areas
    elif pos == "scaffolder":
        items.append("3.1")
    elif pos == "crane-operator":
        items.append("Q2")
    elif pos == "crane-signaller":
        items.append("Q1")
    elif pos == "forklift-driver":
        items.append("N1")
    elif pos == "gas-analyst":
        items.append("GAS-TESTER")
    elif pos in ("process-operator", "team-leader") and spec.workshop in WORKSHOP_PROCESS:
        items.append(WORKSHOP_PROCESS[spec.workshop])
    if spec.key in GUARDIAN_KEYS or (
        spec.key not in NOT_GUARDIAN_KEYS
        and (
            pos in ("team-leader", "safety-officer")
            or (pos == "process-operator" and rng.random() < 0.4)
            or (pos == "fitter" and rng.random() < 0.2)
        )
    ):
        items.append("GUARDIAN")
    if pos == "safety-officer" and rng.random() < 0.3:
        items.append("A")  # special-equipment safety management
    items.append("PLANT-ANNUAL")
    if spec.contractor:
        items.append("CONTRACTOR-ENTRY")
    return items


def _story(spec: PersonSpec, code: str, item: CertificateItem, rng: random.Random) -> str:
    forced = CERT_STORIES.get(spec.key, {}).get(code)
    if forced:
        return forced
    roll = rng.random()
    if roll < 0.10:
        return plans.EXPIRING
    if roll < 0.15:
        return plans.EXPIRED
    if item.scheme.code == "special_equipment" and roll < 0.45:
        return plans.EXTENDED
    return plans.VALID


def _verification(spec: PersonSpec, item: CertificateItem, issued_on, today, rng):
    """(verification, verified_at, source) for a record; internal records are our own."""
    days = rng.randint(1, max(1, min(200, (today - issued_on).days)))
    at = timezone.make_aware(dt.datetime.combine(today, dt.time(9, 0))) - dt.timedelta(
        days=days, minutes=rng.randint(0, 480)
    )
    if item.scheme.code == "internal":
        return Verification.VERIFIED, at, "企业培训与考核记录"
    forced = VERIFICATION_STORIES.get(spec.key)
    if forced == Verification.UNVERIFIED or (forced is None and rng.random() < 0.15):
        return Verification.UNVERIFIED, None, ""
    if forced is not None:
        return forced, at, "演示登记库"
    return Verification.VERIFIED, at, "演示登记库"


def _ensure_persons(today, departments, contractors, created: Counter) -> dict[str, Person]:
    specs = person_specs()
    existing = {
        p.id_number: p for p in Person.objects.filter(id_number__in=[s.id_number for s in specs])
    }
    book = _Book()
    new_specs = [s for s in specs if s.id_number not in existing]
    persons = []
    for s in new_specs:
        persons.append(
            Person(
                id_number=s.id_number,
                name=s.name,
                former_names=s.former_names,
                gender=s.gender,
                birth_date=s.birth,
                education=s.education,
                position=book.positions.get(s.position) if s.position else None,
                is_synthetic=True,
            )
        )
    Person.objects.bulk_create(persons, batch_size=500)
    by_key = {s.key: existing.get(s.id_number) for s in specs}
    for s, p in zip(new_specs, persons, strict=True):
        by_key[s.key] = p
    created["persons"] += len(persons)
    if not persons:
        return by_key

    employments, current, checks = [], {}, []
    first_certs, renewals, events = [], [], []  # renewals: (old cert, new cert)
    revocations = []
    for s, person in zip(new_specs, persons, strict=True):
        rng = random.Random(f"{RNG_SEED}:{s.key}")
        for emp in _employments(s, person, rng, departments, contractors):
            employments.append(emp)
            if emp.ended_on is None:
                current[person.pk] = emp
        checks += _health_checks(s, person, today, rng, book)
        for code in _items_for(s, rng):
            item = book.item(code)
            story = _story(s, code, item, rng)
            entry_end = None
            if code == "CONTRACTOR-ENTRY":
                entry_end = CONTRACTOR_BY_KEY[s.contractor].engagements[0].ends_on
            plan = book.planner.plan(
                item,
                on=today,
                story=story,
                rng=rng,
                valid_until=entry_end,
                long_review_interval=s.key in LONG_REVIEW and code == "1.1",
            )
            if plan is None:  # the item cannot tell that story: an ordinary valid record
                plan = book.planner.plan(item, on=today, story=plans.VALID, rng=rng)
            if VACUUM.get(s.key) == code:
                plan = book.planner.ending_on(
                    item, today - dt.timedelta(days=12), on=today, rng=rng
                )
            cert = _certificate(s, person, item, plan, today, rng)
            first_certs.append(cert)
            events += [(cert, e) for e in plan.events]
            if REVOKED.get(s.key) == code:
                revocations.append(cert)
            if VACUUM.get(s.key) == code:
                renewals.append((cert, _renewal(s, person, item, plan, today, book, rng)))

    Employment.objects.bulk_create(employments, batch_size=500)
    for person in persons:
        person.current_employment = current.get(person.pk)
    Person.objects.bulk_update(persons, ["current_employment"], batch_size=500)
    HealthCheck.objects.bulk_create(checks, batch_size=500)
    for cert in revocations:
        cert.state = CertState.REVOKED
        cert.state_reason = "违章作业造成未遂事件，发证机关撤销（演示）"
        cert.state_changed_on = today - dt.timedelta(days=40)
        events.append(
            (
                cert,
                plans.EventPlan(
                    EventKind.REVOCATION, cert.state_changed_on, reason=cert.state_reason
                ),
            )
        )
    Certificate.objects.bulk_create(first_certs, batch_size=500)
    for old, new in renewals:
        new.predecessor = old
        events.append(
            (
                old,
                plans.EventPlan(
                    EventKind.RENEWAL,
                    new.issued_on,
                    previous_valid_until=old.valid_until,
                    new_valid_until=new.valid_until,
                    reason=f"换证：新证自 {new.valid_from:%Y-%m-%d} 起有效",
                ),
            )
        )
    Certificate.objects.bulk_create([new for _old, new in renewals], batch_size=500)
    CertificateEvent.objects.bulk_create(
        [
            CertificateEvent(
                certificate=cert,
                kind=e.kind,
                on=e.on,
                due_on=e.due_on,
                passed=e.passed,
                previous_valid_until=e.previous_valid_until,
                new_valid_until=e.new_valid_until,
                reason=e.reason,
                actor_label=ACTOR,
            )
            for cert, e in events
        ],
        batch_size=500,
    )
    created["employments"] += len(employments)
    created["health_checks"] += len(checks)
    created["certificates"] += len(first_certs) + len(renewals)
    created["certificate_events"] += len(events)
    return by_key


def _employments(s: PersonSpec, person, rng, departments, contractors) -> list[Employment]:
    story = HISTORY.get(s.key)
    dept = departments.get(s.department) if s.department else None

    def own(start, end=None):
        return Employment(
            person=person,
            employer_kind=EmployerKind.OWN,
            department=dept,
            site_id=dept.effective_site_id if dept else None,
            started_on=start,
            ended_on=end,
            status=EmploymentStatus.ENDED if end else EmploymentStatus.ACTIVE,
        )

    def contract(key, start, end=None):
        return Employment(
            person=person,
            employer_kind=EmployerKind.CONTRACTOR,
            contractor=contractors[key],
            started_on=start,
            ended_on=end,
            status=EmploymentStatus.ENDED if end else EmploymentStatus.ACTIVE,
        )

    if s.contractor:
        start = CONTRACTOR_BY_KEY[s.contractor].engagements[0].starts_on + dt.timedelta(
            days=rng.randint(0, 120)
        )
        if story == "changed_contractor":
            other = "c2" if s.contractor == "c1" else "c1"
            return [
                contract(other, dt.date(2021, 3, 1), start - dt.timedelta(days=20)),
                contract(s.contractor, start),
            ]
        if story == "returned":
            return [
                contract(s.contractor, dt.date(2021, 4, 1), dt.date(2022, 10, 31)),
                contract(s.contractor, start),
            ]
        if story == "former_own":
            team = departments["demo-nj-w4-t2"]
            return [
                Employment(
                    person=person,
                    employer_kind=EmployerKind.OWN,
                    department=team,
                    site_id=team.effective_site_id,
                    started_on=dt.date(2015, 7, 1),
                    ended_on=dt.date(2019, 12, 31),
                    status=EmploymentStatus.ENDED,
                ),
                contract(s.contractor, start),
            ]
        return [contract(s.contractor, start)]
    age_at_start = 20 + rng.randint(0, 8)
    start = max(dt.date(s.birth.year + age_at_start, rng.randint(1, 12), 1), dt.date(2003, 7, 1))
    start = min(start, dt.date(2025, 9, 1))
    if story == "returned":
        return [own(dt.date(2010, 7, 1), dt.date(2016, 12, 31)), own(dt.date(2020, 3, 1))]
    return [own(start)]


def _health_checks(s: PersonSpec, person, today, rng, book: _Book) -> list[HealthCheck]:
    """Most fit; some restricted for height (高血压); a few expired, unfit, or too old for entry."""
    medical = book.item("MEDICAL")
    clinic = (
        CONTRACTOR_BY_KEY[s.contractor].clinic
        if s.contractor
        else SITE_BY_KEY[s.site].clinic
        if s.site
        else "南京市职业病防治院"
    )
    story = HEALTH_STORIES.get(s.key)
    if story is None:
        roll = rng.random()
        story = "restricted" if roll < 0.04 else "expired" if roll < 0.07 else "fit"
    if s.contractor:
        checked = today - dt.timedelta(days=rng.randint(5, 80))  # entry checks are fresh
    else:
        checked = today - dt.timedelta(days=rng.randint(20, 330))
    if story == "expired":
        checked = today - dt.timedelta(days=rng.randint(380, 520))
    if story == "stale":
        checked = today - dt.timedelta(days=rng.randint(110, 150))
    until = book.planner.expiry(medical, checked)
    if rng.random() < 0.3 and story == "fit":
        until = None  # no "valid until" on the report: the catalogue default applies
    check = HealthCheck(
        person=person,
        checked_on=checked,
        conclusion=HealthConclusion.FIT,
        valid_until=until,
        institution=clinic,
        is_synthetic=True,
    )
    if story == "restricted":
        check.conclusion = HealthConclusion.RESTRICTED
        check.restricted_work_types = ["height"]
        check.restriction_reason = "高血压"
    elif story == "unfit":
        check.conclusion = HealthConclusion.UNFIT
        check.restriction_reason = "癫痫病史，不宜从事特种作业"
    checks = [check]
    if rng.random() < 0.3:
        earlier = checked - dt.timedelta(days=rng.randint(350, 380))
        checks.append(
            HealthCheck(
                person=person,
                checked_on=earlier,
                conclusion=HealthConclusion.FIT,
                valid_until=book.planner.expiry(medical, earlier),
                institution=clinic,
                is_synthetic=True,
            )
        )
    return checks


def _authority(s: PersonSpec, item: CertificateItem) -> str:
    site = SITE_BY_KEY.get(s.site or "nj")
    if item.scheme.code == "special_operation":
        return site.so_authority
    if item.scheme.code == "special_equipment":
        return site.se_authority
    return GROUP_NAME


def _number(s: PersonSpec, item: CertificateItem, issued_on: dt.date) -> str:
    if item.scheme.code in ("special_operation", "special_equipment"):
        return s.id_number  # both registries usually print the holder's ID number
    return f"{item.code}-{s.id_number[-8:]}"


def _certificate(s, person, item, plan: plans.CertPlan, today, rng) -> Certificate:
    verification, verified_at, source = _verification(s, item, plan.issued_on, today, rng)
    restriction = ""
    if item.restriction_kinds:
        preferred = [k for k in ("mobile", "bridge_gantry") if k in item.restriction_kinds]
        restriction = rng.choice(preferred or item.restriction_kinds)
    return Certificate(
        person=person,
        scheme_id=item.scheme_id,
        item=item,
        number=_number(s, item, plan.issued_on),
        restriction=restriction,
        first_issued_on=plan.first_issued_on,
        issued_on=plan.issued_on,
        valid_from=plan.valid_from,
        valid_until=plan.valid_until,
        next_review_due=plan.next_review_due,
        long_review_interval=plan.long_review_interval,
        issuing_authority=_authority(s, item),
        verification=verification,
        verified_at=verified_at,
        verification_source=source,
        catalogue_version=item.catalogue_version,
        is_synthetic=True,
    )


def _renewal(s, person, item, old: plans.CertPlan, today, book: _Book, rng) -> Certificate:
    """The renewed record of a lapsed certificate: issued, but valid only from a later day."""
    issued = today - dt.timedelta(days=3)
    starts = today + dt.timedelta(days=6)
    plan = book.planner.bounded(
        item,
        plans.CertPlan(issued, starts, book.planner.expiry(item, starts), old.first_issued_on),
    )
    cert = _certificate(s, person, item, plan, today, rng)
    cert.verification, cert.verified_at, cert.verification_source = (
        Verification.UNVERIFIED,
        None,
        "",
    )
    return cert


def _ensure_blacklist(today, persons: dict[str, Person], created: Counter) -> None:
    for key, reason in BLACKLISTED.items():
        person = persons[key]
        _entry, new = BlacklistEntry.objects.get_or_create(
            id_number=person.id_number,
            reason=reason,
            defaults={
                "name": person.name,
                "created_by_label": ACTOR,
                "starts_on": today - dt.timedelta(days=60),
                "ends_on": today + dt.timedelta(days=305),
            },
        )
        created["blacklist_entries"] += new


def _ensure_users(persons, sites, departments, contractors, hashes, created: Counter) -> None:
    for u in USERS:
        person = persons.get(u.person) if u.person else None
        user = User.objects.filter(username=u.username).first()
        if user is None:
            user = User.objects.create(
                username=u.username,
                password=hashes[u.username],
                first_name=person.name if person else "",
                is_staff=True,
                is_superuser=u.role == Role.ADMINISTRATOR,
                person=person if person and not hasattr(person, "user") else None,
            )
            created["users"] += 1
        elif u.username in hashes:
            user.password = hashes[u.username]
            user.save(update_fields=["password"])
        _grant, new = RoleGrant.objects.get_or_create(
            user=user,
            role=u.role,
            site=sites[u.site] if u.site else None,
            contractor=contractors[u.contractor] if u.contractor else None,
            department=departments[u.department] if u.department else None,
        )
        created["role_grants"] += new

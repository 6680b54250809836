import datetime as dt
import io
import os
import stat
from collections import Counter

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from stdnum.cn import ric

from safework.accounts import matrix
from safework.accounts.models import Role, User
from safework.accounts.scope import scope_for
from safework.certs.models import Certificate, CertificateEvent, EventKind, Verification
from safework.certs.rules import RuleBook, Status, certificate_status, first_unpassed_review
from safework.core import policy
from safework.core.models import AuditRecord
from safework.demo import enterprise
from safework.demo.enterprise import seed_demo
from safework.demo.logins import read_logins
from safework.demo.tests.conftest import AFTER_ORDER_19, BEFORE_ORDER_19
from safework.org.models import Department, Group, Position
from safework.people.models import BlacklistEntry, Contractor, HealthCheck, Person
from safework.people.queries import persons_visible_to
from safework.people.rules import validate_uscc

pytestmark = pytest.mark.django_db

SEEDED_MODELS = [
    m
    for m in apps.get_models()
    if m._meta.app_label in {"org", "people", "accounts", "certs"} and m._meta.managed
]


def counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in SEEDED_MODELS}


def test_a_second_run_changes_nothing_and_keeps_the_passwords(settings):
    first = seed_demo(today=AFTER_ORDER_19)
    path = settings.VAR_DIR / "demo-logins.txt"
    text = path.read_text()
    before = counts()
    audits = AuditRecord.objects.count()

    again = seed_demo(today=AFTER_ORDER_19 + dt.timedelta(days=3))  # a later day, too

    assert again.created == {}
    assert counts() == before
    assert path.read_text() == text
    assert AuditRecord.objects.count() == audits  # nothing created, nothing to record
    assert first.created["persons"] == before["people.Person"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_logins_file_is_private_whatever_the_umask(settings):
    old = os.umask(0)
    try:
        seed_demo(today=AFTER_ORDER_19)
    finally:
        os.umask(old)
    path = settings.VAR_DIR / "demo-logins.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == len(enterprise.USERS)
    assert all(len(line.split()) == 3 for line in lines)  # "role username password"


def test_if_empty_does_nothing_when_the_demo_exists(demo):
    before = counts()
    out = io.StringIO()
    call_command("seed", "--demo", "--if-empty", stdout=out)
    assert "演示数据：已存在" in out.getvalue()
    assert counts() == before
    # The logins are printed on every start.
    for _role, username, password in demo.logins:
        assert f"{username}" in out.getvalue() and password in out.getvalue()


def test_a_user_missing_from_the_logins_file_gets_a_new_password(demo, settings):
    path = settings.VAR_DIR / "demo-logins.txt"
    path.unlink()
    seed_demo(today=AFTER_ORDER_19)
    logins = read_logins(path)
    assert set(logins) == {u.username for u in enterprise.USERS}
    for username, (_role, password) in logins.items():
        assert authenticate(username=username, password=password) is not None


def test_one_login_per_role_plus_a_manager_per_contractor(demo):
    roles = Counter(role for role, _username, _password in demo.logins)
    assert set(roles) == set(Role.values)
    assert roles[Role.CONTRACTOR_MANAGER] == len(enterprise.CONTRACTORS)
    managed = {
        g.contractor_id
        for u in User.objects.filter(username__startswith="demo_")
        for g in u.grants.all()
    }
    assert set(Contractor.objects.filter(is_synthetic=True).values_list("pk", flat=True)) <= managed


def test_every_demo_user_logs_in_and_has_a_scope_for_what_the_matrix_allows(demo, client):
    for role, username, password in demo.logins:
        user = authenticate(username=username, password=password)
        assert user is not None, username
        assert user.is_staff
        assert user.is_superuser == (role == Role.ADMINISTRATOR)
        assert client.login(username=username, password=password)
        allowed = [
            (resource, action)
            for resource in policy.resources()
            for action in policy.resource(resource).actions
            if policy.allows(role, resource, action)
        ]
        assert allowed, role
        for resource, action in allowed:
            scope = scope_for(user, resource, action)
            assert scope is not None and not scope.is_empty, (username, resource, action)
        # The scope finds people: a worker themselves, a team leader their team, and so on.
        if matrix.allows(role, matrix.PEOPLE, matrix.READ):
            seen = persons_visible_to(scope_for(user, matrix.PEOPLE))
            assert seen.exists(), username
            if role in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER):
                assert list(seen) == [user.person]


def test_the_organisation(demo):
    group = Group.objects.get(code=enterprise.GROUP_CODE)
    assert group.is_synthetic and "演示" in group.name
    sites = list(group.sites.all())
    assert len(sites) == 2
    for site in sites:
        assert 30 < site.latitude < 40 and 115 < site.longitude < 122  # Jiangsu and Shandong
        areas = list(site.areas.all())
        assert {a.code for a in areas} >= {"tank-farm", "pipe-rack", "warehouse"}
        tank_farm = next(a for a in areas if a.code == "tank-farm")
        assert tank_farm.fire_explosion_hazard and tank_farm.hazard_class != "none"
        assert any(a.radius_m and a.center_latitude for a in areas)  # a circle
        assert any(a.polygon and len(a.polygon) >= 3 for a in areas)  # a polygon
    safety = Department.objects.get(code="demo-safety")
    assert safety.site is None and safety.effective_site is None
    team = Department.objects.get(code="demo-nj-w1-t1")
    assert team.kind == "team" and team.parent.kind == "workshop"
    assert team.effective_site.code == "demo-nanjing"
    assert team.path == f"{team.parent.path}{team.pk}/"
    for c in Contractor.objects.filter(is_synthetic=True):
        assert validate_uscc(c.uscc) == c.uscc
        assert c.engagements.exists()


def test_the_people(demo):
    persons = Person.objects.filter(is_synthetic=True)
    assert 280 <= persons.count() <= 320
    for p in persons:
        assert ric.is_valid(p.id_number)
        assert 900 <= int(p.id_number[14:17]) <= 999
        assert p.current_employment is not None and p.current_employment.person_id == p.pk
    catalogue_positions = set(Position.objects.values_list("code", flat=True))
    used = set(persons.exclude(position=None).values_list("position__code", flat=True))
    assert used <= catalogue_positions and {"welder", "electrician", "crane-operator"} <= used
    for c in Contractor.objects.filter(is_synthetic=True):
        staff = persons.filter(current_employment__contractor=c).count()
        assert 35 <= staff <= 50
    changed = [p for p in persons if p.employments.count() > 1]
    assert len(changed) >= 5
    assert any(
        len({e.contractor_id for e in p.employments.all()} - {None}) == 2 for p in changed
    )  # changed contractor
    assert BlacklistEntry.objects.filter(id_number__in=persons.values("id_number")).exists()


def test_health_checks(demo):
    checks = HealthCheck.objects.filter(person__is_synthetic=True)
    restricted = checks.filter(conclusion="restricted")
    assert restricted.exists()
    assert all(c.restricted_work_types == ["height"] for c in restricted)
    assert all(c.restriction_reason == "高血压" for c in restricted)
    assert checks.filter(conclusion="fit").count() > 0.8 * checks.count()
    latest = {}
    for c in checks.order_by("checked_on"):
        latest[c.person_id] = c
    expired = [c for c in latest.values() if c.valid_until and c.valid_until < AFTER_ORDER_19]
    assert 1 <= len(expired) <= 40


@pytest.mark.parametrize("today", [AFTER_ORDER_19, BEFORE_ORDER_19])
def test_certificates_show_every_status(db, today):
    seed_demo(today=today)
    book = RuleBook.load()
    statuses = Counter()
    for cert in Certificate.objects.select_related("item", "predecessor"):
        status = certificate_status(
            cert,
            on=today,
            book=book,
            next_review_due=cert.next_review_due,
            predecessor_valid_until=cert.predecessor.valid_until if cert.predecessor else None,
        ).status
        statuses[status] += 1
        assert cert.catalogue_version == cert.item.catalogue_version
        assert cert.scheme_id == cert.item.scheme_id
        passed = [
            (e.due_on, e.on) for e in cert.events.all() if e.kind == EventKind.REVIEW and e.passed
        ]
        found = first_unpassed_review(cert, book, passed)
        assert cert.next_review_due == (found[0] if found else None), cert
    for wanted in (
        Status.VALID,
        Status.EXPIRING,
        Status.EXPIRED,
        Status.REVIEW_OVERDUE,
        Status.VACUUM,
        Status.UNVERIFIED,
        Status.REGISTRY_MISMATCH,
        Status.REGISTRY_NOT_FOUND,
        Status.REVOKED,
    ):
        assert statuses[wanted] >= 1, (wanted, statuses)
    assert statuses[Status.VALID] > sum(statuses.values()) / 2
    yesterday = today - dt.timedelta(days=1)
    assert Certificate.objects.filter(valid_until=yesterday).exists()
    overdue = Certificate.objects.filter(next_review_due__lt=today)
    assert overdue.exists()
    assert all(c.next_review_due < dt.date(2026, 6, 1) for c in overdue)  # Order 30 only
    expiring = Certificate.objects.filter(
        valid_until__gte=today, valid_until__lte=today + dt.timedelta(days=60)
    )
    assert expiring.exists()


def test_certificates_match_positions(demo):
    def items(position):
        return set(
            Certificate.objects.filter(person__position__code=position).values_list(
                "item__code", flat=True
            )
        )

    assert "2.1" in items("welder")
    assert "1.2" in items("electrician")
    assert "3.1" in items("scaffolder")
    assert "Q1" in items("crane-signaller")
    q2 = Certificate.objects.filter(item__code="Q2")
    assert q2.exists() and all(c.restriction in c.item.restriction_kinds for c in q2)
    everyone = Person.objects.filter(is_synthetic=True).count()
    annual = Certificate.objects.filter(item__code="PLANT-ANNUAL").values("person").distinct()
    assert annual.count() == everyone
    assert Certificate.objects.filter(item__code="GUARDIAN").exists()
    assert Certificate.objects.filter(item__code="GAS-TESTER").exists()
    renewal = Certificate.objects.get(predecessor__isnull=False)
    assert renewal.valid_from > renewal.predecessor.valid_until  # the vacuum gap
    assert renewal.first_issued_on == renewal.predecessor.first_issued_on
    assert CertificateEvent.objects.filter(kind=EventKind.EXTENSION).exists()
    verifications = set(Certificate.objects.values_list("verification", flat=True))
    assert {Verification.VERIFIED, Verification.UNVERIFIED, Verification.MISMATCH} <= verifications


def test_one_summary_audit_record_and_the_chain_verifies(demo):
    assert AuditRecord.objects.filter(action="demo.seeded").count() == 1
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "审计链正常" in out.getvalue()  # the audit verify summary, in Chinese by default


def test_demo_identities_come_from_the_demo_regions_only():
    from safework.demo.identities import BENCH_REGIONS, DEMO_REGIONS

    assert not set(DEMO_REGIONS) & set(BENCH_REGIONS)
    numbers = [s.id_number for s in enterprise.person_specs()]
    assert len(set(numbers)) == len(numbers)
    assert {n[:6] for n in numbers} <= set(DEMO_REGIONS)
    assert numbers == [s.id_number for s in enterprise.person_specs()]  # the same every run

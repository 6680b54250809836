import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from stdnum.cn import ric

from safework.certs.models import Certificate, CertificateEvent, EventKind
from safework.certs.rules import RuleBook, Status, certificate_status, first_unpassed_review
from safework.core.models import AuditRecord
from safework.core.scope import Scope
from safework.demo import scale
from safework.demo.enterprise import seed_demo
from safework.demo.identities import BENCH_REGIONS, DEMO_REGIONS
from safework.demo.scale import seed_scale
from safework.demo.tests.conftest import AFTER_ORDER_19
from safework.org.models import Department, Group, Site
from safework.people.models import Employment, HealthCheck, Person
from safework.people.queries import persons_visible_to

pytestmark = pytest.mark.django_db


def bench_persons():
    group = Group.objects.get(code=scale.GROUP_CODE)
    return scale.bench_querysets(group)["persons"]


def snapshot():
    """What must be identical for the same (N, seed): identities and certificate dates."""
    persons = list(bench_persons().order_by("id").values_list("id_number", "name", "position"))
    certs = list(
        Certificate.objects.filter(person__in=bench_persons())
        .order_by("id")
        .values_list("person__id_number", "item__code", "number", "issued_on", "valid_until")
    )
    return persons, certs


def test_same_n_and_seed_give_the_same_bench_and_replace_the_previous_one():
    first = seed_scale(n=300, seed=7)
    connection.check_constraints()  # foreign keys are deferred to commit: check them here
    one = snapshot()
    second = seed_scale(n=300, seed=7)
    connection.check_constraints()
    assert snapshot() == one
    assert first.persons == second.persons == 300
    assert second.deleted["persons"] == 300 and second.deleted["groups"] == 1
    assert Group.objects.filter(code=scale.GROUP_CODE).count() == 1
    assert Person.objects.count() == 300
    assert Certificate.objects.count() == 900  # three each
    assert HealthCheck.objects.count() == 300

    other = seed_scale(n=120, seed=8)
    assert other.persons == 120
    assert Person.objects.count() == 120
    assert not {n for n, _name, _pos in one[0]} & set(
        Person.objects.values_list("id_number", flat=True)
    )


def test_the_bench_never_touches_the_demo():
    seed_demo(today=AFTER_ORDER_19)
    demo_numbers = set(Person.objects.values_list("id_number", flat=True))
    demo_counts = {
        "persons": Person.objects.count(),
        "certificates": Certificate.objects.count(),
        "employments": Employment.objects.count(),
        "departments": Department.objects.count(),
        "sites": Site.objects.count(),
    }
    seed_scale(n=200, seed=1)
    seed_scale(n=150, seed=2)
    connection.check_constraints()
    bench = set(bench_persons().values_list("id_number", flat=True))
    assert len(bench) == 150
    assert not bench & demo_numbers
    assert Person.objects.filter(id_number__in=demo_numbers).count() == len(demo_numbers)
    assert (
        Certificate.objects.exclude(person__in=bench_persons()).count()
        == (demo_counts["certificates"])
    )
    assert Site.objects.filter(group__code="demo").count() == 2
    # The demo again, after the bench: nothing to add, nothing collides.
    assert seed_demo(today=AFTER_ORDER_19).created == {}


def test_synthetic_id_numbers_are_valid_with_sequences_900_to_999():
    seed_demo(today=AFTER_ORDER_19)
    seed_scale(n=500, seed=3)
    numbers = list(Person.objects.values_list("id_number", "is_synthetic"))
    assert len(numbers) > 700
    for number, synthetic in numbers:
        assert synthetic
        assert ric.is_valid(number), number
        assert 900 <= int(number[14:17]) <= 999
    bench = set(bench_persons().values_list("id_number", flat=True))
    assert {n[:6] for n in bench} <= set(BENCH_REGIONS)
    assert not {n[:6] for n in bench} & set(DEMO_REGIONS)


def test_a_number_held_outside_the_bench_is_drawn_again():
    seed_scale(n=50, seed=5)
    first = bench_persons().order_by("id").first()
    with transaction.atomic():
        scale.delete_bench()
    # Someone real now holds the number the bench drew first; the same seed must redraw it.
    real = Person.objects.create(
        id_number=first.id_number,
        name="真实人员",
        gender=first.gender,
        birth_date=first.birth_date,
    )
    seed_scale(n=50, seed=5)
    connection.check_constraints()
    assert bench_persons().count() == 50
    assert not bench_persons().filter(pk=real.pk).exists()
    assert Person.objects.get(id_number=first.id_number) == real


def test_bench_persons_have_employment_scope_and_health():
    result = seed_scale(n=400, seed=11)
    assert result.employments == 400 and result.health_checks == 400
    for p in bench_persons().select_related("current_employment"):
        emp = p.current_employment
        assert emp is not None and emp.person_id == p.pk and emp.ended_on is None
    group = Group.objects.get(code=scale.GROUP_CODE)
    assert all(s.code.startswith("bench-") for s in group.sites.all())
    assert all(d.code.startswith("bench-") for d in group.departments.all())
    site = group.sites.first()
    seen = persons_visible_to(Scope(site_ids=frozenset({site.pk})))
    assert seen.exists()
    contractor_staff = bench_persons().filter(current_employment__contractor__isnull=False)
    assert contractor_staff.exists()
    team = Department.objects.filter(group=group, kind="team").first()
    in_team = persons_visible_to(Scope(department_ids=frozenset({team.pk})))
    assert set(in_team) == set(bench_persons().filter(current_employment__department=team))
    restricted = HealthCheck.objects.filter(conclusion="restricted")
    assert restricted.exists() and {c.restriction_reason for c in restricted} == {"高血压"}


def test_bench_certificates_spread_over_statuses_and_follow_the_rules():
    seed_scale(n=600, seed=2, certs_per_person=3)
    book = RuleBook.load()
    statuses = Counter()
    for cert in Certificate.objects.select_related("item").prefetch_related("events"):
        statuses[
            certificate_status(
                cert, on=scale.NOW, book=book, next_review_due=cert.next_review_due
            ).status
        ] += 1
        passed = [(e.due_on, e.on) for e in cert.events.all() if e.kind == EventKind.REVIEW]
        found = first_unpassed_review(cert, book, passed)
        assert cert.next_review_due == (found[0] if found else None)
        assert cert.catalogue_version == cert.item.catalogue_version
    for wanted in (Status.VALID, Status.EXPIRING, Status.EXPIRED, Status.REVIEW_OVERDUE):
        assert statuses[wanted] > 0, statuses
    assert statuses[Status.VALID] > sum(statuses.values()) / 2
    assert CertificateEvent.objects.filter(kind=EventKind.EXTENSION).exists()
    per_person = Counter(Certificate.objects.values_list("person_id", "item_id"))
    assert max(per_person.values()) == 1  # distinct items per person


@pytest.mark.parametrize("k", [0, 1, 6])
def test_certificates_per_person(k):
    result = seed_scale(n=40, seed=1, certs_per_person=k)
    assert result.certificates == 40 * k == Certificate.objects.count()


def test_one_summary_audit_record_per_run_and_the_chain_verifies():
    seed_scale(n=30, seed=1)
    seed_scale(n=30, seed=1)
    records = AuditRecord.objects.filter(action="demo.bench_seeded")
    assert records.count() == 2
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "审计链正常" in out.getvalue()  # the audit verify summary, in Chinese by default


def test_the_command():
    out = io.StringIO()
    call_command("seed", "--scale", "25", "--seed", "4", "--certs-per-person", "2", stdout=out)
    assert "压测：25 人，50 张证书" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("seed", "--scale", "25", "--if-empty")
    with pytest.raises(CommandError):
        call_command("seed", "--scale", "25", "--certs-per-person", "99")
    with pytest.raises(CommandError):
        call_command("seed", "--scale", "0")


def test_the_rows_are_written_in_chunks():
    done = []
    seed_scale(n=25, seed=1, chunk=10, progress=lambda d, t: done.append((d, t)))
    assert done == [(10, 25), (20, 25), (25, 25)]
    connection.check_constraints()
    assert bench_persons().count() == 25


@pytest.mark.django_db(transaction=True)
def test_the_bench_commits_with_every_foreign_key_satisfied():
    """Outside a test transaction: the deferred foreign keys are really checked at commit."""
    seed_scale(n=60, seed=9)
    seed_scale(n=40, seed=9)  # and replacing it commits too
    assert bench_persons().count() == 40

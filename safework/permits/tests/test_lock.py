"""The lock and the steps an action reads, in statements written once rather than compiled by the
ORM (issue 14, permit lifecycle speed). `services._lock` gives the permit and the rows every
action reads with it exactly as the ORM's select_related read does, with no further query; an
optional reference left empty comes back as None; a missing permit is refused as `get` refuses
it; annotations ride along. `approve` reads every step with the pending one's signatures in one
statement, as the ORM's reads found them: a countersigned step counts each role once."""

import datetime as dt

import pytest
from django.core.exceptions import FieldError
from django.db.models import Exists, F, OuterRef

from safework.core.refusals import Refused
from safework.permits import services
from safework.permits.models import ApprovalStep, CrewAssignment, Permit, Signature
from safework.permits.tests.world import ON_SITE, D, at, create

pytestmark = pytest.mark.django_db


def _values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _same_as_the_orm(locked: Permit) -> None:
    read = Permit.objects.select_related(*services.LOCKED_WITH).get(pk=locked.pk)
    for got, expected in [
        (locked, read),
        *((getattr(locked, n), getattr(read, n)) for n in services.LOCKED_WITH),
    ]:
        if expected is None:
            assert got is None
            continue
        assert type(got) is type(expected)
        assert _values(got) == _values(expected)
        # The same Python types (aware datetimes, decimals, parsed JSON), not only equal values.
        assert {k: type(v) for k, v in _values(got).items()} == {
            k: type(v) for k, v in _values(expected).items()
        }
        assert got._state.adding is False and got._state.db == expected._state.db


def test_the_permit_comes_with_its_four_rows_and_no_further_query(w, django_assert_num_queries):
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    with django_assert_num_queries(1):
        locked = services._lock(permit.pk)
    with django_assert_num_queries(0):
        related = [getattr(locked, name) for name in services.LOCKED_WITH]
    assert all(obj is not None for obj in related)
    assert locked.level_id is not None and locked.area_id == w.area.pk
    assert services._lock(locked).pk == permit.pk  # an instance locks its row too
    _same_as_the_orm(locked)


def test_an_empty_level_and_area_come_back_as_none_without_a_query(w, django_assert_num_queries):
    permit = create(w)
    Permit.objects.filter(pk=permit.pk).update(level=None, area=None)
    locked = services._lock(permit.pk)
    with django_assert_num_queries(0):
        assert (locked.level, locked.area) == (None, None)
        assert locked.work_type.pk == permit.work_type_id and locked.site.pk == w.site.pk
    _same_as_the_orm(locked)


def test_a_missing_permit_is_refused_as_get_refuses_it(w):
    last = Permit.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with pytest.raises(Permit.DoesNotExist):
        services._lock(last + 1)


def test_an_annotation_rides_along_with_its_value_as_the_orm_reads_it(w):
    permit = create(w)
    member = CrewAssignment.objects.filter(permit=permit).first()

    def in_crew(person_id):
        crew = CrewAssignment.objects.filter(
            permit=OuterRef("pk"), person_id=person_id, removed_at=None
        )
        return Exists(crew)

    assert services._lock(permit.pk, in_crew=in_crew(member.person_id)).in_crew is True
    assert services._lock(permit.pk, in_crew=in_crew(member.person_id + 10_000)).in_crew is False
    CrewAssignment.objects.filter(pk=member.pk).update(removed_at=at(D, 9))
    assert services._lock(permit.pk, in_crew=in_crew(member.person_id)).in_crew is False


def test_an_annotation_that_would_join_another_table_is_refused(w):
    permit = create(w)
    with pytest.raises(FieldError):
        services._lock(permit.pk, type_name=F("work_type__name"))


def _submitted_with_a_countersigned_first_step(w) -> Permit:
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    first = services.current_step(permit)
    ApprovalStep.objects.filter(pk=first.pk).update(roles=["workshop_head", "safety_head"])
    return Permit.objects.get(pk=permit.pk)


def test_the_steps_come_with_the_pending_ones_signatures_as_the_orm_reads_them(
    w, django_assert_num_queries
):
    permit = _submitted_with_a_countersigned_first_step(w)
    when = at(D - dt.timedelta(days=1), 11)
    services.approve(permit, w.user("workshop"), at=when, position=ON_SITE)
    with django_assert_num_queries(1):
        steps = services._steps_with_signatures(permit)
    read = list(Permit.objects.get(pk=permit.pk).steps.prefetch_related("signatures"))
    assert [_values(s) for s in steps] == [_values(s) for s in read]
    assert len(steps) >= 2 and steps[0].status == "pending"
    with django_assert_num_queries(0):
        signed = list(steps[0].signatures.all())
        assert all(s.permit is permit for s in steps)
        assert all(s.step is steps[0] for s in signed)
    assert [_values(s) for s in signed] == [_values(s) for s in read[0].signatures.all()]
    assert [(s.role, s.action) for s in signed] == [("workshop_head", "approve")]
    # A step that is not pending carries no signatures: reading them is a query, as before.
    assert "_prefetched_objects_cache" not in steps[1].__dict__


def test_a_countersigned_step_waits_for_each_role_once(w):
    permit = _submitted_with_a_countersigned_first_step(w)
    first = services.current_step(permit)
    when = at(D - dt.timedelta(days=1), 11)
    permit = services.approve(permit, w.user("workshop"), at=when, position=ON_SITE)
    assert services.current_step(permit).pk == first.pk
    with pytest.raises(Refused) as exc:  # the workshop head's part is signed
        services.approve(permit, w.user("workshop"), at=when, position=ON_SITE)
    assert {r.code for r in exc.value.reasons} == {"sign.not_approver"}
    permit = services.approve(permit, w.user("safety_head"), at=when, position=ON_SITE)
    assert ApprovalStep.objects.get(pk=first.pk).status == "approved"
    assert services.current_step(permit).pk != first.pk
    roles = Signature.objects.filter(step=first).values_list("role", flat=True)
    assert sorted(roles) == ["safety_head", "workshop_head"]

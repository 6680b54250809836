"""The steps a service has loaded are reused (issue 14, permit lifecycle speed): the permit that
submit and approve return answers `current_step` as a fresh read would; a resubmission opens
its new round; the persons and the area read together still refuse what they refused."""

import datetime as dt

import pytest

from safework.core.errors import InvalidInput
from safework.org.models import Area, Site
from safework.permits import services
from safework.permits.models import ApprovalStep, Permit
from safework.permits.tests.world import ON_SITE, D, at, create

pytestmark = pytest.mark.django_db
BY_ROLE = {
    "workshop_head": "workshop",
    "safety_head": "safety_head",
    "principal": "principal",
    "team_leader": "shift",
    "safety_officer": "officer",
}


def _fresh_step(permit):
    return services.current_step(Permit.objects.get(pk=permit.pk))


def test_the_returned_permit_knows_its_pending_step_as_the_database_does(w):
    when = at(D - dt.timedelta(days=1), 11)
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    signed = 0
    while (step := services.current_step(permit)) is not None:
        fresh = _fresh_step(permit)
        assert (step.pk, step.status, step.due_at) == (fresh.pk, fresh.status, fresh.due_at)
        permit = services.approve(permit, w.user(BY_ROLE[step.roles[0]]), at=when, position=ON_SITE)
        signed += 1
        assert signed < 10
    assert _fresh_step(permit) is None
    assert signed >= 2
    statuses = list(permit.steps.order_by("order").values_list("status", flat=True))
    assert statuses == ["approved"] * signed
    assert permit.status == "approved"
    # A read afresh drops what the service left (Django's prefetch semantics).
    permit.refresh_from_db()
    assert services.current_step(permit) is None


def test_one_step_open_at_a_time_while_approving(w):
    when = at(D - dt.timedelta(days=1), 11)
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    step = services.current_step(permit)
    permit = services.approve(permit, w.user(BY_ROLE[step.roles[0]]), at=when, position=ON_SITE)
    rows = list(permit.steps.order_by("order").values_list("status", "activated_at"))
    assert rows[0] == ("approved", at(D - dt.timedelta(days=1), 10))
    assert rows[1] == ("pending", when)
    assert [s for s, _a in rows].count("pending") == 1


def test_a_resubmission_opens_only_the_first_step_of_its_new_round(w):
    day = D - dt.timedelta(days=1)
    permit = services.submit(create(w), w.user("applicant"), at=at(day, 10))
    first_round = permit.steps.count()
    permit = services.reject(permit, w.user("workshop"), at=at(day, 11), reason="措施不全")
    permit = services.revise(permit, w.user("applicant"), at=at(day, 12))
    permit = services.submit(permit, w.user("applicant"), at=at(day, 13))
    pending = ApprovalStep.objects.filter(permit=permit, status="pending")
    assert list(pending.values_list("round", "order")) == [(2, 1)]
    assert ApprovalStep.objects.filter(permit=permit, round=2).count() == first_round
    assert set(permit.steps.filter(round=1).values_list("status", flat=True)) <= {
        "rejected",
        "void",
    }
    assert services.current_step(permit) == pending.get()


def test_an_unknown_work_leader_is_still_refused(w):
    missing = max(w.leader.pk, w.welder.pk, w.guardian.pk, w.tester.pk) + 1000
    with pytest.raises(InvalidInput) as exc:
        create(w, work_leader_id=missing)
    assert "work_leader_id" in {e.field for e in exc.value.errors}
    create(w)  # the crew's own leader, read with the crew, passes


def test_an_area_of_another_site_is_still_refused(w):
    other = Site.objects.create(
        group=w.site.group, name="另一厂区", code="OTHER", latitude=31.0, longitude=121.0
    )
    elsewhere = Area.objects.create(site=other, name="二号装置", code="A2")
    with pytest.raises(InvalidInput) as exc:
        create(w, area_id=elsewhere.pk)
    assert "area_id" in {e.field for e in exc.value.errors}
    permit = create(w)
    assert permit.site_id == w.site.pk and permit.area_id == w.area.pk

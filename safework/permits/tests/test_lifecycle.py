"""A permit's whole life through the services, and the gates of GB 30871-2022 / AQ 3064.2-2025 at
their boundaries, including the hot-work explosion case of stories.md: approved, but no gas test,
no guardian, a swapped worker."""

import datetime as dt
from decimal import Decimal

import pytest

from safework.core.refusals import Refused
from safework.permits import services
from safework.permits.models import Alarm, ParkPush, Permit, PermitEvent
from safework.permits.tests.world import (
    OFF_SITE,
    ON_SITE,
    D,
    approve_all,
    at,
    create,
    ready_to_start,
)
from safework.qualification.tests.qualification_fixtures import member

pytestmark = pytest.mark.django_db
MIN = dt.timedelta(minutes=1)


def codes(exc) -> set[str]:
    return {r.code for r in exc.value.reasons}


def alarm_codes(permit) -> set[str]:
    return set(Alarm.objects.filter(permit=permit).values_list("alarm_type__code", flat=True))


def test_level1_hot_work_from_application_to_close(w):
    permit = create(w)
    assert permit.status == "draft"
    assert permit.level.code == "level1"  # a fire/explosion hazardous area
    permit = services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    assert permit.status == "in_approval"
    assert permit.number == "DH20260309-001"
    labels = [s.roles for s in permit.steps.order_by("order")]
    assert labels[0] == ["workshop_head"] and ["safety_head"] in labels

    permit = approve_all(w, permit)
    assert permit.status == "approved"
    start = at(D, 10)
    permit = ready_to_start(w, permit, start=start)
    permit = services.start(permit, w.user("applicant"), at=start, weather={"wind_force": 3})
    assert permit.status == "active"
    permit = services.complete(permit, w.user("applicant"), at=at(D, 15), cleaned_up=True)
    permit = services.accept(permit, w.user("workshop"), at=at(D, 15) + 10 * MIN)
    permit = services.close(permit, w.user("applicant"), at=at(D, 15) + 20 * MIN)
    assert permit.status == "closed"
    kinds = list(PermitEvent.objects.filter(permit=permit).values_list("kind", flat=True))
    for kind in ("submitted", "approved", "started", "completed", "accepted", "closed"):
        assert kind in kinds
    # Every change of the approval flow is queued for the park platform, in order.
    versions = list(
        ParkPush.objects.filter(object_uuid=permit.uuid).values_list("version", flat=True)
    )
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 6
    assert not Alarm.objects.filter(permit=permit).exists()


def test_shut_down_unit_managed_as_level2_is_approved_by_the_head_of_safety(w):
    """GB 30871-2022 5.1.4: hot work in a hazardous unit that is shut down, cleaned, purged,
    tested and isolated may be managed as level 2, with the approval of the head of safety."""
    inputs = {"height_m": 0.5, "shut_down_cleaned": True}
    permit = create(w, inputs=inputs, level="level2")
    assert (permit.derived_level.code, permit.level.code) == ("level1", "level2")
    permit = services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    steps = list(permit.steps.filter(stage="approval").order_by("order"))
    assert [s.roles for s in steps] == [["workshop_head"], ["safety_head"]]
    assert steps[1].clause.startswith("GB 30871-2022 5.1.4")
    first = services.current_step(permit)
    permit = services.approve(
        permit, w.user("workshop"), at=at(D - dt.timedelta(days=1), 11), position=ON_SITE
    )
    assert permit.status == "in_approval"  # the basic unit's approval alone does not approve it
    assert services.current_step(permit).roles == ["safety_head"] != first.roles
    permit = approve_all(w, permit)
    assert permit.status == "approved"
    # Not declared shut down: level 2 is refused below the level the place requires.
    with pytest.raises(Refused):
        create(w, level="level2")


def test_numbers_are_per_type_and_day_and_never_reused(w):
    day_before = at(D - dt.timedelta(days=1), 10)
    a = services.submit(create(w), w.user("applicant"), at=day_before)
    b = services.submit(create(w), w.user("applicant"), at=day_before + MIN)
    assert (a.number, b.number) == ("DH20260309-001", "DH20260309-002")
    services.cancel(a, w.user("applicant"), at=day_before + 2 * MIN, reason="计划取消")
    c = services.submit(create(w), w.user("applicant"), at=day_before + 3 * MIN)
    assert c.number == "DH20260309-003"


# ---- the explosion case ----


def test_no_gas_test_cannot_start_and_raises_alarm_01(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    start = at(D, 10)
    for m in permit.measures.all():
        services.confirm_measure(permit, m.pk, w.user("applicant"), at=start - 30 * MIN)
    crew = [c.person_id for c in permit.crew.all()]
    services.record_briefing(
        permit, w.user("applicant"), briefer_id=w.leader.pk, recipient_ids=crew, at=start - 20 * MIN
    )
    for pid in crew:
        services.check_in(
            permit, w.user("applicant"), person_id=pid, at=start - 5 * MIN, position=ON_SITE
        )
    with pytest.raises(Refused) as exc:
        services.start(permit, w.user("applicant"), at=start, weather={"wind_force": 2})
    assert codes(exc) == {"gas.missing"}
    assert "5.3.1" in exc.value.reasons[0].clause
    assert "01" in alarm_codes(permit)
    permit.refresh_from_db()
    assert permit.status == "approved"
    # The alarm reaches the notification outbox (who must act: notify's rule data).
    from safework.notify.models import Event

    told = Event.objects.get(kind="permit.alarm_raised")
    assert told.payload["code"] == "01" and told.payload["number"] == permit.number


@pytest.mark.parametrize(("minutes_before", "ok"), [(30, True), (31, False)])
def test_gas_test_at_most_30_minutes_before_the_start(w, minutes_before, ok):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    start = at(D, 10)
    permit = ready_to_start(w, permit, start=start)
    permit.gas_tests.all().delete()
    services.record_gas_test(
        permit,
        w.user("tester"),
        at=start - minutes_before * MIN,
        taken_at=start - minutes_before * MIN,
        point="动火点",
        gas="combustible",
        value=Decimal("0.5"),
        unit="%vol",
        lel_percent=Decimal("4.0"),
        instrument="GD-01",
        tester_id=w.tester.pk,
        calibrated_on=D - dt.timedelta(days=30),
    )
    if ok:
        assert (
            services.start(permit, w.user("applicant"), at=start, weather={"wind_force": 2}).status
            == "active"
        )
    else:
        with pytest.raises(Refused) as exc:
            services.start(permit, w.user("applicant"), at=start, weather={"wind_force": 2})
        assert codes(exc) == {"gas.stale"}


def test_failing_gas_test_blocks_the_start_and_raises_alarm_02(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    start = at(D, 10)
    permit = ready_to_start(w, permit, start=start)
    # LEL ≥ 4 %: the limit is 0.5 % v/v; 0.51 fails.
    services.record_gas_test(
        permit,
        w.user("tester"),
        at=start - 5 * MIN,
        taken_at=start - 5 * MIN,
        point="动火点",
        gas="combustible",
        value=Decimal("0.51"),
        unit="%vol",
        lel_percent=Decimal("4.0"),
        instrument="GD-01",
        tester_id=w.tester.pk,
        calibrated_on=D - dt.timedelta(days=30),
    )
    assert "02" in alarm_codes(permit)
    with pytest.raises(Refused) as exc:
        services.start(permit, w.user("applicant"), at=start, weather={"wind_force": 2})
    assert "gas.failed" in codes(exc)


def test_swapped_worker_sends_the_permit_back_to_approval(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    assert permit.status == "approved"
    newcomer = member(w.site)
    old = permit.crew.get(person=w.welder)
    permit = services.change_crew(
        permit,
        w.user("applicant"),
        at=at(D, 8),
        add=[{"person_id": newcomer.pk, "role": "worker"}],
        remove=[old.pk],
    )
    assert permit.status == "in_approval"
    assert permit.crew.get(person=newcomer).added_after_approval
    # The new round must be approved again, and the newcomer briefed before the start.
    permit = approve_all(w, permit, when=at(D, 8) + MIN)
    assert permit.status == "approved"
    start = at(D, 10)
    for m in permit.measures.all():
        services.confirm_measure(permit, m.pk, w.user("applicant"), at=start - 30 * MIN)
    services.record_briefing(
        permit,
        w.user("applicant"),
        briefer_id=w.leader.pk,
        recipient_ids=[w.leader.pk, w.guardian.pk, w.tester.pk],
        at=start - 20 * MIN,
    )
    with pytest.raises(Refused) as exc:
        services.start(permit, w.user("applicant"), at=start, weather={"wind_force": 2})
    assert "briefing.missing" in codes(exc)
    assert "70" in alarm_codes(permit)


def test_unqualified_newcomer_is_refused_with_the_engine_reasons(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    stranger = member(w.site, certs=())  # a welder without a welding certificate
    with pytest.raises(Refused) as exc:
        services.change_crew(
            permit,
            w.user("applicant"),
            at=at(D, 8),
            add=[{"person_id": stranger.pk, "role": "worker"}],
        )
    assert "cert.missing" in codes(exc)
    assert "50" in alarm_codes(permit)
    permit.refresh_from_db()
    assert permit.status == "approved"


def test_expired_welder_certificate_cannot_submit(w):
    cert = w.welder.certificates.get(item__code="2.1")
    cert.valid_until = D - dt.timedelta(days=1)
    cert.save()
    permit = create(w)
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    reasons = [r for r in exc.value.reasons if r.code == "cert.expired"]
    assert reasons and reasons[0].clause
    assert w.welder.name in str(reasons[0].message)
    assert "51" in alarm_codes(permit)
    permit.refresh_from_db()
    assert permit.status == "draft" and permit.number is None


def test_certificate_ending_inside_the_window_is_caught(w):
    """Checked at the start, the end, and the first instant after each certificate's end."""
    cert = w.welder.certificates.get(item__code="2.1")
    cert.valid_until = D  # valid through D; the job runs from D 20:00 to D+1 03:00
    cert.save()
    permit = create(w, start=at(D, 20), hours=7)
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    assert "cert.expired" in codes(exc)


def test_no_guardian_cannot_submit(w):
    permit = create(
        w,
        crew=[
            {"person_id": w.leader.pk, "role": "site_lead"},
            {"person_id": w.welder.pk, "role": "worker"},
        ],
    )
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    assert "crew.no_guardian" in codes(exc)
    assert next(r for r in exc.value.reasons if r.code == "crew.no_guardian").clause.endswith(
        "4.10"
    )


# ---- validity, appointment, time ----


@pytest.mark.parametrize(("minutes", "ok"), [(480, True), (481, False)])
def test_level1_hot_work_valid_at_most_8_hours_to_the_minute(w, minutes, ok):
    permit = create(w)
    Permit.objects.filter(pk=permit.pk).update(planned_end=permit.planned_start + minutes * MIN)
    permit.refresh_from_db()
    if ok:
        services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    else:
        with pytest.raises(Refused) as exc:
            services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
        assert any("5.1.5" in r.clause for r in exc.value.reasons)


def test_same_day_work_needs_the_emergency_path(w):
    permit = create(w, created=at(D, 7))
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=at(D, 7) + MIN)
    assert "appointment.too_late" in codes(exc)
    urgent = create(w, created=at(D, 7), is_emergency=True, emergency_reason="泄漏抢修")
    urgent = services.submit(urgent, w.user("applicant"), at=at(D, 7) + MIN)
    assert any(s.label for s in urgent.steps.all())


def test_expired_when_read_and_every_action_refused(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    end = permit.planned_end
    assert permit.status_at(end - MIN) == "approved"
    assert permit.status_at(end) == "expired"  # nothing stored yet
    with pytest.raises(Refused) as exc:
        services.start(permit, w.user("applicant"), at=end, weather={"wind_force": 1})
    assert codes(exc) == {"permit.expired"}
    assert "10" in alarm_codes(permit)
    assert services.expire_due(at=end) == 1
    permit.refresh_from_db()
    assert permit.status == "expired"


# ---- approvals ----


def test_nobody_approves_their_own_permit(w):
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    w.users["applicant"].grants.create(role="workshop_head", site=w.site)
    w.users["applicant"]._safework_grants = None
    with pytest.raises(Refused) as exc:
        services.approve(
            permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 11), position=ON_SITE
        )
    assert codes(exc) == {"sign.own_permit"}


def test_wrong_role_cannot_sign_the_step(w):
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    with pytest.raises(Refused) as exc:  # the first step is the workshop head's
        services.approve(
            permit, w.user("safety_head"), at=at(D - dt.timedelta(days=1), 11), position=ON_SITE
        )
    assert codes(exc) == {"sign.not_approver"}


@pytest.mark.parametrize(
    ("position", "code"),
    [
        (OFF_SITE, "sign.off_site"),
        (None, "sign.position_unknown"),
        ({**ON_SITE, "accuracy_m": 51}, "sign.position_unknown"),  # setting: 50 m
    ],
)
def test_approval_off_site_is_refused_with_alarm_30(w, position, code):
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    with pytest.raises(Refused) as exc:
        services.approve(
            permit, w.user("workshop"), at=at(D - dt.timedelta(days=1), 11), position=position
        )
    assert codes(exc) == {code}
    assert "30" in alarm_codes(permit)


def test_accuracy_at_the_limit_counts(w):
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    services.approve(
        permit,
        w.user("workshop"),
        at=at(D - dt.timedelta(days=1), 11),
        position={**ON_SITE, "accuracy_m": 50},
    )
    assert permit.signatures.get().on_site is True


def test_reject_goes_back_to_the_applicant_who_revises(w):
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    permit = services.reject(
        permit, w.user("workshop"), at=at(D - dt.timedelta(days=1), 11), reason="措施不全"
    )
    assert permit.status == "rejected" and permit.reject_reason == "措施不全"
    permit = services.revise(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 12))
    number = permit.number
    permit = services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 13))
    assert permit.number == number  # the same permit keeps its number
    assert permit.steps.filter(round=2).exists()


def test_delegation_only_to_someone_with_the_same_role(w):
    from safework.core.errors import InvalidInput

    window = (at(D - dt.timedelta(days=1), 0), at(D + dt.timedelta(days=1), 0))
    with pytest.raises(InvalidInput):
        services.delegate(
            w.user("workshop"),
            to=w.user("officer"),
            role="workshop_head",
            site=w.site,
            starts_at=window[0],
            ends_at=window[1],
            at=window[0],
        )
    services.delegate(
        w.user("workshop"),
        to=w.user("workshop2"),
        role="workshop_head",
        site=w.site,
        starts_at=window[0],
        ends_at=window[1],
        at=window[0],
    )
    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    services.approve(
        permit, w.user("workshop2"), at=at(D - dt.timedelta(days=1), 11), position=ON_SITE
    )
    signature = permit.signatures.get()
    # workshop2 holds the role at this site: they sign in their own name.
    assert (signature.role, signature.delegated_by_id) == ("workshop_head", None)


def test_a_delegate_from_another_site_stands_in_only_inside_the_window(w):
    """AQ 3064.2-2025 5.5.3: the workshop head of another site (same approval authority) signs
    on the delegator's behalf while the delegation runs; not before, not without it."""
    from safework.accounts.models import User
    from safework.accounts.scope import scope_for
    from safework.accounts.tests.factories import RoleGrantFactory
    from safework.permits import queries
    from safework.qualification.tests.qualification_fixtures import site

    elsewhere = User.objects.create(username="head-of-site-b")
    RoleGrantFactory(user=elsewhere, role="workshop_head", site=site())
    day_before = D - dt.timedelta(days=1)
    permit = services.submit(create(w), w.user("applicant"), at=at(day_before, 10))
    with pytest.raises(Refused):
        services.approve(permit, elsewhere, at=at(day_before, 11), position=ON_SITE)
    scope = scope_for(elsewhere, "permits")
    assert not queries.permits_visible_to(scope, elsewhere).filter(pk=permit.pk).exists()
    services.delegate(
        w.user("workshop"),
        to=elsewhere,
        role="workshop_head",
        site=w.site,
        starts_at=at(day_before, 12),
        ends_at=at(D + dt.timedelta(days=1), 0),
        at=at(day_before, 11),
    )
    with pytest.raises(Refused):  # the delegation has not begun
        services.approve(
            permit, elsewhere, at=at(day_before, 12) - dt.timedelta(minutes=1), position=ON_SITE
        )
    # The delegate sees the permits they may stand in for (and only through the delegation);
    # a user's delegations are read once per user object, as in one request.
    elsewhere = User.objects.get(pk=elsewhere.pk)
    assert queries.permits_visible_to(scope, elsewhere).filter(pk=permit.pk).exists()
    waiting = queries.steps_waiting_for(elsewhere, Permit.objects.all(), at=at(day_before, 12))
    assert [(s.permit_id, s.signing_as) for s in waiting] == [(permit.pk, "workshop_head")]
    services.approve(permit, elsewhere, at=at(day_before, 12), position=ON_SITE)
    signature = permit.signatures.get()
    assert signature.role == "workshop_head"
    assert signature.delegated_by_id == w.user("workshop").pk


def test_cancel_after_approval_needs_an_approver(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    with pytest.raises(Refused) as exc:
        services.cancel(permit, w.user("applicant"), at=at(D, 8), reason="改期")
    assert codes(exc) == {"cancel.needs_approver"}
    permit = services.cancel(permit, w.user("workshop"), at=at(D, 8), reason="改期")
    assert permit.status == "cancelled"


def test_who_cancels_before_approval(w):
    """Before approval: the applicant, or an approver of the site (the principal, who applies for
    nothing); not another user of the site who may not approve, nor an approver elsewhere."""
    from safework.accounts.models import User
    from safework.accounts.tests.factories import RoleGrantFactory
    from safework.qualification.tests.qualification_fixtures import site

    def user(name, role, where):
        u = User.objects.create(username=name)
        RoleGrantFactory(user=u, role=role, site=where)
        return u

    tester = user("tester-2", "gas_tester", w.site)
    worker = user("worker-2", "worker", w.site)
    elsewhere = user("principal-b", "principal", site())
    draft = create(w)
    for by in (tester, worker, elsewhere):
        with pytest.raises(Refused) as exc:
            services.cancel(draft, by, at=at(D - dt.timedelta(days=1), 10), reason="改期")
        assert codes(exc) == {"cancel.not_allowed"}, by.username
    assert Permit.objects.get(pk=draft.pk).status == "draft"
    when = at(D - dt.timedelta(days=1), 10)
    assert services.cancel(draft, w.user("principal"), at=when, reason="改期").status == "cancelled"
    submitted = services.submit(create(w), w.user("applicant"), at=when)
    cancelled = services.cancel(submitted, w.user("applicant"), at=when, reason="计划取消")
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "计划取消")


def test_a_change_closes_the_old_permit_and_opens_a_linked_new_one(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    new = services.change_permit(
        permit,
        w.user("applicant"),
        at=at(D, 8),
        reason="动火点移位",
        data={"place": "一号装置 P-102"},
    )
    permit.refresh_from_db()
    assert permit.status == "closed" and permit.change_reason == "动火点移位"
    assert new.status == "draft" and new.replaces_id == permit.pk and new.place.endswith("P-102")


def test_overdue_step_is_reported_once_to_the_notification_outbox(w):
    from safework.notify.models import Event

    permit = services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    step = services.current_step(permit)
    assert step.due_at == step.activated_at + dt.timedelta(minutes=step.time_limit_minutes)
    waiting = Event.objects.get(kind="permit.approval_waiting")
    assert waiting.payload["roles"] == step.roles and waiting.site_id == w.site.pk
    assert services.flag_overdue_steps(at=step.due_at - MIN) == 0
    assert services.flag_overdue_steps(at=step.due_at) == 1
    assert services.flag_overdue_steps(at=step.due_at + MIN) == 0
    assert list(permit.events.values_list("kind", flat=True)).count("step.overdue") == 1
    overdue = Event.objects.get(kind="permit.approval_overdue")
    assert overdue.payload["step"] == step.label


@pytest.mark.parametrize(("age_days", "ok"), [(365, True), (366, False), (None, False)])
def test_detector_calibration_date_rule(w, age_days, ok):
    from safework.core.errors import InvalidInput

    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    start = at(D, 10)
    test = {
        "at": start - 5 * MIN,
        "taken_at": start - 5 * MIN,
        "point": "动火点",
        "gas": "combustible",
        "value": Decimal("0.1"),
        "unit": "%vol",
        "lel_percent": Decimal("5"),
        "instrument": "GD-01",
        "tester_id": w.tester.pk,
        "calibrated_on": None if age_days is None else D - dt.timedelta(days=age_days),
    }
    if ok:
        assert services.record_gas_test(permit, w.user("tester"), **test).passed
    else:
        with pytest.raises(InvalidInput) as exc:
            services.record_gas_test(permit, w.user("tester"), **test)
        assert exc.value.errors[0].field == "calibrated_on"


def test_a_checklist_confirmed_at_once_refuses_whole_when_one_item_is_someone_elses(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    first, second = list(permit.measures.order_by("order")[:2])
    second.confirmer = w.guardian  # named: only the guardian confirms it
    second.save()
    with pytest.raises(Refused) as exc:
        services.confirm_measures(
            permit, [{"id": first.pk}, {"id": second.pk}], w.user("applicant"), at=at(D, 9)
        )
    assert codes(exc) == {"measures.not_confirmer"}
    assert not permit.measures.filter(confirmed_at__isnull=False).exists()
    done = services.confirm_measures(
        permit, [{"id": first.pk, "involved": False}], w.user("applicant"), at=at(D, 9)
    )
    assert [m.involved for m in done] == [False]
    first.refresh_from_db()
    assert first.confirmed_at == at(D, 9) and not first.involved


def test_a_measure_confirmed_again_without_a_photo_keeps_it_and_stores_the_change(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    first, second = list(permit.measures.order_by("order")[:2])
    by = w.user("applicant")
    services.confirm_measure(permit, first.pk, by, at=at(D, 9), photo="permits/attachments/a.jpg")
    # Again, uninvolved and without a photo, together with another item.
    services.confirm_measures(
        permit, [{"id": first.pk, "involved": False}, {"id": second.pk}], by, at=at(D, 9) + MIN
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.involved, first.confirmed_at) == (False, at(D, 9) + MIN)
    assert first.photo.name == "permits/attachments/a.jpg"
    assert second.confirmed_at == at(D, 9) + MIN and not second.photo


def test_a_measure_named_for_someone_else_is_refused_with_their_name(w):
    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    first = permit.measures.order_by("order").first()
    first.confirmer = w.guardian
    first.save()
    with pytest.raises(Refused) as exc:
        services.confirm_measure(permit, first.pk, w.user("applicant"), at=at(D, 9))
    assert w.guardian.name in exc.value.reasons[0].message


def test_the_start_counts_only_what_covers_the_current_crew_since_approval(w):
    """Every start gate at its edge: an uninvolved measure needs no confirmation; a briefing of
    another permit, a check-in a minute before approval and a check-out do not count; a removed
    member is not required; a check-in at the approval instant counts."""
    from safework.permits.models import ApprovalStep, CrewAssignment

    permit = approve_all(
        w, services.submit(create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    )
    by = w.user("applicant")
    start = at(D, 10)
    since = permit.approved_at
    assert since is not None
    measures = list(permit.measures.order_by("order"))
    assert len(measures) >= 3
    unconfirmed, uninvolved = measures[0], measures[1]
    uninvolved.involved = False
    uninvolved.save()
    services.confirm_measures(permit, [{"id": m.pk} for m in measures[2:]], by, at=start - 40 * MIN)
    CrewAssignment.objects.filter(permit=permit, person=w.tester).update(removed_at=start - MIN)
    services.record_briefing(
        permit,
        by,
        briefer_id=w.leader.pk,
        recipient_ids=[w.leader.pk, w.guardian.pk],
        at=start - 35 * MIN,
    )
    services.record_briefing(
        create(w), by, briefer_id=w.leader.pk, recipient_ids=[w.welder.pk], at=start - 35 * MIN
    )
    services.record_gas_test(
        permit,
        w.user("tester"),
        at=start - 10 * MIN,
        taken_at=start - 10 * MIN,
        point="动火点",
        gas="combustible",
        value=Decimal("0.10"),
        unit="%vol",
        lel_percent=Decimal("5.0"),
        instrument="GD-01",
        calibrated_on=D - dt.timedelta(days=30),
        tester_id=w.tester.pk,
    )
    services.check_in(permit, by, person_id=w.leader.pk, at=since, position=ON_SITE)
    services.check_in(permit, by, person_id=w.welder.pk, at=since - MIN, position=ON_SITE)
    services.check_in(
        permit, by, person_id=w.guardian.pk, at=start - 5 * MIN, position=ON_SITE, kind="out"
    )
    step = ApprovalStep.objects.create(
        permit=permit,
        order=99,
        round=1,
        stage="before_start",
        label="动火前检查",
        roles=["team_leader"],
        clause="AQ 3064.2-2025 5.6.5",
        status="pending",
    )
    ApprovalStep.objects.create(
        permit=permit,
        order=100,
        round=1,
        stage="before_start",
        label="作废的检查",
        roles=["team_leader"],
        clause="x",
        status="void",
    )
    with pytest.raises(Refused) as exc:
        services.start(permit, by, at=start, weather={"wind_force": 3})
    got = {r.code: r for r in exc.value.reasons}
    assert set(got) == {
        "measures.unconfirmed",
        "briefing.missing",
        "presence.missing",
        "step.before_start",
    }
    assert [r.subject for r in exc.value.reasons if r.code == "measures.unconfirmed"] == [
        unconfirmed.text[:60]
    ]
    assert w.welder.name in got["briefing.missing"].message
    assert w.tester.name not in got["briefing.missing"].message
    assert w.leader.name not in got["briefing.missing"].message
    absent = got["presence.missing"].message
    assert w.welder.name in absent and w.guardian.name in absent
    assert w.leader.name not in absent and w.tester.name not in absent
    assert absent.index(w.welder.name) < absent.index(w.guardian.name)  # crew order
    assert step.label in got["step.before_start"].message
    assert got["step.before_start"].clause == step.clause


def test_only_a_current_crew_member_checks_in(w):
    from safework.core.errors import InvalidInput
    from safework.permits.models import CrewAssignment, Presence

    permit = approve_all(w, services.submit(create(w), w.user("applicant"), at=at(D, 6)))
    by, when = w.user("applicant"), at(D, 9)
    outsider = member(w.site)  # qualified, but on no crew of this permit
    # Removed a minute before the check-in: no longer on the crew.
    CrewAssignment.objects.filter(permit=permit, person=w.tester).update(removed_at=when - MIN)
    for person_id in (outsider.pk, w.tester.pk):
        with pytest.raises(InvalidInput) as exc:
            services.check_in(permit, by, person_id=person_id, at=when, position=ON_SITE)
        assert [e.code for e in exc.value.errors] == ["not_in_crew"]
    services.check_in(permit, by, person_id=w.welder.pk, at=when, position=ON_SITE)
    assert list(Presence.objects.filter(permit=permit).values_list("person_id", flat=True)) == [
        w.welder.pk
    ]

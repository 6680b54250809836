"""The permit gates that depend on the work app's data: upgrade on holidays, rest days, make-up
workdays and nights (alarms 40–42), blinding (alarm 20, §7.10), the lifting plan, weather stops,
linked permits."""

import datetime as dt
from pathlib import Path

import pytest
import time_machine

from safework.core.refusals import Refused
from safework.org.tests.factories import AreaFactory
from safework.permits import services
from safework.permits.models import Alarm
from safework.permits.tests.world import D, approve_all, at, build_world, create, ready_to_start
from safework.qualification import engine as qualification
from safework.qualification.tests.qualification_fixtures import member
from safework.work import services as work_services
from safework.work.models import WorkType

pytestmark = pytest.mark.django_db
CALENDAR_2026 = Path(work_services.__file__).parent / "catalogue" / "calendar" / "2026.yaml"
SATURDAY = dt.date(2026, 3, 14)
NATIONAL_DAY = dt.date(2026, 10, 2)
MAKE_UP_SATURDAY = dt.date(2026, 10, 10)


@pytest.fixture
def w(catalogue):
    qualification.clear_caches()
    work_services.load_calendar(work_services.read_calendar_file(CALENDAR_2026))
    with time_machine.travel(at(D - dt.timedelta(days=1), 8), tick=False):
        world = build_world()
        # An ordinary area: hot work there is level 2 unless upgraded.
        world.plain = AreaFactory(
            site=world.site,
            code="yard",
            name="检修场地",
            fire_explosion_hazard=False,
            center_latitude=world.area.center_latitude,
            center_longitude=world.area.center_longitude,
            radius_m=200,
        )
        yield world


def codes(exc) -> set[str]:
    return {r.code for r in exc.value.reasons}


def alarm_codes(permit) -> set[str]:
    return set(Alarm.objects.filter(permit=permit).values_list("alarm_type__code", flat=True))


def day_before(day):
    return at(day - dt.timedelta(days=1), 9)


@pytest.mark.parametrize(
    ("day", "hour", "upgraded", "alarm"),
    [
        (D, 10, False, None),  # a Tuesday in the day
        (SATURDAY, 10, True, "41"),  # a rest day
        (NATIONAL_DAY, 10, True, "40"),  # a holiday
        (MAKE_UP_SATURDAY, 10, False, None),  # a Saturday that is a make-up workday
        (D, 22, True, "42"),  # 22:00 is night (the window starts there)
    ],
)
def test_hot_work_is_upgraded_in_special_periods(w, day, hour, upgraded, alarm):
    start = at(day, hour)
    permit = create(w, created=day_before(day), start=start, hours=7, area_id=w.plain.pk)
    assert permit.derived_level.code == "level2"
    assert permit.upgraded is upgraded
    assert permit.level.code == ("level1" if upgraded else "level2")
    assert permit.calendar_basis.startswith("calendar 2026")
    if alarm is None:
        return
    # Asking for the level the inputs alone give is refused at submission, with the alarm.
    services.update_draft(permit, w.user("applicant"), {"level": "level2"}, at=day_before(day))
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=day_before(day))
    assert any(c.startswith("level.not_upgraded.") for c in codes(exc))
    assert alarm in alarm_codes(permit)


def test_night_window_boundary(w):
    """Ends at 22:00 exactly: the span [14:00, 22:00) touches no night; one minute more does."""
    day = D
    permit = create(w, created=day_before(day), start=at(day, 14), hours=8, area_id=w.plain.pk)
    assert not permit.upgraded
    later = create(
        w,
        created=day_before(day),
        start=at(day, 14) + dt.timedelta(minutes=1),
        hours=8,
        area_id=w.plain.pk,
    )
    assert later.upgraded and later.level.code == "level1"


def test_year_without_calendar_records_its_basis(w):
    day = dt.date(2027, 3, 9)  # a Tuesday; no 2027 calendar loaded
    permit = create(w, created=day_before(day), start=at(day, 10), hours=7, area_id=w.plain.pk)
    assert "2027" in permit.calendar_basis and "setting" in permit.calendar_basis


def test_unknown_level_is_refused_with_the_clause(w):
    from safework.core.errors import InvalidInput

    with pytest.raises((InvalidInput, Refused)) as exc:
        create(w, level="三级")
    text = str(exc.value)
    assert "三级" in text or "level" in text


def test_level_below_the_inputs_is_refused(w):
    with pytest.raises(Refused) as exc:  # a fire/explosion hazardous area requires level 1
        create(w, level="level2")
    assert exc.value.reasons and all(r.clause for r in exc.value.reasons)


# ---- blinding -----------------------------------------------------------------------------


def _blinding(w, blinds, **kw):
    fitter = member(w.site, position="fitter", certs=())
    return create(
        w,
        work_type="blinding",
        fields={"blinds": blinds},
        inputs={},
        crew=[
            {"person_id": w.leader.pk, "role": "site_lead"},
            {"person_id": fitter.pk, "role": "worker"},
            {"person_id": w.guardian.pk, "role": "guardian"},
        ],
        **kw,
    )


BLIND = {
    "line": "P-101 出口",
    "medium": "石脑油",
    "temperature_c": 40,
    "pressure_mpa": 0.1,
    "size": "DN100",
    "number": "MB-07",
    "action": "insert",
}


def test_one_permit_inserting_and_removing_the_same_blind_raises_alarm_20(w):
    permit = _blinding(w, [BLIND, {**BLIND, "action": "remove"}])
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=day_before(D))
    assert "blind.both_ways" in codes(exc)
    assert "20" in alarm_codes(permit)


def test_two_blinding_jobs_on_one_pipeline_at_once_are_refused(w):
    first = services.submit(_blinding(w, [BLIND]), w.user("applicant"), at=day_before(D))
    assert first.status == "in_approval"
    second = _blinding(w, [{**BLIND, "number": "MB-08"}], start=at(D, 12), hours=4)
    with pytest.raises(Refused) as exc:
        services.submit(second, w.user("applicant"), at=day_before(D))
    assert "blind.same_line" in codes(exc)
    later = _blinding(
        w, [{**BLIND, "number": "MB-09"}], start=at(D + dt.timedelta(days=1), 10), hours=4
    )
    assert services.submit(later, w.user("applicant"), at=day_before(D)).status == "in_approval"


# ---- weather, linked permits ------------------------------------------------------------


@pytest.mark.parametrize(("force", "ok"), [(4, True), (5, False)])
def test_open_air_hot_work_stops_at_force_5_unless_upgraded(w, force, ok):
    permit = approve_all(w, services.submit(create(w), w.user("applicant"), at=day_before(D)))
    start = at(D, 10)
    permit = ready_to_start(w, permit, start=start)
    if ok:
        services.start(permit, w.user("applicant"), at=start, weather={"wind_force": force})
    else:
        with pytest.raises(Refused) as exc:
            services.start(permit, w.user("applicant"), at=start, weather={"wind_force": force})
        assert codes(exc) == {"weather.wind"}


def test_hot_work_inside_a_confined_space_needs_its_linked_permit(w):
    permit = create(w, inputs={"height_m": 0.5, "inside_confined_space": True})
    with pytest.raises(Refused) as exc:
        services.submit(permit, w.user("applicant"), at=day_before(D))
    assert "link.missing" in codes(exc)
    assert "60" in alarm_codes(permit)


def test_every_work_type_has_a_prefix_and_rules(w):
    prefixes = set(WorkType.objects.values_list("permit_code", flat=True))
    assert prefixes == {"DH", "SX", "MB", "GC", "DZ", "LD", "DT", "DL"}


def test_special_hot_work_upgraded_gets_one_more_approver(w):
    """Special has no level above: upgrading it adds the policy's approver (data: the technical
    lead), after the special route's own steps."""
    day = D
    fields = {"method": "welding", "plan_ref": "FA-07"}
    inputs = {"height_m": 0.5, "running_unit": True}
    by_day = create(w, created=day_before(day), start=at(day, 10), fields=fields, inputs=inputs)
    at_night = create(w, created=day_before(day), start=at(day, 22), fields=fields, inputs=inputs)
    assert by_day.level.code == at_night.level.code == "special"
    assert not by_day.upgraded and at_night.upgraded
    roles = {}
    for permit in (by_day, at_night):
        permit = services.submit(permit, w.user("applicant"), at=day_before(day))
        roles[permit.pk] = [r for s in permit.steps.filter(stage="approval") for r in s.roles]
    assert "technical_lead" not in roles[by_day.pk]
    assert roles[at_night.pk][-1] == "technical_lead"
    assert roles[at_night.pk][:-1] == roles[by_day.pk]

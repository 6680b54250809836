"""Validity limits between instants, the rule row in force, weather stops."""

import datetime as dt
import zoneinfo

import pytest

from safework.core.refusals import Refused
from safework.work.models import PermitRule
from safework.work.rules import permit_rule, validity_refusal, weather_reasons, weather_stops

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
START = dt.datetime(2027, 3, 10, 8, 0, tzinfo=SHANGHAI)
ON = START.date()


def _rule(types, code, level=None):
    wt = types[code]
    return permit_rule(wt, wt.levels.get(code=level) if level else None, ON)


@pytest.mark.parametrize(
    ("code", "level", "minutes", "refused"),
    [
        ("hot_work", "special", 480, False),
        ("hot_work", "special", 481, True),
        ("hot_work", "level1", 480, False),
        ("hot_work", "level1", 481, True),
        ("hot_work", "level2", 72 * 60, False),
        ("hot_work", "level2", 72 * 60 + 1, True),
        ("confined_space", None, 24 * 60, False),
        ("confined_space", None, 24 * 60 + 1, True),
        ("height", "III", 7 * 24 * 60, False),
        ("height", "III", 7 * 24 * 60 + 1, True),
        ("blinding", None, 1440, False),
        ("blinding", None, 1441, True),
    ],
)
def test_validity_at_the_limit(types, code, level, minutes, refused):
    rule = _rule(types, code, level)
    reason = validity_refusal(rule, START, START + dt.timedelta(minutes=minutes))
    if refused:
        assert reason.code == "work.validity.too_long"
        assert reason.blocking is True
        assert reason.clause == rule.max_clause
    else:
        assert reason is None


def test_eight_hours_and_one_second_is_refused(types):
    rule = _rule(types, "hot_work", "special")
    assert validity_refusal(rule, START, START + dt.timedelta(minutes=480, seconds=1)) is not None


def test_validity_measured_across_a_date_change_in_utc(types):
    # 23:30 UTC is already the next day in Shanghai; the span is still 480 minutes.
    start = dt.datetime(2027, 3, 10, 23, 30, tzinfo=dt.UTC)
    rule = _rule(types, "hot_work", "level1")
    assert validity_refusal(rule, start, start + dt.timedelta(minutes=480)) is None


@pytest.mark.parametrize(
    ("days", "code"),
    [
        (15, None),
        (dt.timedelta(days=15, minutes=1), "work.validity.beyond_normal"),
        (30, "work.validity.beyond_normal"),
        (dt.timedelta(days=30, minutes=1), "work.validity.too_long"),
    ],
)
def test_temporary_power_warns_after_15_days_refuses_after_30(types, days, code):
    rule = _rule(types, "temporary_power")
    span = days if isinstance(days, dt.timedelta) else dt.timedelta(days=days)
    reason = validity_refusal(rule, START, START + span)
    assert (reason.code if reason else None) == code
    if code == "work.validity.beyond_normal":
        assert reason.blocking is False
    if reason:
        assert "10.8" in reason.clause


def test_end_before_start_is_refused(types):
    rule = _rule(types, "height")
    assert validity_refusal(rule, START, START).code == "work.validity.end_before_start"


def test_level_row_comes_before_the_type_row(types):
    wt = types["hot_work"]
    special = wt.levels.get(code="special")
    PermitRule.objects.create(
        work_type=wt, clause="企业", max_minutes=60, max_clause="企业：1 h", effective_from=ON
    )
    assert permit_rule(wt, special, ON).max_minutes == 480
    assert permit_rule(wt, None, ON).max_minutes == 60


def test_newer_version_applies_from_its_day(types):
    wt = types["confined_space"]
    old = permit_rule(wt, None, ON)
    old.effective_to = ON
    old.save()
    PermitRule.objects.create(
        work_type=wt, clause="企业", max_minutes=720, max_clause="企业：12 h", effective_from=ON
    )
    assert permit_rule(wt, None, ON - dt.timedelta(days=1)).max_minutes == 1440
    assert permit_rule(wt, None, ON).max_minutes == 720


def test_no_rule_in_force_is_refused(types):
    with pytest.raises(Refused) as exc:
        permit_rule(types["height"], None, dt.date(2022, 9, 30))
    assert exc.value.reasons[0].code == "work.rule.missing"


def test_plan_required_for_lifting_one_and_two_only(types):
    assert _rule(types, "lifting", "I").plan_required is True
    assert _rule(types, "lifting", "II").plan_required is True
    assert _rule(types, "lifting", "III").plan_required is False
    assert "signaller" in _rule(types, "lifting", "III").required_roles
    assert "signaller" not in _rule(types, "hot_work", "level2").required_roles


def test_gas_rules_of_the_types(types):
    confined = _rule(types, "confined_space")
    assert confined.gas_points == ["top", "middle", "bottom"]
    assert confined.gas_window_minutes == 30
    assert confined.interruption_retest_minutes == 60
    assert _rule(types, "hot_work", "special").interruption_retest_minutes == 30
    assert _rule(types, "hot_work", "level2").interruption_retest_minutes == 60
    power = _rule(types, "temporary_power")
    assert power.gas_test_required and power.gas_test_in_hazard_area_only
    assert not _rule(types, "height").gas_test_required


def test_every_rule_has_measures_hazards_and_clauses(types):
    for rule in PermitRule.objects.all():
        assert len(rule.measures) >= 5, rule
        assert len(rule.hazards) >= 5, rule
        assert all(m["code"] and m["text"] and m["clause"] for m in rule.measures), rule
        assert rule.clause and rule.max_clause


@pytest.mark.parametrize(
    ("code", "force", "conditions", "upgraded", "expected"),
    [
        ("lifting", 5, [], False, []),
        ("lifting", 6, [], False, ["work.weather.wind"]),
        ("lifting", None, ["rainstorm"], False, ["work.weather.condition"]),
        ("height", 4, [], False, []),
        ("height", 5, [], False, ["work.weather.wind"]),
        ("height", None, ["dense_fog"], False, ["work.weather.condition"]),
        ("height", None, ["heavy_snow"], False, []),
        ("hot_work", 4, [], False, []),
        ("hot_work", 5, [], False, ["work.weather.wind"]),
        ("hot_work", 5, [], True, []),
    ],
)
def test_weather_stops(types, code, force, conditions, upgraded, expected):
    stops = weather_stops(types[code], ON)
    reasons = weather_reasons(stops, wind_force=force, conditions=conditions, upgraded=upgraded)
    assert [r.code for r in reasons] == expected
    assert all(r.clause == stops[0].clause for r in reasons)


def test_weather_does_not_stop_indoor_work(types):
    stops = weather_stops(types["lifting"])
    assert weather_reasons(stops, wind_force=8, open_air=False) == []

"""Levels derived from the catalogue's bounds, at every bound and just past it."""

from types import SimpleNamespace

import pytest

from safework.core.errors import InvalidInput
from safework.core.refusals import Refused
from safework.work.levels import check_level, derive


def _level(types, code, inputs, area=None):
    d = derive(types[code], inputs, area)
    return d.level.code if d.level else None


@pytest.mark.parametrize(
    ("height", "level"),
    [
        ("2", "I"),
        ("5", "I"),
        ("5.01", "II"),
        ("15", "II"),
        ("15.01", "III"),
        ("30", "III"),
        ("30.01", "IV"),
        ("120", "IV"),
    ],
)
def test_height_classes_method_a(types, height, level):
    d = derive(types["height"], {"height_m": height})
    assert d.needs_permit is True
    assert d.level.code == level
    assert d.reasons[0].clause == "GB 30871-2022 8.1 表2"


def test_below_two_metres_is_not_height_work(types):
    d = derive(types["height"], {"height_m": 1.99})
    assert d.needs_permit is False
    assert d.level is None
    assert d.reasons[0].code == "work.permit.not_needed"
    assert "3.8" in d.reasons[0].clause


@pytest.mark.parametrize(
    ("height", "level"),
    [
        ("2", "II"),
        ("5", "II"),
        ("5.01", "III"),
        ("15", "III"),
        ("15.01", "IV"),
        ("30", "IV"),
        ("30.01", "IV"),
    ],
)
def test_method_b_one_class_up_capped_at_four(types, height, level):
    d = derive(types["height"], {"height_m": height, "hazards": ["slippery"]})
    assert d.level.code == level
    assert d.reasons[-1].code == "work.level.method_b"
    assert d.reasons[-1].clause == "GB 30871-2022 8.1.2"


def test_method_b_does_not_apply_below_two_metres(types):
    d = derive(types["height"], {"height_m": "1.99", "hazards": ["gust_force5"]})
    assert d.needs_permit is False


def test_unknown_hazard_is_a_field_error(types):
    with pytest.raises(InvalidInput) as exc:
        derive(types["height"], {"height_m": 3, "hazards": ["meteor"]})
    assert exc.value.errors[0].field == "hazards"
    assert "meteor" in exc.value.errors[0].message


@pytest.mark.parametrize(
    ("mass", "needs", "level"),
    [
        ("9.99", False, None),
        ("10", True, "III"),
        ("39.99", True, "III"),
        ("40", True, "II"),
        ("100", True, "II"),
        ("100.01", True, "I"),
    ],
)
def test_lifting_classes(types, mass, needs, level):
    d = derive(types["lifting"], {"mass_t": mass})
    assert d.needs_permit is needs
    assert (d.level.code if d.level else None) == level
    if not needs:
        assert "表B.1" in d.reasons[0].clause
        assert "风险分析" in d.reasons[0].clause


@pytest.mark.parametrize(
    ("depth", "needs", "gas"),
    [("0.49", False, False), ("0.5", True, False), ("1.2", True, False), ("1.21", True, True)],
)
def test_excavation_depths_in_a_process_area_with_buried_lines(types, depth, needs, gas):
    area = SimpleNamespace(
        fire_explosion_hazard=True,
        fixed_hot_work_area=False,
        tank_farm_major_dike=False,
        process_or_tank_area=True,
        buried_flammable_lines=True,
    )
    d = derive(types["excavation"], {"depth_m": depth}, area)
    assert d.needs_permit is needs
    assert d.confined_space_gas is gas
    if gas:
        assert "11.10" in d.reasons[0].clause
    if not needs:
        assert "3.11" in d.reasons[0].clause


def test_deep_excavation_without_buried_lines_needs_no_gas_rules(types):
    d = derive(types["excavation"], {"depth_m": 3, "process_or_tank_area": True})
    assert d.confined_space_gas is False


@pytest.mark.parametrize(
    ("inputs", "level"),
    [
        ({}, "level2"),
        ({"fire_explosion_hazard": True}, "level1"),
        ({"pipe_rack": True}, "level1"),
        ({"fire_explosion_hazard": True, "running_unit": True}, "special"),
        ({"running_unit": True}, "level2"),  # running, but not in a hazardous place
        ({"in_tank_dike": True, "tank_farm_major_dike": True}, "special"),
        ({"in_tank_dike": True}, "level2"),  # a dike that is not a major-hazard tank farm
    ],
)
def test_hot_work_places(types, inputs, level):
    assert _level(types, "hot_work", inputs) == level


def test_hot_work_levels_read_the_area(types):
    area = SimpleNamespace(
        fire_explosion_hazard=True,
        fixed_hot_work_area=False,
        tank_farm_major_dike=False,
        process_or_tank_area=True,
        buried_flammable_lines=False,
    )
    d = derive(types["hot_work"], {"running_unit": True}, area)
    assert d.level.code == "special"
    assert d.reasons[0].clause == "GB 30871-2022 5.1.2"


def test_fixed_hot_work_area_needs_no_permit(types):
    d = derive(types["hot_work"], {"fixed_hot_work_area": True, "fire_explosion_hazard": True})
    assert d.needs_permit is False
    assert d.reasons[0].clause == "GB 30871-2022 5.5"


def test_shut_down_cleaned_unit_warns_and_allows_level2(types):
    wt = types["hot_work"]
    d = derive(wt, {"fire_explosion_hazard": True, "shut_down_cleaned": True})
    assert d.level.code == "level1"
    warning = d.reasons[-1]
    assert warning.code == "work.level.shut_down_may_be_level2"
    assert warning.blocking is False
    assert warning.clause == "GB 30871-2022 5.1.4"
    assert check_level(wt, "level2", d).code == "level2"


@pytest.mark.parametrize("bad", [-1, "-0.01", "abc", True, float("nan"), "inf"])
def test_bad_numbers_are_field_errors(types, bad):
    with pytest.raises(InvalidInput) as exc:
        derive(types["height"], {"height_m": bad})
    assert exc.value.errors[0].field == "height_m"


def test_missing_height_is_required(types):
    with pytest.raises(InvalidInput) as exc:
        derive(types["height"], {})
    assert exc.value.errors[0].code == "required"


def test_missing_height_message_is_chinese(types):
    with pytest.raises(InvalidInput) as exc:
        derive(types["lifting"], {"mass_t": "x"})
    assert exc.value.errors[0].message == "必须是数字。"


def test_level_three_of_hot_work_is_refused(types):
    wt = types["hot_work"]
    d = derive(wt, {})
    with pytest.raises(Refused) as exc:
        check_level(wt, "三级", d)
    reason = exc.value.reasons[0]
    assert reason.code == "work.level.unknown"
    assert reason.clause.startswith("GB 30871-2022 5.1")


def test_lifting_three_is_a_level_name(types):
    wt = types["lifting"]
    assert check_level(wt, "三级", derive(wt, {"mass_t": 10})).code == "III"


def test_level_lower_than_derived_is_refused(types):
    wt = types["hot_work"]
    d = derive(wt, {"fire_explosion_hazard": True, "running_unit": True})
    with pytest.raises(Refused) as exc:
        check_level(wt, "level1", d)
    assert exc.value.reasons[0].code == "work.level.below_derived"
    assert exc.value.reasons[0].clause == "GB 30871-2022 5.1.2"


def test_method_b_refusal_names_the_hazard_clause(types):
    wt = types["height"]
    d = derive(wt, {"height_m": 3, "hazards": ["poor_light"]})
    with pytest.raises(Refused) as exc:
        check_level(wt, "I", d)
    assert exc.value.reasons[0].clause == "GB 30871-2022 8.1.2"


def test_higher_level_is_accepted_and_none_takes_the_derived(types):
    wt = types["hot_work"]
    d = derive(wt, {})
    assert check_level(wt, "special", d).code == "special"
    assert check_level(wt, "特级", d).code == "special"
    assert check_level(wt, None, d).code == "level2"

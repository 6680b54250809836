"""Upgrade management as the policy says; the AQ alarm codes that apply if not upgraded."""

import pytest

from safework.work.upgrade import upgrade


def _level(types, code, level):
    return types[code].levels.get(code=level)


@pytest.mark.parametrize(
    ("level", "upgraded", "extra"),
    [
        ("level2", "level1", ()),
        ("level1", "special", ()),
        ("special", "special", ("technical_lead",)),
    ],
)
def test_hot_work_goes_one_level_up(types, level, upgraded, extra):
    u = upgrade(types["hot_work"], _level(types, "hot_work", level), {"night"})
    assert u.level.code == upgraded
    assert u.extra_roles == extra
    assert u.alarm_codes == ("42",)
    assert u.reasons[0].clause == "GB 30871-2022 5.1.1 升级管理; enterprise data"


def test_alarm_codes_for_every_kind_in_order(types):
    kinds = {"special_period", "night", "rest_day", "holiday"}
    u = upgrade(types["hot_work"], _level(types, "hot_work", "level2"), kinds)
    assert u.alarm_codes == ("40", "41", "42", "43")


def test_no_kinds_no_upgrade(types):
    level = _level(types, "hot_work", "level2")
    u = upgrade(types["hot_work"], level, frozenset())
    assert (u.level, u.extra_roles, u.reasons, u.alarm_codes) == (level, (), (), ())


def test_a_type_without_policy_is_unchanged(types):
    level = _level(types, "height", "I")
    u = upgrade(types["height"], level, {"holiday"})
    assert u.level == level
    assert u.alarm_codes == ()


def test_two_levels_up_from_level2_reaches_special_with_an_extra_role(types):
    policy = types["hot_work"].upgrade_policy
    policy.levels_up = 2
    policy.save()
    u = upgrade(types["hot_work"], _level(types, "hot_work", "level2"), {"holiday"})
    assert u.level.code == "special"
    assert u.extra_roles == ()
    u = upgrade(types["hot_work"], _level(types, "hot_work", "level1"), {"holiday"})
    assert u.extra_roles == ("technical_lead",)

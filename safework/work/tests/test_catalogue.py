"""The work catalogue loads with the others, once; every rule row names its clause."""

from safework.core.catalogue import catalogue_differences, load_catalogue
from safework.work.models import (
    CombustibleCriterion,
    GasLimit,
    HeightHazard,
    PermitRule,
    RouteStep,
    UpgradePolicy,
    WeatherStop,
    WorkLevel,
    WorkType,
)
from safework.work.routing import compile_condition


def test_catalogue_load_is_idempotent(db):
    assert load_catalogue() > 0
    counts = [m.objects.count() for m in (PermitRule, RouteStep, WeatherStop, GasLimit)]
    assert load_catalogue() == 0
    assert [m.objects.count() for m in (PermitRule, RouteStep, WeatherStop, GasLimit)] == counts
    assert catalogue_differences() == []


def test_every_row_has_a_clause(work_catalogue):
    for model in (
        PermitRule,
        RouteStep,
        WeatherStop,
        GasLimit,
        CombustibleCriterion,
        HeightHazard,
        UpgradePolicy,
    ):
        assert model.objects.exists(), model
        assert not model.objects.filter(clause="").exists(), model


def test_aq_codes(work_catalogue):
    codes = dict(WorkType.objects.exclude(aq_type_code="").values_list("code", "aq_type_code"))
    assert codes == {
        "temporary_power": "10",
        "excavation": "30",
        "road_closure": "40",
        "blinding": "50",
        "confined_space": "70",
    }
    levels = {
        (lv.work_type.code, lv.code): lv.aq_type_code
        for lv in WorkLevel.objects.select_related("work_type")
    }
    assert levels[("hot_work", "special")] == "01"
    assert levels[("hot_work", "level2")] == "03"
    assert levels[("height", "IV")] == "24"
    assert levels[("lifting", "I")] == "61"
    assert levels[("lifting", "III")] == "63"


def test_every_shipped_condition_compiles(work_catalogue):
    for step in RouteStep.objects.exclude(condition=""):
        compile_condition(step.condition, step.work_type)

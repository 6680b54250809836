"""Requirement rows as pure rules: attributes, conditions, item patterns, validity arithmetic.

Built objects only (no database), except the last test, which holds the shipped data together.
"""

import datetime as dt

import pytest

from safework.certs.models import CatalogueRule
from safework.certs.rules import RuleBook
from safework.core.errors import InvalidInput
from safework.people.models import HealthCheck
from safework.qualification import requirements as rq
from safework.qualification.models import Requirement
from safework.work.models import CrewRole, WorkLevel, WorkType

HOT = WorkType(pk=1, code="hot_work", name="动火作业")
HEIGHT = WorkType(pk=2, code="height", name="高处作业")
LEVEL1 = WorkLevel(pk=11, work_type=HOT, code="level1", name="一级", rank=2)
SPECIAL = WorkLevel(pk=12, work_type=HOT, code="special", name="特级", rank=3)
WORKER = CrewRole(pk=21, code="worker", name="作业人")
GUARDIAN = CrewRole(pk=22, code="guardian", name="监护人")
ON = dt.date(2026, 3, 10)

ITEMS = rq.ItemIndex(
    [
        rq.ItemRef(101, 1, "special_operation", "1.1", "高压电工作业"),
        rq.ItemRef(102, 1, "special_operation", "1.2", "低压电工作业"),
        rq.ItemRef(121, 1, "special_operation", "2.1", "熔化焊接与热切割作业"),
        rq.ItemRef(131, 1, "special_operation", "3.1", "登高架设作业"),
        rq.ItemRef(193, 1, "special_operation", "9.3", "氯化工艺作业", category="9"),
        rq.ItemRef(1910, 1, "special_operation", "9.10", "氧化工艺作业", category="9"),
        rq.ItemRef(1911, 1, "special_operation", "9.11", "过氧化工艺作业", category="9"),
        rq.ItemRef(201, 2, "construction", "01", "建筑电工"),
        rq.ItemRef(301, 3, "internal", "PLANT-ANNUAL", "年度培训"),
        rq.ItemRef(302, 3, "internal", "GUARDIAN", "监护人", calendar_year=True),
    ],
    {"special_operation:1.2": ("construction:01",)},
    "企业决定",
)


PROCESSES = ITEMS.process_choices()


def parse(attrs):
    return rq.parse_attrs(attrs, processes=PROCESSES)


def work(attrs=None, *, level=LEVEL1, role=WORKER, on=ON, work_type=HOT):
    return rq.Work(work_type, level, role, on, parse(attrs))


def requirement(**kwargs):
    values = {
        "code": "r",
        "description": "d",
        "kind": "certificate",
        "clause": "c",
        "effective_from": dt.date(2000, 1, 1),
        "is_active": True,
    }
    values.update(kwargs)
    return Requirement(**values)


# --- attributes -----------------------------------------------------------------------------------


def test_attributes_are_typed():
    assert parse(
        {"height_m": "2.5", "forklift_area": "是", "process": " 9.3 ", "crane_kind": None}
    ) == {"height_m": 2.5, "forklift_area": True, "process": "9.3"}
    assert parse({"height_m": 3}) == {"height_m": 3.0}
    assert parse(None) == {}


@pytest.mark.parametrize(
    ("attrs", "field", "code"),
    [
        ({"height_m": "high"}, "attrs.height_m", "invalid_type"),
        ({"height_m": True}, "attrs.height_m", "invalid_type"),
        ({"height_m": -1}, "attrs.height_m", "too_small"),
        ({"height_m": "nan"}, "attrs.height_m", "too_small"),
        ({"forklift_area": "maybe"}, "attrs.forklift_area", "invalid_type"),
        ({"hot_work_method": 3}, "attrs.hot_work_method", "invalid_type"),
        ({"role": "worker"}, "attrs.role", "unknown_attribute"),
        ({"heigth_m": 2}, "attrs.heigth_m", "unknown_attribute"),
        ({"height_m": {"a": 1}}, "attrs.height_m", "invalid_type"),
        ({"hot_work_method": "welding!"}, "attrs.hot_work_method", "invalid_choice"),
        ({"height_task": "ladder"}, "attrs.height_task", "invalid_choice"),
        ({"height_task": "scaffolding*"}, "attrs.height_task", "invalid_choice"),
        ({"crane_kind": "truck"}, "attrs.crane_kind", "invalid_choice"),
        ({"process": "*"}, "attrs.process", "invalid_choice"),
        ({"process": "9.*"}, "attrs.process", "invalid_choice"),
        ({"process": "2.1"}, "attrs.process", "invalid_choice"),  # an item, not a process
        ({"process": "1.1"}, "attrs.process", "invalid_choice"),
        ({"process": "special_operation:9.3"}, "attrs.process", "invalid_choice"),
        ({"process": "9.99"}, "attrs.process", "invalid_choice"),
    ],
)
def test_bad_attributes_are_input_errors(attrs, field, code):
    with pytest.raises(InvalidInput) as exc:
        parse(attrs)
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, code)]


@pytest.mark.parametrize(
    ("name", "written", "code"),
    [
        ("hot_work_method", "焊接", "welding"),
        ("hot_work_method", "Welding", "welding"),
        ("hot_work_method", " ＷＥＬＤＩＮＧ ", "welding"),  # full-width, upper case
        ("hot_work_method", "电焊", "welding"),
        ("hot_work_method", "气割", "cutting"),
        ("hot_work_method", "打磨", "grinding"),
        ("height_task", "登高架设", "scaffolding"),
        ("height_task", "搭设脚手架", "scaffolding"),
        ("height_task", "高处安装、维护、拆除", "installation"),
        ("crane_kind", "塔式", "tower"),
        ("crane_kind", "Mobile", "mobile"),
        ("process", "氯化", "9.3"),
        ("process", "氧化工艺作业", "9.10"),
        ("process", "过氧化", "9.11"),
    ],
)
def test_text_attributes_become_their_canonical_code(name, written, code):
    assert parse({name: written}) == {name: code}


def test_an_invalid_choice_lists_the_allowed_values():
    with pytest.raises(InvalidInput) as exc:
        parse({"hot_work_method": "laser"})
    message = exc.value.errors[0].message
    assert "welding (焊接" in message and "cutting" in message and "grinding" in message


def test_welding_written_in_chinese_brings_the_hot_work_requirement():
    welding = requirement(condition='hot_work_method in ["welding", "cutting"]', work_type=HOT)
    assert rq.applies(welding, work({"hot_work_method": "焊接"}))
    assert rq.applies(welding, work({"hot_work_method": "Welding"}))
    assert rq.applies(welding, work({"hot_work_method": "气割"}))
    assert not rq.applies(welding, work({"hot_work_method": "打磨"}))
    scaffold = requirement(condition='height_task == "scaffolding"')
    assert rq.applies(scaffold, work({"height_task": "登高架设"}))


def test_a_filled_placeholder_is_taken_literally():
    pattern = ["special_operation:{process}"]
    assert ITEMS.resolve(pattern, {"process": "*"}) == frozenset()
    assert ITEMS.resolve(pattern, {"process": "9.*"}) == frozenset()
    assert ITEMS.resolve(pattern, {"process": "2.1:x"}) == frozenset()
    assert ITEMS.resolve(["special_operation:9.*"], {}) == {193, 1910, 1911}


def test_symbols_hold_defaults_and_the_checks_own_values():
    symbols = work({"height_m": 1}).symbols
    assert symbols == {
        "height_m": 1.0,
        "process": None,
        "forklift_area": False,
        "work_type": "hot_work",
        "level": "level1",
        "role": "worker",
    }


# --- conditions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "holds"), [(1.99, False), (2.0, True), (2, True), (30, True)])
def test_height_condition_at_two_metres(height, holds):
    req = requirement(condition="height_m >= 2", work_type=HOT)
    assert rq.applies(req, work({"height_m": height})) is holds


def test_a_needed_attribute_that_is_absent_raises():
    req = requirement(condition="height_m >= 2")
    with pytest.raises(rq.MissingAttribute) as exc:
        rq.applies(req, work({}))
    assert exc.value.name == "height_m"


def test_only_attributes_needed_for_the_answer_are_required():
    req = requirement(condition="forklift_area and height_m > 2")
    assert rq.applies(req, work({})) is False  # forklift_area absent means false
    with pytest.raises(rq.MissingAttribute):
        rq.applies(req, work({"forklift_area": True}))


def test_null_tests_and_membership():
    assert rq.applies(requirement(condition="process != null"), work({})) is False
    assert rq.applies(requirement(condition="process != null"), work({"process": "9.3"}))
    welding = requirement(condition='hot_work_method in ["welding", "cutting"]')
    assert rq.applies(welding, work({"hot_work_method": "cutting"}))
    assert not rq.applies(welding, work({"hot_work_method": "grinding"}))


@pytest.mark.parametrize("text", ["height_m >>> 2", "height > 2", 'height_m > "two"'])
def test_bad_conditions_raise_condition_error(text):
    with pytest.raises(rq.ConditionError):
        rq.applies(requirement(condition=text), work({"height_m": 3}))


def test_filters_dates_levels_roles():
    assert not rq.applies(requirement(is_active=False), work())
    assert not rq.applies(requirement(effective_from=ON + dt.timedelta(days=1)), work())
    assert not rq.applies(requirement(effective_to=ON), work())  # exclusive end
    assert rq.applies(requirement(effective_to=ON + dt.timedelta(days=1)), work())
    assert not rq.applies(requirement(work_type=HEIGHT), work())
    assert not rq.applies(requirement(crew_role=GUARDIAN), work())
    special_only = requirement(min_level=SPECIAL)
    assert not rq.applies(special_only, work())
    assert rq.applies(special_only, work(level=SPECIAL))


# --- item patterns --------------------------------------------------------------------------------


def test_item_patterns_prefix_code_and_placeholder():
    assert ITEMS.resolve(["special_operation:1.*"], {}) == {101, 102}
    assert ITEMS.resolve(["special_operation:9.1*"], {}) == {1910, 1911}
    assert ITEMS.resolve(["internal:PLANT-ANNUAL", "nope:X"], {}) == {301}
    assert ITEMS.resolve(["special_operation:{process}"], {"process": "9.3"}) == {193}
    assert ITEMS.resolve(["special_operation:{process}"], {"process": "氧化"}) == {1910}
    assert ITEMS.resolve(["special_operation:{process}"], {"process": "9.99"}) == frozenset()
    with pytest.raises(rq.MissingAttribute):
        ITEMS.resolve(["special_operation:{process}"], {"process": None})


def test_equivalents_are_per_item():
    assert ITEMS.equivalents_of({101, 102}) == {201}
    assert ITEMS.equivalents_of({101}) == frozenset()


# --- validity arithmetic --------------------------------------------------------------------------


BOOK = RuleBook(
    [
        CatalogueRule(
            pk=1,
            scheme_id=3,
            item_id=301,
            code="plant",
            validity_months=12,
            clause="年度",
            effective_from=dt.date(2000, 1, 1),
        ),
        CatalogueRule(
            pk=2,
            scheme_id=3,
            item_id=None,
            code="medical",
            validity_months=12,
            clause="体检一年",
            effective_from=dt.date(2000, 1, 1),
        ),
    ]
)


def test_medical_validity_default_only_without_valid_until():
    medical = rq.ItemRef(399, 3, "internal", "MEDICAL", "体检")
    check = HealthCheck(pk=1, checked_on=dt.date(2025, 3, 10), conclusion="fit")
    assert rq.medical_valid_until(check, medical, BOOK) == (dt.date(2026, 3, 9), "体检一年")
    check.valid_until = dt.date(2025, 9, 1)
    assert rq.medical_valid_until(check, medical, BOOK) == (dt.date(2025, 9, 1), "")
    check.valid_until = None
    assert rq.medical_valid_until(check, None, BOOK) == (None, "")


def test_add_months_keeps_month_ends():
    assert rq.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert rq.add_months(dt.date(2025, 8, 31), 6) == dt.date(2026, 2, 28)


# --- the shipped data -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_shipped_conditions_compile_and_equivalents_name_shipped_items(catalogue):
    for req in Requirement.objects.exclude(condition=""):
        rq.compile_condition(req.condition)
    clause, mapping = rq.shipped_equivalents()
    assert clause
    from safework.certs.models import CertificateItem

    keys = {f"{i.scheme.code}:{i.code}" for i in CertificateItem.objects.select_related("scheme")}
    for target, counts in mapping.items():
        assert target in keys
        assert set(counts) <= keys

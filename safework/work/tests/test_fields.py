"""Type-specific permit fields against the built-in schema and the enterprise's."""

import pytest

from safework.core.errors import InvalidInput
from safework.work.fields import validate_fields
from safework.work.models import PermitFieldSchema

BLIND = {
    "line": "蒸汽管线",
    "medium": "蒸汽",
    "temperature_c": 180,
    "pressure_mpa": 0.8,
    "size": "DN100",
    "number": "MB-01",
    "action": "insert",
}


def _fields(exc):
    return {(e.field, e.code) for e in exc.value.errors}


def test_hot_work_method(types):
    assert validate_fields(types["hot_work"], {"method": "welding"}) == {"method": "welding"}
    with pytest.raises(InvalidInput) as exc:
        validate_fields(types["hot_work"], {"method": "laser"})
    assert _fields(exc) == {("fields.method", "invalid_choice")}
    with pytest.raises(InvalidInput) as exc:
        validate_fields(types["hot_work"], {})
    assert _fields(exc) == {("fields.method", "required")}
    assert exc.value.errors[0].message == "此字段为必填项。"


def test_blinding_rows(types):
    assert validate_fields(types["blinding"], {"blinds": [BLIND]})
    bad = dict(BLIND, action="both", pressure_mpa="high")
    with pytest.raises(InvalidInput) as exc:
        validate_fields(types["blinding"], {"blinds": [BLIND, bad]})
    assert _fields(exc) == {
        ("fields.blinds.1.action", "invalid_choice"),
        ("fields.blinds.1.pressure_mpa", "invalid_type"),
    }


def test_unknown_field_is_refused(types):
    with pytest.raises(InvalidInput) as exc:
        validate_fields(types["road_closure"], {"section": "三号路", "colour": "red"})
    assert _fields(exc) == {("fields.colour", "unknown_field")}


def test_lifting_and_temporary_power_and_excavation(types):
    assert validate_fields(types["lifting"], {"load_t": 45, "crane": "QY50", "plan_ref": "F-1"})
    assert validate_fields(
        types["temporary_power"], {"supply_point": "配电室1#柜", "power_kw": 15, "voltage_v": 380}
    )
    assert validate_fields(
        types["excavation"], {"extent": "5×3 m", "depth_m": 1.5, "countersigns": ["电气", "仪表"]}
    )
    with pytest.raises(InvalidInput) as exc:
        validate_fields(types["lifting"], {"load_t": -1, "crane": "QY50"})
    assert _fields(exc) == {("fields.load_t", "too_small")}


def test_enterprise_fields_are_checked_too(types):
    wt = types["road_closure"]
    PermitFieldSchema.objects.create(
        work_type=wt,
        code="traffic",
        name="交通指挥",
        schema={
            "type": "object",
            "properties": {"controller": {"type": "string", "minLength": 2}},
            "required": ["controller"],
        },
    )
    assert validate_fields(wt, {"section": "三号路", "controller": "张三"})
    with pytest.raises(InvalidInput) as exc:
        validate_fields(wt, {"section": "三号路"})
    assert _fields(exc) == {("fields.controller", "required")}
    PermitFieldSchema.objects.update(is_active=False)
    with pytest.raises(InvalidInput) as exc:
        validate_fields(wt, {"section": "三号路", "controller": "张三"})
    assert _fields(exc) == {("fields.controller", "unknown_field")}


def test_not_an_object(types):
    with pytest.raises(InvalidInput) as exc:
        validate_fields(types["height"], ["x"])
    assert _fields(exc) == {("fields", "invalid_type")}


def test_form_in_force_by_date_within_one_call(types):
    """The forms are read once per call and picked by date: a form retired on day X no longer
    applies on X (effective_to is exclusive) but still does the day before; the routing types
    still know its fields (a condition may name them)."""
    import datetime as dt

    from safework.core import memo
    from safework.work.models import PermitRule
    from safework.work.routing import context_types

    wt = types["road_closure"]
    retired = dt.date(2026, 3, 10)
    PermitRule.objects.create(
        work_type=wt,
        effective_from=dt.date(2026, 1, 1),
        effective_to=retired,
        max_minutes=480,
        form_schema={"type": "object", "properties": {"detour": {"type": "number"}}},
    )
    with memo.unit():
        assert validate_fields(
            wt, {"section": "三号路", "detour": 2}, on=retired - dt.timedelta(days=1)
        )
        with pytest.raises(InvalidInput) as exc:
            validate_fields(wt, {"section": "三号路", "detour": 2}, on=retired)
        assert _fields(exc) == {("fields.detour", "unknown_field")}
        assert "detour" in context_types(wt)

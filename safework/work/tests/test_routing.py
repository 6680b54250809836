"""Approval routes from RouteStep rows and their conditions."""

import datetime as dt

import pytest

from safework.work.models import PermitFieldSchema, RouteStep, UpgradePolicy
from safework.work.routing import ConditionError, compile_condition, route_for

ON = dt.date(2027, 3, 10)


def _roles(steps, stage="approval"):
    return [s.roles for s in steps if s.stage == stage]


@pytest.mark.parametrize(
    ("level", "roles"),
    [
        ("level2", [("workshop_head",)]),
        ("level1", [("workshop_head",), ("safety_head",)]),
        ("special", [("workshop_head",), ("safety_head",), ("principal",)]),
    ],
)
def test_hot_work_routes(types, level, roles):
    steps = route_for(types["hot_work"], level, {}, ON)
    assert _roles(steps) == roles
    check = [s for s in steps if s.stage == "before_start"]
    assert [s.label for s in check] == ["岗位当班班长验票"]
    assert check[0].roles == ("team_leader",)
    assert steps[-1] is check[0]


SHUT_DOWN_STEP = "停车检修装置按二级动火管理审批"


@pytest.mark.parametrize(
    ("level", "derived", "shut_down", "roles"),
    [
        # A hazardous place's unit shut down, cleaned and isolated, managed as level 2: the head of
        # safety approves that (GB 30871-2022 5.1.4).
        ("level2", "level1", True, [("workshop_head",), ("safety_head",)]),
        ("level2", "special", True, [("workshop_head",), ("safety_head",)]),
        # Level 2 on its own (not a hazardous place), or not declared shut down: the basic unit.
        ("level2", "level2", True, [("workshop_head",)]),
        ("level2", "level1", False, [("workshop_head",)]),
        # Managed at its own level: that level's route, the head of safety once.
        ("level1", "level1", True, [("workshop_head",), ("safety_head",)]),
    ],
)
def test_shut_down_unit_managed_as_level2_needs_the_head_of_safety(
    types, level, derived, shut_down, roles
):
    context = {"derived_level": derived, "shut_down_cleaned": shut_down}
    steps = route_for(types["hot_work"], level, context, ON)
    assert _roles(steps) == roles
    shut_down_steps = [s for s in steps if s.label == SHUT_DOWN_STEP]
    assert len(shut_down_steps) == (1 if level == "level2" and roles != [("workshop_head",)] else 0)
    for step in shut_down_steps:
        assert step.clause.startswith("GB 30871-2022 5.1.4")


@pytest.mark.parametrize(("height", "technical_lead"), [(5, False), (5.01, True), ("5.01", True)])
def test_height_over_five_metres_adds_the_technical_lead(types, height, technical_lead):
    from decimal import Decimal

    steps = route_for(types["height"], "II", {"height_m": Decimal(str(height))}, ON)
    assert (("technical_lead",) in _roles(steps)) is technical_lead


def test_height_four_adds_the_principal(types):
    steps = route_for(types["height"], "IV", {"height_m": 31}, ON)
    assert _roles(steps) == [("workshop_head",), ("technical_lead",), ("principal",)]


@pytest.mark.parametrize(
    ("level", "roles"),
    [("I", [("principal",)]), ("II", [("safety_officer",)]), ("III", [("safety_officer",)])],
)
def test_lifting_routes(types, level, roles):
    assert _roles(route_for(types["lifting"], level, {"mass_t": 50}, ON)) == roles


def test_road_closure_is_a_countersign(types):
    (step,) = route_for(types["road_closure"], None, {}, ON)
    assert step.roles == ("workshop_head", "safety_officer")
    assert step.countersign is True


def test_emergency_adds_a_step_for_every_type(types):
    steps = route_for(types["confined_space"], None, {"is_emergency": True}, ON)
    assert _roles(steps) == [("workshop_head",), ("safety_head",)]
    assert steps[-1].label == "紧急作业审批"
    assert _roles(route_for(types["confined_space"], None, {}, ON)) == [("workshop_head",)]


def test_upgraded_top_level_gets_the_policy_role_once(types):
    steps = route_for(types["hot_work"], "special", {"upgraded": True}, ON)
    extra = [s for s in steps if s.rule_id is None]
    assert [s.roles for s in extra] == [("technical_lead",)]  # the shipped policy's role
    assert extra[0].clause.startswith("GB 30871-2022 5.1.1")
    # Not upgraded, or not the top level: no extra step.
    assert all(s.rule_id for s in route_for(types["hot_work"], "special", {}, ON))
    assert all(s.rule_id for s in route_for(types["hot_work"], "level1", {"upgraded": True}, ON))


def test_upgraded_special_where_the_policy_role_already_signs_adds_nothing(types):
    UpgradePolicy.objects.filter(work_type=types["hot_work"]).update(at_top_extra_role="principal")
    steps = route_for(types["hot_work"], "special", {"upgraded": True}, ON)
    assert _roles(steps) == [("workshop_head",), ("safety_head",), ("principal",)]


def test_rows_out_of_force_are_left_out(types):
    RouteStep.objects.filter(code="height.technical_lead").update(effective_to=ON)
    steps = route_for(types["height"], "II", {"height_m": 10}, ON)
    assert _roles(steps) == [("workshop_head",)]


def test_custom_fields_are_typed_symbols(types):
    wt = types["excavation"]
    PermitFieldSchema.objects.create(
        work_type=wt,
        code="pipes",
        name="管线",
        schema={"type": "object", "properties": {"pipe_count": {"type": "integer"}}},
    )
    compile_condition("pipe_count > 2", wt)
    RouteStep.objects.create(
        code="excavation.pipes",
        work_type=wt,
        order=20,
        label="管线会签",
        roles=["safety_officer"],
        condition="pipe_count > 2",
        clause="企业规定",
    )
    assert ("safety_officer",) in _roles(route_for(wt, None, {"pipe_count": 3}, ON))
    assert ("safety_officer",) not in _roles(route_for(wt, None, {"pipe_count": 2}, ON))


@pytest.mark.parametrize(
    "text",
    ["height_m >", "heigth_m > 5", 'height_m > "five"', "is_emergency + 1"],
)
def test_bad_expressions_do_not_compile(types, text):
    with pytest.raises(ConditionError) as exc:
        compile_condition(text, types["height"])
    assert "条件" in str(exc.value)


def test_bad_expression_is_refused_in_the_admin(client, types, django_user_model):
    from django.urls import reverse

    user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(user)
    response = client.post(
        reverse("admin:work_routestep_add"),
        {
            "code": "height.bad",
            "work_type": types["height"].pk,
            "order": 40,
            "label": "坏条件",
            "roles": '["principal"]',
            "condition": "heigth_m > 5",
            "stage": "approval",
            "on_site_required": "on",
            "clause": "测试",
            "effective_from": "2027-01-01",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "condition" in errors
    assert "条件" in errors["condition"][0]
    assert not RouteStep.objects.filter(code="height.bad").exists()


def test_unknown_role_is_refused_in_the_admin(client, types, django_user_model):
    from django.urls import reverse

    user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(user)
    response = client.post(
        reverse("admin:work_routestep_add"),
        {
            "code": "height.role",
            "order": 40,
            "label": "x",
            "roles": '["chief"]',
            "stage": "approval",
            "clause": "测试",
            "effective_from": "2027-01-01",
        },
    )
    assert "roles" in response.context["adminform"].form.errors

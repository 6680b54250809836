"""Approval routes from data: which steps a permit goes through, who signs each, when.

`route_for(work_type, level, context, on)` reads the RouteStep rows in force on `on` for the work
type (and the rows for every type), keeps those whose condition holds over the permit's typed
context, and adds the upgrade policy's extra approver for an upgraded permit at the top level.
Conditions are rule-engine expressions compiled against a typed context (`context_types`), so a
misspelt symbol or a wrong type is refused when the row is saved, not when a permit is routed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import rule_engine
from django.utils.translation import gettext as _
from rule_engine import DataType, errors

from safework.core import memo
from safework.work.fields import form_schemas
from safework.work.levels import _levels
from safework.work.models import (
    PermitFieldSchema,
    PermitRule,
    RouteStep,
    Stage,
    WorkLevel,
    WorkType,
    in_force_q,
)
from safework.work.upgrade import policy_for

# The symbols every condition may read, with their types; a permit's custom fields come on top.
BUILTIN_TYPES: dict[str, object] = {
    "work_type": DataType.STRING,
    "level": DataType.STRING,
    "area": DataType.STRING,
    "hazard_class": DataType.STRING,
    "fire_explosion": DataType.BOOLEAN,
    "height_m": DataType.FLOAT,
    "mass_t": DataType.FLOAT,
    "depth_m": DataType.FLOAT,
    "is_emergency": DataType.BOOLEAN,
    "upgraded": DataType.BOOLEAN,
    "hour": DataType.FLOAT,
    # The level the inputs alone give, and a unit declared shut down, cleaned, purged, tested and
    # isolated (GB 30871-2022 5.1.4: then managed as level 2 with the approval it names).
    "derived_level": DataType.STRING,
    "shut_down_cleaned": DataType.BOOLEAN,
}
BUILTIN_DEFAULTS: dict[str, object] = {
    "work_type": "",
    "level": "",
    "area": "",
    "hazard_class": "",
    "fire_explosion": False,
    "height_m": None,
    "mass_t": None,
    "depth_m": None,
    "is_emergency": False,
    "upgraded": False,
    "hour": None,
    "derived_level": "",
    "shut_down_cleaned": False,
}

_JSON_TYPES = {
    "number": DataType.FLOAT,
    "integer": DataType.FLOAT,
    "string": DataType.STRING,
    "boolean": DataType.BOOLEAN,
    "array": DataType.ARRAY,
    "object": DataType.MAPPING,
}


class ConditionError(Exception):
    """A route condition does not compile against the typed context."""


@dataclass(frozen=True, slots=True)
class StepSpec:
    order: int
    label: str
    roles: tuple[str, ...]
    countersign: bool  # several roles: every one of them signs
    time_limit_minutes: int | None
    stage: str  # "approval" | "before_start"
    on_site_required: bool
    clause: str
    rule_id: int | None  # the RouteStep row; None for the upgrade policy's extra approver


def _schema_types(schema: Mapping) -> dict[str, object]:
    out = {}
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, Mapping) else None
        if isinstance(kind, list):  # ["number", "null"]
            kind = next((k for k in kind if k != "null"), None)
        out[name] = _JSON_TYPES.get(kind, DataType.UNDEFINED)
    return out


def context_types(work_type: WorkType | None) -> dict[str, object]:
    """The typed symbols of a condition for `work_type`: the built-ins, the type's form fields
    and its enterprise fields (a built-in name always keeps its built-in type)."""
    if work_type is None:
        return dict(BUILTIN_TYPES)
    return dict(memo.get(("work.context_types", work_type.pk), lambda: _types_of(work_type)))


def _types_of(work_type: WorkType) -> dict[str, object]:
    # Every form of the type, whatever its dates (a condition is checked against every field it
    # may name), then its active enterprise fields, in their merge order.
    types: dict[str, object] = {}
    for _from, _to, schema in form_schemas(work_type):
        types |= _schema_types(schema)
    return types | BUILTIN_TYPES


memo.forget_on_change(PermitRule, PermitFieldSchema)


def _resolve(thing, name):
    try:
        return thing[name]
    except KeyError:
        raise errors.SymbolResolutionError(name) from None


def compile_condition(text: str, work_type: WorkType | None = None) -> rule_engine.Rule:
    """The compiled condition, or ConditionError with a Chinese (translated) message."""
    context = rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(context_types(work_type)),
        resolver=_resolve,
    )
    try:
        return rule_engine.Rule(text, context=context)
    except errors.EngineError as exc:
        raise ConditionError(
            _("Not a valid condition: %(problem)s")
            % {"problem": getattr(exc, "message", None) or str(exc)}
        ) from exc


def role_problems(roles) -> str:
    """What is wrong with a step's role list ("" if nothing): a non-empty list of role codes."""
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        return _('A non-empty list of account roles, e.g. ["workshop_head"].')
    if len(set(roles)) != len(roles):
        return _("A role is listed twice.")
    return ""


def _value(value):
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    return value


def symbols(work_type: WorkType, level: WorkLevel | None, context: Mapping) -> dict:
    """The rule-engine context of a permit: built-in defaults, the given values, type and level."""
    values = dict(BUILTIN_DEFAULTS)
    values.update({k: _value(v) for k, v in context.items()})
    values["work_type"] = work_type.code
    values["level"] = level.code if level is not None else ""
    return values


def _holds(step: RouteStep, values: dict) -> bool:
    if not step.condition or not step.condition.strip():
        return True
    try:
        rule = compile_condition(step.condition, step.work_type)
        return bool(rule.matches(values))
    except (ConditionError, errors.EngineError):
        # Fail towards more signatures: a condition that cannot be decided (a field not given,
        # a row edited badly outside the admin) keeps its step in the route.
        return True


def _work_type(work_type) -> WorkType:
    return work_type if isinstance(work_type, WorkType) else WorkType.objects.get(code=work_type)


def _level(work_type: WorkType, level) -> WorkLevel | None:
    if level is None or level == "" or isinstance(level, WorkLevel):
        return level or None
    return WorkLevel.objects.get(work_type=work_type, code=level)


def route_for(work_type, level, context: Mapping, on: dt.date) -> list[StepSpec]:
    """The steps a permit of `work_type` at `level` goes through, approval steps first, then the
    checks before start, each in its order. `context` holds the permit's facts (see
    BUILTIN_TYPES) and its custom fields."""
    work_type = _work_type(work_type)
    level = _level(work_type, level)
    values = symbols(work_type, level, context)
    rows = (
        RouteStep.objects.filter(in_force_q(on))
        .filter(_for_type(work_type))
        .select_related("work_type")
    )
    steps = [
        StepSpec(
            order=row.order,
            label=row.label,
            roles=tuple(row.roles),
            countersign=len(row.roles) > 1,
            time_limit_minutes=row.time_limit_minutes,
            stage=row.stage,
            on_site_required=row.on_site_required,
            clause=row.clause,
            rule_id=row.pk,
        )
        for row in rows
        if _holds(row, values)
    ]
    steps += _upgrade_steps(work_type, level, values, steps)
    stage_rank = {Stage.APPROVAL: 0, Stage.BEFORE_START: 1}
    return sorted(steps, key=lambda s: (stage_rank.get(s.stage, 9), s.order, s.rule_id or 0))


def _for_type(work_type: WorkType):
    from django.db.models import Q

    return Q(work_type=work_type) | Q(work_type__isnull=True)


def _upgrade_steps(work_type, level, values, steps) -> list[StepSpec]:
    """An upgraded permit already at the top level gets the policy's extra approver, after the
    last approval step, unless that role already signs an approval step."""
    if not values.get("upgraded") or level is None:
        return []
    policy = policy_for(work_type)
    if policy is None or not policy.at_top_extra_role:
        return []
    top = max(_levels(work_type), key=lambda lv: lv.rank, default=None)
    if top is None or top.pk != level.pk:
        return []
    approving = {r for s in steps if s.stage == Stage.APPROVAL for r in s.roles}
    if policy.at_top_extra_role in approving:
        return []
    last = max((s.order for s in steps if s.stage == Stage.APPROVAL), default=0)
    return [
        StepSpec(
            order=last + 1,
            label=_("Extra approval of the upgraded permit"),
            roles=(policy.at_top_extra_role,),
            countersign=False,
            time_limit_minutes=None,
            stage=Stage.APPROVAL,
            on_site_required=True,
            clause=policy.clause,
            rule_id=None,
        )
    ]

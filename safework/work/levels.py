"""Which level a job is, and whether it needs a permit at all, from the catalogue's bounds.

`derive(work_type, inputs, area)` answers from the facts of the job (height, mass, depth, the
place) with the clause of every step; `check_level` compares a level asked for with it. Pure
reads of catalogue rows: no writes, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from safework.core import memo
from safework.core.errors import FieldError, InvalidInput
from safework.core.refusals import Reason, Refused
from safework.work.models import HeightHazard, Measure, WorkLevel, WorkType

HOT_WORK, HEIGHT, LIFTING, EXCAVATION = "hot_work", "height", "lifting", "excavation"
AREA_FLAGS = (
    "fire_explosion_hazard",
    "fixed_hot_work_area",
    "tank_farm_major_dike",
    "process_or_tank_area",
    "buried_flammable_lines",
)
JOB_FLAGS = ("running_unit", "pipe_rack", "in_tank_dike", "shut_down_cleaned")


@dataclass(frozen=True, slots=True)
class Derivation:
    needs_permit: bool
    level: WorkLevel | None
    reasons: tuple[Reason, ...]  # why; each names its clause (warnings are non-blocking)
    confined_space_gas: bool = False  # excavation under confined-space gas rules (§11.10)
    # A lower level the job may be managed at with the approval the reason names (§5.1.4).
    may_be_managed_as: WorkLevel | None = None


def _number(inputs: Mapping, name: str, *, required: bool) -> Decimal | None:
    value = inputs.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(FieldError(name, "required", _("This field is required.")))
        return None
    if isinstance(value, bool):
        raise InvalidInput(FieldError(name, "invalid_type", _("Must be a number.")))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(FieldError(name, "invalid_type", _("Must be a number."))) from None
    if not number.is_finite():
        raise InvalidInput(FieldError(name, "invalid_type", _("Must be a number.")))
    if number < 0:
        raise InvalidInput(FieldError(name, "too_small", _("Must not be negative.")))
    return number


def _flag(inputs: Mapping, name: str) -> bool:
    value = inputs.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(FieldError(name, "invalid_type", _("Must be true or false.")))
    return value


def _area_flags(inputs: Mapping, area) -> dict[str, bool]:
    if area is not None:
        return {name: bool(getattr(area, name, False)) for name in AREA_FLAGS}
    return {name: _flag(inputs, name) for name in AREA_FLAGS}


def _levels(work_type: WorkType) -> list[WorkLevel]:
    return memo.get(
        ("work.levels", work_type.pk),
        lambda: sorted(work_type.levels.all(), key=lambda lv: lv.rank),
    )


memo.forget_on_change(WorkLevel)


def _by_code(work_type: WorkType, code: str) -> WorkLevel:
    for level in _levels(work_type):
        if level.code == code:
            return level
    raise WorkLevel.DoesNotExist(f"{work_type.code}:{code}")


def _no_permit(work_type: WorkType, message: str, clause: str) -> Derivation:
    reason = Reason("work.permit.not_needed", message, clause, subject=work_type.code)
    return Derivation(False, None, (reason,))


def _level_reason(level: WorkLevel, message: str, clause: str | None = None) -> Reason:
    return Reason(
        "work.level.derived", message, clause or level.clause, subject=level.code, blocking=False
    )


def _by_bounds(work_type: WorkType, value: Decimal) -> WorkLevel:
    for level in _levels(work_type):
        if level.measure == work_type.permit_measure and level.contains(value):
            return level
    raise Refused(
        [
            Reason(
                "work.level.no_bounds",
                _("No level of %(type)s covers %(value)s.") % {"type": work_type, "value": value},
                work_type.level_clause or work_type.clause,
                subject=work_type.code,
            )
        ]
    )


def _below_threshold(work_type: WorkType, value: Decimal) -> bool:
    return work_type.permit_from is not None and value < work_type.permit_from


def derive(work_type: WorkType, inputs: Mapping, area=None) -> Derivation:
    """Whether the job needs a permit and at which level, with the clause of each step."""
    if not isinstance(inputs, Mapping):
        raise InvalidInput(FieldError("inputs", "invalid_type", _("Must be an object.")))
    if work_type.code == HOT_WORK:
        return _hot_work(work_type, inputs, area)
    if work_type.code == HEIGHT:
        return _height(work_type, inputs)
    if work_type.code == LIFTING:
        return _lifting(work_type, inputs)
    if work_type.code == EXCAVATION:
        return _excavation(work_type, inputs, area)
    return Derivation(True, None, ())


def _hot_work(work_type: WorkType, inputs: Mapping, area) -> Derivation:
    place = _area_flags(inputs, area)
    job = {name: _flag(inputs, name) for name in JOB_FLAGS}
    if place["fixed_hot_work_area"]:
        return _no_permit(
            work_type,
            _("Hot work in an approved fixed hot-work area needs no permit level."),
            "GB 30871-2022 5.5",
        )
    hazardous = place["fire_explosion_hazard"]
    if hazardous and job["running_unit"]:
        level = _by_code(work_type, "special")
        why = _("On a running unit in a fire/explosion hazardous place.")
    elif job["in_tank_dike"] and place["tank_farm_major_dike"]:
        level = _by_code(work_type, "special")
        why = _("Inside the dike of a major-hazard tank farm of flammables.")
    elif job["pipe_rack"]:
        level = _by_code(work_type, "level1")
        why = _("Hot work on a pipe rack.")
    elif hazardous:
        level = _by_code(work_type, "level1")
        why = _("In a fire/explosion hazardous place.")
    else:
        level = _by_code(work_type, "level2")
        why = _("Outside fire/explosion hazardous places.")
    reasons = [_level_reason(level, why)]
    lower = None
    if job["shut_down_cleaned"] and level.code != "level2":
        lower = _by_code(work_type, "level2")
        reasons.append(
            Reason(
                "work.level.shut_down_may_be_level2",
                _(
                    "The unit is shut down, cleaned, purged, tested and isolated: it may be "
                    "managed as level 2 only with the approval of the production head or the "
                    "head of safety."
                ),
                "GB 30871-2022 5.1.4",
                subject=lower.code,
                blocking=False,
            )
        )
    return Derivation(True, level, tuple(reasons), may_be_managed_as=lower)


def _height(work_type: WorkType, inputs: Mapping) -> Derivation:
    height = _number(inputs, "height_m", required=True)
    codes = inputs.get("hazards") or []
    if not isinstance(codes, list | tuple) or not all(isinstance(c, str) for c in codes):
        raise InvalidInput(FieldError("hazards", "invalid_type", _("Must be a list.")))
    known = {h.code: h for h in HeightHazard.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput(
            FieldError(
                "hazards",
                "invalid_choice",
                _("Unknown hazard: %(codes)s.") % {"codes": ", ".join(unknown)},
            )
        )
    if _below_threshold(work_type, height):
        return _no_permit(
            work_type,
            _("Below %(n)s m above the fall reference level: not work at height.")
            % {"n": work_type.permit_from.normalize()},
            work_type.permit_from_clause,
        )
    level = _by_bounds(work_type, height)
    reasons = [_level_reason(level, _("Height %(h)s m (method A).") % {"h": height.normalize()})]
    if known:
        levels = _levels(work_type)
        index = levels.index(level)
        up = levels[min(index + 1, len(levels) - 1)]  # one class up, IV stays IV
        hazard = known[codes[0]]
        reasons.append(
            Reason(
                "work.level.method_b",
                _("Objective hazard present (%(names)s): one class up, at most the highest.")
                % {"names": "、".join(known[c].name for c in dict.fromkeys(codes))},
                hazard.clause,
                subject=up.code,
                blocking=False,
            )
        )
        level = up
    return Derivation(True, level, tuple(reasons))


def _lifting(work_type: WorkType, inputs: Mapping) -> Derivation:
    mass = _number(inputs, "mass_t", required=True)
    if _below_threshold(work_type, mass):
        return _no_permit(
            work_type,
            _("A lift under %(n)s t needs no permit, only a risk analysis.")
            % {"n": work_type.permit_from.normalize()},
            work_type.permit_from_clause,
        )
    level = _by_bounds(work_type, mass)
    return Derivation(
        True, level, (_level_reason(level, _("Load %(m)s t.") % {"m": mass.normalize()}),)
    )


def _excavation(work_type: WorkType, inputs: Mapping, area) -> Derivation:
    depth = _number(inputs, "depth_m", required=True)
    place = _area_flags(inputs, area)
    if _below_threshold(work_type, depth):
        return _no_permit(
            work_type,
            _("Shallower than %(n)s m: not excavation work.")
            % {"n": work_type.permit_from.normalize()},
            work_type.permit_from_clause,
        )
    reasons = []
    gas = (
        work_type.gas_over_depth_m is not None
        and depth > work_type.gas_over_depth_m
        and place["process_or_tank_area"]
        and place["buried_flammable_lines"]
    )
    if gas:
        reasons.append(
            Reason(
                "work.excavation.confined_space_rules",
                _(
                    "Deeper than %(n)s m in a process or tank area with buried flammable or "
                    "toxic lines: confined-space rules, gas analysis included, apply."
                )
                % {"n": work_type.gas_over_depth_m.normalize()},
                work_type.gas_over_depth_clause,
                subject=work_type.code,
                blocking=False,
            )
        )
    return Derivation(True, None, tuple(reasons), confined_space_gas=gas)


def _find(work_type: WorkType, requested) -> WorkLevel | None:
    if isinstance(requested, WorkLevel):
        return requested if requested.work_type_id == work_type.pk else None
    text = str(requested).strip()
    for level in _levels(work_type):
        if text in (level.code, level.name):
            return level
    return None


def check_level(work_type: WorkType, requested, derivation: Derivation) -> WorkLevel | None:
    """The level the permit takes: the one asked for (a code, a name or a WorkLevel), or the
    derived one when none is asked. Refused: a level the type does not have, or one lower than
    the derived level (higher is fine; lower only where the derivation allows it)."""
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        return derivation.level
    level = _find(work_type, requested)
    if level is None:
        names = "、".join(lv.name for lv in _levels(work_type)) or _("none")
        raise Refused(
            [
                Reason(
                    "work.level.unknown",
                    _("%(type)s has no level %(level)s; its levels: %(names)s.")
                    % {"type": work_type.name, "level": requested, "names": names},
                    work_type.level_clause or work_type.clause,
                    subject=str(requested),
                )
            ]
        )
    derived = derivation.level
    if derived is None or level.rank >= derived.rank:
        return level
    if derivation.may_be_managed_as is not None and level.pk == derivation.may_be_managed_as.pk:
        return level
    why = next((r for r in derivation.reasons if r.code == "work.level.derived"), None)
    clause = derived.clause
    for r in derivation.reasons:
        if r.code == "work.level.method_b":
            clause = r.clause
    raise Refused(
        [
            Reason(
                "work.level.below_derived",
                _("%(level)s is lower than the job's level %(derived)s (%(why)s)")
                % {
                    "level": level.name,
                    "derived": derived.name,
                    "why": why.message if why else "",
                },
                clause,
                subject=level.code,
            )
        ]
    )


__all__ = ["Derivation", "Measure", "check_level", "derive"]

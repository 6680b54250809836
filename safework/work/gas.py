"""Gas analysis pass criteria (GB 30871-2022 5.3.2, 6.4; GBZ 2.1-2019) from GasLimit and
CombustibleCriterion rows. The unit is part of the reading: % LEL is not % by volume."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core.errors import FieldError, InvalidInput
from safework.work.models import CombustibleCriterion, GasKind, GasLimit, in_force_q

# Spellings of a unit that mean the same thing; anything else is compared as written.
UNIT_ALIASES = {
    "%vol": "%vol",
    "% vol": "%vol",
    "vol%": "%vol",
    "%v/v": "%vol",
    "%(v/v)": "%vol",
    "% (v/v)": "%vol",
    "mg/m3": "mg/m3",
    "mg/m³": "mg/m3",
    "%lel": "%LEL",
    "% lel": "%LEL",
    "ppm": "ppm",
}


@dataclass(frozen=True, slots=True)
class GasVerdict:
    passed: bool
    limit: str  # the criterion applied, for people: "≤ 0.5 %vol"
    clause: str
    code: str  # "work.gas.passed", "work.gas.too_high", "work.gas.too_low"


def _unit(text: str) -> str:
    key = " ".join(str(text).strip().split()).lower()
    return UNIT_ALIASES.get(key, str(text).strip())


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(FieldError(field, "invalid_type", _("Must be a number.")))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(FieldError(field, "invalid_type", _("Must be a number."))) from None
    if not number.is_finite():
        raise InvalidInput(FieldError(field, "invalid_type", _("Must be a number.")))
    if number < 0:
        raise InvalidInput(FieldError(field, "too_small", _("Must not be negative.")))
    return number


def _show(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _check_unit(unit: str, expected: str) -> None:
    if _unit(unit) != expected:
        raise InvalidInput(
            FieldError(
                "unit",
                "unit_mismatch",
                _("%(given)s is not %(expected)s: enter the reading in %(expected)s.")
                % {"given": unit, "expected": expected},
            )
        )


def judge(
    gas_code: str,
    value,
    unit: str,
    *,
    lel_percent=None,
    oxygen_enriched: bool = False,
    on: dt.date | None = None,
) -> GasVerdict:
    """Whether one reading passes. Bounds are inclusive (0.5 %vol passes, 0.51 fails). Bad input
    (unknown gas, wrong unit, a combustible without its LEL) is InvalidInput."""
    on = on or timezone.localdate()
    limit = (
        GasLimit.objects.filter(in_force_q(on), code=gas_code).order_by("-effective_from").first()
    )
    if limit is None:
        raise InvalidInput(
            FieldError("gas", "invalid_choice", _("Unknown gas: %(code)s.") % {"code": gas_code})
        )
    reading = _decimal(value, "value")
    _check_unit(unit, limit.unit)
    if limit.kind == GasKind.COMBUSTIBLE:
        return _combustible(reading, lel_percent, on)
    if limit.kind == GasKind.OXYGEN:
        low = limit.min_value
        high = limit.enriched_max if oxygen_enriched and limit.enriched_max else limit.max_value
        text = f"{_show(low)}–{_show(high)} {limit.unit}" if low is not None else ""
        if low is not None and reading < low:
            return GasVerdict(False, text, limit.clause, "work.gas.too_low")
        if high is not None and reading > high:
            return GasVerdict(False, text, limit.clause, "work.gas.too_high")
        return GasVerdict(True, text, limit.clause, "work.gas.passed")
    text = f"≤ {_show(limit.max_value)} {limit.unit}"
    if limit.max_value is not None and reading > limit.max_value:
        return GasVerdict(False, text, limit.clause, "work.gas.too_high")
    return GasVerdict(True, text, limit.clause, "work.gas.passed")


def _combustible(reading: Decimal, lel_percent, on: dt.date) -> GasVerdict:
    if lel_percent is None:
        raise InvalidInput(
            FieldError(
                "lel_percent",
                "required",
                _("The lower explosive limit (%) of the combustible is needed to judge it."),
            )
        )
    lel = _decimal(lel_percent, "lel_percent")
    criterion = (
        CombustibleCriterion.objects.filter(in_force_q(on), lel_at_least__lte=lel)
        .order_by("-lel_at_least", "-effective_from")
        .first()
    )
    if criterion is None:
        raise InvalidInput(
            FieldError("lel_percent", "no_criterion", _("No criterion covers this LEL."))
        )
    text = f"≤ {_show(criterion.max_value)} {criterion.unit}"
    if reading > criterion.max_value:
        return GasVerdict(False, text, criterion.clause, "work.gas.too_high")
    return GasVerdict(True, text, criterion.clause, "work.gas.passed")

"""Gas analysis pass criteria (GB 30871-2022 5.3.2, 6.4; GBZ 2.1-2019) from GasLimit and
CombustibleCriterion rows. The unit is part of the reading: % LEL is not % by volume."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import memo
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
    limit = _limit(gas_code, on, _lel_or_none(lel_percent))
    if limit is None:
        raise InvalidInput(
            FieldError("gas", "invalid_choice", _("Unknown gas: %(code)s.") % {"code": gas_code})
        )
    reading = _decimal(value, "value")
    _check_unit(unit, limit.unit)
    if limit.kind == GasKind.COMBUSTIBLE:
        return _combustible(reading, lel_percent, limit)
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


def _lel_or_none(lel_percent) -> Decimal | None:
    """The LEL if it is a usable number (else None: `_combustible` then says what is wrong)."""
    if lel_percent is None:
        return None
    try:
        return _decimal(lel_percent, "lel_percent")
    except InvalidInput:
        return None


def _criteria(on: dt.date, lel: Decimal):
    """The combustible criterion for `lel` in force on `on`: the highest LEL bound it reaches,
    the latest in force (the id breaks a tie, so every column comes from one row)."""
    return CombustibleCriterion.objects.filter(in_force_q(on), lel_at_least__lte=lel).order_by(
        "-lel_at_least", "-effective_from", "-pk"
    )


def _limit(gas_code: str, on: dt.date, lel: Decimal | None) -> GasLimit | None:
    """The gas's limit in force on `on`; with an LEL, the combustible criterion it reaches rides
    along (`c_id`, `c_max`, `c_unit`, `c_clause`) as subqueries of the same statement: a gas
    test is one reading, one round trip for its rules. Memoised per call, by day and LEL."""

    def load():
        rows = GasLimit.objects.filter(in_force_q(on), code=gas_code).order_by("-effective_from")
        if lel is not None:
            crit = _criteria(on, lel)
            rows = rows.annotate(
                c_id=Subquery(crit.values("pk")[:1]),
                c_max=Subquery(crit.values("max_value")[:1]),
                c_unit=Subquery(crit.values("unit")[:1]),
                c_clause=Subquery(crit.values("clause")[:1]),
            )
        return rows.first()

    return memo.get(("work.gas_limit", gas_code, on, lel), load)


memo.forget_on_change(GasLimit, CombustibleCriterion)


def _combustible(reading: Decimal, lel_percent, limit: GasLimit) -> GasVerdict:
    if lel_percent is None:
        raise InvalidInput(
            FieldError(
                "lel_percent",
                "required",
                _("The lower explosive limit (%) of the combustible is needed to judge it."),
            )
        )
    _decimal(lel_percent, "lel_percent")  # a bad LEL is refused here, with its field
    if getattr(limit, "c_id", None) is None:
        raise InvalidInput(
            FieldError("lel_percent", "no_criterion", _("No criterion covers this LEL."))
        )
    text = f"≤ {_show(limit.c_max)} {limit.c_unit}"
    if reading > limit.c_max:
        return GasVerdict(False, text, limit.c_clause, "work.gas.too_high")
    return GasVerdict(True, text, limit.c_clause, "work.gas.passed")

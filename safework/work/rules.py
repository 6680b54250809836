"""The permit rules in force: validity, weather stops, the rule row of a type and level.

`permit_rule` and `weather_stops` read catalogue rows; `validity_refusal` and `weather_reasons`
are pure answers from a row and the facts given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q
from django.utils.translation import gettext as _

from safework.core import memo
from safework.core.refusals import Reason, Refused
from safework.work.models import (
    PermitRule,
    WeatherCondition,
    WeatherStop,
    WorkLevel,
    WorkType,
    in_force_q,
)


def permit_rule(work_type: WorkType, level: WorkLevel | None, on: dt.date) -> PermitRule:
    """The rule row in force on `on`: the level's own row before the type-wide one. Refused
    (fail-closed) when the catalogue has none."""
    level_q = Q(level__isnull=True) if level is None else Q(level=level) | Q(level__isnull=True)
    rows = memo.get(
        ("work.permit_rule", work_type.pk, getattr(level, "pk", None), on),
        lambda: sorted(
            PermitRule.objects.filter(in_force_q(on), level_q, work_type=work_type),
            key=lambda r: (r.level_id is None, -r.effective_from.toordinal()),
        ),
    )
    if not rows:
        raise Refused(
            [
                Reason(
                    "work.rule.missing",
                    _("No permit rule of %(type)s is in force on %(on)s.")
                    % {"type": work_type.name, "on": on},
                    work_type.clause,
                    subject=work_type.code,
                )
            ]
        )
    return rows[0]


memo.forget_on_change(PermitRule)


def weather_stops(work_type: WorkType, on: dt.date | None = None) -> list[WeatherStop]:
    """The weather-stop rows of the type (in force on `on`, if given)."""
    qs = WeatherStop.objects.filter(work_type=work_type)
    if on is not None:
        qs = qs.filter(in_force_q(on))
    return list(qs)


def validity_refusal(
    permit_rule: PermitRule, start: dt.datetime, end: dt.datetime
) -> Reason | None:
    """Why the planned span is too long, or None. Measured between instants: 480 minutes pass
    a 480-minute limit, a second more does not. Between the normal and the absolute maximum
    (temporary power: 15 and 30 days) the answer is a warning (`blocking=False`)."""
    rule = permit_rule
    if end <= start:
        return Reason(
            "work.validity.end_before_start",
            _("The planned end is not after the start."),
            rule.max_clause,
        )
    seconds = (end - start).total_seconds()
    hard = rule.hard_max_minutes
    if seconds > hard * 60:
        return Reason(
            "work.validity.too_long",
            _("Valid for at most %(limit)s; planned %(planned)s.")
            % {"limit": _duration(hard * 60), "planned": _duration(seconds)},
            rule.max_clause,
        )
    if seconds > rule.max_minutes * 60:
        return Reason(
            "work.validity.beyond_normal",
            _("Normally valid for at most %(limit)s; planned %(planned)s.")
            % {"limit": _duration(rule.max_minutes * 60), "planned": _duration(seconds)},
            rule.max_clause,
            blocking=False,
        )
    return None


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)s d") % {"n": days})
    if hours:
        parts.append(_("%(n)s h") % {"n": hours})
    if mins or not parts:
        parts.append(_("%(n)s min") % {"n": mins})
    return " ".join(parts)


def weather_reasons(
    stops: Iterable[WeatherStop],
    *,
    wind_force: int | None = None,
    conditions: Iterable[str] = (),
    open_air: bool = True,
    upgraded: bool = False,
) -> list[Reason]:
    """Why the weather stops the work (every stop that applies), or []."""
    conditions = set(conditions)
    out = []
    for stop in stops:
        if stop.open_air_only and not open_air:
            continue
        if stop.unless_upgraded and upgraded:
            continue
        if (
            stop.min_wind_force is not None
            and wind_force is not None
            and wind_force >= stop.min_wind_force
        ):
            out.append(
                Reason(
                    "work.weather.wind",
                    _("Wind force %(force)s: this work stops from force %(min)s.")
                    % {"force": wind_force, "min": stop.min_wind_force},
                    stop.clause,
                    subject=str(wind_force),
                )
            )
        for condition in sorted(conditions & set(stop.conditions or [])):
            out.append(
                Reason(
                    "work.weather.condition",
                    _("This work stops in %(condition)s.") % {"condition": _condition(condition)},
                    stop.clause,
                    subject=condition,
                )
            )
    return out


def _condition(code: str) -> str:
    try:
        return str(WeatherCondition(code).label)
    except ValueError:
        return code

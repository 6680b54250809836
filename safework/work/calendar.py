"""Which special periods a planned span touches: holidays, rest days, nights, special periods
(GB 30871-2022 5.1.1; AQ 3064.2-2025 5.8.3, 5.10). Everything is judged on the site's local
dates and times; the answer for the span is the union over every day and night it touches.

Days come from the loaded official calendar (CalendarYear/CalendarDay). A year that has none is
answered by the setting `work.calendar_missing_year`, and `basis` says so.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import CharField, DateField, IntegerField, Q, Value
from django.utils.translation import gettext as _

from safework.core.errors import FieldError, InvalidInput
from safework.core.refusals import Reason
from safework.core.settings_registry import get_setting
from safework.work.models import CalendarDay, CalendarYear, DayKind, SpecialPeriod

HOLIDAY, REST_DAY, NIGHT, SPECIAL_PERIOD = "holiday", "rest_day", "night", "special_period"
KINDS = (HOLIDAY, REST_DAY, NIGHT, SPECIAL_PERIOD)
CLAUSE = "GB 30871-2022 5.1.1"
EVERY_DAY_UPGRADED = "every_day_upgraded"


@dataclass(frozen=True, slots=True)
class SpanAssessment:
    kinds: frozenset[str]
    basis: str  # "calendar 2026" or "setting weekends (no calendar for 2027)"; years joined by "; "
    days: dict[dt.date, frozenset[str]]  # each local date the span touches → its kinds
    reasons: tuple[Reason, ...]


def _tz() -> dt.tzinfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _clock(text, key: str) -> dt.time:
    try:
        hours, minutes = str(text).strip().split(":")
        return dt.time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise InvalidInput(
            FieldError(
                key, "invalid_setting", _("Setting %(key)s is not a time (HH:MM).") % {"key": key}
            )
        ) from None


def _site_id(site) -> int | None:
    if site is None:
        return None
    return site if isinstance(site, int) else site.pk


def _night_windows(day: dt.date, start: dt.time, end: dt.time, tz) -> list[tuple]:
    """The night intervals [from, to) that lie on local `day`."""
    midnight = dt.datetime.combine(day, dt.time(0), tz)
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
    at = lambda t: dt.datetime.combine(day, t, tz)  # noqa: E731
    if start == end:
        return []
    if start < end:
        return [(at(start), at(end))]
    return [(midnight, at(end)), (at(start), next_midnight)]


@dataclass(frozen=True, slots=True)
class _Marked:
    kind: str
    name: str


def _calendar(years, first_day: dt.date, last_day: dt.date) -> tuple[set[int], dict]:
    """The loaded years among `years`, and the marked days from `first_day` to `last_day` (each
    date's kind and name), in one statement: a level decision runs at create and again at
    submit, and each round trip counts."""
    loaded_years = (
        CalendarYear.objects.filter(year__in=years)
        .order_by()
        .annotate(
            d=Value(None, output_field=DateField()),
            k=Value("", output_field=CharField()),
            n=Value("", output_field=CharField()),
        )
        .values_list("year", "d", "k", "n")
    )
    marked_days = (
        CalendarDay.objects.filter(date__gte=first_day, date__lte=last_day)
        .order_by()
        .annotate(y=Value(None, output_field=IntegerField()))
        .values_list("y", "date", "kind", "name")
    )
    loaded, marked = set(), {}
    for year, day, kind, name in loaded_years.union(marked_days, all=True).order_by():
        if day is None:
            loaded.add(year)
        else:
            marked[day] = _Marked(kind, name)
    return loaded, marked


def assess_span(site, start: dt.datetime, end: dt.datetime) -> SpanAssessment:
    """The special kinds of the span [start, end) at `site` (a Site, its id, or None)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            FieldError("start", "invalid_datetime", _("The time must include a time zone."))
        )
    if end < start:
        raise InvalidInput(FieldError("end", "before_start", _("The end is before the start.")))
    tz = _tz()
    site_id = _site_id(site)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    # A span of no length is the instant itself.
    last_instant = local_end - dt.timedelta(microseconds=1) if end > start else local_start
    first_day, last_day = local_start.date(), last_instant.date()
    dates = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    span_end = local_end if end > start else local_start + dt.timedelta(microseconds=1)

    night_start = _clock(get_setting("work.night_start", site_id=site_id), "work.night_start")
    night_end = _clock(get_setting("work.night_end", site_id=site_id), "work.night_end")
    missing_rule = get_setting("work.calendar_missing_year", site_id=site_id)

    years = {d.year for d in dates}
    loaded, marked = _calendar(years, first_day, last_day)
    periods = list(
        SpecialPeriod.objects.filter(
            Q(site__isnull=True) | Q(site_id=site_id),
            starts_at__lt=span_end,
            ends_at__gt=local_start,
        ).order_by("starts_at")
    )

    basis = []
    for year in sorted(years):
        if year in loaded:
            basis.append(f"calendar {year}")
        else:
            basis.append(f"setting {missing_rule} (no calendar for {year})")

    days: dict[dt.date, frozenset[str]] = {}
    reasons: list[Reason] = []
    for day in dates:
        kinds = set()
        row = marked.get(day)
        if day.year in loaded:
            if row is not None and row.kind == DayKind.HOLIDAY:
                kinds.add(HOLIDAY)
                reasons.append(
                    Reason(
                        "work.calendar.holiday",
                        _("%(day)s is a holiday (%(name)s).") % {"day": day, "name": row.name},
                        CLAUSE,
                        subject=day.isoformat(),
                        blocking=False,
                    )
                )
            elif day.weekday() >= 5 and row is None:
                kinds.add(REST_DAY)
                reasons.append(_rest(day, _("%(day)s is a weekend rest day.")))
        elif missing_rule == "weekends":
            if day.weekday() >= 5:
                kinds.add(REST_DAY)
                reasons.append(
                    _rest(day, _("%(day)s is a weekend (no official calendar for its year)."))
                )
        else:  # every_day_upgraded, or an unknown value: the stricter reading
            kinds.add(REST_DAY)
            reasons.append(
                _rest(
                    day,
                    _("No official calendar for the year of %(day)s: every day is a rest day."),
                )
            )
        for a, b in _night_windows(day, night_start, night_end, tz):
            if a < span_end and local_start < b:
                kinds.add(NIGHT)
                reasons.append(
                    Reason(
                        "work.calendar.night",
                        _("The work runs at night on %(day)s (%(from)s–%(to)s).")
                        % {
                            "day": day,
                            "from": night_start.strftime("%H:%M"),
                            "to": night_end.strftime("%H:%M"),
                        },
                        CLAUSE,
                        subject=day.isoformat(),
                        blocking=False,
                    )
                )
                break
        day_from = dt.datetime.combine(day, dt.time(0), tz)
        day_to = day_from + dt.timedelta(days=1)
        for period in periods:
            if (
                period.starts_at < min(span_end, day_to)
                and max(local_start, day_from) < period.ends_at
            ):
                kinds.add(SPECIAL_PERIOD)
                reasons.append(
                    Reason(
                        "work.calendar.special_period",
                        _("%(day)s falls in the special period %(name)s.")
                        % {"day": day, "name": period.name},
                        period.clause,
                        subject=day.isoformat(),
                        blocking=False,
                    )
                )
        days[day] = frozenset(kinds)
    return SpanAssessment(
        kinds=frozenset().union(*days.values()),
        basis="; ".join(basis),
        days=days,
        reasons=tuple(reasons),
    )


def _rest(day: dt.date, message: str) -> Reason:
    return Reason(
        "work.calendar.rest_day",
        message % {"day": day},
        CLAUSE,
        subject=day.isoformat(),
        blocking=False,
    )

"""Writes of the work app: loading a year of the official holiday calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import yaml
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import audit
from safework.core.errors import FieldError, InvalidInput
from safework.work.models import CalendarDay, CalendarYear, DayKind

# How far outside its year a year's notice may reach (New Year's Day off may start on 30 Dec).
_SLACK = dt.timedelta(days=31)


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            FieldError(where, "invalid_date", _("Must be a date (YYYY-MM-DD)."))
        ) from None


def parse_calendar(data) -> tuple[int, str, dict[dt.date, tuple[str, str]]]:
    """(year, source, {date: (kind, name)}) from a calendar file's content; InvalidInput naming
    every problem (in Chinese by default)."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            FieldError("", "invalid_type", _("The calendar file must be a YAML mapping."))
        )
    problems: list[FieldError] = []
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise InvalidInput(
            FieldError("year", "invalid", _("year must be a year between 2000 and 2100."))
        )
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(FieldError("source", "required", _("source is required: the notice.")))
    first = dt.date(year, 1, 1) - _SLACK
    last = dt.date(year, 12, 31) + _SLACK
    days: dict[dt.date, tuple[str, str]] = {}

    def put(day: dt.date, kind: str, name: str, where: str):
        if not first <= day <= last:
            problems.append(
                FieldError(
                    where,
                    "out_of_year",
                    _("%(day)s is not in %(year)s.") % {"day": day, "year": year},
                )
            )
        elif day in days:
            problems.append(
                FieldError(where, "duplicate", _("%(day)s is listed twice.") % {"day": day})
            )
        else:
            days[day] = (kind, name)

    holidays = data.get("holidays")
    if not isinstance(holidays, list) or not holidays:
        problems.append(FieldError("holidays", "required", _("holidays must be a non-empty list.")))
        holidays = []
    for i, holiday in enumerate(holidays):
        where = f"holidays.{i}"
        if not isinstance(holiday, Mapping) or not str(holiday.get("name") or "").strip():
            problems.append(
                FieldError(where, "invalid", _("Each holiday needs name, from and to."))
            )
            continue
        try:
            start = _date(holiday.get("from"), f"{where}.from")
            end = _date(holiday.get("to"), f"{where}.to")
        except InvalidInput as exc:
            problems += exc.errors
            continue
        if end < start or (end - start).days > 31:
            problems.append(
                FieldError(
                    f"{where}.to",
                    "invalid_range",
                    _("to must be on or after from, within 31 days."),
                )
            )
            continue
        day = start
        while day <= end:
            put(day, DayKind.HOLIDAY, str(holiday["name"]).strip(), where)
            day += dt.timedelta(days=1)
    workdays = data.get("workdays") or []
    if not isinstance(workdays, list):
        problems.append(
            FieldError("workdays", "invalid_type", _("workdays must be a list of dates."))
        )
        workdays = []
    for i, value in enumerate(workdays):
        where = f"workdays.{i}"
        try:
            day = _date(value, where)
        except InvalidInput as exc:
            problems += exc.errors
            continue
        if day.weekday() < 5:
            problems.append(
                FieldError(
                    where,
                    "not_weekend",
                    _("%(day)s is a weekday, not a make-up workday.") % {"day": day},
                )
            )
            continue
        put(day, DayKind.WORKDAY, _("make-up workday"), where)
    if problems:
        raise InvalidInput(problems)
    return year, source.strip(), days


def read_calendar_file(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise InvalidInput(
            FieldError(
                "", "invalid_yaml", _("Not a valid YAML file: %(problem)s") % {"problem": exc}
            )
        ) from None


@transaction.atomic
def load_calendar(data, *, actor=None, at: dt.datetime | None = None) -> tuple[CalendarYear, bool]:
    """Store a year of the official calendar, replacing that year's days. Idempotent: loading the
    same content again changes nothing and records nothing. Returns (year, changed)."""
    year, source, days = parse_calendar(data)
    at = at or timezone.now()
    row = CalendarYear.objects.filter(year=year).first()
    wanted = {(d, kind, name) for d, (kind, name) in days.items()}
    if row is not None:
        have = set(row.days.values_list("date", "kind", "name"))
        if have == wanted and row.source == source:
            return row, False
    clash = CalendarDay.objects.filter(date__in=days).exclude(calendar_year__year=year)
    if clash.exists():
        raise InvalidInput(
            FieldError(
                "",
                "overlap",
                _("%(day)s already belongs to the calendar of another year.")
                % {"day": clash.first().date},
            )
        )
    before = None
    if row is None:
        row = CalendarYear.objects.create(year=year, source=source, loaded_at=at)
    else:
        before = {"source": row.source, "days": len(row.days.all())}
        row.days.all().delete()
        row.source, row.loaded_at = source, at
        row.save()
    CalendarDay.objects.bulk_create(
        CalendarDay(calendar_year=row, date=d, kind=kind, name=name)
        for d, kind, name in sorted(wanted)
    )
    audit.record(
        action="calendar.loaded",
        target=row,
        actor=actor,
        before=before,
        after={
            "year": year,
            "source": source,
            "holidays": sum(1 for _d, k, _n in wanted if k == DayKind.HOLIDAY),
            "workdays": sum(1 for _d, k, _n in wanted if k == DayKind.WORKDAY),
        },
        at=at,
    )
    return row, True

"""Special periods of a span on the site's local calendar; loading the official calendar."""

import datetime as dt
import zoneinfo
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from safework.core.errors import InvalidInput
from safework.core.models import AuditRecord, Setting
from safework.org.tests.factories import SiteFactory
from safework.work import services
from safework.work.calendar import assess_span
from safework.work.models import CalendarDay, CalendarYear, SpecialPeriod

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
FILE_2026 = Path(__file__).parents[1] / "catalogue" / "calendar" / "2026.yaml"


def at(*args):
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def cal2026(db):
    services.load_calendar(services.read_calendar_file(FILE_2026))


@pytest.fixture
def site(db):
    return SiteFactory()


def test_a_holiday(cal2026, site):
    a = assess_span(site, at(2026, 10, 2, 9), at(2026, 10, 2, 17))
    assert a.kinds == {"holiday"}
    assert a.basis == "calendar 2026"
    assert a.reasons[0].clause == "GB 30871-2022 5.1.1"
    assert "国庆节" in a.reasons[0].message


def test_a_weekend_is_a_rest_day(cal2026, site):
    a = assess_span(site, at(2026, 3, 7, 9), at(2026, 3, 7, 17))  # Saturday
    assert a.kinds == {"rest_day"}


def test_a_weekday_is_nothing(cal2026, site):
    assert assess_span(site, at(2026, 3, 9, 9), at(2026, 3, 9, 17)).kinds == frozenset()


def test_a_make_up_workday_on_a_weekend_is_not_a_rest_day(cal2026, site):
    a = assess_span(site, at(2026, 2, 14, 9), at(2026, 2, 14, 17))  # Saturday, worked
    assert a.kinds == frozenset()


@pytest.mark.parametrize(
    ("start", "end", "night"),
    [
        (at(2026, 3, 9, 21, 59), at(2026, 3, 9, 22, 0), False),  # ends as night begins
        (at(2026, 3, 9, 22, 0), at(2026, 3, 9, 22, 1), True),  # night start inclusive
        (at(2026, 3, 10, 5, 59), at(2026, 3, 10, 6, 0), True),
        (at(2026, 3, 10, 6, 0), at(2026, 3, 10, 8, 0), False),  # night end exclusive
    ],
)
def test_night_boundaries(cal2026, site, start, end, night):
    assert ("night" in assess_span(site, start, end).kinds) is night


def test_night_window_is_a_site_setting(cal2026, site):
    Setting.objects.create(key="work.night_start", value="20:00", site_id=site.pk)
    other = SiteFactory()
    assert "night" in assess_span(site, at(2026, 3, 9, 20, 0), at(2026, 3, 9, 20, 30)).kinds
    assert "night" not in assess_span(other, at(2026, 3, 9, 20, 0), at(2026, 3, 9, 20, 30)).kinds


def test_local_time_decides_not_utc(cal2026, site):
    # 14:30 UTC = 22:30 in Shanghai: night; 2026-10-01 16:30 UTC is already the 2nd there.
    start = dt.datetime(2026, 3, 9, 14, 30, tzinfo=dt.UTC)
    assert "night" in assess_span(site, start, start + dt.timedelta(minutes=10)).kinds
    start = dt.datetime(2026, 9, 30, 16, 30, tzinfo=dt.UTC)
    a = assess_span(site, start, start + dt.timedelta(minutes=10))
    assert list(a.days) == [dt.date(2026, 10, 1)]


def test_a_span_over_several_days_takes_the_union(cal2026, site):
    # Thursday 30 April 08:00 to Saturday 2 May 08:00: a workday, a holiday, nights.
    a = assess_span(site, at(2026, 4, 30, 8), at(2026, 5, 2, 8))
    assert a.kinds == {"holiday", "night"}
    assert a.days[dt.date(2026, 4, 30)] == {"night"}
    assert a.days[dt.date(2026, 5, 1)] == {"holiday", "night"}
    assert a.days[dt.date(2026, 5, 2)] == {"holiday", "night"}


def test_a_year_without_calendar_uses_weekends_and_records_it(cal2026, site):
    a = assess_span(site, at(2027, 1, 2, 9), at(2027, 1, 2, 17))  # a Saturday
    assert a.kinds == {"rest_day"}
    assert a.basis == "setting weekends (no calendar for 2027)"
    assert assess_span(site, at(2027, 1, 4, 9), at(2027, 1, 4, 17)).kinds == frozenset()


def test_a_year_without_calendar_every_day_upgraded(cal2026, site):
    Setting.objects.create(key="work.calendar_missing_year", value="every_day_upgraded")
    a = assess_span(site, at(2027, 1, 4, 9), at(2027, 1, 4, 17))  # a Monday
    assert a.kinds == {"rest_day"}
    assert a.basis == "setting every_day_upgraded (no calendar for 2027)"


def test_a_span_over_the_year_end_names_both_bases(cal2026, site):
    a = assess_span(site, at(2026, 12, 31, 20), at(2027, 1, 1, 2))
    assert a.basis == "calendar 2026; setting weekends (no calendar for 2027)"


def test_special_period_for_the_site_or_every_site(cal2026, site):
    other = SiteFactory()
    SpecialPeriod.objects.create(
        name="重大活动", site=site, starts_at=at(2026, 3, 9, 12), ends_at=at(2026, 3, 10, 0)
    )
    assert "special_period" in assess_span(site, at(2026, 3, 9, 11), at(2026, 3, 9, 12, 1)).kinds
    assert "special_period" not in assess_span(site, at(2026, 3, 9, 11), at(2026, 3, 9, 12)).kinds
    assert "special_period" not in assess_span(other, at(2026, 3, 9, 13), at(2026, 3, 9, 14)).kinds
    SpecialPeriod.objects.create(
        name="全国两会", starts_at=at(2026, 3, 9, 0), ends_at=at(2026, 3, 10, 0)
    )
    assert "special_period" in assess_span(other, at(2026, 3, 9, 13), at(2026, 3, 9, 14)).kinds


def test_the_2026_file_as_shipped(cal2026):
    assert CalendarYear.objects.get().year == 2026
    holidays = CalendarDay.objects.filter(kind="holiday")
    assert holidays.count() == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert CalendarDay.objects.filter(kind="workday").count() == 6


def test_calendar_load_is_idempotent_and_audited(db):
    out = StringIO()
    with translation.override("en"):
        call_command("calendar", "load", str(FILE_2026), stdout=out)
        call_command("calendar", "load", str(FILE_2026), stdout=out)
    assert "calendar 2026 loaded: 39 days" in out.getvalue()
    assert "calendar 2026 unchanged" in out.getvalue()
    assert CalendarDay.objects.count() == 39
    assert AuditRecord.objects.filter(action="calendar.loaded").count() == 1


def test_reloading_a_changed_year_replaces_its_days(db):
    data = {
        "year": 2026,
        "source": "test",
        "holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-03"}],
        "workdays": ["2026-01-04"],
    }
    services.load_calendar(data)
    data["holidays"][0]["to"] = "2026-01-01"
    _row, changed = services.load_calendar(data)
    assert changed is True
    assert CalendarDay.objects.filter(kind="holiday").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"year": "x"}, "year"),
        ({"year": 2026, "source": "s", "holidays": []}, "holidays"),
        (
            {
                "year": 2026,
                "source": "s",
                "holidays": [{"name": "a", "from": "2026-13-01", "to": "2026-01-02"}],
            },
            "holidays.0.from",
        ),
        (
            {
                "year": 2026,
                "source": "s",
                "holidays": [{"name": "a", "from": "2026-01-03", "to": "2026-01-01"}],
            },
            "holidays.0.to",
        ),
        (
            {
                "year": 2026,
                "source": "s",
                "holidays": [{"name": "a", "from": "2026-01-01", "to": "2026-01-01"}],
                "workdays": ["2026-01-05"],
            },  # a Monday
            "workdays.0",
        ),
        (
            {
                "year": 2026,
                "source": "s",
                "holidays": [{"name": "a", "from": "2026-01-03", "to": "2026-01-04"}],
                "workdays": ["2026-01-04"],
            },
            "workdays.0",
        ),
    ],
)
def test_bad_calendar_is_refused_with_nothing_written(db, data, field):
    with pytest.raises(InvalidInput) as exc:
        services.load_calendar(data)
    assert field in [e.field for e in exc.value.errors]
    assert CalendarYear.objects.count() == 0


def test_bad_file_is_a_chinese_command_error(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("year: 2026\nsource: x\nholidays: []\n", encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        call_command("calendar", "load", str(bad))
    assert "holidays" in str(exc.value)
    assert "列表" in str(exc.value)


def test_span_end_before_start_is_a_field_error(site):
    with pytest.raises(InvalidInput):
        assess_span(site, at(2026, 3, 9, 10), at(2026, 3, 9, 9))

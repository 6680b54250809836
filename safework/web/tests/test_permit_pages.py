"""The permit pages: the ledger and one permit, for whoever may read it, 404 for others."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from safework.accounts.models import User
from safework.demo.enterprise import seed_demo
from safework.demo.permits import load_calendars, seed_permits
from safework.permits.models import Permit

pytestmark = pytest.mark.django_db
FAST = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(settings, tmp_path):
    settings.PASSWORD_HASHERS = FAST
    settings.VAR_DIR = tmp_path
    seed_demo()
    load_calendars()
    seed_permits(now=timezone.now() - dt.timedelta(minutes=1))


def _client(username):
    c = Client()
    c.force_login(User.objects.get(username=username))
    return c


def test_safety_officer_sees_the_ledger_and_a_permit_with_its_qr(demo):
    c = _client("demo_safety_officer")
    page = c.get("/work-permits/")
    assert page.status_code == 200
    active = Permit.objects.filter(status="active").first()
    assert active.number in page.content.decode()
    detail = c.get(f"/work-permits/{active.pk}/")
    text = detail.content.decode()
    assert detail.status_code == 200 and "<svg" in text and active.number in text
    assert c.get("/work-permits/?status=expired").status_code == 200


def test_a_contractor_manager_cannot_open_the_sites_permits(demo):
    c = _client("demo_contractor_manager")
    permit = Permit.objects.exclude(contractor__isnull=False).first()
    assert c.get(f"/work-permits/{permit.pk}/").status_code == 404


def _numbers_on(page) -> set[str]:
    text = page.content.decode()
    return {p.number for p in Permit.objects.exclude(number__isnull=True) if p.number in text}


def test_the_ledger_asks_the_aq_questions_alarm_type_work_unit_and_period(demo):
    c = _client("demo_safety_officer")
    with_gas_alarm = {
        p.number
        for p in Permit.objects.filter(alarms__alarm_type__code="01").exclude(number__isnull=True)
    }
    page = c.get("/work-permits/?alarm_type=01")
    assert page.status_code == 200
    assert with_gas_alarm and _numbers_on(page) == with_gas_alarm

    own = c.get("/work-permits/?contractor=own")
    assert all(
        Permit.objects.get(number=n).contractor_id is None for n in _numbers_on(own)
    ) and _numbers_on(own)

    # The period is the local day of the planned start, its last day included.
    first = Permit.objects.exclude(number__isnull=True).order_by("planned_start").first()
    day = timezone.localdate(first.planned_start)
    on_day = c.get(f"/work-permits/?date_from={day}&date_to={day}")
    assert first.number in _numbers_on(on_day)
    before = day - dt.timedelta(days=1)
    assert first.number not in _numbers_on(c.get(f"/work-permits/?date_to={before}"))
    after = day + dt.timedelta(days=1)
    assert first.number not in _numbers_on(c.get(f"/work-permits/?date_from={after}"))


def test_a_backwards_period_is_a_field_error_not_a_500(demo):
    page = _client("demo_safety_officer").get(
        "/work-permits/?date_from=2026-03-10&date_to=2026-03-09"
    )
    assert page.status_code == 200
    assert "期间的结束日期早于开始日期" in page.content.decode()


def test_the_export_holds_the_filtered_rows_in_the_readers_scope(demo):
    from io import BytesIO

    from openpyxl import load_workbook

    c = _client("demo_safety_officer")
    answer = c.get("/work-permits/export.xlsx?alarm_type=01")
    assert answer.status_code == 200
    sheet = load_workbook(BytesIO(answer.content)).active
    cells = {str(v) for row in sheet.iter_rows(values_only=True) for v in row if v}
    expected = {
        p.number
        for p in Permit.objects.filter(alarms__alarm_type__code="01").exclude(number__isnull=True)
    }
    assert expected and expected <= cells
    others = {
        p.number for p in Permit.objects.exclude(number__isnull=True).exclude(number__in=expected)
    }
    assert not (others & cells)

    manager = _client("demo_contractor_manager").get("/work-permits/export.xlsx")
    assert manager.status_code in (200, 403)
    if manager.status_code == 200:
        rows = load_workbook(BytesIO(manager.content)).active
        seen = {str(v) for row in rows.iter_rows(values_only=True) for v in row if v}
        own_staff = {
            p.number
            for p in Permit.objects.filter(contractor__isnull=True).exclude(number__isnull=True)
        }
        assert not (own_staff & seen)


def test_the_timeline_names_its_events_in_chinese(demo):
    active = Permit.objects.filter(status="active").first()
    text = _client("demo_safety_officer").get(f"/work-permits/{active.pk}/").content.decode()
    assert "草稿已创建" in text and "作业开始" in text
    assert "· created" not in text and "· started" not in text

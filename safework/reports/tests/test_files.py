"""The reports as files (xlsx read back, PDF laid out with Chinese text and the CJK font), through
the API (scoped, 4xx for bad input), the CLI, and the monthly run on the 5th (time-machine)."""

import datetime as dt
import io
import re
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from safework.accounts.models import Role
from safework.accounts.tests.world import client_for, grant, make_user, world_fixture
from safework.certs.models import Verification
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.scope import Scope
from safework.notify import services as notify_services
from safework.notify.models import Delivery, Event
from safework.permits.tests.test_printing import page_text, pdf_streams
from safework.reports import queries, render, services, tasks
from safework.reports.queries import Month

world = world_fixture(catalogue=True)
SH = zoneinfo.ZoneInfo("Asia/Shanghai")
NOV = Month(2026, 11)
D = dt.date
API = "/api/v1/reports"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def certs(world, db):
    for person, until in ((world.p_own, D(2026, 11, 30)), (world.p_x, D(2027, 5, 1))):
        CertificateFactory(
            person=person,
            item=item("special_operation", "2.1"),
            issued_on=D(2026, 6, 1),
            valid_until=until,
            verification=Verification.VERIFIED,
        )


def sheets(content: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(content), read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def test_health_xlsx_read_back(certs):
    report = queries.certificate_health(Scope.everything(), NOV)
    book = sheets(render.to_xlsx("health", report))
    assert list(book) == ["按厂区", "按承包商", "跨厂区证书", "说明"]
    by_site = book["按厂区"]
    assert by_site[0][:4] == ("厂区", "月初有效证书", "本月过期", "过期率")
    assert by_site[1][:4] == ("合计", 2, 1, 0.5)
    assert ("甲厂区", 2, 1, 0.5) in [r[:4] for r in by_site]
    by_contractor = {r[0]: r[1:4] for r in book["按承包商"][1:]}
    assert by_contractor["本企业"] == (1, 1, 1.0)
    assert by_contractor["承包商X"] == (1, 0, 0.0)
    assert "证书健康月报 2026-11" in book["说明"][0][0]


def test_compliance_xlsx_has_no_site_sheet_and_no_own_enterprise(certs):
    report = queries.contractor_compliance(Scope.everything(), NOV)
    book = sheets(render.to_xlsx("compliance", report))
    assert list(book) == ["按承包商", "说明"]
    names = [r[0] for r in book["按承包商"][1:]]
    assert names == ["承包商X", "承包商Y", "承包商Z", "合计"]


def test_pdf_is_laid_out_in_chinese_with_the_font_embedded(certs):
    report = queries.certificate_health(Scope.everything(), NOV)
    document = render.pdf_document("health", report)
    text = page_text(document)
    for words in ("证书健康月报 2026-11", "过期率", "复审及时率", "持证率", "跨厂区证书", "甲厂区"):
        assert words in text
    data = document.write_pdf()
    assert data.startswith(b"%PDF")
    objects = b"".join(s for s in pdf_streams(data) if b"/Type" in s or b"/BaseFont" in s)
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+Noto-Sans-SC", objects)  # embedded, subset
    assert b"/FontFile" in objects
    assert len(document.pages) >= 1


def test_api_returns_the_file_for_the_readers_scope(world, certs):
    response = world.clients[Role.SAFETY_OFFICER].get(
        f"{API}/certificate-health?month=2026-11&format=xlsx"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('certificate-health-2026-11.xlsx"')
    by_site = sheets(response.content)["按厂区"]
    assert [r[0] for r in by_site[1:]] == ["合计", "甲厂区"]  # site A's officer
    response = world.clients[Role.SAFETY_HEAD].get(
        f"{API}/certificate-health?month=2026-11&format=pdf"
    )
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")


def test_api_a_contractor_manager_reads_only_their_contractor(world, certs):
    manager = world.clients[Role.CONTRACTOR_MANAGER]
    response = manager.get(f"{API}/contractor-compliance?month=2026-11")
    assert response.status_code == 200
    assert [r[0] for r in sheets(response.content)["按承包商"][1:]] == ["承包商X", "合计"]
    other = world.contractor_y.pk
    response = manager.get(f"{API}/contractor-compliance?month=2026-11&contractor_id={other}")
    assert response.status_code == 200  # another's contractor reads as none: the header alone
    assert sheets(response.content)["按承包商"] == [sheets(response.content)["按承包商"][0]]
    assert manager.get(f"{API}/certificate-health?month=2026-11").status_code == 403
    too_big = manager.get(f"{API}/contractor-compliance?contractor_id=99999999999999999999")
    assert too_big.status_code == 422


@pytest.mark.parametrize(
    ("query", "field"),
    [("month=2026-13", "month"), ("month=11-2026", "month"), ("format=doc", "format")],
)
def test_api_bad_input_is_a_422_in_chinese(world, db, query, field):
    response = world.clients[Role.SAFETY_HEAD].get(f"{API}/certificate-health?{query}")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])


def test_cli_writes_either_report(certs, tmp_path):
    out = tmp_path / "health.xlsx"
    call_command(
        "reports", "certificates", "--month", "2026-11", "--format", "xlsx", "-o", str(out)
    )
    assert sheets(out.read_bytes())["按厂区"][1][:3] == ("合计", 2, 1)
    pdf_out = tmp_path / "contractors.pdf"
    call_command(
        "reports", "contractors", "--month", "2026-11", "--format", "pdf", "-o", str(pdf_out)
    )
    assert pdf_out.read_bytes().startswith(b"%PDF")
    with pytest.raises(CommandError):
        call_command("reports", "certificates", "--month", "2026-13", "-o", str(out))


@pytest.fixture
def safety_head(world, db):
    user = make_user("head-of-safety-group")
    grant(user, Role.SAFETY_HEAD)  # group-wide
    return user


def test_the_monthly_run_waits_for_the_5th_and_sends_once(world, certs, safety_head):
    with time_machine.travel(dt.datetime(2026, 12, 4, 23, 59, tzinfo=SH), tick=False):
        tasks.monthly_reports.call_local()
    assert not Event.objects.filter(kind=services.EVENT_KIND).exists()
    assert services.stored("health", NOV, "pdf") is None
    # 16:30 UTC on the 4th is already 00:30 on the 5th in Shanghai.
    with time_machine.travel(dt.datetime(2026, 12, 4, 16, 30, tzinfo=dt.UTC), tick=False):
        tasks.monthly_reports.call_local()
        tasks.monthly_reports.call_local()  # the next hour's run: nothing more
        notify_services.fan_out()
    [event] = Event.objects.filter(kind=services.EVENT_KIND)
    assert (event.key, event.payload["month"]) == ("reports:2026-11", "2026-11")
    for kind in services.KINDS:
        for fmt in render.FORMATS:
            assert services.stored(kind, NOV, fmt)
    inbox = Delivery.objects.get(event=event, user=safety_head, channel="inbox")
    assert inbox.title == "证书健康月报 2026-11"
    assert "/api/v1/reports/certificate-health?month=2026-11&format=pdf" in inbox.url
    # The link hands a group-wide reader the stored file of that month.
    response = client_for(safety_head).get(f"{API}/certificate-health?month=2026-11&format=xlsx")
    assert response.content == services.stored("health", NOV, "xlsx")


def test_a_missed_5th_is_sent_on_a_later_day_of_the_month(world, certs, safety_head):
    with time_machine.travel(dt.datetime(2026, 12, 9, 10, 0, tzinfo=SH), tick=False):
        assert services.send_monthly_reports() == NOV
        assert services.send_monthly_reports() is None
    with time_machine.travel(dt.datetime(2027, 1, 5, 10, 0, tzinfo=SH), tick=False):
        assert services.send_monthly_reports() == Month(2026, 12)


def test_a_group_wide_inspector_gets_masked_id_numbers_not_the_stored_file(
    world, certs, safety_head
):
    from safework.rosters.models import Roster, RosterEntry
    from safework.work.models import CrewRole, WorkType

    roster = Roster.objects.create(name="十一月排班", site=world.site_a)
    for site, day in ((world.site_a, 3), (world.site_b, 20)):
        RosterEntry.objects.create(
            roster=roster,
            person=world.p_x,
            on=D(2026, 11, day),
            work_type=WorkType.objects.get(code="hot_work"),
            crew_role=CrewRole.objects.get(code="worker"),
            site=site,
        )
    with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=SH), tick=False):
        services.send_monthly_reports()
    inspector = make_user("inspector-group")
    grant(inspector, Role.INSPECTOR)  # group-wide, ID numbers masked
    url = f"{API}/certificate-health?month=2026-11&format=xlsx"
    shown = {
        who: sheets(client_for(user).get(url).content)["跨厂区证书"][1][1]
        for who, user in (("head", safety_head), ("inspector", inspector))
    }
    assert shown["head"] == world.p_x.id_number
    assert shown["inspector"] != world.p_x.id_number and "*" in shown["inspector"]

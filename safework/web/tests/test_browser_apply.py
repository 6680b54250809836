"""The permit application wizard in a real browser (Debian's Chromium through Playwright), at a
phone's width and a desktop's, on the demo data: a level-1 hot-work permit applied for through the
wizard (the position from the phone, the level derived as it is filled in, each crew member's
qualification live) and submitted; and a submission refused because the welder's certificate has
expired, the reason with its clause on screen. No console error, no serious or critical axe-core
violation, a screenshot of each step under var/screenshots/.

Run with `pytest -m browser`; the fixtures are test_browser.py's.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from safework.accounts.models import User
from safework.demo.permits import _Demo, load_calendars
from safework.permits import services
from safework.permits.models import Permit
from safework.web.tests import test_browser as shared
from safework.web.tests.test_browser import Journey, _crew, _zh

pytestmark = pytest.mark.browser

# test_browser.py's fixtures: Chromium, the widths, the demo on the live server.
_orm_beside_playwright = shared._orm_beside_playwright
base_url = shared.base_url
browser_type_launch_args = shared.browser_type_launch_args
browser_context_args = shared.browser_context_args
width = shared.width
demo_live = shared.demo_live

APPLICANT = "demo_safety_officer"


def _window(demo: _Demo, crew) -> tuple[dt.datetime, dt.datetime]:
    """The first day from tomorrow, 10:00–16:00, that needs no upgrade (not a rest day or a
    holiday): level 1 is then the level the hazardous area asks for."""
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    for days in range(1, 15):
        s = start + dt.timedelta(days=days)
        data, _c = demo.data(s, hours=6, crew=crew)
        decision = services.preview_level({**data, "level": "level1"})
        if not decision.upgraded and not decision.refusals:
            return s, s + dt.timedelta(hours=6)
    raise AssertionError("no ordinary working day in two weeks")


def _plan(welder=None):
    """The applicant's site, area, a crew the engine clears for the window (the welder replaced
    when given) and the window."""
    load_calendars()
    demo = _Demo(timezone.now())
    start = timezone.localtime().replace(hour=10, minute=0) + dt.timedelta(days=1)
    crew = demo.crew(start, start + dt.timedelta(hours=6))
    start, end = _window(demo, crew)
    crew = demo.crew(start, end)
    if welder is not None:
        crew["welder"] = welder
    return demo, crew, start, end


def _idle(page) -> None:
    """No live check in flight (htmx marks the element while its request runs): the next click
    does not race it."""
    page.locator("#apply-live.htmx-request").wait_for(state="detached")


def _fill(journey: Journey, demo, crew, start, end):
    page = journey.page
    journey.go("/work-permits/new/")
    journey.check("types")
    page.locator("#apply-types [data-type='hot_work']").click()
    page.wait_for_url("**/work-permits/new/?type=hot_work")
    page.select_option("#id_site", str(demo.site.pk))
    page.select_option("#id_area", str(demo.area.pk))
    page.fill("#id_place", f"{demo.area.name} 换热器E-1203出口管线")
    page.get_by_role("button", name=_zh("Use my position")).click()
    expect(page.locator("#id_latitude")).not_to_have_value("")
    page.fill("#id_content", "更换出口短节，氩弧焊打底、电焊盖面")
    page.fill("#id_i_height_m", "0.5")
    page.select_option("#id_f_method", "welding")
    page.fill("#id_f_plan_ref", "FA-2026-118")
    page.fill("#id_planned_start", timezone.localtime(start).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_planned_end", timezone.localtime(end).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_level", "level1")
    # The level, derived as the form is filled in: a fire/explosion hazardous area.
    page.locator("#apply-level [data-level='level1']").wait_for()
    unit = crew["leader"].current_employment.department_id
    page.select_option("#id_work_unit", str(unit))
    page.fill("#id_work_leader", crew["leader"].id_number)
    for i, (key, role) in enumerate(
        (("leader", "site_lead"), ("welder", "worker"), ("guardian", "guardian")),
    ):
        page.fill(f"#id_person_{i}", crew[key].id_number)
        page.select_option(f"#id_role_{i}", role)
    page.fill("#id_person_3", crew["tester"].id_number)
    page.select_option("#id_role_3", "gas_tester")
    page.fill("#id_hazard_0", "管线残存可燃介质")
    page.fill("#id_controls_0", "倒空、氮气置换、加盲板隔离")
    # Leaving the field sends its change (a live check) now, not with the click on "save".
    page.locator("#id_controls_0").blur()
    page.locator("#apply-crew li").nth(3).wait_for()


@pytest.fixture
def geolocated(page, demo_live):
    _logins, url = demo_live
    page.context.grant_permissions(["geolocation"], origin=url)
    page.context.set_geolocation({"latitude": 32.2, "longitude": 118.7, "accuracy": 8})
    return page


def test_apply_for_a_level_1_hot_work_permit_and_submit_it(geolocated, demo_live, width):
    page = geolocated
    logins, url = demo_live
    journey = Journey(page, url, "apply", width)
    demo, crew, start, end = _plan()

    journey.login(APPLICANT, logins[APPLICANT][1])
    _fill(journey, demo, crew, start, end)
    expect(page.locator("#apply-crew li[data-allowed='true']")).to_have_count(4)
    assert page.locator("#id_latitude").input_value().startswith("32.2")
    journey.check("form")
    _idle(page)
    page.locator("#save-draft").click()
    page.wait_for_url("**/work-permits/*/edit/")
    permit = Permit.objects.get(
        applicant__username=APPLICANT, status="draft", place__contains="E-1203"
    )
    assert permit.level.code == "level1"
    journey.check("draft")
    _idle(page)
    page.locator("#submit-permit").click()
    page.wait_for_url(f"**/work-permits/{permit.pk}/")
    permit.refresh_from_db()
    assert permit.status == "in_approval" and permit.number
    assert permit.number in page.locator("main").inner_text()
    journey.check("submitted")
    journey.finish()


def test_a_submission_refused_for_the_welders_expired_certificate(geolocated, demo_live, width):
    page = geolocated
    logins, url = demo_live
    journey = Journey(page, url, "apply-refused", width)
    _site, expired_welder, _ok = _crew(User.objects.get(username=APPLICANT))
    demo, crew, start, end = _plan(welder=expired_welder)

    journey.login(APPLICANT, logins[APPLICANT][1])
    _fill(journey, demo, crew, start, end)
    refused = page.locator("#apply-crew li[data-allowed='false']")
    refused.wait_for()
    assert expired_welder.name in refused.inner_text()
    journey.check("form")
    _idle(page)
    page.locator("#save-draft").click()
    page.wait_for_url("**/work-permits/*/edit/")
    journey.expected_errors.append("409")  # the refused submission's status
    _idle(page)
    page.locator("#submit-permit").click()
    reasons = page.locator("#refusals")
    reasons.wait_for()
    expired = reasons.locator("[data-code='cert.expired']").first
    text = expired.inner_text()
    assert expired_welder.name in text
    assert "安监总局令第30号" in text  # the clause of the catalogue row that said no
    assert "cert.expired" in text
    permit = Permit.objects.get(
        applicant__username=APPLICANT, status="draft", place__contains="E-1203"
    )
    assert not permit.number
    journey.check("refused")
    journey.finish()

"""A level-1 hot-work permit's whole journey in a real browser, at a phone's width and a
desktop's, on the demo data: the safety officer applies through the wizard (the place tapped on
the site plan) and submits; the workshop head approves in the approvals inbox (first refused away
from the site, then the signature drawn on the screen, the phone's position inside the area's
fence), then the head of safety and the shift's team leader (signature confirmed), as the route
asks; the measures are confirmed, the crew briefed and checked in, the gas tested, all through the
permit page's forms; the work starts, completes, is accepted and the permit closes, its status on
the page checked after each step. No console error, no serious or critical axe violation, a
screenshot per step under var/screenshots/.

The application runs on the real clock (the demo is seeded relative to today; the permit is for
the next ordinary working day, 10:00); from the approvals on, the server's clock travels to a
few minutes after the planned start and ticks on. The browser's own clock does not travel: the
session cookie lasts until the browser closes. The refusal of an expired welder's certificate
is test_browser_apply.py's.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from playwright.sync_api import expect

from safework.permits import services
from safework.permits.models import Alarm, Permit
from safework.permits.workflow import PermitStatus as S
from safework.web.tests import test_browser as shared
from safework.web.tests.journeys import act, fill_application, idle, plan, sign_in_the_inbox
from safework.web.tests.test_browser import Journey, _zh

pytestmark = pytest.mark.browser

# test_browser.py's fixtures: Chromium, the widths, the demo on the live server.
_orm_beside_playwright = shared._orm_beside_playwright
base_url = shared.base_url
browser_type_launch_args = shared.browser_type_launch_args
browser_context_args = shared.browser_context_args
width = shared.width
demo_live = shared.demo_live

APPLICANT = "demo_safety_officer"
USERS = {
    "workshop_head": "demo_workshop_head",
    "safety_head": "demo_safety_head",
    "team_leader": "demo_team_leader",
    "safety_officer": "demo_safety_officer",
    "technical_lead": "demo_technical_lead",
    "principal": "demo_principal",
}


def _status(page, status: S):
    expect(page.locator("#permit-status")).to_have_text(_zh(status.label))


def _place(page, position: dict):
    page.context.set_geolocation(
        {"latitude": position["lat"], "longitude": position["lon"], "accuracy": 8}
    )


def _refused_off_site(journey, page, step, on_site: dict):
    """Away from the work site, the on-site rule refuses (alarm 30) and the page says why."""
    _place(page, {"lat": on_site["lat"] + 0.05, "lon": on_site["lon"]})
    journey.go("/approvals/")
    card = page.locator(f"article[data-step='{step.pk}']")
    card.get_by_label(_zh("I sign this step in my own name")).check()
    journey.expected_errors.append("409")  # the browser logs the refused page's status
    card.get_by_role("button", name=_zh("Approve"), exact=True).click()
    reason = page.locator("article [data-sw-refusal] li[data-code='sign.off_site']")
    reason.wait_for()
    assert "AQ 3064.2-2025 5.5.2" in reason.inner_text()
    journey.check("refused-off-site")
    assert Alarm.objects.filter(permit=step.permit, alarm_type__code="30").exists()
    _place(page, on_site)


@pytest.fixture
def journey_setup(page, demo_live, settings):
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    logins, url = demo_live
    demo, crew, start, end = plan()
    page.context.grant_permissions(["geolocation"], origin=url)
    _place(page, demo.pos)  # inside the demo area's fence
    return logins, url, demo, crew, start, end


def test_level1_hot_work_from_the_wizard_to_close(page, journey_setup, width):
    logins, url, demo, crew, start, end = journey_setup
    journey = Journey(page, url, "permit-journey", width)

    def login(username):
        page.context.clear_cookies()
        journey.login(username, logins[username][1])

    def open_permit(label=None):
        journey.go(f"/work-permits/{permit.pk}/")
        if label:
            journey.check(label)

    # The safety officer applies through the wizard, saves the draft and submits it.
    login(APPLICANT)
    fill_application(journey, demo, crew, start, end, on_the_plan=True)
    expect(page.locator("#apply-crew li[data-allowed='true']")).to_have_count(4)
    journey.check("form")
    idle(page)
    page.locator("#save-draft").click()
    page.wait_for_url("**/work-permits/*/edit/")
    permit = Permit.objects.get(
        applicant__username=APPLICANT, status="draft", place__contains="E-1203"
    )
    assert permit.level.code == "level1"
    journey.check("draft")
    # The draft's page leads back to the wizard.
    open_permit()
    _status(page, S.DRAFT)
    journey.check("draft-page")
    page.get_by_role("link", name=_zh("Edit / submit")).click()
    page.wait_for_url(f"**/work-permits/{permit.pk}/edit/")
    idle(page)
    page.locator("#submit-permit").click()
    page.wait_for_url(f"**/work-permits/{permit.pk}/")
    _status(page, S.IN_APPROVAL)
    permit.refresh_from_db()
    assert permit.number and permit.number in page.locator("main").inner_text()
    journey.check("submitted")

    with time_machine.travel(start + dt.timedelta(minutes=2), tick=True):
        # The route's steps, each signed in the inbox by whoever holds its role.
        first = True
        while (step := services.current_step(permit)) is not None:
            login(USERS[step.roles[0]])
            if first:
                _refused_off_site(journey, page, step, demo.pos)
            sign_in_the_inbox(journey, page, step, draw_it=first, label=step.roles[0])
            step.refresh_from_db()
            assert step.status == "approved"
            signature = step.signatures.get()
            assert signature.on_site is True
            assert bool(signature.image.startswith("data:image/png;base64,")) is first
            first = False
            permit.refresh_from_db()
        assert permit.status == S.APPROVED
        open_permit("approved")
        _status(page, S.APPROVED)

        # On site: the applicant confirms the measures, briefs the crew and checks each of them
        # in (the crew have no logins: their check-in is entered for them on the permit page).
        login(APPLICANT)
        open_permit()
        act(journey, page, "measures", "measures")  # its last button: the whole checklist
        act(journey, page, "briefing", "briefing")
        for i, person_id in enumerate(permit.crew.values_list("person_id", flat=True)):

            def check_in(panel, person_id=person_id):
                panel.get_by_label(_zh("Person"), exact=True).select_option(str(person_id))
                panel.get_by_label(_zh("Arriving or leaving")).select_option("in")

            act(journey, page, "check_in", f"check-in-{i}", check_in)
        _status(page, S.APPROVED)

        # The gas tester enters the analysis.
        login("demo_gas_tester")
        open_permit()

        def gas(panel):
            panel.get_by_label(_zh("Sampling point")).fill("动火点下风向1 m")
            panel.get_by_label(_zh("Gas")).select_option("combustible")
            panel.get_by_label(_zh("Reading")).fill("0.08")
            panel.get_by_label(_zh("Unit")).fill("%vol")
            panel.get_by_label(_zh("Lower explosive limit (%)")).fill("2.7")
            panel.get_by_label(_zh("Instrument number")).fill("PGM-2400 #07")
            panel.get_by_label(_zh("Calibration date")).fill(
                (start.date() - dt.timedelta(days=20)).isoformat()
            )
            panel.get_by_label(_zh("Tested by")).select_option(str(crew["tester"].pk))

        act(journey, page, "gas_test", "gas-test", gas)
        assert permit.gas_tests.get().passed is True

        # The applicant starts and completes; the workshop head accepts; the permit closes.
        login(APPLICANT)
        open_permit()
        act(
            journey,
            page,
            "start",
            "started",
            lambda panel: panel.get_by_label(_zh("Wind force (Beaufort)")).fill("2"),
        )
        _status(page, S.ACTIVE)
        act(
            journey,
            page,
            "complete",
            "completed",
            lambda panel: panel.get_by_label(_zh("The site is cleaned up")).check(),
        )
        _status(page, S.COMPLETED)
        login("demo_workshop_head")
        open_permit()
        act(journey, page, "accept", "accepted")
        _status(page, S.ACCEPTED)
        login(APPLICANT)
        open_permit()
        act(journey, page, "close", "closed")
        _status(page, S.CLOSED)
    permit.refresh_from_db()
    assert permit.status == S.CLOSED
    journey.finish()

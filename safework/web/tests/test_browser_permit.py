"""A level-1 hot-work permit's journey in a real browser, at a phone's width and a desktop's: the
workshop head approves it in the approvals inbox (signature drawn on the screen, the phone's
position inside the area's fence), then the head of safety (signature confirmed); the measures
are confirmed, the crew briefed, the gas tested; the work starts, completes, is accepted and the
permit closes. No console error, no serious or critical axe violation, a screenshot per step
under var/screenshots/.

The permit itself is created and submitted with the services (the application wizard has its own
journey). The permits test world is dated (D, 10 March 2026): the server's clock travels there
and ticks on; the session cookie lasts until the browser closes, as the browser's own clock does
not travel.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from safework.permits import services
from safework.permits.models import Alarm
from safework.permits.tests.world import OFF_SITE, ON_SITE, D, at, build_world, hot_work_data
from safework.qualification import engine as qualification
from safework.web.tests.test_browser import (  # noqa: F401  (fixtures)
    WIDTHS,
    Journey,
    _orm_beside_playwright,
    _zh,
    base_url,
    browser_type_launch_args,
    width,
)

pytestmark = pytest.mark.browser

PASSWORD = "browser-journey-1"  # noqa: S105  (a test user's)
START = at(D, 8)  # the planned start; the journey runs a few minutes after it


@pytest.fixture
def browser_context_args(browser_context_args, width):  # noqa: F811
    w, h = WIDTHS[width]
    return {
        **browser_context_args,
        "viewport": {"width": w, "height": h},
        "locale": "zh-CN",
        # The phone's position, inside the area's 200 m fence (permits/tests/world.py).
        "geolocation": {
            "latitude": ON_SITE["lat"],
            "longitude": ON_SITE["lon"],
            "accuracy": ON_SITE["accuracy_m"],
        },
        "permissions": ["geolocation"],
    }


@pytest.fixture
def submitted(catalogue, transactional_db, _web_settings, settings, live_server):
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    qualification.clear_caches()
    with time_machine.travel(START - dt.timedelta(days=1), tick=False):
        w = build_world()
        data = hot_work_data(w, start=START, hours=7)
        permit = services.create_permit(
            w.user("applicant"), data, at=START - dt.timedelta(hours=23)
        )
        permit = services.submit(permit, w.user("applicant"), at=START - dt.timedelta(hours=22))
    assert permit.status == "in_approval" and permit.level.code == "level1"
    for user in w.users.values():
        user.set_password(PASSWORD)
        user.save()
    return w, permit, live_server.url


def _draw(page, canvas):
    box = canvas.bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 8):
        page.mouse.move(x + i * 25, y + (12 if i % 2 else -12))
    page.mouse.up()


def _sign_in_the_inbox(journey, page, step, *, draw: bool, label: str):
    journey.go("/approvals/")
    card = page.locator(f"article[data-step='{step.pk}']")
    card.wait_for()
    journey.check(f"inbox-{label}")
    if draw:
        _draw(page, card.locator("canvas[data-sw-pad]"))
        journey.check(f"drawn-{label}")
    else:
        card.get_by_label(_zh("I sign this step in my own name")).check()
    card.get_by_role("button", name=_zh("Approve"), exact=True).click()
    page.wait_for_url("**/approvals/")
    page.locator(".alert-success").wait_for()
    journey.check(f"signed-{label}")


def _refused_off_site(journey, page, step):
    """Away from the work site, the on-site rule refuses (alarm 30) and the page says why."""
    page.context.set_geolocation({"latitude": OFF_SITE["lat"], "longitude": OFF_SITE["lon"]})
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
    page.context.set_geolocation(
        {"latitude": ON_SITE["lat"], "longitude": ON_SITE["lon"], "accuracy": ON_SITE["accuracy_m"]}
    )


def _act(journey, page, key: str, label: str, fill=None):
    panel = page.locator(f"details[data-action='{key}']")
    panel.locator("summary").click()
    if fill is not None:
        fill(panel)
    panel.locator("button[type=submit]").last.click()
    page.locator(".alert-success").wait_for()
    journey.check(label)


def test_level1_hot_work_from_the_inbox_to_close(page, submitted, width):  # noqa: F811
    w, permit, url = submitted
    journey = Journey(page, url, "permit-journey", width)
    by_role = {"workshop_head": "workshop", "safety_head": "safety_head", "team_leader": "shift"}
    with time_machine.travel(START + dt.timedelta(minutes=2), tick=True):
        # The route's steps, each signed in the inbox by whoever holds its role.
        first = True
        while (step := services.current_step(permit)) is not None:
            role = step.roles[0]
            page.context.clear_cookies()
            journey.login(w.user(by_role[role]).username, PASSWORD)
            if first:
                badge = page.locator("a[href='/approvals/'] .badge")
                assert badge.inner_text() == "1"
                _refused_off_site(journey, page, step)
            _sign_in_the_inbox(journey, page, step, draw=first, label=role)
            step.refresh_from_db()
            assert step.status == "approved"
            signature = step.signatures.get()
            assert signature.on_site is True
            assert bool(signature.image.startswith("data:image/png;base64,")) is first
            first = False
            permit.refresh_from_db()
        assert permit.status == "approved"

        # On site: the applicant (the team leader) confirms the measures and briefs the crew.
        page.context.clear_cookies()
        journey.login(w.user("applicant").username, PASSWORD)
        journey.go(f"/work-permits/{permit.pk}/")
        journey.check("approved")
        _act(journey, page, "measures", "measures")  # its last button: the whole checklist
        _act(journey, page, "briefing", "briefing")
        # Presence is checked in by each crew member's own phone (not this journey).
        for person_id in permit.crew.values_list("person_id", flat=True):
            services.check_in(
                permit,
                w.user("applicant"),
                person_id=person_id,
                at=timezone.now(),
                position=ON_SITE,
            )

        # The gas tester enters the analysis.
        page.context.clear_cookies()
        journey.login(w.user("tester").username, PASSWORD)
        journey.go(f"/work-permits/{permit.pk}/")

        def gas(panel):
            panel.get_by_label(_zh("Sampling point")).fill("动火点")
            panel.get_by_label(_zh("Gas")).select_option("combustible")
            panel.get_by_label(_zh("Reading")).fill("0.10")
            panel.get_by_label(_zh("Unit")).fill("%vol")
            panel.get_by_label(_zh("Lower explosive limit (%)")).fill("5.0")
            panel.get_by_label(_zh("Instrument number")).fill("GD-01")
            panel.get_by_label(_zh("Calibration date")).fill(
                (D - dt.timedelta(days=30)).isoformat()
            )

        _act(journey, page, "gas_test", "gas-test", gas)
        assert permit.gas_tests.get().passed is True

        # The work leader starts, completes; the workshop head accepts; the permit closes.
        page.context.clear_cookies()
        journey.login(w.user("applicant").username, PASSWORD)
        journey.go(f"/work-permits/{permit.pk}/")
        _act(
            journey,
            page,
            "start",
            "started",
            lambda panel: panel.get_by_label(_zh("Wind force (Beaufort)")).fill("2"),
        )
        _act(
            journey,
            page,
            "complete",
            "completed",
            lambda panel: panel.get_by_label(_zh("The site is cleaned up")).check(),
        )
        page.context.clear_cookies()
        journey.login(w.user("workshop").username, PASSWORD)
        journey.go(f"/work-permits/{permit.pk}/")
        _act(journey, page, "accept", "accepted")
        page.context.clear_cookies()
        journey.login(w.user("applicant").username, PASSWORD)
        journey.go(f"/work-permits/{permit.pk}/")
        _act(journey, page, "close", "closed")
    permit.refresh_from_db()
    assert permit.status == "closed"
    journey.finish()

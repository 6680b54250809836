"""Steps shared by the browser journeys (test_browser_apply.py, test_browser_permit.py): filling in
the application wizard on the demo data, signing in the approvals inbox, the permit page's action
forms. Plain functions over a Playwright page and test_browser.Journey; the fixtures stay in
test_browser.py."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from safework.demo.permits import _Demo, load_calendars
from safework.org import geo
from safework.permits import services
from safework.web.tests.test_browser import Journey, _zh

# ---- the application wizard (the demo data, the real clock) -------------------------------------


def window(demo: _Demo, crew) -> tuple[dt.datetime, dt.datetime]:
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


def plan(welder=None):
    """The applicant's site, area, a crew the engine clears for the window (the welder replaced
    when given) and the window."""
    load_calendars()
    demo = _Demo(timezone.now())
    start = timezone.localtime().replace(hour=10, minute=0) + dt.timedelta(days=1)
    crew = demo.crew(start, start + dt.timedelta(hours=6))
    start, end = window(demo, crew)
    crew = demo.crew(start, end)
    if welder is not None:
        crew["welder"] = welder
    return demo, crew, start, end


def idle(page, selector: str = "#apply-live") -> None:
    """No htmx request in flight on `selector` (htmx marks the element while its request runs):
    the next click does not race it (the live server shares one SQLite connection)."""
    page.locator(f"{selector}.htmx-request").wait_for(state="detached")


def fill_application(journey: Journey, demo, crew, start, end, *, on_the_plan: bool = False):
    """The wizard filled in for the demo's hot work; the place's position from the phone, or
    (`on_the_plan`, the wizard opened from the ledger's button) from a tap on the area in the
    site plan, which chooses the area too."""
    page = journey.page
    if on_the_plan:  # the way in from the ledger's button
        journey.go("/work-permits/")
        journey.check("ledger")
        page.locator("#apply-new").click()
        page.wait_for_url("**/work-permits/new/")
    else:
        journey.go("/work-permits/new/")
    journey.check("types")
    page.locator("#apply-types [data-type='hot_work']").click()
    page.wait_for_url("**/work-permits/new/?type=hot_work")
    page.select_option("#id_site", str(demo.site.pk))
    if on_the_plan:
        shape = page.locator(f"#apply-plans [data-area='{demo.area.pk}']")
        shape.locator("polygon, circle").first.click()
        expect(page.locator("#id_area")).to_have_value(str(demo.area.pk))
        expect(page.locator("#apply-plans [data-sw-marker]:visible")).to_have_count(1)
        lat, lon = page.input_value("#id_latitude"), page.input_value("#id_longitude")
        assert geo.inside_fence(demo.area, float(lat), float(lon)), (lat, lon)
        journey.check("plan")
    else:
        page.select_option("#id_area", str(demo.area.pk))
        page.get_by_role("button", name=_zh("Use my position")).click()
    expect(page.locator("#id_latitude")).not_to_have_value("")
    page.fill("#id_place", f"{demo.area.name} 换热器E-1203出口管线")
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


# ---- the approvals inbox and the permit page ----------------------------------------------------


def draw(page, canvas):
    box = canvas.bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 8):
        page.mouse.move(x + i * 25, y + (12 if i % 2 else -12))
    page.mouse.up()


def sign_in_the_inbox(journey: Journey, page, step, *, draw_it: bool, label: str):
    journey.go("/approvals/")
    card = page.locator(f"article[data-step='{step.pk}']")
    card.wait_for()
    journey.check(f"inbox-{label}")
    if draw_it:
        draw(page, card.locator("canvas[data-sw-pad]"))
        journey.check(f"drawn-{label}")
    else:
        card.get_by_label(_zh("I sign this step in my own name")).check()
    card.get_by_role("button", name=_zh("Approve"), exact=True).click()
    page.wait_for_url("**/approvals/")
    page.locator(".alert-success").wait_for()
    journey.check(f"signed-{label}")


def act(journey: Journey, page, key: str, label: str, fill=None):
    """Open the permit page's `key` action, fill it in, send it (its last button) and wait for
    the page's "done" message."""
    panel = page.locator(f"details[data-action='{key}']")
    panel.locator("summary").click()
    if fill is not None:
        fill(panel)
    with page.expect_navigation():  # the page before it may show a "done" message too
        panel.locator("button[type=submit]").last.click()
    page.locator(".alert-success").wait_for()
    journey.check(label)

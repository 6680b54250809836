"""Journeys in a real browser through the notification inbox and the dashboard, at a phone's
width and a desktop's, on the demo data: no console error, no serious or critical axe-core
violation, a screenshot of each step under var/screenshots/ (the machinery of test_browser.py).

Run with `pytest -m browser`.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from safework.accounts.models import User
from safework.notify import services
from safework.notify.models import Delivery
from safework.notify.tests.helpers import cert_event
from safework.people.models import Person

# The fixtures and helpers of the first journeys (a module-level skip there without Chromium).
from safework.web.tests.test_browser import (  # noqa: F401  (fixtures are used by name)
    _journey,
    _orm_beside_playwright,
    _zh,
    base_url,
    browser_context_args,
    browser_type_launch_args,
    demo_live,
    width,
)

pytestmark = pytest.mark.browser


def _notice_for_the_officer() -> Delivery:
    """A certificate warning about a person of the officer's site, fanned out to the inbox."""
    officer = User.objects.get(username="demo_safety_officer")
    site = officer.grants.get().site
    person = (
        Person.objects.filter(current_employment__site=site).order_by("pk").first()
        or Person.objects.order_by("pk").first()
    )
    cert_event(person, site_id=site.pk, key=f"cert:browser:{person.pk}:30")
    services.fan_out(now=timezone.now())
    return Delivery.objects.get(user=officer, channel="inbox")


def test_safety_officer_acknowledges_a_notice_then_opens_the_dashboard(page, demo_live, width):  # noqa: F811
    journey, logins = _journey(page, demo_live, "inbox-dashboard", width)
    notice = _notice_for_the_officer()

    journey.login("demo_safety_officer", logins["demo_safety_officer"][1])
    journey.go("/inbox/")
    row = page.locator(f"#notice-{notice.pk}")
    assert row.get_attribute("data-acknowledged") == "false"
    unread = Delivery.objects.filter(user=notice.user, channel="inbox", read_at=None).count()
    assert page.locator("#sw-badge-inbox").inner_text().split()[0] == str(unread)
    journey.check("inbox")
    row.get_by_role("button", name=_zh("Acknowledge")).click()
    page.locator(f"#notice-{notice.pk}[data-acknowledged='true']").wait_for()
    badge = page.locator("#sw-badge-inbox")  # swapped out of band with the notice's row
    assert badge.inner_text().split()[0] == str(unread - 1)
    journey.check("acknowledged")
    notice.refresh_from_db()
    assert notice.acknowledged_at is not None

    journey.go("/inbox/explain/")
    page.fill("#id_person", Person.objects.get(pk=notice.event.person_id).id_number)
    page.get_by_role("button", name=_zh("Explain")).click()
    page.locator("#report .sw-event").first.wait_for()
    assert "cert-expiring" in page.locator("#report .sw-rule").first.inner_text()
    journey.check("explain")

    journey.go("/dashboard/")
    page.locator("[data-sw-chart='chart-heat'] svg").wait_for()
    page.locator("[data-sw-chart='chart-by-site'] svg").wait_for()
    journey.check("dashboard")
    first = page.locator("#table-heat tbody a").first
    page.locator("#table-heat").locator("xpath=..").locator("summary").click()
    href = first.get_attribute("href")
    first.click()
    page.wait_for_url(lambda url: url.endswith(href))
    level = href.rpartition("level=")[2]
    assert page.locator("#f-level").input_value() == level  # the drill-down's question is asked
    journey.check("ledger-drill-down")
    journey.finish()

"""The permit application wizard in a real browser (Debian's Chromium through Playwright), at a
phone's width and a desktop's, on the demo data: a submission refused because the welder's
certificate has expired, the reason with its clause on screen (the wizard's successful
application is the first part of test_browser_permit.py's whole journey). No console error, no
serious or critical axe-core violation, a screenshot of each step under var/screenshots/.

Run with `pytest -m browser`; the fixtures are test_browser.py's.
"""

from __future__ import annotations

import pytest

from safework.accounts.models import User
from safework.permits.models import Permit
from safework.web.tests import test_browser as shared
from safework.web.tests.journeys import fill_application, idle, plan
from safework.web.tests.test_browser import Journey, _crew

pytestmark = pytest.mark.browser

# test_browser.py's fixtures: Chromium, the widths, the demo on the live server.
_orm_beside_playwright = shared._orm_beside_playwright
base_url = shared.base_url
browser_type_launch_args = shared.browser_type_launch_args
browser_context_args = shared.browser_context_args
width = shared.width
demo_live = shared.demo_live

APPLICANT = "demo_safety_officer"


@pytest.fixture
def geolocated(page, demo_live):
    _logins, url = demo_live
    page.context.grant_permissions(["geolocation"], origin=url)
    page.context.set_geolocation({"latitude": 32.2, "longitude": 118.7, "accuracy": 8})
    return page


def test_a_submission_refused_for_the_welders_expired_certificate(geolocated, demo_live, width):
    page = geolocated
    logins, url = demo_live
    journey = Journey(page, url, "apply-refused", width)
    _site, expired_welder, _ok = _crew(User.objects.get(username=APPLICANT))
    demo, crew, start, end = plan(welder=expired_welder)

    journey.login(APPLICANT, logins[APPLICANT][1])
    fill_application(journey, demo, crew, start, end)
    refused = page.locator("#apply-crew li[data-allowed='false']")
    refused.wait_for()
    assert expired_welder.name in refused.inner_text()
    journey.check("form")
    idle(page)
    page.locator("#save-draft").click()
    page.wait_for_url("**/work-permits/*/edit/")
    journey.expected_errors.append("409")  # the refused submission's status
    idle(page)
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

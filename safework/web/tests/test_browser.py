"""Journeys in a real browser (Debian's Chromium through Playwright) against the live server on
the demo data, at a phone's width and a desktop's: no console error on any page, no serious or
critical axe-core violation, and a screenshot of each step under var/screenshots/.

Run with `pytest -m browser` (.ci/run does, installing chromium when missing); `make test`
leaves them out, as it needs no local browser.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation
from python_calamine import CalamineWorkbook

from safework.accounts.models import User
from safework.accounts.scope import scope_for
from safework.certs import queries as cert_queries
from safework.certs.rules import STATUS_TABLE, Status
from safework.ledger.testing import BENCH_HEADER, identities, xlsx_bytes
from safework.org.models import Department
from safework.people.models import EmployerKind, Person
from safework.qualification import engine
from safework.work.models import WorkType

pytestmark = pytest.mark.browser


CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (375, 812), "desktop": (1280, 900)}

if not Path(CHROMIUM).exists():
    pytest.skip(f"needs {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright(django_db_setup):
    """Playwright's sync API runs an event loop in this thread, so Django takes the test's own
    ORM calls (setting up data, reading expected rows, flushing the database) for async code.
    They are plain synchronous code: allowed for this module only, never for the session (a
    subprocess would inherit it; `check --deploy` refuses it). The test database is created
    before Playwright starts (this fixture comes first)."""
    key = "DJANGO_ALLOW_ASYNC_UNSAFE"
    previous = os.environ.get(key)
    os.environ[key] = "true"
    yield
    if previous is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = previous


@pytest.fixture(scope="session")
def base_url():
    """Not pytest-base-url's (its fixture trips a pytest deprecation, an error here): the live
    server's address is per test."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def browser_context_args(browser_context_args, width):
    w, h = WIDTHS[width]
    # Chinese first, as the users' browsers send it: the pages come in the default language.
    return {
        **browser_context_args,
        "viewport": {"width": w, "height": h},
        "locale": "zh-CN",
        "accept_downloads": True,
    }


class Journey:
    """A page that records console errors and takes screenshots and axe scans on the way."""

    def __init__(self, page, base_url: str, name: str, width: str):
        self.page = page
        self.base_url = base_url
        self.name = name
        self.width = width
        self.errors: list[str] = []
        self.expected_errors: list[str] = []
        self.step = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status} {r.url}"),
        )

    def _console(self, msg):
        evaluated = not (msg.location or {}).get("url")  # no page, no static file: ours
        if msg.text.startswith("Applying inline style") and evaluated:
            return
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            self.errors.append(f"{msg.text} [{self.page.url} {where}]")

    def go(self, path: str):
        return self.page.goto(self.base_url + path)

    def check(self, label: str):
        """Screenshot, then an axe scan of the page as it is: no serious/critical violation."""
        self.step += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{self.name}-{self.step:02d}-{label}-{self.width}.png"
        self.page.screenshot(path=str(shot), full_page=True, caret="initial")  # no injected <style>
        # Evaluated through the DevTools protocol, which the page's CSP does not govern (an
        # injected <script> tag would be refused, as it should be). axe itself applies inline
        # styles while it measures (refused by the CSP, and logged, sometimes after it has
        # answered): such a line without a source URL is axe's (`_console`).
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
        assert result == [], f"{label}: axe violations {result}"

    def login(self, username: str, password: str):
        self.go("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit].btn-primary")
        self.page.wait_for_url(self.base_url + "/")

    def finish(self):
        unexpected = [e for e in self.errors if not any(x in e for x in self.expected_errors)]
        assert unexpected == [], f"console errors: {unexpected}"


@pytest.fixture
def demo_live(demo, transactional_db, live_server):
    return demo, live_server.url


def _journey(page, demo_live, name, width) -> tuple[Journey, dict]:
    logins, url = demo_live
    return Journey(page, url, name, width), logins


def _zh(message) -> str:
    """A message as the Chinese pages show it (a msgid, or a lazy translation)."""
    with translation.override("zh-hans"):
        return translation.gettext(message) if isinstance(message, str) else str(message)


def test_safety_officer_finds_a_person_with_a_red_certificate(page, demo_live, width):
    journey, logins = _journey(page, demo_live, "red-certificate", width)
    officer = User.objects.get(username="demo_safety_officer")
    scope = scope_for(officer, "certificates", "read")
    expired = (
        cert_queries.with_status(
            cert_queries.certificates_visible_to(scope).select_related("person"),
            on=timezone.localdate(),
        )
        .filter(status=Status.EXPIRED)
        .order_by("person__name")
        .first()
    )
    person = expired.person

    journey.login("demo_safety_officer", logins["demo_safety_officer"][1])
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    journey.check("home")
    journey.go("/persons/")
    page.fill("#id_q", person.id_number)
    page.locator("#results").get_by_role("link", name=person.name).wait_for()
    journey.check("search")
    page.locator("#results").get_by_role("link", name=person.name).click()
    page.wait_for_url(f"**/persons/{person.pk}/")
    row = page.locator(f"tr[data-status='{Status.EXPIRED}']").first
    badge = row.locator(".badge")
    assert "text-bg-danger" in badge.get_attribute("class")
    assert _zh(Status.EXPIRED.label) in badge.inner_text()
    assert _zh(STATUS_TABLE[Status.EXPIRED].message) in row.inner_text()
    journey.check("person")
    journey.finish()


def _crew(officer):
    """A welder whose welding certificate has expired, and one the engine lets weld."""
    scope = scope_for(officer, "certificates", "read")
    site = officer.grants.get().site
    welders = (
        cert_queries.with_status(
            cert_queries.certificates_visible_to(scope).select_related("person"),
            on=timezone.localdate(),
        )
        .filter(item__code="2.1", person__current_employment__employer_kind=EmployerKind.OWN)
        .order_by("person__name", "pk")
    )
    attrs = {"hot_work_method": "welding", "height_m": 0}
    refused = allowed = None
    for cert in welders:
        answer = engine.assess_crew(
            [engine.CrewMember(cert.person_id, "worker")],
            "hot_work",
            "level2",
            site,
            timezone.now(),
            attrs,
        )
        codes = {r.code for r in answer.decision.reasons}
        if refused is None and cert.status == Status.EXPIRED and "cert.expired" in codes:
            refused = cert.person
        if allowed is None and answer.decision.allowed and not answer.decision.reasons:
            allowed = cert.person
    assert refused is not None and allowed is not None
    return site, refused, allowed


def test_qualification_check_refuses_one_member_with_the_clause(page, demo_live, width):
    journey, logins = _journey(page, demo_live, "qualification", width)
    officer = User.objects.get(username="demo_safety_officer")
    site, refused, allowed = _crew(officer)

    journey.login("demo_safety_officer", logins["demo_safety_officer"][1])
    journey.go("/qualification/")
    page.select_option("#id_work_type", str(WorkType.objects.get(code="hot_work").pk))
    page.select_option("#id_level", "level2")
    page.select_option("#id_site", str(site.pk))
    page.select_option("#id_hot_work_method", "welding")
    page.fill("#id_height_m", "0")
    page.fill("#id_person_0", allowed.id_number)
    page.select_option("#id_role_0", "worker")
    page.fill("#id_person_1", refused.id_number)
    page.select_option("#id_role_1", "worker")
    journey.check("form")
    page.get_by_role("button", name=_zh("Check")).click()
    no = page.locator("#result li[data-allowed='false']")
    no.wait_for()
    assert refused.name in no.inner_text()
    # The clause of the catalogue row that said no: Order No. 30's list of special operations.
    assert "安监总局令第30号" in no.locator(".sw-clause").first.inner_text()
    yes = page.locator("#result li[data-allowed='true']")
    assert allowed.name in yes.inner_text()
    journey.check("result")
    journey.finish()


def _ledger_with_three_bad_rows(department: str) -> bytes:
    today = timezone.localdate()
    rows = [BENCH_HEADER]
    for i, (number, name) in enumerate(identities(5, seed=3)):
        issued = today - dt.timedelta(days=100)
        until = today + dt.timedelta(days=900)
        rows.append(
            [i + 1, name, number, department, "熔化焊接与热切割作业", f"{number[:6]}{i:08d}"]
            + [issued, issued, until, "测试发证机关"]
        )
    good = rows[3][2]
    rows[3][2] = good[:-1] + ("1" if good[-1] == "0" else "0")  # wrong check character
    rows[4][4] = "不存在的作业"  # no such item
    rows[5][8] = "明天"  # not a date
    return xlsx_bytes(rows)


def test_ledger_import_with_three_bad_rows_and_their_error_file(page, demo_live, width, tmp_path):
    journey, logins = _journey(page, demo_live, "ledger-import", width)
    officer = User.objects.get(username="demo_safety_officer")
    site = officer.grants.get().site
    department = Department.objects.filter(site=site).order_by("pk").first()
    ledger = tmp_path / "台账.xlsx"
    ledger.write_bytes(_ledger_with_three_bad_rows(department.name))

    journey.login("demo_safety_officer", logins["demo_safety_officer"][1])
    journey.go("/imports/")
    page.set_input_files("#id_file", str(ledger))
    page.select_option("#id_site", str(site.pk))
    page.check("#id_valid_rows_only")
    journey.check("upload")
    page.get_by_role("button", name=_zh("Upload")).click()
    page.wait_for_url("**/imports/*/")
    page.locator("[data-status='succeeded']").wait_for()
    assert page.locator("#error-rows").inner_text() == "3"
    assert page.locator("progress").get_attribute("value") == "100"
    journey.check("result")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=_zh("Download the error file")).click()
    saved = tmp_path / "errors.xlsx"
    download_info.value.save_as(saved)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(saved.read_bytes()))
    rows = sheet.get_sheet_by_index(0).to_python()
    cells = {str(r[2]) for r in rows[1:] if len(r) > 2}
    assert {"C4", "E5", "I6"} <= cells
    journey.finish()


def test_contractor_manager_cannot_open_another_contractors_person(page, demo_live, width):
    journey, logins = _journey(page, demo_live, "contractor", width)
    own_id = User.objects.get(username="demo_contractor_manager").grants.get().contractor_id
    other_id = User.objects.get(username="demo_contractor_manager_2").grants.get().contractor_id
    other = Person.objects.filter(current_employment__contractor_id=other_id).first()

    journey.login("demo_contractor_manager", logins["demo_contractor_manager"][1])
    journey.go("/contractor/")
    journey.check("portal")
    names = page.locator("table").last.inner_text()
    assert Person.objects.filter(current_employment__contractor_id=own_id).first().name in names
    journey.expected_errors.append("404")  # the browser logs the refused page's status
    response = journey.go(f"/persons/{other.pk}/")
    assert response.status == 404
    assert page.locator("h1").inner_text() == _zh("Not found")
    assert other.name not in page.content()
    journey.check("refused")
    journey.finish()

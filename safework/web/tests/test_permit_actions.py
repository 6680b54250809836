"""Acting on permits from the pages: the approvals inbox (only my steps; signature and position;
someone else's step refused) and the permit page's actions, whose refusals show every reason
with its clause. Concurrency is the services' (permits/tests/test_concurrency.py)."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from safework.accounts.models import User
from safework.accounts.tests.factories import RoleGrantFactory
from safework.org.tests.factories import SiteFactory
from safework.permits import services
from safework.permits.models import Alarm, GasTest, Signature, StepStatus
from safework.permits.tests.world import (
    OFF_SITE,
    ON_SITE,
    D,
    approve_all,
    at,
    build_world,
    create,
)
from safework.qualification import engine as qualification

pytestmark = pytest.mark.django_db
SUBMITTED = at(D - dt.timedelta(days=1), 10)
SIGNING = at(D - dt.timedelta(days=1), 11)
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChw"
    "GA60e6kgAAAABJRU5ErkJggg=="
)


def _zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


@pytest.fixture
def w(catalogue):
    qualification.clear_caches()
    with time_machine.travel(at(D - dt.timedelta(days=1), 8), tick=False):
        yield build_world()


@pytest.fixture
def submitted(w):
    permit = services.submit(create(w), w.user("applicant"), at=SUBMITTED)
    assert permit.status == "in_approval"
    return permit


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _position(prefix: str, where: dict) -> dict:
    return {
        f"{prefix}-lat": where["lat"],
        f"{prefix}-lon": where["lon"],
        f"{prefix}-accuracy_m": where["accuracy_m"],
    }


def _text(response) -> str:
    return response.content.decode()


def _step(permit):
    return services.current_step(permit)


def test_the_inbox_shows_only_the_steps_i_may_sign(w, submitted):
    step = _step(submitted)
    with time_machine.travel(SIGNING, tick=False):
        mine = _client(w.user("workshop")).get("/approvals/")
        theirs = _client(w.user("safety_head")).get("/approvals/")
        applicants = _client(w.user("applicant")).get("/approvals/")
    assert mine.status_code == 200
    assert f'data-step="{step.pk}"' in _text(mine) and submitted.number in _text(mine)
    # The head of safety signs the next step, not this one; nobody approves their own permit.
    assert "data-step=" not in _text(theirs)
    assert "data-step=" not in _text(applicants)
    # The navigation counts the steps waiting.
    assert re.search(r'href="/approvals/"[^>]*>.*?badge[^>]*>1<', _text(mine), re.S)


def test_an_overdue_step_is_marked(w, submitted):
    step = _step(submitted)
    assert step.due_at is not None
    with time_machine.travel(step.due_at + dt.timedelta(minutes=1), tick=False):
        page = _client(w.user("workshop")).get("/approvals/")
    card = _text(page).split(f'data-step="{step.pk}"')[1]
    assert _zh("overdue") in card.split("</article>")[0]


def test_approve_with_a_drawn_signature_on_site(w, submitted):
    step = _step(submitted)
    data = {
        f"a{step.pk}-image": PNG,
        f"a{step.pk}-note": "同意",
        **_position(f"a{step.pk}", ON_SITE),
    }
    with time_machine.travel(SIGNING, tick=False):
        response = _client(w.user("workshop")).post(f"/approvals/{step.pk}/approve/", data)
    assert response.status_code == 302 and response["Location"] == "/approvals/"
    step.refresh_from_db()
    assert step.status == StepStatus.APPROVED
    signature = Signature.objects.get(step=step)
    assert (signature.image, signature.on_site, signature.note) == (PNG, True, "同意")
    assert signature.user == w.user("workshop")


def test_approve_confirmed_off_site_is_refused_with_its_clause_and_alarm_30(w, submitted):
    step = _step(submitted)
    data = {f"a{step.pk}-confirm": "on", **_position(f"a{step.pk}", OFF_SITE)}
    with time_machine.travel(SIGNING, tick=False):
        response = _client(w.user("workshop")).post(f"/approvals/{step.pk}/approve/", data)
    assert response.status_code == 409
    text = _text(response)
    assert 'data-code="sign.off_site"' in text and "AQ 3064.2-2025 5.5.2" in text
    assert Alarm.objects.filter(permit=submitted, alarm_type__code="30").exists()
    step.refresh_from_db()
    assert step.status == StepStatus.PENDING


def test_approve_needs_a_signature_drawn_or_confirmed(w, submitted):
    step = _step(submitted)
    with time_machine.travel(SIGNING, tick=False):
        response = _client(w.user("workshop")).post(
            f"/approvals/{step.pk}/approve/", _position(f"a{step.pk}", ON_SITE)
        )
    assert response.status_code == 422
    assert _zh("Draw your signature or tick the confirmation.") in _text(response)
    assert not Signature.objects.filter(step=step).exists()


def test_someone_else_cannot_approve(w, submitted):
    step = _step(submitted)
    data = {f"a{step.pk}-confirm": "on", **_position(f"a{step.pk}", ON_SITE)}
    url = f"/approvals/{step.pk}/approve/"
    elsewhere = User.objects.create(username="elsewhere")
    RoleGrantFactory(user=elsewhere, role="workshop_head", site=SiteFactory())
    with time_machine.travel(SIGNING, tick=False):
        gas_tester = _client(w.user("tester")).post(url, data)  # may not approve at all
        applicant = _client(w.user("applicant")).post(url, data)  # their own permit
        stranger = _client(elsewhere).post(url, data)  # another site's: no such permit
        next_step = _client(w.user("safety_head")).post(url, data)  # not this step's role
    assert (gas_tester.status_code, applicant.status_code, stranger.status_code) == (403, 403, 404)
    assert next_step.status_code == 409
    assert 'data-code="sign.not_approver"' in _text(next_step)
    assert not Signature.objects.filter(step=step).exists()


def test_reject_without_a_reason_is_a_form_error_in_chinese(w, submitted):
    step = _step(submitted)
    with time_machine.travel(SIGNING, tick=False):
        response = _client(w.user("workshop")).post(
            f"/approvals/{step.pk}/reject/", {f"r{step.pk}-reason": "  "}
        )
    assert response.status_code == 422
    message = _zh("Give the reason for rejecting.")
    assert message != "Give the reason for rejecting." and message in _text(response)
    submitted.refresh_from_db()
    assert submitted.status == "in_approval"


def test_reject_with_a_reason_sends_it_back(w, submitted):
    step = _step(submitted)
    with time_machine.travel(SIGNING, tick=False):
        response = _client(w.user("workshop")).post(
            f"/approvals/{step.pk}/reject/", {f"r{step.pk}-reason": "盲板位置不清"}
        )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "rejected"


@pytest.fixture
def approved(w, submitted):
    permit = approve_all(w, submitted, when=SIGNING)
    assert permit.status == "approved"
    return permit


def _gas(w, value, *, point="动火点"):
    return {
        "gas_test-point": point,
        "gas_test-gas": "combustible",
        "gas_test-value": value,
        "gas_test-unit": "%vol",
        "gas_test-lel_percent": "5.0",
        "gas_test-instrument": "GD-01",
        "gas_test-calibrated_on": (D - dt.timedelta(days=30)).isoformat(),
        "gas_test-tester": w.tester.pk,
        **_position("gas_test", ON_SITE),
    }


def test_a_failing_gas_test_is_shown_with_its_clause(w, approved):
    url = f"/work-permits/{approved.pk}/do/gas_test/"
    with time_machine.travel(at(D, 9), tick=False):
        client = _client(w.user("tester"))
        response = client.post(url, _gas(w, "0.8"), follow=True)
    test = GasTest.objects.get(permit=approved)
    assert test.passed is False and test.clause
    text = _text(response)
    assert response.status_code == 200 and _zh("failed") in text and test.clause in text
    assert Alarm.objects.filter(permit=approved, alarm_type__code="02").exists()


def test_start_without_a_gas_test_is_refused_with_the_reason_and_clause(w, approved):
    with time_machine.travel(at(D, 10), tick=False):
        response = _client(w.user("applicant")).post(
            f"/work-permits/{approved.pk}/do/start/",
            {"start-wind_force": "2", **_position("start", ON_SITE)},
        )
    assert response.status_code == 409
    text = _text(response)
    reasons = re.findall(r'data-code="([^"]+)">(.*?)</li>', text, re.S)
    gas = [body for code, body in reasons if code == "gas.missing"]
    assert gas and "GB 30871-2022" in gas[0]
    approved.refresh_from_db()
    assert approved.status == "approved"


def test_the_permit_page_offers_only_what_i_may_do(w, approved):
    with time_machine.travel(at(D, 9), tick=False):
        tester = _text(_client(w.user("tester")).get(f"/work-permits/{approved.pk}/"))
        officer = _text(_client(w.user("officer")).get(f"/work-permits/{approved.pk}/"))
    assert 'data-action="gas_test"' in tester and 'data-action="start"' in tester
    assert 'data-action="cancel"' not in tester  # a gas tester does not apply for permits
    assert 'data-action="cancel"' in officer
    assert 'data-action="accept"' not in officer  # only once the work is complete


def test_a_measure_named_for_someone_else_is_refused_with_its_clause(w, approved):
    measure = approved.measures.order_by("order").first()
    measure.confirmer = w.welder
    measure.save()
    with time_machine.travel(at(D, 9), tick=False):
        response = _client(w.user("applicant")).post(
            f"/work-permits/{approved.pk}/do/measures/",
            {"measures-everything": "1", **_position("measures", ON_SITE)},
        )
    assert response.status_code == 409
    assert 'data-code="measures.not_confirmer"' in _text(response)
    assert not approved.measures.exclude(confirmed_at=None).exists()


def test_the_whole_checklist_then_the_work_runs_to_its_close(w, approved):
    start = at(D, 10)
    applicant = _client(w.user("applicant"))
    url = f"/work-permits/{approved.pk}/do/"
    crew = list(approved.crew.values_list("person_id", flat=True))
    first = approved.measures.order_by("order").first()
    with time_machine.travel(start - dt.timedelta(minutes=40), tick=False):
        assert applicant.post(url + "measures/", {}).status_code == 422  # nothing ticked
        r = applicant.post(url + "measures/", {"measures-measures": [first.pk]})  # one item
        assert r.status_code == 302
        first.refresh_from_db()
        assert first.confirmed_at is not None and approved.measures.filter(confirmed_at=None)
        r = applicant.post(url + "measures/", {"measures-everything": "1"})  # the rest
        assert r.status_code == 302
        assert not approved.measures.filter(confirmed_at=None).exists()
        r = applicant.post(
            url + "briefing/", {"briefing-briefer": w.leader.pk, "briefing-recipients": crew}
        )
        assert r.status_code == 302
    with time_machine.travel(start - dt.timedelta(minutes=10), tick=False):
        r = _client(w.user("tester")).post(url + "gas_test/", _gas(w, "0.1"))
        assert r.status_code == 302
        for person in crew:
            r = applicant.post(
                url + "check_in/",
                {
                    "check_in-person": person,
                    "check_in-kind": "in",
                    **_position("check_in", ON_SITE),
                },
            )
            assert r.status_code == 302
    with time_machine.travel(start, tick=False):
        r = applicant.post(url + "start/", {"start-wind_force": "2"})
        assert r.status_code == 302, _text(r)
    with time_machine.travel(start + dt.timedelta(hours=4), tick=False):
        assert applicant.post(url + "complete/", {"complete-note": "x"}).status_code == 422
        assert applicant.post(url + "complete/", {"complete-cleaned_up": "on"}).status_code == 302
        own = applicant.post(url + "accept/", {})
        assert own.status_code == 409 and 'data-code="accept.own_permit"' in _text(own)
        assert _client(w.user("workshop")).post(url + "accept/", {}).status_code == 302
        assert applicant.post(url + "close/", {}).status_code == 302
    approved.refresh_from_db()
    assert approved.status == "closed"


def test_the_inbox_reads_a_constant_number_of_queries(w):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> tuple[int, int]:
        with time_machine.travel(SIGNING, tick=False):
            client = _client(w.user("workshop"))
            with CaptureQueriesContext(connection) as ctx:
                page = client.get("/approvals/")
        return len(ctx.captured_queries), _text(page).count("data-step=")

    services.submit(create(w), w.user("applicant"), at=SUBMITTED)
    one = count()
    for _ in range(3):
        services.submit(create(w), w.user("applicant"), at=SUBMITTED)
    four = count()
    assert (one[1], four[1]) == (1, 4)
    assert one[0] == four[0] and one[0] > 0


def test_someone_else_cannot_act_on_the_permit_page(w, approved):
    url = f"/work-permits/{approved.pk}/do/"
    elsewhere = User.objects.create(username="elsewhere")
    RoleGrantFactory(user=elsewhere, role="safety_officer", site=SiteFactory())
    inspector = User.objects.create(username="inspector")
    RoleGrantFactory(user=inspector, role="inspector", site=w.site)
    with time_machine.travel(at(D, 9), tick=False):
        stranger = _client(elsewhere).post(url + "cancel/", {"cancel-reason": "x"})
        reader = _client(inspector).post(url + "cancel/", {"cancel-reason": "x"})
        tester = _client(w.user("tester")).post(url + "cancel/", {"cancel-reason": "x"})
        unknown = _client(w.user("applicant")).post(url + "explode/", {})
        page = _client(inspector).get(f"/work-permits/{approved.pk}/")
    assert (stranger.status_code, reader.status_code, tester.status_code) == (404, 403, 403)
    assert unknown.status_code == 404
    assert page.status_code == 200 and "data-action=" not in _text(page)
    approved.refresh_from_db()
    assert approved.status == "approved"


def test_cancelling_needs_a_reason_in_chinese(w, approved):
    with time_machine.travel(at(D, 9), tick=False):
        response = _client(w.user("officer")).post(
            f"/work-permits/{approved.pk}/do/cancel/", {"cancel-reason": ""}
        )
    assert response.status_code == 422
    assert _zh("Give the reason.") in _text(response)

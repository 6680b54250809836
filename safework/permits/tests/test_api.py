"""The permits API: the lifecycle through HTTP, refusals with clauses, field errors, scopes, the
ledger's filters and exports."""

import datetime as dt
import io
import json

import openpyxl
import pytest
import time_machine

from safework.accounts.models import Role
from safework.accounts.tests.world import API, world_fixture
from safework.core.models import AuditRecord
from safework.permits.models import Permit
from safework.permits.tests.api_flow import (
    DRAFTED,
    END,
    OFF_SITE,
    ON_SITE,
    START,
    Flow,
    make_crew,
    ok,
)

api_world = world_fixture(catalogue=True)


@pytest.fixture
def flow(api_world, db):
    return Flow(api_world, make_crew(api_world))


def _get(flow, role, url, at=DRAFTED + dt.timedelta(hours=3)):
    with time_machine.travel(at, tick=False):
        return flow.client(role).get(url)


def test_lifecycle_from_draft_to_closed(flow):
    created = flow.create()
    assert (created["status"], created["level"], created["number"]) == ("draft", "level2", None)
    assert created["measures"] and created["risks"]  # the hot-work template
    submitted = flow.submit()
    assert submitted["status"] == "in_approval"
    assert submitted["number"].startswith("DH20260520-")  # prefix + local day of submission
    assert [s["status"] for s in submitted["steps"]] == ["pending", "waiting"]
    approved = flow.approve()
    assert approved["status"] == "approved"
    signature = approved["signatures"][0]
    assert (signature["action"], signature["role"], signature["on_site"]) == (
        "approve",
        "workshop_head",
        True,
    )
    assert signature["position"]["accuracy_m"] == ON_SITE["accuracy_m"]
    flow.prepare()
    flow.gas_test(taken_at=START - dt.timedelta(minutes=5))
    started = flow.start()
    assert started["status"] == "active"
    assert all(m["confirmed_at"] for m in started["measures"])
    assert started["gas_tests"][0]["passed"] is True
    after = END - dt.timedelta(hours=1)
    done = flow.post(Role.SAFETY_OFFICER, "/complete", {"cleaned_up": True}, at=after)
    assert done["status"] == "completed"
    accepted = flow.post(Role.WORKSHOP_HEAD, "/accept", {"note": "合格"}, at=after)
    assert accepted["status"] == "accepted"
    closed = flow.post(Role.WORKSHOP_HEAD, "/close", at=after)
    assert closed["status"] == "closed"
    kinds = [e["kind"] for e in closed["events"]]
    for kind in ("created", "submitted", "approved", "started", "completed", "closed"):
        assert kind in kinds
    assert closed["alarms"] == []


def test_the_applicant_does_not_approve_their_own_permit(flow):
    flow.create(role=Role.WORKSHOP_HEAD)
    flow.post(Role.WORKSHOP_HEAD, "/submit", at=DRAFTED + dt.timedelta(minutes=5))
    response = flow.post(
        Role.WORKSHOP_HEAD,
        "/approve",
        {"position": ON_SITE},
        at=DRAFTED + dt.timedelta(hours=1),
        status=None,
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "forbidden"


def test_no_gas_test_cannot_start_409_with_clause_and_alarm_01(flow):
    flow.to_approved()
    flow.prepare()
    response = flow.start(status=None)
    assert response.status_code == 409
    reasons = {r["code"]: r for r in response.json()["reasons"]}
    assert "gas.missing" in reasons
    assert "5.3.1" in reasons["gas.missing"]["clause"]
    # The refusal keeps its alarm (AQ 3064.2 Table A.4: 01), in the ledger and the alarm list.
    listed = ok(_get(flow, Role.SAFETY_OFFICER, f"{API}/permits?alarm_type=01", at=START))
    assert [p["id"] for p in listed["items"]] == [flow.id]
    alarms = ok(_get(flow, Role.SAFETY_OFFICER, f"{API}/alarms?alarm_type=01", at=START))
    assert [a["permit_id"] for a in alarms["items"]] == [flow.id]


def test_a_gas_sample_31_minutes_old_is_stale_30_minutes_passes(flow):
    flow.to_approved()
    flow.prepare()
    flow.gas_test(taken_at=START - dt.timedelta(minutes=1))
    at = START + dt.timedelta(minutes=31)  # the sample is 31 minutes old
    stale = flow.start(at=at, status=None)
    assert stale.status_code == 409
    assert "gas.stale" in [r["code"] for r in stale.json()["reasons"]]
    started = flow.start(at=START + dt.timedelta(minutes=29))
    assert started["status"] == "active"


def test_approval_off_site_is_409_and_alarm_30_runs_its_closed_loop(flow):
    flow.create()
    flow.submit()
    when = DRAFTED + dt.timedelta(hours=2)
    refused = flow.post(
        Role.WORKSHOP_HEAD, "/approve", {"position": OFF_SITE}, at=when, status=None
    )
    assert refused.status_code == 409
    reason = refused.json()["reasons"][0]
    assert reason["code"] == "sign.off_site"
    assert "4.11" in reason["clause"] and "5.5.2" in reason["clause"]
    officer = flow.client(Role.SAFETY_OFFICER)
    with time_machine.travel(when, tick=False):
        alarm = ok(officer.get(f"{API}/alarms?alarm_type=30&status=raised"))["items"][0]
        assert (alarm["permit_id"], alarm["status"]) == (flow.id, "raised")
        url = f"{API}/alarms/{alarm['id']}"
        assert ok(officer.post(f"{url}/acknowledge"))["status"] == "acknowledged"
        empty = officer.post(f"{url}/handle", {"note": ""})
        assert empty.status_code == 422
        assert empty.json()["errors"][0]["field"] == "note"
        handled = ok(officer.post(f"{url}/handle", {"note": "已要求到现场签字"}))
        assert (handled["status"], handled["note"]) == ("handled", "已要求到现场签字")
        assert ok(officer.post(f"{url}/clear"))["status"] == "cleared"
        again = officer.post(f"{url}/clear")
        assert again.status_code == 409
        assert again.json()["reasons"][0]["code"] == "alarm.state"
        # A worker reads no alarms; a guardian reads them but does not handle them.
        assert flow.client(Role.WORKER).get(f"{API}/alarms").status_code == 403
        assert flow.client(Role.GUARDIAN).post(f"{url}/acknowledge").status_code == 403


def test_crew_change_after_approval_sends_the_permit_back_to_approval(flow, api_world):
    from safework.qualification.tests.qualification_fixtures import member

    flow.to_approved()
    newcomer = member(api_world.site_a)
    changed = flow.post(
        Role.SAFETY_OFFICER,
        "/crew",
        {"add": [{"person_id": newcomer.pk, "role": "worker"}]},
        at=DRAFTED + dt.timedelta(hours=3),
    )
    assert changed["status"] == "in_approval"
    added = [c for c in changed["crew"] if c["person_id"] == newcomer.pk]
    assert added[0]["added_after_approval"] is True
    assert [s["round"] for s in changed["steps"] if s["status"] == "pending"] == [2]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"planned_start": "2026-05-21T09:00:00"}, "planned_start", "invalid_datetime"),
        ({"planned_end": "not a time"}, "planned_end", "invalid_datetime"),
        ({"site_id": "abc"}, "site_id", "invalid_type"),
        ({"place": 123}, "place", "invalid_type"),
        ({"crew": [{"person_id": 1}]}, "crew.0.role", "required"),
        ({"unknown": 1}, "unknown", "unknown_field"),
    ],
)
def test_bad_input_is_422_naming_the_field_in_chinese(flow, change, field, code):
    from safework.permits.tests.api_flow import body

    data = body(flow.w, flow.crew) | change
    with time_machine.travel(DRAFTED, tick=False):
        response = flow.client(Role.SAFETY_OFFICER).post(f"{API}/permits", data)
    assert response.status_code == 422, response.content
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert errors[field]["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in errors[field]["message"])
    assert not Permit.objects.exists()


def test_references_and_order_are_checked_by_the_service(flow):
    from safework.permits.tests.api_flow import body

    officer = flow.client(Role.SAFETY_OFFICER)
    data = body(flow.w, flow.crew, planned_end=(START - dt.timedelta(hours=1)).isoformat())
    data["crew"][0]["person_id"] = 987654321
    with time_machine.travel(DRAFTED, tick=False):
        response = officer.post(f"{API}/permits", data)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"planned_end", "crew.0.person_id"} <= fields
    # A level the standard does not have is refused with the clause.
    with time_machine.travel(DRAFTED, tick=False):
        unknown = officer.post(f"{API}/permits", body(flow.w, flow.crew, level="三级"))
    assert unknown.status_code == 409
    assert unknown.json()["reasons"][0]["code"] == "work.level.unknown"
    assert unknown.json()["reasons"][0]["clause"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/permits/abc", 422),
        ("/permits/99999999999999999999", 422),
        ("/permits/987654321", 404),
        ("/permits/987654321/history.xlsx", 404),
        ("/permits?status=nonsense", 422),
        ("/permits?date_from=2026-13-01", 422),
        ("/permits?contractor=maybe", 422),
        ("/alarms?status=lost", 422),
    ],
)
def test_bad_ids_and_filters_are_never_500(api_world, db, path, status):
    response = api_world.clients[Role.SAFETY_OFFICER].get(f"{API}{path}")
    assert response.status_code == status, response.content


def test_malformed_body_is_400(api_world, db):
    client = api_world.clients[Role.SAFETY_OFFICER]
    response = client.post(f"{API}/permits", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_another_contractors_permit_is_404(api_world, db):
    crew = make_crew(api_world, contractor=api_world.contractor_x)
    flow = Flow(api_world, crew)
    created = flow.create(role=Role.CONTRACTOR_MANAGER, contractor_id=api_world.contractor_x.pk)
    own = api_world.clients[Role.CONTRACTOR_MANAGER]
    other = api_world.clients["other_manager"]
    url = f"{API}/permits/{created['id']}"
    with time_machine.travel(DRAFTED, tick=False):
        assert own.get(url).status_code == 200
        for response in (
            other.get(url),
            other.get(f"{url}/history"),
            other.patch(url, {"place": "别处"}),
            other.post(f"{url}/cancel", {"reason": "不是我的"}),
        ):
            assert response.status_code == 404, response.content
            assert response.json()["errors"][0]["code"] == "not_found"
        assert ok(other.get(f"{API}/permits"))["total"] == 0
        # A worker who is not on the crew does not see it either.
        assert api_world.clients[Role.WORKER].get(url).status_code == 404
        # Applying for another contractor is outside the manager's scope.
        refused = other.post(
            f"{API}/permits",
            __import__("safework.permits.tests.api_flow", fromlist=["body"]).body(
                api_world, crew, contractor_id=api_world.contractor_x.pk, work_unit_id=None
            ),
        )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "out_of_scope"


def test_cancel_needs_a_reason(flow):
    flow.create()
    response = flow.post(Role.SAFETY_OFFICER, "/cancel", {"reason": ""}, at=DRAFTED, status=None)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"
    cancelled = flow.post(Role.SAFETY_OFFICER, "/cancel", {"reason": "计划取消"}, at=DRAFTED)
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "计划取消")


def test_preview_level_derives_and_upgrades_as_you_type(api_world, db):
    client = api_world.clients[Role.SAFETY_OFFICER]

    def preview(start, **inputs):
        return ok(
            client.post(
                f"{API}/permits/preview-level",
                {
                    "work_type": "hot_work",
                    "site_id": api_world.site_a.pk,
                    "area_id": api_world.area_a.pk,
                    "planned_start": start.isoformat(),
                    "planned_end": (start + dt.timedelta(hours=4)).isoformat(),
                    "inputs": inputs,
                },
            )
        )

    weekday = preview(START)  # Thursday 21 May 2026, 09:00–13:00
    assert (weekday["level"], weekday["upgraded"]) == ("level2", False)
    assert preview(START, pipe_rack=True)["level"] == "level1"
    saturday = preview(START + dt.timedelta(days=2))  # 23 May 2026
    assert "rest_day" in saturday["kinds"]
    assert (saturday["derived"], saturday["level"], saturday["upgraded"]) == (
        "level2",
        "level1",
        True,
    )
    bad = client.post(f"{API}/permits/preview-level", {"work_type": "hot_work"})
    assert bad.status_code == 422


def test_delegation_only_to_someone_holding_the_role(api_world, db):
    from safework.accounts.tests.world import grant, make_user

    head = api_world.clients[Role.WORKSHOP_HEAD]
    body = {
        "to_user_id": api_world.users[Role.WORKER].pk,
        "role": "workshop_head",
        "site_id": api_world.site_a.pk,
        "starts_at": "2026-05-20T08:00:00+08:00",
        "ends_at": "2026-05-21T08:00:00+08:00",
    }
    refused = head.post(f"{API}/delegations", body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "to"
    deputy = make_user("deputy-head")
    grant(deputy, Role.WORKSHOP_HEAD, site=api_world.site_a)
    created = ok(head.post(f"{API}/delegations", body | {"to_user_id": deputy.pk}), 201)
    assert (created["delegate_id"], created["role"]) == (deputy.pk, "workshop_head")
    naive = head.post(f"{API}/delegations", body | {"starts_at": "2026-05-20T08:00:00"})
    assert naive.status_code == 422


# ---- the ledger (AQ 3064.2 §5.11) -------------------------------------------------------------


@pytest.fixture
def ledger(api_world, db):
    """Three permits: A (hot work, own team, in area A, draft, alarm 30), B (a contractor's road
    closure, 25 May), C (hot work of another crew, approved, number DH20260520-099, ends at END)."""
    from safework.permits import alarms
    from safework.permits.tests.api_flow import body

    w = api_world
    a = Flow(w, make_crew(w))
    a.create()
    b = Flow(w, make_crew(w, contractor=w.contractor_x))
    road = body(
        w,
        b.crew,
        work_type="road_closure",
        area_id=None,
        place="厂区一路",
        work_unit_id=None,
        contractor_id=w.contractor_x.pk,
        planned_start="2026-05-25T09:00:00+08:00",
        planned_end="2026-05-25T17:00:00+08:00",
        fields={"section": "一路"},
        inputs={},
    )
    with time_machine.travel(DRAFTED, tick=False):
        b.id = ok(w.clients[Role.CONTRACTOR_MANAGER].post(f"{API}/permits", road), 201)["id"]
    c = Flow(w, make_crew(w))
    c.create(place="乙罐区 T-2 储罐")
    Permit.objects.filter(pk=c.id).update(status="approved", number="DH20260520-099")
    alarms.raise_alarm(
        "30", permit=Permit.objects.get(pk=a.id), at=DRAFTED, message="审批人不在现场"
    )
    return w, a, b, c


def _ids(client, query, at):
    with time_machine.travel(at, tick=False):
        out = ok(client.get(f"{API}/permits?{query}&limit=500"))
    assert out["total"] == len(out["items"])
    return {p["id"] for p in out["items"]}


def test_each_ledger_filter(ledger):
    w, a, b, c = ledger
    officer = w.clients[Role.SAFETY_OFFICER]
    at = END + dt.timedelta(hours=1)  # C is past its planned end: expired when read
    cases = {
        "status=draft": {a.id, b.id},
        "status=expired": {c.id},
        "status=approved": set(),
        "work_type=road_closure": {b.id},
        "level=level2": {a.id, c.id},
        f"site_id={w.site_a.pk}": {a.id, b.id, c.id},
        f"site_id={w.site_b.pk}": set(),
        f"area_id={w.area_a.pk}": {a.id, c.id},
        f"applicant_id={w.users[Role.CONTRACTOR_MANAGER].pk}": {b.id},
        f"work_unit_id={w.dept_w.pk}": {a.id, c.id},  # W's subtree holds team T
        "contractor=own": {a.id, c.id},
        "contractor=contractor": {b.id},
        f"contractor_id={w.contractor_x.pk}": {b.id},
        f"contractor_id={w.contractor_y.pk}": set(),
        f"person_id={a.crew.welder.pk}": {a.id},  # a crew member
        f"person_id={c.crew.lead.pk}": {c.id},  # the work leader
        "alarm_type=30": {a.id},
        "alarm_type=01": set(),
        "date_from=2026-05-22": {b.id},
        "date_to=2026-05-21": {a.id, c.id},
        "date_from=2026-05-21&date_to=2026-05-21": {a.id, c.id},
        "q=泵房": {a.id},
        "q=DH20260520": {c.id},
        "q=储罐": {c.id},
        "status=draft&contractor=own": {a.id},
    }
    for query, expected in cases.items():
        assert _ids(officer, query, at) == expected, query


def test_expired_in_the_ledger_agrees_with_status_at_on_the_boundary(ledger):
    w, a, b, c = ledger
    officer = w.clients[Role.SAFETY_OFFICER]
    permit = Permit.objects.get(pk=c.id)
    for at, status in (
        (END - dt.timedelta(seconds=1), "approved"),
        (END, "expired"),  # "valid until END": at END it no longer is
    ):
        assert permit.status_at(at) == status
        assert _ids(officer, f"status={status}", at) & {c.id} == {c.id}
        other = "expired" if status == "approved" else "approved"
        assert c.id not in _ids(officer, f"status={other}", at)
        with time_machine.travel(at, tick=False):
            item = ok(officer.get(f"{API}/permits/{c.id}"))
        assert (item["status"], item["stored_status"]) == (status, "approved")


def test_the_ledger_is_one_query_and_a_count(ledger):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w, a, b, c = ledger
    officer = w.clients[Role.SAFETY_OFFICER]
    url = f"{API}/permits?alarm_type=30&person_id={a.crew.welder.pk}&status=draft&q=泵"
    officer.get(url)  # the session and grants are read once per request either way
    with time_machine.travel(END, tick=False), CaptureQueriesContext(connection) as ctx:
        out = ok(officer.get(url))
    assert [p["id"] for p in out["items"]] == [a.id]
    on_permits = [q["sql"] for q in ctx.captured_queries if '"permits_permit"' in q["sql"]]
    # A COUNT per way the officer sees permits (the site's; the ones they applied for), one page.
    assert len(on_permits) == 3, on_permits


def test_the_ledger_page_and_total_are_those_of_the_plain_query(ledger):
    """Counted and paged per way of visibility (site, department, contractor, crew, applicant),
    the ledger lists what the plain OR-ed query lists, in its order, at every offset."""
    from safework.accounts.scope import scope_for
    from safework.permits import queries
    from safework.permits.permissions import PERMITS

    w, a, b, c = ledger
    at = END + dt.timedelta(hours=1)
    filters = [
        queries.LedgerFilter(),
        queries.LedgerFilter(status="draft"),
        queries.LedgerFilter(status="expired"),
        queries.LedgerFilter(work_type="hot_work", level="level2"),
        queries.LedgerFilter(level="level2"),
        queries.LedgerFilter(contractor="contractor"),
        queries.LedgerFilter(person_id=a.crew.welder.pk),
    ]
    seen = set()
    for user in w.users.values():
        scope = scope_for(user, PERMITS)
        if scope is None:  # no grant to read permits
            continue
        plain_qs = queries.permits_visible_to(scope, user)
        for f in filters:
            plain = list(queries.ledger(plain_qs, f, at=at).values_list("pk", flat=True))
            for offset, limit in ((0, 1), (0, 2), (1, 1), (1, 5), (2, 1), (5, 1)):
                total, rows = queries.ledger_list(scope, user, f, at=at, offset=offset, limit=limit)
                assert total == len(plain), (user.username, f)
                assert [p.pk for p in rows] == plain[offset : offset + limit], (user, f, offset)
                assert all(hasattr(p, "status_now") for p in rows)
            seen |= set(plain)
    assert seen == {a.id, b.id, c.id}


def test_the_ledger_export_opens_with_openpyxl(ledger):
    w, a, b, c = ledger
    officer = w.clients[Role.SAFETY_OFFICER]
    with time_machine.travel(END, tick=False):
        response = officer.get(f"{API}/permits/export.xlsx?contractor=own")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3  # the header and A and C
    assert {r[0] for r in rows[1:]} == {None, "DH20260520-099"}  # a draft has no number
    assert "乙罐区 T-2 储罐" in {r[6] for r in rows[1:]}


def test_the_history_export_carries_the_audit_hashes(flow):
    flow.to_approved()
    flow.post(
        Role.SAFETY_OFFICER,
        "/gas-tests",
        {
            "taken_at": (START - dt.timedelta(minutes=50)).isoformat(),
            "point": "动火点",
            "gas": "combustible",
            "value": "0.6",
            "unit": "%vol",
            "lel_percent": "5",
            "instrument": "PID-007",
            "calibrated_on": "2026-05-01",
            "tester_id": flow.crew.tester.pk,
            "position": ON_SITE,
        },
        at=START - dt.timedelta(minutes=45),
        status=201,
    )
    expected = list(
        AuditRecord.objects.filter(object_type="permits.permit", object_id=str(flow.id))
        .order_by("seq")
        .values_list("seq", "hash", "prev_hash")
    )
    assert len(expected) >= 4  # created, submitted, routed, signed, approved, gas test …
    client = flow.client(Role.INSPECTOR)
    with time_machine.travel(START, tick=False):
        data = json.loads(client.get(f"{API}/permits/{flow.id}/history").content)
        book = client.get(f"{API}/permits/{flow.id}/history.xlsx")
    assert [(r["seq"], r["hash"], r["prev_hash"]) for r in data["audit"]] == expected
    signature = data["signatures"][0]
    assert float(signature["position"]["lat"]) == ON_SITE["lat"]
    assert [t["passed"] for t in data["gas_tests"]] == [False]  # 0.6 > 0.5 %vol (LEL ≥ 4 %)
    assert "02" in {a["code"] for a in data["alarms"]}
    assert book.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(book.content))
    cells = {v for row in wb.worksheets[-1].iter_rows(values_only=True) for v in row}
    assert {h for _s, h, _p in expected} <= cells
    assert len(wb.worksheets) == 12


def test_suspended_work_resumes_only_after_a_new_gas_analysis(flow):
    flow.to_active()
    pause = START + dt.timedelta(hours=1)
    suspended = flow.post(Role.SAFETY_OFFICER, "/suspend", {"reason": "交叉作业"}, at=pause)
    assert suspended["status"] == "suspended"
    back = pause + dt.timedelta(minutes=20)
    refused = flow.post(Role.SAFETY_OFFICER, "/resume", at=back, status=None)
    assert refused.status_code == 409
    assert "gas.resume_missing" in [r["code"] for r in refused.json()["reasons"]]
    alarms = ok(_get(flow, Role.SAFETY_OFFICER, f"{API}/alarms?permit_id={flow.id}", at=back))
    assert [a["code"] for a in alarms["items"]] == ["03"]  # not re-analysed after the pause
    flow.gas_test(taken_at=back - dt.timedelta(minutes=2), at=back)
    assert flow.post(Role.SAFETY_OFFICER, "/resume", at=back)["status"] == "active"


def test_rejected_permit_is_revised_edited_and_submitted_again(flow):
    flow.create()
    flow.submit()
    when = DRAFTED + dt.timedelta(hours=1)
    # The check before the start is not an approval step: /sign refuses while approval is open.
    early = flow.post(Role.TEAM_LEADER, "/sign", {"position": ON_SITE}, at=when, status=None)
    assert early.status_code == 409
    assert early.json()["reasons"][0]["code"] == "step.none"
    rejected = flow.post(Role.WORKSHOP_HEAD, "/reject", {"reason": "措施不全"}, at=when)
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "措施不全")
    draft = flow.post(Role.SAFETY_OFFICER, "/revise", at=when)
    assert draft["status"] == "draft"
    with time_machine.travel(when, tick=False):
        edited = ok(flow.client(Role.SAFETY_OFFICER).patch(flow.url(), {"equipment": "电焊机"}))
    assert edited["equipment"] == "电焊机"
    again = flow.post(Role.SAFETY_OFFICER, "/submit", at=when)
    assert again["status"] == "in_approval"
    assert again["number"] == draft["number"]  # numbers are never reused or redrawn
    assert {s["round"] for s in again["steps"] if s["status"] == "pending"} == {2}


def test_a_measure_is_confirmed_with_an_attached_photo_as_evidence(flow, api_world):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    flow.create()
    flow.submit()
    flow.approve()
    client = flow.client(Role.SAFETY_OFFICER)
    before = START - dt.timedelta(minutes=40)
    with time_machine.travel(before, tick=False):
        photo = Client.post(
            client, flow.url("/attachments"), {"file": SimpleUploadedFile("现场.jpg", b"\xff\xd8")}
        ).json()["id"]
        drawing = Client.post(
            client, flow.url("/attachments"), {"file": SimpleUploadedFile("图.pdf", b"%PDF")}
        ).json()["id"]
        measures = ok(client.get(flow.url()))["measures"]
    first, second = measures[0]["id"], measures[1]["id"]
    confirm = f"/measures/{first}/confirm"
    # Not an image, or not this permit's: refused, naming the field; nothing confirmed.
    for attachment_id, code in ((drawing, "file_type"), (987654, "not_found")):
        refused = flow.post(
            Role.SAFETY_OFFICER,
            confirm,
            {"photo_attachment_id": attachment_id},
            at=before,
            status=None,
        )
        assert refused.status_code == 422, refused.content
        assert refused.json()["errors"][0]["field"] == "photo_attachment_id"
        assert refused.json()["errors"][0]["code"] == code
    out = flow.post(Role.SAFETY_OFFICER, confirm, {"photo_attachment_id": photo}, at=before)
    by_id = {m["id"]: m for m in out["measures"]}
    assert by_id[first]["confirmed_at"] is not None
    assert by_id[first]["photo"].startswith("permits/attachments/")
    assert by_id[first]["photo"].endswith(".jpg")
    # The photo stays optional.
    out = flow.post(Role.SAFETY_OFFICER, f"/measures/{second}/confirm", at=before)
    by_id = {m["id"]: m for m in out["measures"]}
    assert by_id[second]["confirmed_at"] is not None and by_id[second]["photo"] is None


def test_attachments_upload_list_download_and_hostile_files(flow):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    flow.create()
    client = flow.client(Role.SAFETY_OFFICER)
    url = flow.url("/attachments")
    pdf = SimpleUploadedFile("盲板图.pdf", b"%PDF-1.4 x")
    with time_machine.travel(DRAFTED, tick=False):
        ok_ = Client.post(client, url, {"file": pdf, "kind": "drawing"})  # multipart
        assert ok_.status_code == 201, ok_.content
        assert ok_.json()["name"] == "盲板图.pdf" and ok_.json()["bytes"] == 10
        listed = client.get(url).json()
        assert [a["kind"] for a in listed] == ["drawing"]
        got = client.get(f"{url}/{listed[0]['id']}")
        assert got.status_code == 200 and b"".join(got.streaming_content) == b"%PDF-1.4 x"
        bad = Client.post(client, url, {"file": SimpleUploadedFile("run.exe", b"MZ")})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "file"
        empty = Client.post(client, url, {"file": SimpleUploadedFile("空.pdf", b"")})
        assert empty.status_code == 422
        assert client.get(f"{url}/999999").status_code == 404
        other = flow.client("other_manager").get(url)
        assert other.status_code == 404

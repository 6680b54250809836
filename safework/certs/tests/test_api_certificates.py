"""The certificate and catalogue REST API: scope, status on a date, life cycle actions, errors."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.certs import services
from safework.certs.models import Certificate, Verification
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.models import AuditRecord
from safework.people.masking import mask_id_number

api_world = world_fixture(catalogue=True)
D = dt.date
ORDER30 = "安监总局令第30号 第十九条、第二十一条、第二十二条"
TSG = "TSG Z6001-2019 第二十二条、第二十五条"


@pytest.fixture
def w(api_world, db):
    """The world plus certificates: own staff at site A (p_own), site B (p_b), contractor X."""
    weld, n1 = item("special_operation", "2.1"), item("special_equipment", "N1")
    api_world.c_own = services.create_certificate(
        person=api_world.p_own,
        scheme=weld.scheme,
        item=weld,
        number="OWN-1",
        issued_on=D(2023, 5, 31),  # review due 2026-05-31; expires 2029-05-30
    )
    api_world.c_b = CertificateFactory(
        item=weld,
        person=api_world.p_b,
        number="B-1",
        valid_until=D(2026, 11, 30),
        verification=Verification.VERIFIED,
    )
    api_world.c_x = CertificateFactory(
        item=n1,
        person=api_world.p_x,
        number="X-1",
        issued_on=D(2022, 12, 1),
        valid_until=D(2026, 11, 30),
        verification=Verification.VERIFIED,
    )
    return api_world


def client(w, role):
    return client_for(w.users[role])


def numbers(response):
    assert response.status_code == 200, response.content
    return sorted(row["number"] for row in response.json()["items"])


# --- reading ---------------------------------------------------------------------------------


def test_list_is_scoped_per_role(w):
    url = f"{API}/certificates"
    assert numbers(client(w, Role.ADMINISTRATOR).get(url)) == ["B-1", "OWN-1", "X-1"]
    assert numbers(client(w, Role.SAFETY_OFFICER).get(url)) == ["OWN-1", "X-1"]  # site A
    assert numbers(client(w, Role.CONTRACTOR_MANAGER).get(url)) == ["X-1"]
    assert numbers(client(w, "other_manager").get(url)) == []
    assert numbers(client(w, Role.TEAM_LEADER).get(url)) == ["OWN-1"]
    assert client(w, "stranger").get(url).status_code == 403
    assert client_for().get(url).status_code == 401


def test_status_on_a_date_filters_and_pagination(w):
    c = client(w, Role.ADMINISTRATOR)
    body = c.get(f"{API}/certificates?on=2026-12-01&status=expired").json()
    assert body["total"] == 2
    assert {r["number"] for r in body["items"]} == {"B-1", "X-1"}
    row = body["items"][0]
    assert (row["on"], row["status"], row["usable"], row["colour"], row["days_left"]) == (
        "2026-12-01",
        "expired",
        False,
        "red",
        -1,
    )
    body = c.get(f"{API}/certificates?on=2026-06-01&colour=red").json()
    assert [(r["number"], r["status"]) for r in body["items"]] == [("OWN-1", "review_overdue")]
    body = c.get(f"{API}/certificates?on=2026-11-30&usable=true&limit=1").json()
    assert (body["total"], body["limit"], len(body["items"])) == (2, 1, 1)
    assert numbers(c.get(f"{API}/certificates?on=2026-10-01&status=expiring")) == ["B-1", "X-1"]
    assert numbers(c.get(f"{API}/certificates?scheme=special_equipment")) == ["X-1"]
    assert numbers(c.get(f"{API}/certificates?item=2.1&verification=unverified")) == ["OWN-1"]
    assert numbers(c.get(f"{API}/certificates?site_id={w.site_a.pk}")) == ["OWN-1", "X-1"]
    assert numbers(c.get(f"{API}/certificates?contractor_id={w.contractor_x.pk}")) == ["X-1"]
    assert numbers(c.get(f"{API}/certificates?person_id={w.p_b.pk}")) == ["B-1"]
    assert numbers(c.get(f"{API}/certificates?number=x-1")) == ["X-1"]
    bad = c.get(f"{API}/certificates?status=fine&on=2026-13-01")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"status", "on"}


def test_list_has_a_fixed_query_budget(w):
    for n in range(20):
        CertificateFactory(item=item("special_operation", "2.2"), person=w.p_own, number=f"M{n}")
    c = client(w, Role.SAFETY_OFFICER)
    c.get(f"{API}/certificates")  # warm the session
    with CaptureQueriesContext(connection) as small:
        c.get(f"{API}/certificates?limit=2")
    with CaptureQueriesContext(connection) as large:
        body = c.get(f"{API}/certificates?limit=22").json()
    assert len(body["items"]) == 22
    assert len(large.captured_queries) == len(small.captured_queries)


def test_id_numbers_are_masked_for_roles_without_full_numbers(w):
    url = f"{API}/certificates?person_id={w.p_own.pk}"
    full = client(w, Role.SAFETY_OFFICER).get(url).json()["items"][0]["person_id_number"]
    masked = client(w, Role.TEAM_LEADER).get(url).json()["items"][0]["person_id_number"]
    assert full == w.p_own.id_number
    assert masked == mask_id_number(w.p_own.id_number) != full


def test_detail_with_events_status_reason_and_clause(w):
    c = client(w, Role.SAFETY_OFFICER)
    services.record_review(cert=w.c_own, on=D(2026, 5, 1), passed=False, note="failed")
    body = c.get(f"{API}/certificates/{w.c_own.pk}?on=2026-06-01").json()
    assert (body["status"], body["next_review_due"]) == ("review_overdue", "2026-05-31")
    assert body["reason"]["code"] == "cert.review_overdue"
    assert (body["reason"]["clause"], body["reason"]["blocking"]) == (ORDER30, True)
    assert [(e["kind"], e["passed"], e["due_on"]) for e in body["events"]] == [
        ("review", False, "2026-05-31")
    ]
    assert c.get(f"{API}/certificates/{w.c_b.pk}").status_code == 404  # site B: not visible
    assert client(w, Role.WORKER).get(f"{API}/certificates/{w.c_own.pk}").status_code == 404


def test_certificates_of_a_person(w):
    c = client(w, Role.CONTRACTOR_MANAGER)
    assert numbers(c.get(f"{API}/persons/{w.p_x.pk}/certificates")) == ["X-1"]
    assert c.get(f"{API}/persons/{w.p_own.pk}/certificates").status_code == 404
    mine = client(w, Role.WORKER)
    own = w.person_of(Role.WORKER)
    CertificateFactory(item=item("internal", "GUARDIAN"), person=own, number="G-1")
    assert numbers(mine.get(f"{API}/persons/{own.pk}/certificates")) == ["G-1"]


# --- writing ---------------------------------------------------------------------------------


def test_create_answers_201_with_status_and_is_audited(w):
    c = client(w, Role.SAFETY_OFFICER)
    payload = {
        "person_id": w.p_x.pk,
        "scheme": "special_equipment",
        "item": "Q2",
        "restriction": "mobile",
        "number": "Q2-0001",
        "issued_on": "2025-03-01",
    }
    response = c.post(f"{API}/certificates", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["valid_until"], body["status"], body["colour"]) == (
        "2029-02-28",
        "unverified",
        "yellow",
    )
    assert body["person_id_number"] == w.p_x.id_number
    last = AuditRecord.objects.order_by("-seq").first()
    assert (last.action, last.actor_id) == (
        "certs.certificate_created",
        w.users[Role.SAFETY_OFFICER].pk,
    )
    again = c.post(f"{API}/certificates", payload)
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "certificate.duplicate"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"scheme": "order30"}, "scheme", "unknown"),
        ({"item": "Q2"}, "item", "item.wrong_scheme"),
        ({"item": "ZZ"}, "item", "unknown"),
        ({"valid_until": "2020-01-01"}, "valid_until", "date.order"),
        ({"issued_on": "2025-02-30"}, "issued_on", "invalid_date"),
        ({"restriction": "tower"}, "restriction", "restriction.not_allowed"),
        ({"colour": "green"}, "colour", "unknown_field"),
    ],
)
def test_create_rejects_bad_fields_with_422(w, changes, field, code):
    payload = {
        "person_id": w.p_own.pk,
        "scheme": "special_operation",
        "item": "2.1",
        "number": "N-1",
        "issued_on": "2025-03-01",
        **changes,
    }
    response = client(w, Role.SAFETY_OFFICER).post(f"{API}/certificates", payload)
    assert response.status_code == 422, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]


def test_create_for_a_person_outside_the_scope_or_without_write(w):
    payload = {
        "person_id": w.p_b.pk,
        "scheme": "special_operation",
        "item": "2.1",
        "number": "N-2",
        "issued_on": "2025-03-01",
    }
    response = client(w, Role.SAFETY_OFFICER).post(f"{API}/certificates", payload)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "person_id")
    assert client(w, Role.INSPECTOR).post(f"{API}/certificates", payload).status_code == 403
    assert client(w, Role.WORKSHOP_HEAD).post(f"{API}/certificates", {}).status_code == 403


def test_patch_corrects_and_refuses_null(w):
    c = client(w, Role.SAFETY_OFFICER)
    url = f"{API}/certificates/{w.c_own.pk}"
    response = c.patch(url, {"issued_on": "2023-06-01", "valid_from": "2023-06-01"})
    assert response.status_code == 200, response.content
    assert response.json()["next_review_due"] is None  # would fall due under Order 19
    assert c.patch(url, {"valid_until": None}).status_code == 422
    assert c.patch(url, {"state": "revoked"}).status_code == 422
    assert client(w, Role.SAFETY_OFFICER).patch(
        f"{API}/certificates/{w.c_b.pk}", {}
    ).status_code == (404)


def test_review_endpoint_and_its_refusal(w):
    c = client(w, Role.SAFETY_OFFICER)
    url = f"{API}/certificates/{w.c_own.pk}/review"
    refused = c.post(url, {"on": "2026-06-01"})
    assert refused.status_code == 409
    [reason] = refused.json()["reasons"]
    assert (reason["code"], reason["clause"], reason["subject"]) == (
        "cert.review.late",
        ORDER30,
        "OWN-1",
    )
    ok = c.post(url, {"on": "2026-05-20", "note": "8 class hours"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["next_review_due"] is None
    assert ok.json()["events"][0]["kind"] == "review"


def test_extension_endpoint_and_its_refusal(w):
    c = client(w, Role.CONTRACTOR_MANAGER)
    url = f"{API}/certificates/{w.c_x.pk}/extend"
    late = c.post(url, {"on": "2026-11-01"})
    assert late.status_code == 409
    assert [(r["code"], r["clause"]) for r in late.json()["reasons"]] == [
        ("cert.extension.late", TSG)
    ]
    ok = c.post(url, {"on": "2026-10-01"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["valid_until"] == "2030-11-30"
    [event] = ok.json()["events"]
    assert (event["previous_valid_until"], event["new_valid_until"]) == ("2026-11-30", "2030-11-30")


# A renewal is recorded once it is issued: the clock stands after the new issue date (2029).
@time_machine.travel(dt.datetime(2029, 7, 1, 10, 0, tzinfo=dt.UTC), tick=False)
def test_renew_revoke_cancel_endpoints(w):
    c = client(w, Role.SAFETY_HEAD)
    renewed = c.post(
        f"{API}/certificates/{w.c_own.pk}/renew",
        {"number": "OWN-2", "issued_on": "2029-05-20", "valid_from": "2029-06-03"},
    )
    assert renewed.status_code == 201, renewed.content
    new = renewed.json()
    assert (new["predecessor_id"], new["first_issued_on"], new["valid_until"]) == (
        w.c_own.pk,
        "2023-05-31",
        "2035-06-02",
    )
    vacuum = c.get(f"{API}/certificates/{new['id']}?on=2029-06-01").json()
    assert (vacuum["status"], vacuum["predecessor_valid_until"]) == ("vacuum", "2029-05-30")
    old = c.get(f"{API}/certificates/{w.c_own.pk}").json()
    assert old["successor_id"] == new["id"]

    revoked = c.post(
        f"{API}/certificates/{new['id']}/revoke",
        {"reason": "false entries", "ground": "false_entries", "on": "2029-07-01"},
    )
    assert revoked.status_code == 200
    assert (revoked.json()["state"], revoked.json()["state_reason"]) == ("revoked", "false entries")
    again = c.post(
        f"{API}/certificates/{new['id']}/revoke", {"reason": "again", "ground": "false_entries"}
    )
    assert (again.status_code, again.json()["reasons"][0]["code"]) == (409, "cert.revoked")
    cancelled = c.post(f"{API}/certificates/{w.c_x.pk}/cancel", {"reason": "own request"})
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert c.post(f"{API}/certificates/{w.c_x.pk}/cancel", {"reason": ""}).status_code == 422
    kinds = [e["kind"] for e in c.get(f"{API}/certificates/{w.c_own.pk}").json()["events"]]
    assert kinds == ["renewal"]
    assert Certificate.objects.count() == 4


def test_writes_need_write_permission(w):
    for role in (Role.INSPECTOR, Role.WORKER, Role.TEAM_LEADER):
        response = client(w, role).post(f"{API}/certificates/{w.c_own.pk}/revoke", {"reason": "x"})
        assert response.status_code == 403, role


# --- catalogue -------------------------------------------------------------------------------


def test_catalogue_endpoints(w):
    c = client(w, Role.WORKER)
    schemes = c.get(f"{API}/catalogue/schemes").json()
    assert {s["code"] for s in schemes["items"]} == {
        "construction",
        "internal",
        "special_equipment",
        "special_operation",
    }
    items = c.get(f"{API}/catalogue/items?scheme=special_equipment&code=Q2").json()["items"]
    assert items[0]["restriction_kinds"] == [
        "bridge_gantry",
        "tower",
        "portal",
        "cable",
        "mobile",
        "hoist",
    ]
    rules = c.get(f"{API}/catalogue/rules?scheme=special_operation").json()["items"]
    assert [(r["code"], r["effective_from"], r["effective_to"]) for r in rules] == [
        ("order30-validity-review", "2010-07-01", "2026-06-01"),
        ("order19-validity-renewal", "2026-06-01", None),
    ]
    in_force = c.get(f"{API}/catalogue/rules?scheme=special_operation&on=2026-06-01").json()
    assert [r["code"] for r in in_force["items"]] == ["order19-validity-renewal"]
    assert in_force["items"][0]["clause"].startswith("应急管理部令第19号")
    guardian = c.get(f"{API}/catalogue/rules?item=GUARDIAN").json()["items"]
    assert [(r["item"], r["validity_months"]) for r in guardian] == [("GUARDIAN", 36)]
    work_types = c.get(f"{API}/catalogue/work-types").json()["items"]
    hot = next(t for t in work_types if t["code"] == "hot_work")
    assert [lv["code"] for lv in hot["levels"]] == ["level2", "level1", "special"]
    requirements = c.get(f"{API}/catalogue/requirements?work_type=hot_work").json()
    assert requirements["total"] >= 1
    assert all(r["work_type"] == "hot_work" and r["clause"] for r in requirements["items"])
    assert client(w, "stranger").get(f"{API}/catalogue/rules").status_code == 403


def test_a_number_equal_to_the_id_number_is_masked_as_the_id_number_is(w):
    """Certificates are often numbered with their holder's ID number: roles that see ID numbers
    masked see such a certificate number masked too (list, detail and its reason)."""
    full = w.p_own.id_number
    cert = CertificateFactory(
        item=item("special_operation", "2.1"),
        person=w.p_own,
        number=full,
        valid_until=D(2026, 1, 10),  # expired on the day asked: the detail has a reason
    )
    url = f"{API}/certificates/{cert.pk}?on=2026-03-02"
    for role in (Role.INSPECTOR, Role.WORKSHOP_HEAD, Role.TEAM_LEADER):
        response = client(w, role).get(url)
        assert response.status_code == 200, (role, response.content)
        body = response.json()
        assert body["number"] == mask_id_number(full), role
        assert full not in response.content.decode(), role
        listed = client(w, role).get(f"{API}/certificates").content.decode()
        assert mask_id_number(full) in listed and full not in listed, role
    officer = client(w, Role.SAFETY_OFFICER).get(url).json()
    assert officer["number"] == full
    assert officer["reason"]["subject"] == full

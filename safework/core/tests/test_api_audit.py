"""The audit trail over the API: list, filters, scope, masking, verify."""

import datetime as dt

from django.db import connection, transaction

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.core import audit
from safework.core.models import AuditRecord
from safework.core.tests.tamper import append_only_off

api_world = world_fixture()


def as_(world, role):
    return client_for(world.users[role])


def _record(action, target, actor=None, at=None):
    with transaction.atomic():
        return audit.record(action=action, target=target, actor=actor, at=at)


def test_list_is_newest_first_filtered_and_paginated(api_world, db):
    w = api_world
    base = AuditRecord.objects.count()
    t0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
    _record("people.person_updated", w.p_own, at=t0)
    _record("people.person_updated", w.p_x, at=t0 + dt.timedelta(hours=1))
    _record("people.person_deactivated", w.p_own, at=t0 + dt.timedelta(hours=2))
    client = as_(w, Role.ADMINISTRATOR)
    page = client.get(f"{API}/audit?limit=2").json()
    assert page["total"] == base + 3
    assert [r["seq"] for r in page["items"]] == [base + 3, base + 2]
    assert page["items"][0]["after"]["is_active"] is True
    own = client.get(f"{API}/audit?object_type=people.person&object_id={w.p_own.pk}").json()
    assert [r["action"] for r in own["items"]] == [
        "people.person_deactivated",
        "people.person_updated",
    ]
    updated = client.get(f"{API}/audit?action=people.person_updated").json()
    assert updated["total"] == 2
    window = client.get(
        f"{API}/audit", {"from": "2026-05-01T08:30:00Z", "to": "2026-05-01T18:00:00+08:00"}
    ).json()
    assert [r["object_id"] for r in window["items"]] == [str(w.p_x.pk)]
    bad = client.get(f"{API}/audit?from=yesterday")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "from"


def test_site_officer_sees_records_of_their_scope_and_their_own(api_world, db):
    w = api_world
    _record("people.person_updated", w.p_x)  # contractor X at site A
    _record("people.person_updated", w.p_b)  # site B
    _record("org.site_updated", w.site_b, actor=w.users[Role.SAFETY_OFFICER])
    _record("accounts.user_updated", w.target_user)
    seen = as_(w, Role.SAFETY_OFFICER).get(f"{API}/audit?limit=500").json()["items"]
    pairs = {(r["object_type"], r["object_id"]) for r in seen}
    assert ("people.person", str(w.p_x.pk)) in pairs
    assert ("people.person", str(w.p_b.pk)) not in pairs
    assert ("org.site", str(w.site_b.pk)) in pairs  # their own action
    assert ("accounts.user", str(w.target_user.pk)) not in pairs
    assert ("org.department", str(w.dept_t.pk)) in pairs  # made by the world's factories
    assert ("org.department", str(w.dept_wb.pk)) not in pairs
    everything = as_(w, Role.PRINCIPAL.value)
    # a principal at site A is site-scoped too; an administrator sees the whole chain
    assert len(everything.get(f"{API}/audit?limit=500").json()["items"]) < len(
        as_(w, Role.ADMINISTRATOR).get(f"{API}/audit?limit=500").json()["items"]
    )


def test_id_numbers_in_records_are_masked_for_inspectors(api_world, db):
    w = api_world
    _record("people.blacklisted", w.bar_x)
    number = w.p_x.id_number
    masked = number[:6] + "********" + number[-4:]

    def latest(role):
        return as_(w, role).get(f"{API}/audit?action=people.blacklisted").json()["items"][0]

    seen = latest(Role.INSPECTOR)
    assert seen["after"]["id_number"] == masked
    assert seen["object_label"].startswith(masked)
    assert number not in str(seen)
    full = latest(Role.SAFETY_HEAD)
    assert full["after"]["id_number"] == number


def test_verify_reports_ok_and_names_a_tampered_record(api_world, db):
    w = api_world
    for _ in range(3):
        _record("people.person_updated", w.p_own)
    client = as_(w, Role.INSPECTOR)
    result = client.get(f"{API}/audit/verify").json()
    count = AuditRecord.objects.count()
    head = AuditRecord.objects.order_by("-seq").first()
    assert result == {
        "ok": True,
        "count": count,
        "head": {"seq": head.seq, "hash": head.hash},
        "problem": "",
        "broken_seq": None,
    }
    victim = head.seq - 1
    _tamper(f"UPDATE core_auditrecord SET object_label = 'x' WHERE seq = {victim}")
    result = client.get(f"{API}/audit/verify").json()
    assert result["ok"] is False
    assert result["broken_seq"] == victim
    assert f"#{victim}" in result["problem"]


def _tamper(sql):
    """An attacker with database access (on PostgreSQL with the rights to disable a trigger)."""
    with append_only_off(), connection.cursor() as cur:
        cur.execute(sql)


def test_verify_and_list_are_audit_readers_only(api_world, db):
    for role in (Role.WORKSHOP_HEAD, Role.CONTRACTOR_MANAGER, Role.WORKER):
        client = as_(api_world, role)
        assert client.get(f"{API}/audit").status_code == 403
        assert client.get(f"{API}/audit/verify").status_code == 403
    assert as_(api_world, Role.SAFETY_OFFICER).get(f"{API}/audit/verify").status_code == 200


def test_every_api_write_leaves_a_verifiable_chain(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    client.patch(f"{API}/persons/{api_world.p_own.pk}", {"phone": "1"})
    client.post(f"{API}/areas/{api_world.area_b.pk}/deactivate")
    client.post(f"{API}/blacklist/{api_world.bar_b.pk}/deactivate")
    assert client.get(f"{API}/audit/verify").json()["ok"] is True
    actions = list(AuditRecord.objects.order_by("-seq").values_list("action", flat=True)[:3])
    assert actions == ["people.blacklist_lifted", "org.area_deactivated", "people.person_updated"]

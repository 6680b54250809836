"""Health checks and the blacklist over the API."""

import datetime as dt

import pytest
import time_machine

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.core.models import AuditRecord
from safework.people.models import BlacklistEntry, HealthCheck
from safework.people.tests.factories import PersonFactory

api_world = world_fixture()

# 2026-05-10 00:30 in Shanghai is still 2026-05-09 in UTC: "today" is Shanghai's.
NOW = dt.datetime(2026, 5, 9, 16, 30, tzinfo=dt.UTC)


def as_(world, role):
    return client_for(world.users[role])


def errors_of(response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


# --- health checks ------------------------------------------------------------------------


def _check(person, **extra):
    return {"person_id": person.pk, "checked_on": "2026-04-01", "conclusion": "fit", **extra}


def test_restricted_check_names_work_types(api_world, db):
    response = as_(api_world, Role.SAFETY_OFFICER).post(
        f"{API}/health-checks",
        _check(
            api_world.p_own,
            conclusion="restricted",
            restricted_work_types=["height", "confined_space"],
            restriction_reason="高血压",
            valid_until="2027-03-31",
            institution="市职业病防治院",
        ),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["restricted_work_types"] == ["height", "confined_space"]
    assert body["person_name"] == api_world.p_own.name
    assert AuditRecord.objects.filter(action="people.health_check_recorded").count() == 1
    client = as_(api_world, Role.TEAM_LEADER)
    height = client.get(f"{API}/health-checks?restricted_work_type=height").json()
    assert [c["id"] for c in height["items"]] == [body["id"]]
    assert client.get(f"{API}/health-checks?restricted_work_type=lifting").json()["total"] == 0


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        (
            {"conclusion": "restricted", "restricted_work_types": ["welding"]},
            {"restricted_work_types.0": "invalid_choice"},
        ),
        ({"conclusion": "restricted"}, {"restricted_work_types": "required"}),
        (
            {"conclusion": "fit", "restricted_work_types": ["height"]},
            {"restricted_work_types": "conflict"},
        ),
        (
            {"conclusion": "restricted", "restricted_work_types": ["height", "height"]},
            {"restricted_work_types": "duplicate"},
        ),
        ({"valid_until": "2026-03-01"}, {"valid_until": "invalid"}),
        ({"checked_on": "2026-05-11"}, {"checked_on": "future"}),
        ({"checked_on": "2026-03-01"}, {"checked_on": "duplicate"}),  # the world's check
        ({"conclusion": "healthy"}, {"conclusion": "invalid_choice"}),
        ({"person_id": 424242}, {"person_id": "unknown"}),
    ],
)
def test_bad_health_checks_are_422(api_world, db, extra, errors):
    checks = HealthCheck.objects.count()
    with time_machine.travel(NOW, tick=False):
        response = as_(api_world, Role.SAFETY_OFFICER).post(
            f"{API}/health-checks", _check(api_world.p_own, **extra)
        )
    assert response.status_code == 422, response.content
    assert errors_of(response) == errors
    assert HealthCheck.objects.count() == checks


def test_a_check_dated_today_in_shanghai_is_not_in_the_future(api_world, db):
    with time_machine.travel(NOW, tick=False):
        response = as_(api_world, Role.SAFETY_OFFICER).post(
            f"{API}/health-checks", _check(api_world.p_own, checked_on="2026-05-10")
        )
    assert response.status_code == 201, response.content


def test_contractor_manager_records_checks_for_own_staff_only(api_world, db):
    client = as_(api_world, Role.CONTRACTOR_MANAGER)
    own = client.post(f"{API}/health-checks", _check(api_world.p_x))
    assert own.status_code == 201
    other = client.post(f"{API}/health-checks", _check(api_world.p_y))
    assert errors_of(other) == {"person_id": "unknown"}
    seen = {c["person_id"] for c in client.get(f"{API}/health-checks").json()["items"]}
    assert seen == {api_world.p_x.pk}


def test_health_check_patch(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    url = f"{API}/health-checks/{api_world.check_own.pk}"
    assert errors_of(client.patch(url, {"conclusion": "restricted"})) == {
        "restricted_work_types": "required"
    }
    response = client.patch(url, {"conclusion": "restricted", "restricted_work_types": ["lifting"]})
    assert response.status_code == 200
    assert response.json()["restricted_work_types"] == ["lifting"]
    assert client.get(f"{API}/health-checks/{api_world.check_b.pk}").status_code == 404


# --- blacklist ----------------------------------------------------------------------------


def test_head_of_safety_bars_an_id_number(api_world, db):
    number = PersonFactory.build().id_number
    typed = "".join(chr(ord(c) + 0xFEE0) for c in number)
    response = as_(api_world, Role.SAFETY_HEAD).post(
        f"{API}/blacklist",
        {
            "id_number": typed,
            "name": "某人",
            "reason": "伪造特种作业操作证",
            "starts_on": "2026-05-01",
        },
    )
    assert response.status_code == 201, response.content
    entry = BlacklistEntry.objects.get(pk=response.json()["id"])
    assert (entry.id_number, entry.created_by_label) == (number, "safety_head")
    assert AuditRecord.objects.filter(action="people.blacklisted").count() == 1


def test_blacklist_input_is_checked(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    bad = client.post(
        f"{API}/blacklist",
        {
            "id_number": "110105194912310021",
            "reason": " ",
            "starts_on": "2026-05-01",
            "ends_on": "2026-04-01",
        },
    )
    assert errors_of(bad) == {
        "id_number": "id_number.checksum",
        "reason": "required",
        "ends_on": "invalid",
    }
    assert errors_of(client.post(f"{API}/blacklist", {"id_number": "x"})) == {
        "reason": "required",
        "starts_on": "required",
    }


def test_safety_officer_reads_but_may_not_write_the_blacklist(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    seen = {e["id"] for e in client.get(f"{API}/blacklist").json()["items"]}
    # bars on people of site A and on numbers nobody registered; not site B's people
    assert seen == {api_world.bar_x.pk, api_world.bar_unregistered.pk}
    assert client.get(f"{API}/blacklist/{api_world.bar_b.pk}").status_code == 404
    body = {"id_number": api_world.p_own.id_number, "reason": "x", "starts_on": "2026-05-01"}
    assert client.post(f"{API}/blacklist", body).status_code == 403


def test_lifting_a_bar_ends_it_yesterday(api_world, db):
    client = as_(api_world, Role.SAFETY_HEAD)
    url = f"{API}/blacklist/{api_world.bar_x.pk}/deactivate"
    with time_machine.travel(NOW, tick=False):
        response = client.post(url)
        assert response.status_code == 200
        assert response.json()["ends_on"] == "2026-05-09"  # Shanghai's today is 05-10
        again = client.post(url)
    assert again.json()["ends_on"] == "2026-05-09"
    assert AuditRecord.objects.filter(action="people.blacklist_lifted").count() == 1
    in_force = client.get(f"{API}/blacklist?active_on=2026-05-10").json()
    assert api_world.bar_x.pk not in {e["id"] for e in in_force["items"]}
    assert client.get(f"{API}/blacklist?active_on=2026-05-09").json()["total"] == 2  # site A's


def test_blacklist_patch_and_masking(api_world, db):
    head = as_(api_world, Role.SAFETY_HEAD)
    url = f"{API}/blacklist/{api_world.bar_x.pk}"
    response = head.patch(url, {"reason": "无证动火", "ends_on": "2026-12-31"})
    assert response.status_code == 200
    assert response.json()["id_number"] == api_world.p_x.id_number
    assert errors_of(head.patch(url, {"id_number": "x"})) == {"id_number": "unknown_field"}
    inspector = as_(api_world, Role.INSPECTOR).get(url).json()
    assert inspector["id_number"].count("*") == 8
    by_number = head.get(f"{API}/blacklist?id_number={api_world.p_x.id_number}").json()
    assert [e["id"] for e in by_number["items"]] == [api_world.bar_x.pk]

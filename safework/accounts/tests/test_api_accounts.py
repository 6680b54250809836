"""Users and role grants over the API (administrators only)."""

import base64

import pytest
from django.test import Client

from safework.accounts.models import Role, RoleGrant, User
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.core.models import AuditRecord

api_world = world_fixture()


def admin(world):
    return client_for(world.users[Role.ADMINISTRATOR])


def errors_of(response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def test_create_user_checks_the_password_and_never_audits_its_hash(api_world, db):
    client = admin(api_world)
    weak = client.post(f"{API}/users", {"username": "newbie", "password": "123"})
    assert weak.status_code == 422
    assert set(errors_of(weak)) == {"password"}
    ok = client.post(
        f"{API}/users",
        {"username": "newbie", "password": "Safe-work-2026", "person_id": api_world.p_b.pk},
    )
    assert ok.status_code == 201, ok.content
    user = User.objects.get(username="newbie")
    assert user.check_password("Safe-work-2026")
    record = AuditRecord.objects.get(action="accounts.user_created")
    assert "password" not in record.payload and user.password not in record.payload
    taken = client.post(f"{API}/users", {"username": "NEWBIE"})
    assert errors_of(taken) == {"username": "duplicate"}
    linked = client.post(f"{API}/users", {"username": "other", "person_id": api_world.p_b.pk})
    assert errors_of(linked) == {"person_id": "duplicate"}


def test_password_change_is_audited_as_a_fact_only(api_world, db):
    client = admin(api_world)
    url = f"{API}/users/{api_world.target_user.pk}"
    response = client.patch(url, {"password": "Another-pass-77", "email": "t@example.com"})
    assert response.status_code == 200, response.content
    record = AuditRecord.objects.get(action="accounts.user_updated")
    assert '"password_changed":true' in record.payload
    assert User.objects.get(pk=api_world.target_user.pk).password not in record.payload
    token = base64.b64encode(b"target:Another-pass-77").decode()
    basic = Client(HTTP_AUTHORIZATION=f"Basic {token}")
    assert basic.get(f"{API}/persons").status_code == 200  # an inspector at site B
    client.post(f"{url}/deactivate")
    assert basic.get(f"{API}/persons").status_code == 401


def test_user_list_shows_grants_and_filters_by_role(api_world, db):
    client = admin(api_world)
    listed = client.get(f"{API}/users?role=inspector").json()
    assert {u["username"] for u in listed["items"]} == {"inspector", "target"}
    target = next(u for u in listed["items"] if u["username"] == "target")
    assert [(g["role"], g["site_id"]) for g in target["grants"]] == [
        ("inspector", api_world.site_b.pk)
    ]


def test_grants_name_what_their_role_needs(api_world, db):
    client = admin(api_world)
    user = api_world.target_user.pk
    assert errors_of(
        client.post(f"{API}/role-grants", {"user_id": user, "role": "contractor_manager"})
    ) == {"contractor_id": "required"}
    assert errors_of(
        client.post(
            f"{API}/role-grants",
            {"user_id": user, "role": "principal", "contractor_id": api_world.contractor_x.pk},
        )
    ) == {"contractor_id": "invalid"}
    assert errors_of(client.post(f"{API}/role-grants", {"user_id": user, "role": "worker"})) == {
        "user_id": "no_person"
    }
    assert errors_of(
        client.post(f"{API}/role-grants", {"user_id": user, "role": "safety_officer"})
    ) == {"site_id": "required"}
    duplicate = {"user_id": user, "role": "inspector", "site_id": api_world.site_b.pk}
    assert errors_of(client.post(f"{API}/role-grants", duplicate)) == {"role": "duplicate"}
    assert errors_of(
        client.post(f"{API}/role-grants", {"user_id": 4242, "role": "inspector", "site_id": 4242})
    ) == {"user_id": "unknown", "site_id": "unknown"}
    assert errors_of(client.post(f"{API}/role-grants", {"user_id": user, "role": "boss"})) == {
        "role": "invalid_choice"
    }
    ok = client.post(
        f"{API}/role-grants",
        {"user_id": user, "role": "workshop_head", "department_id": api_world.dept_w.pk},
    )
    assert ok.status_code == 201, ok.content
    assert AuditRecord.objects.filter(action="accounts.role_granted").count() == 1


def test_a_grant_takes_effect_and_revoking_it_is_audited(api_world, db):
    client = admin(api_world)
    target = client_for(api_world.target_user)
    assert target.get(f"{API}/persons/{api_world.p_b.pk}").status_code == 200  # site B
    moved = client.patch(
        f"{API}/role-grants/{api_world.target_grant.pk}", {"site_id": api_world.site_a.pk}
    )
    assert moved.status_code == 200 and moved.json()["site_id"] == api_world.site_a.pk
    assert target.get(f"{API}/persons/{api_world.p_b.pk}").status_code == 404
    revoked = client.post(f"{API}/role-grants/{api_world.target_grant.pk}/revoke")
    assert revoked.status_code == 204
    assert not RoleGrant.objects.filter(pk=api_world.target_grant.pk).exists()
    assert target.get(f"{API}/persons").status_code == 403
    record = AuditRecord.objects.get(action="accounts.role_revoked")
    assert record.object_type == "accounts.rolegrant"
    assert '"role":"inspector"' in record.payload
    listed = client.get(f"{API}/audit?object_type=accounts.rolegrant").json()
    assert [r["action"] for r in listed["items"]] == [
        "accounts.role_revoked",
        "accounts.grant_updated",
    ]


def test_only_administrators_manage_accounts(api_world, db):
    for role in (Role.PRINCIPAL, Role.SAFETY_HEAD, Role.INSPECTOR):
        client = client_for(api_world.users[role])
        assert client.get(f"{API}/users").status_code == 403
        assert client.post(f"{API}/users", {"username": "x"}).status_code == 403


@pytest.mark.django_db
def test_a_masked_grant_is_not_unmasked_by_a_second_full_grant():
    from safework.accounts.scope import sees_full_id_numbers
    from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
    from safework.org.tests.factories import SiteFactory
    from safework.people.tests.factories import PersonFactory

    site = SiteFactory()
    user = UserFactory(person=PersonFactory())
    RoleGrantFactory(user=user, role="worker")
    assert sees_full_id_numbers(user)  # a worker sees their own number
    RoleGrantFactory(user=user, role="inspector", site=site)
    user = type(user).objects.get(pk=user.pk)  # grants are cached per user object
    assert not sees_full_id_numbers(user)  # the inspector's site-wide view stays masked


@pytest.mark.django_db
def test_basic_auth_writes_need_no_csrf_token_but_session_writes_do():
    from safework.accounts.tests.factories import RoleGrantFactory, UserFactory

    user = UserFactory()
    RoleGrantFactory(user=user, role="administrator")
    body = '{"name": "集团", "code": "g-csrf"}'
    basic = Client(
        enforce_csrf_checks=True,
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(b"%s:pw-for-tests-1" % user.username.encode()).decode(),
    )
    assert basic.post(f"{API}/groups", body, content_type="application/json").status_code == 201
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(f"{API}/groups", body, content_type="application/json")
    assert response.status_code == 403  # a session without its CSRF token


def test_a_second_contractor_for_a_contractor_manager_is_refused(api_world, db):
    """A user's scope names one contractor: a grant for a second one would be dropped silently
    (core.scope.Scope.union), so it is a 422 instead."""
    client = admin(api_world)
    manager = api_world.users[Role.CONTRACTOR_MANAGER]  # manages contractor X
    second = {
        "user_id": manager.pk,
        "role": "contractor_manager",
        "contractor_id": api_world.contractor_y.pk,
    }
    response = client.post(f"{API}/role-grants", second)
    assert errors_of(response) == {"contractor_id": "second_contractor"}
    assert "另一家承包商" in response.json()["errors"][0]["message"]  # "another contractor"
    assert RoleGrant.objects.filter(user=manager).count() == 1
    # moving another grant of theirs onto a second contractor is refused the same way
    other = RoleGrant.objects.get(user=api_world.users["other_manager"])
    moved = client.patch(
        f"{API}/role-grants/{other.pk}", {"contractor_id": api_world.contractor_z.pk}
    )
    assert moved.status_code == 200, moved.content  # their only grant: allowed
    # the same contractor again at a site is not a second contractor
    again = client.post(
        f"{API}/role-grants",
        {**second, "contractor_id": api_world.contractor_x.pk, "site_id": api_world.site_a.pk},
    )
    assert again.status_code == 201, again.content

"""Nobody deactivates their own account, and SafeWork never loses its last administrator: the
API (409 with the reason) and the admin (the reason on the form, or as a message) both refuse,
and two administrators deactivating each other at once leave one of them."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.urls import reverse

from safework.accounts import services
from safework.accounts.models import Role, RoleGrant, User
from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.accounts.tests.world import API, client_for
from safework.core.models import AuditRecord
from safework.core.refusals import Refused

pytestmark = pytest.mark.django_db

LAST = "此操作会使 SafeWork 没有任何在用的管理员：请先将另一名用户设为管理员。"
SELF = "不能停用自己的账号：请由另一名管理员操作。"


@pytest.fixture(autouse=True)
def _fast_hashers(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def administrator(**fields):
    user = UserFactory(is_staff=True, **fields)
    RoleGrantFactory(user=user, role=Role.ADMINISTRATOR)
    return user


def reason_codes(response) -> list[str]:
    assert response.status_code == 409, response.content
    return [r["code"] for r in response.json()["reasons"]]


def active(user) -> bool:
    user.refresh_from_db()
    return user.is_active


# --- the API -------------------------------------------------------------------------------


def test_an_administrator_cannot_deactivate_their_own_account_over_the_api():
    me, other = administrator(), administrator()
    response = client_for(me).post(f"{API}/users/{me.pk}/deactivate")
    assert reason_codes(response) == ["accounts.deactivate_self"]
    assert response.json()["reasons"][0]["message"] == SELF
    assert active(me)
    assert not AuditRecord.objects.filter(action="accounts.user_deactivated").exists()
    # Another administrator may.
    assert client_for(other).post(f"{API}/users/{me.pk}/deactivate").status_code == 200
    assert not active(me)


def test_the_last_administrator_cannot_be_deactivated_over_the_api():
    last = administrator()
    superuser = UserFactory(is_superuser=True)  # no grant: an administrator all the same
    assert client_for(superuser).post(f"{API}/users/{last.pk}/deactivate").status_code == 200
    # Now the superuser is the last one; an administrator deactivated earlier is no help.
    other = administrator()
    assert client_for(superuser).post(f"{API}/users/{other.pk}/deactivate").status_code == 200
    assert client_for(superuser).post(f"{API}/users/{superuser.pk}/deactivate").status_code == 409

    # The last administrator's account, deactivated by someone else who may (in a test).
    with pytest.raises(Refused) as refused:
        services.deactivate_user(by=None, user=superuser)
    assert [r.code for r in refused.value.reasons] == ["accounts.last_administrator"]
    assert active(superuser)


def test_deactivating_an_ordinary_user_still_works_and_is_audited():
    admin, worker = administrator(), UserFactory()
    response = client_for(admin).post(f"{API}/users/{worker.pk}/deactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert AuditRecord.objects.filter(action="accounts.user_deactivated").count() == 1


def test_the_last_administrator_grant_cannot_be_revoked_over_the_api():
    me = administrator()
    grant = RoleGrant.objects.get(user=me, role=Role.ADMINISTRATOR)
    response = client_for(me).post(f"{API}/role-grants/{grant.pk}/revoke")
    assert reason_codes(response) == ["accounts.last_administrator"]
    assert response.json()["reasons"][0]["message"] == LAST
    assert RoleGrant.objects.filter(pk=grant.pk).exists()
    assert not AuditRecord.objects.filter(action="accounts.role_revoked").exists()

    # With a second administrator, giving up one's own administrator grant is allowed.
    administrator()
    assert client_for(me).post(f"{API}/role-grants/{grant.pk}/revoke").status_code == 204
    assert not RoleGrant.objects.filter(pk=grant.pk).exists()


def test_an_inactive_administrator_does_not_count():
    me = administrator()
    administrator(is_active=False)
    grant = RoleGrant.objects.get(user=me, role=Role.ADMINISTRATOR)
    response = client_for(me).post(f"{API}/role-grants/{grant.pk}/revoke")
    assert reason_codes(response) == ["accounts.last_administrator"]


def test_with_no_administrator_at_all_other_changes_are_not_refused():
    """The rule is "do not lose the last one", not "refuse everything while there is none"."""
    officer, worker = UserFactory(), UserFactory()
    RoleGrantFactory(user=worker, role=Role.INSPECTOR)
    services.deactivate_user(by=officer, user=worker)
    services.revoke_grant(by=officer, grant=RoleGrant.objects.get(user=worker))
    assert not active(worker)


# --- the admin -----------------------------------------------------------------------------


def user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "08:00:00",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
    }
    if user.is_active:
        data["is_active"] = "on"
    if user.is_superuser:
        data["is_superuser"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def admin_errors(response) -> list[str]:
    assert response.status_code == 200, response
    return list(response.context["adminform"].form.non_field_errors())


def test_the_admin_refuses_to_deactivate_ones_own_account(client):
    me, _other = administrator(), administrator()
    client.force_login(me)
    url = reverse("admin:accounts_user_change", args=[me.pk])
    grant = RoleGrant.objects.get(user=me)
    data = user_form(me, is_active=None)
    data |= {
        "grants-TOTAL_FORMS": "1",
        "grants-INITIAL_FORMS": "1",
        "grants-0-id": str(grant.pk),
        "grants-0-user": str(me.pk),
        "grants-0-role": Role.ADMINISTRATOR,
    }
    errors = admin_errors(client.post(url, data))
    assert errors == [SELF]
    assert active(me)
    assert not AuditRecord.objects.filter(action="accounts.user_changed").exists()


def test_the_admin_refuses_to_take_the_last_administrators_role_away(client):
    last = administrator()
    grant = RoleGrant.objects.get(user=last)
    client.force_login(last)
    message = LAST

    # Changing the grant to another role.
    url = reverse("admin:accounts_rolegrant_change", args=[grant.pk])
    response = client.post(url, {"user": last.pk, "role": Role.INSPECTOR})
    assert admin_errors(response) == [message]
    grant.refresh_from_db()
    assert grant.role == Role.ADMINISTRATOR

    # Deleting the grant, from its own page …
    url = reverse("admin:accounts_rolegrant_delete", args=[grant.pk])
    response = client.post(url, {"post": "yes"}, follow=True)
    assert message in [str(m) for m in response.context["messages"]]
    assert RoleGrant.objects.filter(pk=grant.pk).exists()

    # … with the "delete selected" action …
    url = reverse("admin:accounts_rolegrant_changelist")
    data = {"action": "delete_selected", "_selected_action": [grant.pk], "post": "yes"}
    response = client.post(url, data, follow=True)
    assert message in [str(m) for m in response.context["messages"]]
    assert RoleGrant.objects.filter(pk=grant.pk).exists()

    # … or from the user's page (the grants inline).
    url = reverse("admin:accounts_user_change", args=[last.pk])
    data = user_form(last) | {
        "grants-TOTAL_FORMS": "1",
        "grants-INITIAL_FORMS": "1",
        "grants-0-id": str(grant.pk),
        "grants-0-user": str(last.pk),
        "grants-0-role": Role.ADMINISTRATOR,
        "grants-0-DELETE": "on",
    }
    assert admin_errors(client.post(url, data)) == [message]
    assert RoleGrant.objects.filter(pk=grant.pk).exists()
    assert not AuditRecord.objects.filter(action__startswith="accounts.rolegrant").exists()
    assert not AuditRecord.objects.filter(action__startswith="accounts.user").exists()

    # With a second administrator, the same delete goes through.
    administrator()
    assert client.post(url, data).status_code == 302
    assert not RoleGrant.objects.filter(pk=grant.pk).exists()


def test_the_last_superuser_cannot_lose_superuser_status_in_the_admin(client):
    me = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(me)
    url = reverse("admin:accounts_user_change", args=[me.pk])
    errors = admin_errors(client.post(url, user_form(me, is_superuser=None)))
    assert errors == [LAST]
    me.refresh_from_db()
    assert me.is_superuser


def test_users_cannot_be_deleted_in_the_admin(client):
    me, other = administrator(), administrator()
    client.force_login(me)
    response = client.post(reverse("admin:accounts_user_delete", args=[other.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=other.pk).exists()


# --- two at once (PostgreSQL: row locks) ---------------------------------------------------


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cur.fetchone()[0] > 0


def wait_for(predicate, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_last_two_administrators_deactivating_each_other_at_once_leave_one():
    """A deactivates B and B deactivates A at the same moment: the second waits for the first's
    locks, then finds itself about to remove the last administrator and is refused."""
    a, b = administrator(), administrator()
    first_done, second_started = threading.Event(), threading.Event()
    outcome = {}

    def first():
        try:
            with transaction.atomic():  # held open until the second is waiting (or done)
                services.deactivate_user(by=a, user=b)
                first_done.set()
                assert second_started.wait(20)
                wait_for(lambda: waiting_on_a_lock() or "second" in outcome)
            outcome["first"] = "ok"
        except Refused as exc:
            outcome["first"] = exc.reasons[0].code
        finally:
            first_done.set()
            connection.close()

    def second():
        try:
            assert first_done.wait(20)
            second_started.set()
            services.deactivate_user(by=b, user=a)
            outcome["second"] = "ok"
        except Refused as exc:
            outcome["second"] = exc.reasons[0].code
        finally:
            second_started.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert outcome == {"first": "ok", "second": "accounts.last_administrator"}
    assert list(services.administrators().values_list("pk", flat=True)) == [a.pk]
    assert AuditRecord.objects.filter(action="accounts.user_deactivated").count() == 1

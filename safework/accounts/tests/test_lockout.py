"""Brute force: failed logins lock out (account, address) with 429 + Retry-After, audited, and an
administrator can unlock (API, admin action, command)."""

import base64
import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, grant, make_user
from safework.core import audit
from safework.core.models import AuditRecord

PASSWORD = "Right-pass-2026"
T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
LIMIT = 3
COOL_OFF = dt.timedelta(minutes=10)


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = COOL_OFF
    settings.AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]


@pytest.fixture
def alice(db):
    user = make_user("alice", password=PASSWORD, is_staff=True)
    grant(user, Role.ADMINISTRATOR)
    return user


def basic(username, password, addr="10.0.0.1") -> Client:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}", REMOTE_ADDR=addr)


def persons(client):
    return client.get(f"{API}/persons")


def fail(times, username="alice", addr="10.0.0.1"):
    return [persons(basic(username, "wrong-guess", addr)).status_code for _ in range(times)]


def test_wrong_passwords_lock_the_api_login_with_429_and_retry_after(lockout, alice):
    with time_machine.travel(T0, tick=False):
        assert fail(LIMIT - 1) == [401] * (LIMIT - 1)
        locking = persons(basic("alice", "wrong-guess"))
        assert locking.status_code == 429
        assert locking["Retry-After"] == "600"
        # The right password is refused too while locked, in the API's error format.
        right = persons(basic("alice", PASSWORD))
        assert right.status_code == 429
        assert right["Retry-After"] == "600"
        (error,) = right.json()["errors"]
        assert error["code"] == "locked_out"
        assert "10 分钟" in error["message"]
    # Each refused attempt restarts the cool-off: still locked just before it ends.
    with time_machine.travel(T0 + COOL_OFF - dt.timedelta(seconds=1), tick=False):
        assert persons(basic("alice", PASSWORD)).status_code == 429
    later = T0 + 2 * COOL_OFF - dt.timedelta(seconds=1) + dt.timedelta(seconds=1)
    with time_machine.travel(later + dt.timedelta(seconds=1), tick=False):
        assert persons(basic("alice", PASSWORD)).status_code == 200


def test_the_other_account_and_the_other_address_are_unaffected(lockout, alice):
    bob = make_user("bob", password=PASSWORD)
    grant(bob, Role.ADMINISTRATOR)
    with time_machine.travel(T0, tick=False):
        fail(LIMIT)
        assert persons(basic("alice", PASSWORD, "10.0.0.1")).status_code == 429
        # Per (account, address): nobody elsewhere can lock alice out, nor alice's typos bob.
        assert persons(basic("alice", PASSWORD, "10.0.0.2")).status_code == 200
        assert persons(basic("bob", PASSWORD, "10.0.0.1")).status_code == 200


def test_per_account_counting_locks_every_address_when_configured(lockout, alice, settings):
    settings.AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
    with time_machine.travel(T0, tick=False):
        fail(LIMIT, addr="10.0.0.1")
        assert persons(basic("alice", PASSWORD, "10.0.0.2")).status_code == 429


def test_each_lockout_is_one_record_of_the_audit_chain(lockout, alice):
    with time_machine.travel(T0, tick=False):
        fail(LIMIT + 4)  # four more refused attempts while locked
        fail(LIMIT, username="ghost", addr="10.0.0.9")  # an unknown account locks too
    records = AuditRecord.objects.filter(action="accounts.login_locked_out").order_by("seq")
    assert [(r.object_label, r.client_addr) for r in records] == [
        ("alice", "10.0.0.1"),
        ("ghost", "10.0.0.9"),
    ]
    assert records[0].object_id == str(alice.pk)
    assert '"failures":3' in records[0].payload and "wrong-guess" not in records[0].payload
    assert audit.verify_chain().ok


def test_an_administrator_unlocks_through_the_api_audited(lockout, alice):
    admin = make_user("root-admin")
    grant(admin, Role.ADMINISTRATOR)
    with time_machine.travel(T0, tick=False):
        fail(LIMIT)
        assert persons(basic("alice", PASSWORD)).status_code == 429
        response = client_for(admin).post(f"{API}/users/{alice.pk}/unlock", {})
        assert response.status_code == 200, response.content
        assert response.json()["cleared"] == 1
        assert persons(basic("alice", PASSWORD)).status_code == 200
    record = AuditRecord.objects.get(action="accounts.login_unlocked")
    assert (record.actor_label, record.object_id) == ("root-admin", str(alice.pk))


def test_an_inspector_may_not_unlock(lockout, alice):
    inspector = make_user("insp")
    grant(inspector, Role.INSPECTOR)
    response = client_for(inspector).post(f"{API}/users/{alice.pk}/unlock", {})
    assert response.status_code == 403


def test_the_command_unlocks_an_account_or_an_address(lockout, alice, capsys):
    with time_machine.travel(T0, tick=False):
        fail(LIMIT)
        call_command("unlock_login", "alice")
        assert persons(basic("alice", PASSWORD)).status_code == 200
        fail(LIMIT, addr="10.0.0.5")
        call_command("unlock_login", addr="10.0.0.5")
        assert persons(basic("alice", PASSWORD, "10.0.0.5")).status_code == 200
    assert AuditRecord.objects.filter(action="accounts.login_unlocked").count() == 2
    assert "已清除" in capsys.readouterr().out


def admin_login(client, username, password):
    return client.post("/admin/login/", {"username": username, "password": password})


def test_the_admin_login_locks_out_with_a_page_and_the_admin_action_unlocks(lockout, alice):
    admin = make_user("root-admin", is_staff=True, is_superuser=True)
    with time_machine.travel(T0, tick=False):
        browser = Client(REMOTE_ADDR="10.0.0.1")
        for _ in range(LIMIT - 1):
            assert admin_login(browser, "alice", "wrong-guess").status_code == 200  # form again
        locked = admin_login(browser, "alice", "wrong-guess")
        assert locked.status_code == 429
        assert locked["Retry-After"] == "600"
        assert "登录失败次数过多" in locked.content.decode()
        right = admin_login(browser, "alice", PASSWORD)
        assert right.status_code == 429
        assert "_auth_user_id" not in browser.session
        # Unlock from the user admin's action.
        other = Client()
        other.force_login(admin)
        response = other.post(
            "/admin/accounts/user/",
            {"action": "unlock_logins", "_selected_action": [alice.pk]},
        )
        assert response.status_code == 302
        assert admin_login(browser, "alice", PASSWORD).status_code == 302  # logged in
    assert AccessAttempt.objects.filter(username="alice").count() == 0
    assert AuditRecord.objects.filter(action="accounts.login_unlocked").count() == 1


def test_the_client_address_behind_proxies(settings, rf):
    from safework.core.net import client_address

    request = rf.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4")
    assert client_address(request) == "10.9.9.9"  # no proxy configured: the forged list counts not
    settings.PROXY_COUNT = 1
    assert client_address(request) == "1.2.3.4"  # what our proxy saw, not what the client wrote
    settings.PROXY_COUNT = 3
    assert client_address(request) == "10.9.9.9"  # fewer entries than proxies: the peer

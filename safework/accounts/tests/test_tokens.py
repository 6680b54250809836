"""API tokens: shown once, stored as a keyed hash, revocable, expiring, narrowed; Bearer auth."""

import base64
import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.db import connection
from django.test import Client

from safework.accounts.models import ApiToken, Role
from safework.accounts.tests.world import API, client_for, grant, make_user
from safework.core.models import AuditRecord

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def officer(db):
    user = make_user("officer", password="Officer-pass-2026")
    grant(user, Role.ADMINISTRATOR)
    return user


def new_token(user, **body):
    response = client_for(user).post(f"{API}/tokens", {"name": "nightly export", **body})
    assert response.status_code == 201, response.content
    return response.json()


def bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", REMOTE_ADDR="10.0.0.7")


def test_a_token_logs_in_and_is_never_stored(officer):
    created = new_token(officer)
    raw = created["token"]
    assert raw.startswith("sw_") and len(raw) > 40
    assert bearer(raw).get(f"{API}/persons").status_code == 200
    # Neither the token nor its secret part is anywhere in the row or the audit chain.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        (row,) = cursor.fetchall()
    secret = raw.split("_", 2)[2]
    assert all(secret not in str(value) for value in row)
    token = ApiToken.objects.get()
    assert token.digest != raw and len(token.digest) == 64
    assert token.last_used_at is not None
    record = AuditRecord.objects.get(action="accounts.token_created")
    assert secret not in record.payload and token.digest not in record.payload
    # The list shows the token's name and prefix, never the token again.
    listed = client_for(officer).get(f"{API}/tokens").json()["items"]
    assert [t["prefix"] for t in listed] == [created["prefix"]]
    assert "token" not in listed[0]


def test_a_revoked_token_is_401(officer):
    created = new_token(officer)
    revoke = client_for(officer).post(f"{API}/tokens/{created['id']}/revoke")
    assert revoke.status_code == 200 and revoke.json()["revoked_at"]
    response = bearer(created["token"]).get(f"{API}/persons")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "unauthenticated"
    assert AuditRecord.objects.filter(action="accounts.token_revoked").count() == 1


def test_a_token_expires_at_its_expiry(officer):
    with time_machine.travel(T0, tick=False):
        created = new_token(officer, expires_at=(T0 + dt.timedelta(days=30)).isoformat())
    with time_machine.travel(T0 + dt.timedelta(days=30, seconds=-1), tick=False):
        assert bearer(created["token"]).get(f"{API}/persons").status_code == 200
    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        assert bearer(created["token"]).get(f"{API}/persons").status_code == 401


def test_an_expiry_in_the_past_is_422(officer):
    response = client_for(officer).post(
        f"{API}/tokens", {"name": "x", "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expires_at"


def test_a_read_only_token_reads_and_may_not_write(officer):
    raw = new_token(officer, read_only=True)["token"]
    assert bearer(raw).get(f"{API}/persons").status_code == 200
    write = bearer(raw).post(f"{API}/groups", {}, content_type="application/json")
    assert write.status_code == 403
    assert write.json()["errors"][0]["code"] == "forbidden"


def test_a_token_narrowed_to_resources_sees_only_those(officer):
    raw = new_token(officer, resources=["people"])["token"]
    assert bearer(raw).get(f"{API}/persons").status_code == 200
    assert bearer(raw).get(f"{API}/users").status_code == 403
    bad = client_for(officer).post(f"{API}/tokens", {"name": "x", "resources": ["nuclear"]})
    assert bad.status_code == 422


def test_a_token_acts_with_its_owners_roles(db):
    inspector = make_user("insp")
    grant(inspector, Role.INSPECTOR)
    raw = new_token(inspector)["token"]
    assert bearer(raw).get(f"{API}/persons").status_code == 200
    assert bearer(raw).post(f"{API}/groups", {}, content_type="application/json").status_code == 403


def test_a_token_cannot_mint_tokens(officer):
    raw = new_token(officer)["token"]
    response = bearer(raw).post(f"{API}/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_an_inactive_owner_disables_the_token(officer):
    raw = new_token(officer)["token"]
    officer.is_active = False
    officer.save()
    assert bearer(raw).get(f"{API}/persons").status_code == 401


def test_a_wrong_secret_on_a_real_prefix_is_401_and_locks_nobody_out(officer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    raw = new_token(officer)["token"]
    forged = raw[: raw.rindex("_") + 1] + "A" * 43
    for _ in range(10):
        assert bearer(forged).get(f"{API}/persons").status_code == 401
    assert bearer("sw_nothing").get(f"{API}/persons").status_code == 401
    # Not counted as failed logins: the owner's password and token still work from that address.
    assert AccessAttempt.objects.count() == 0
    basic = base64.b64encode(b"officer:Officer-pass-2026").decode()
    client = Client(HTTP_AUTHORIZATION=f"Basic {basic}", REMOTE_ADDR="10.0.0.7")
    assert client.get(f"{API}/persons").status_code == 200
    assert bearer(raw).get(f"{API}/persons").status_code == 200


def test_someone_elses_token_is_404_but_an_administrator_revokes_any(officer):
    worker_user = make_user("inspector2")
    grant(worker_user, Role.INSPECTOR)
    created = new_token(officer)
    mine = new_token(worker_user)
    other = client_for(worker_user)
    assert other.post(f"{API}/tokens/{created['id']}/revoke").status_code == 404
    assert [t["id"] for t in other.get(f"{API}/tokens").json()["items"]] == [mine["id"]]
    admin_list = client_for(officer).get(f"{API}/tokens").json()["items"]
    assert {t["id"] for t in admin_list} == {created["id"], mine["id"]}
    assert client_for(officer).post(f"{API}/tokens/{mine['id']}/revoke").status_code == 200


def test_the_admin_lists_and_revokes_tokens_without_their_hash(officer):
    created = new_token(officer)
    admin = make_user("root", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    page = browser.get(f"/admin/accounts/apitoken/{created['id']}/change/").content.decode()
    assert created["prefix"] in page and ApiToken.objects.get().digest not in page
    response = browser.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [created["id"]]},
    )
    assert response.status_code == 302
    assert ApiToken.objects.get().revoked_at is not None
    assert bearer(created["token"]).get(f"{API}/persons").status_code == 401

"""The verification API: 202 with the batch, progress, the to-review list, retry, scopes."""

import base64

import pytest
from django.test import Client

from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.certs.tests.factories import CertificateFactory, item
from safework.people.tests.factories import ContractorFactory, EmploymentFactory, PersonFactory
from safework.registry.client import reset_registries
from safework.registry.fake import SAMPLE_PEOPLE, SAMPLE_RECORDS, FakeRegistry
from safework.registry.models import LookupOutcome, VerificationBatch

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # HTTP Basic checks the password on every request; PBKDF2 would dominate these tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fake(settings):
    reset_registries()
    with FakeRegistry(SAMPLE_RECORDS) as server:
        settings.REGISTRY_URL = server.url
        settings.REGISTRY_TIMEOUT = 0.5
        settings.REGISTRY_RETRIES = 0
        yield server
    reset_registries()


def _client(user) -> Client:
    token = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def _user(role, **grant):
    return RoleGrantFactory(role=role, **grant).user


@pytest.fixture
def world(catalogue):
    """Two contractors, each with staff holding sample certificates; users of several roles."""
    a, b = ContractorFactory(), ContractorFactory()
    numbers = {r.id_number: r.number for r in SAMPLE_RECORDS}
    certs = {}
    for n, (key, (id_number, name, former)) in enumerate(SAMPLE_PEOPLE.items()):
        person = PersonFactory(id_number=id_number, name=name, former_names=list(former))
        contractor = a if n % 2 == 0 else b
        EmploymentFactory(
            person=person, employer_kind="contractor", contractor=contractor, department=None
        )
        certs[key] = CertificateFactory(
            person=person,
            item=item("special_operation", "2.1"),
            number=numbers.get(id_number, "FR0009999"),
        )
    return {
        "a": a,
        "b": b,
        "certs": certs,
        "admin": _user("administrator"),
        "manager_a": _user("contractor_manager", contractor=a),
        "manager_b": _user("contractor_manager", contractor=b),
        "inspector": _user("inspector"),
    }


def _post(client, body):
    return client.post("/api/v1/verifications", body, content_type="application/json")


def test_post_answers_202_with_the_batch(fake, world, django_capture_on_commit_callbacks):
    ids = [c.pk for c in world["certs"].values()]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(_client(world["admin"]), {"certificate_ids": ids})
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    body = response.json()
    assert body["total"] == 9 and body["source"] == fake.url
    # In production the worker answers later; read the batch again to see the result.
    response = _client(world["admin"]).get(f"/api/v1/verifications/{body['id']}")
    assert response.status_code == 200
    batch = response.json()
    assert (batch["status"], batch["done"], batch["progress"]) == ("succeeded", 9, 1.0)
    assert batch["counts"]["verified"] == 5 and batch["counts"]["not_found"] == 1
    assert batch["to_review"] == 4
    assert batch["created_by"] == world["admin"].username


def test_the_to_review_list(fake, world, django_capture_on_commit_callbacks):
    ids = [c.pk for c in world["certs"].values()]
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = _post(_client(world["admin"]), {"certificate_ids": ids}).json()["id"]
    client = _client(world["admin"])
    url = f"/api/v1/verifications/{batch_id}/lookups"
    page = client.get(url, {"to_review": "true"}).json()
    assert page["total"] == 4
    by_outcome = {row["outcome"]: row for row in page["items"]}
    assert set(by_outcome) == {"not_found", "revoked", "expired", "mismatch"}
    mismatch = by_outcome["mismatch"]
    assert mismatch["registry_name"] == "王强" and mismatch["person_name"] == "李强"
    assert mismatch["name_match"] is None
    assert "王强" in mismatch["explanation"] and "李强" in mismatch["explanation"]
    assert mismatch["id_number"] == SAMPLE_PEOPLE["mismatch"][0]  # the administrator sees it
    expired = by_outcome["expired"]
    assert {"field": "valid_until", "registry": "2025-01-09", "safework": "2030-01-09"} in (
        expired["differences"]
    )
    # Filters by outcome (repeatable) and pagination with a total.
    verified = client.get(url, {"outcome": "verified", "limit": 2}).json()
    assert verified["total"] == 5 and len(verified["items"]) == 2
    assert {row["name_match"] for row in client.get(url, {"outcome": "verified"}).json()["items"]}
    both = client.get(f"{url}?outcome=revoked&outcome=expired").json()
    assert both["total"] == 2
    assert client.get(url, {"outcome": "maybe"}).status_code == 422


def test_id_numbers_are_masked_for_roles_without_full_id_numbers(
    fake, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = _post(
            _client(world["admin"]), {"certificate_ids": [world["certs"]["valid"].pk]}
        ).json()["id"]
    row = (
        _client(world["inspector"])
        .get(f"/api/v1/verifications/{batch_id}/lookups")
        .json()["items"][0]
    )
    assert row["id_number"] != SAMPLE_PEOPLE["valid"][0]
    assert row["id_number"][:6] == SAMPLE_PEOPLE["valid"][0][:6] and "*" in row["id_number"]


def test_a_number_equal_to_the_id_number_is_masked_in_the_lookup_and_the_response(
    fake, world, django_capture_on_commit_callbacks
):
    cert = world["certs"]["valid"]
    full = cert.person.id_number
    cert.number = full  # numbered with the holder's ID number (the registry answers not found)
    cert.save()
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = _post(_client(world["admin"]), {"certificate_ids": [cert.pk]}).json()["id"]
    url = f"/api/v1/verifications/{batch_id}/lookups"
    inspector = _client(world["inspector"]).get(url)
    assert inspector.status_code == 200
    assert full not in inspector.content.decode()
    row = inspector.json()["items"][0]
    assert row["number"] == row["id_number"] == full[:6] + "********" + full[-4:]
    admin = _client(world["admin"]).get(url).json()["items"][0]
    assert admin["number"] == full


def test_another_contractors_certificates_are_404(fake, world):
    theirs = world["certs"]["revoked"]  # contractor b's staff
    response = _post(_client(world["manager_a"]), {"certificate_ids": [theirs.pk]})
    assert response.status_code == 404
    assert not VerificationBatch.objects.exists()


def test_a_contractor_manager_verifies_own_staff(fake, world, django_capture_on_commit_callbacks):
    mine = world["certs"]["valid"]  # contractor a's staff
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(_client(world["manager_a"]), {"pasted": f"{mine.number}\n"})
    assert response.status_code == 202
    batch_id = response.json()["id"]
    assert _client(world["manager_a"]).get(f"/api/v1/verifications/{batch_id}").status_code == 200
    # Contractor b's manager does not see that batch at all.
    other = _client(world["manager_b"])
    assert other.get(f"/api/v1/verifications/{batch_id}").status_code == 404
    assert other.get(f"/api/v1/verifications/{batch_id}/lookups").status_code == 404
    assert other.post(f"/api/v1/verifications/{batch_id}/retry").status_code == 404
    assert other.get("/api/v1/verifications").json()["total"] == 0


def test_a_batch_across_contractors_shows_each_manager_their_own_rows(
    fake, world, django_capture_on_commit_callbacks
):
    ids = [c.pk for c in world["certs"].values()]
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = _post(_client(world["admin"]), {"certificate_ids": ids}).json()["id"]
    seen_a = _client(world["manager_a"]).get(f"/api/v1/verifications/{batch_id}").json()
    seen_b = _client(world["manager_b"]).get(f"/api/v1/verifications/{batch_id}").json()
    assert (seen_a["total"], seen_b["total"]) == (5, 4)
    rows = _client(world["manager_b"]).get(f"/api/v1/verifications/{batch_id}/lookups").json()
    assert {r["certificate_id"] for r in rows["items"]} == {
        world["certs"][k].pk for k in ("revoked", "mismatch", "heteronym_zeng", "normalised")
    }


def test_pasted_lines_that_match_nothing_are_422(fake, world):
    theirs = world["certs"]["revoked"]
    response = _post(_client(world["manager_a"]), {"pasted": f"{theirs.number}\nNOPE"})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("pasted", "not_found")] * 2


def test_body_must_name_one_source(fake, world):
    client = _client(world["admin"])
    assert _post(client, {}).status_code == 422
    assert _post(client, {"certificate_ids": "1,2"}).status_code == 422
    response = client.post("/api/v1/verifications", "{", content_type="application/json")
    assert response.status_code == 400


def test_retry(fake, world, django_capture_on_commit_callbacks):
    failing = world["certs"]["valid"]
    fake.inject(failing.number, "error", times=None)
    client = _client(world["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = _post(client, {"certificate_ids": [failing.pk]}).json()["id"]
    batch = client.get(f"/api/v1/verifications/{batch_id}").json()
    assert batch["status"] == "failed" and batch["counts"]["retry_later"] == 1
    row = client.get(f"/api/v1/verifications/{batch_id}/lookups").json()["items"][0]
    assert row["outcome"] == "retry_later" and row["attempts"] == 1
    fake.clear_faults()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/verifications/{batch_id}/retry")
    assert response.status_code == 202
    batch = client.get(f"/api/v1/verifications/{batch_id}").json()
    assert batch["status"] == "succeeded" and batch["counts"]["verified"] == 1
    response = client.post(f"/api/v1/verifications/{batch_id}/retry")
    assert response.status_code == 409
    assert response.json()["reasons"][0]["code"] == "cert.verification.nothing_to_retry"


def test_permissions(fake, world):
    ids = [world["certs"]["valid"].pk]
    assert Client().post("/api/v1/verifications").status_code == 401
    assert Client().get("/api/v1/verifications/1").status_code == 401
    # An inspector reads but never writes: 403 before the body is looked at.
    assert _post(_client(world["inspector"]), {"certificate_ids": ids}).status_code == 403
    assert _client(world["inspector"]).post("/api/v1/verifications/1/retry").status_code == 403
    nobody = UserFactory()
    assert _client(nobody).get("/api/v1/verifications").status_code == 403


def test_unknown_batch_is_404(fake, world):
    assert _client(world["admin"]).get("/api/v1/verifications/999").status_code == 404


def test_every_operation_declares_its_permission(world):
    spec = _client(world["admin"]).get("/api/v1/openapi.json").json()
    operations = {
        (method, path): op
        for path, ops in spec["paths"].items()
        if path.startswith("/api/v1/verifications")
        for method, op in ops.items()
    }
    assert set(operations) == {
        ("post", "/api/v1/verifications"),
        ("get", "/api/v1/verifications"),
        ("get", "/api/v1/verifications/{batch_id}"),
        ("get", "/api/v1/verifications/{batch_id}/lookups"),
        ("post", "/api/v1/verifications/{batch_id}/retry"),
    }
    for (method, _path), op in operations.items():
        action = "write" if method == "post" else "read"
        assert op["x-safework-permission"] == {"resource": "certificates", "action": action}


def test_outcomes_in_the_schema_are_the_model_choices(world):
    spec = _client(world["admin"]).get("/api/v1/openapi.json").json()
    text = str(spec["components"])
    assert all(o.value in text for o in LookupOutcome)

"""A contractor manager who registers or imports an ID number held by someone outside their
staff learns nothing about that person (issue 17, item 9): the answer is the one a new person's
registration gets, and the row goes to the site's safety officer, who alone reads why.

Two contractor managers (X and Y, both engaged at site A) each try the other's worker, the
site's own staff and a fresh number; every answer they read is compared, key by key.
"""

import pytest
from django.test import Client

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.ledger.models import ImportJob
from safework.ledger.testing import identities, upload, xlsx_bytes
from safework.people.models import Person

api_world = world_fixture(catalogue=True)
FRESH = [number for number, _name in identities(6, seed=171)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def register(client, contractor, id_number, name="新来的"):
    return client.post(
        f"{API}/persons",
        {
            "id_number": id_number,
            "name": name,
            "employment": {
                "employer_kind": "contractor",
                "contractor_id": contractor.pk,
                "started_on": "2026-03-01",
            },
        },
    )


def neutral(response) -> tuple:
    """What may be compared between two answers: everything but the new item's own id."""
    body = response.json()
    return response.status_code, sorted(body), body.get("status"), body.get("message")


def job_view(client, job_id) -> dict:
    body = client.get(f"{API}/imports/{job_id}").json()
    return {
        k: body[k]
        for k in ("status", "message", "error_rows", "error_summary", "total_rows", "kind")
    }


@pytest.mark.django_db
@pytest.mark.parametrize("manager", [Role.CONTRACTOR_MANAGER, "other_manager"])
def test_registering_someone_outside_the_staff_answers_as_for_a_new_person(
    api_world, manager, django_capture_on_commit_callbacks
):
    w = api_world
    own, other = (
        (w.contractor_x, w.p_y) if manager == Role.CONTRACTOR_MANAGER else (w.contractor_y, w.p_x)
    )
    client = client_for(w.users[manager])
    with django_capture_on_commit_callbacks(execute=True):
        fresh = register(client, own, FRESH[0])
    with django_capture_on_commit_callbacks(execute=True):
        taken = register(client, own, other.id_number, name="随便写")
    with django_capture_on_commit_callbacks(execute=True):
        site_staff = register(client, own, w.p_own.id_number, name=w.p_own.name)
    assert fresh.status_code == 202, fresh.content
    assert neutral(taken) == neutral(fresh) == neutral(site_staff)
    assert fresh.json()["status"] == "pending_review"
    ids = [r.json()["import_id"] for r in (fresh, taken, site_staff)]
    assert len(set(ids)) == 3
    # the review items read the same to the manager: pending, same summary, no findings
    views = [job_view(client, job_id) for job_id in ids]
    assert views[0]["status"] == "pending_review"
    assert views[0] == views[1] == views[2]
    assert views[0]["error_summary"]["first"] == []
    for job_id in ids:
        csv = client.get(f"{API}/imports/{job_id}/errors?format=csv").content.decode("utf-8")
        assert "held_for_review" not in csv and other.id_number not in csv
    # nothing was written, and the other contractor's worker still works for them
    assert not Person.objects.filter(id_number=FRESH[0]).exists()
    other.refresh_from_db()
    assert other.current_employment.contractor_id != own.pk

    # the site's safety officer reads why the row is held
    officer = client_for(w.users[Role.SAFETY_OFFICER])
    held = officer.get(f"{API}/imports/{ids[1]}").json()["error_summary"]
    assert held["by_code"] == {"person.held_for_review": 1}
    assert officer.get(f"{API}/imports/{ids[0]}").json()["error_summary"]["by_code"] == {}


@pytest.mark.django_db
def test_approval_registers_the_new_person_and_holds_back_the_taken_number(
    api_world, django_capture_on_commit_callbacks
):
    w = api_world
    client = client_for(w.users[Role.CONTRACTOR_MANAGER])
    with django_capture_on_commit_callbacks(execute=True):
        fresh = register(client, w.contractor_x, FRESH[1]).json()["import_id"]
        taken = register(client, w.contractor_x, w.p_y.id_number).json()["import_id"]
    officer = client_for(w.users[Role.SAFETY_OFFICER])
    with django_capture_on_commit_callbacks(execute=True):
        assert officer.post(f"{API}/imports/{fresh}/approve").status_code == 200
        assert officer.post(f"{API}/imports/{taken}/approve").status_code == 200
    person = Person.objects.get(id_number=FRESH[1])
    assert person.current_employment.contractor_id == w.contractor_x.pk
    w.p_y.refresh_from_db()
    assert w.p_y.current_employment.contractor_id == w.contractor_y.pk
    assert ImportJob.objects.get(pk=taken).created_count == 0


@pytest.mark.django_db
def test_input_errors_are_still_answered_at_once(api_world):
    client = client_for(api_world.users[Role.CONTRACTOR_MANAGER])
    bad = FRESH[2][:17] + ("0" if FRESH[2][17] != "0" else "1")
    response = register(client, api_world.contractor_x, bad)
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["errors"]] == ["id_number.checksum"]
    other = register(client, api_world.contractor_y, FRESH[3])
    assert other.status_code == 422  # another contractor is not theirs
    # their own staff: a duplicate they already see
    own = register(client, api_world.contractor_x, api_world.p_x.id_number)
    assert [e["code"] for e in own.json()["errors"]] == ["duplicate"]


@pytest.mark.django_db
@pytest.mark.parametrize("manager", [Role.CONTRACTOR_MANAGER, "other_manager"])
def test_an_upload_naming_someone_outside_the_staff_reads_as_a_new_person(
    api_world, manager, django_capture_on_commit_callbacks
):
    w = api_world
    other = w.p_y if manager == Role.CONTRACTOR_MANAGER else w.p_x
    client = client_for(w.users[manager])
    uploader = Client()  # multipart, not JSON
    uploader.force_login(w.users[manager])
    header = ["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"]

    def upload_one(number):
        rows = [header, ["某人", number, "2.1", f"C-{number[-4:]}", "2024.01.10", "2030.01.09"]]
        with django_capture_on_commit_callbacks(execute=True):
            response = uploader.post(
                f"{API}/imports", {"file": upload("台账.xlsx", xlsx_bytes(rows))}
            )
        assert response.status_code == 202, response.content
        return response.json()["id"]

    fresh, taken = upload_one(FRESH[4]), upload_one(other.id_number)
    assert job_view(client, fresh) == job_view(client, taken)
    assert job_view(client, taken)["status"] == "pending_review"
    officer = client_for(w.users[Role.SAFETY_OFFICER])
    assert officer.get(f"{API}/imports/{taken}").json()["error_summary"]["by_code"] == {
        "person.held_for_review": 1
    }


@pytest.mark.django_db
def test_a_contractor_manager_cannot_probe_numbers_by_correcting_one(api_world):
    """ "Another person with this ID number is already registered" would name a holder: a
    contractor manager's correction of an ID number is the safety officer's, whatever the
    number."""
    w = api_world
    client = client_for(w.users[Role.CONTRACTOR_MANAGER])
    url = f"{API}/persons/{w.p_x.pk}"
    taken = client.patch(url, {"id_number": w.p_y.id_number})
    fresh = client.patch(url, {"id_number": FRESH[5]})
    assert taken.status_code == fresh.status_code == 422
    assert taken.json() == fresh.json()
    assert [e["code"] for e in taken.json()["errors"]] == ["review_required"]
    officer = client_for(w.users[Role.SAFETY_OFFICER])
    assert officer.patch(url, {"id_number": FRESH[5]}).status_code == 200


@pytest.mark.django_db
def test_the_admin_shows_the_held_finding_to_the_officer_only(
    api_world, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from safework.accounts.models import User

    w = api_world
    client = client_for(w.users[Role.CONTRACTOR_MANAGER])
    with django_capture_on_commit_callbacks(execute=True):
        taken = register(client, w.contractor_x, w.p_y.id_number).json()["import_id"]
    manager, officer = w.users[Role.CONTRACTOR_MANAGER], w.users[Role.SAFETY_OFFICER]
    User.objects.filter(pk__in=[manager.pk, officer.pk]).update(is_staff=True)
    page = reverse("admin:ledger_importjob_change", args=[taken])
    errors = reverse("admin:ledger_importjob_errors", args=[taken])
    seen = client_for(manager).get(page)
    assert seen.status_code == 200
    assert "held_for_review" not in seen.content.decode()
    assert client_for(manager).get(errors).status_code == 403
    assert "held_for_review" in client_for(officer).get(page).content.decode()

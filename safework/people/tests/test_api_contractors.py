"""Contractors and their engagements per site over the API."""

import pytest

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.core.models import AuditRecord
from safework.people.models import Contractor, ContractorEngagement
from safework.people.rules import uscc_check_char

api_world = world_fixture()


def as_(world, role):
    return client_for(world.users[role])


def errors_of(response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


@pytest.mark.parametrize(
    "code",
    [
        uscc("91320700MA1X2Y3Q4"),  # an enterprise
        uscc("A1320700MA1X2Y3Q4"),  # other registration authorities: A, N and Y are valid
        uscc("N2320700MA1X2Y3Q4"),
        uscc("Y1320700MA1X2Y3Q4"),
        "91350100M000100Y43",  # GB 32100's example
    ],
)
def test_valid_credit_codes_register(api_world, db, code):
    response = as_(api_world, Role.ADMINISTRATOR).post(
        f"{API}/contractors", {"name": "江苏某建设有限公司", "uscc": code.lower()}
    )
    assert response.status_code == 201, response.content
    assert response.json()["uscc"] == code


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("91350100M000100Y44", "uscc.checksum"),
        ("91350100M000100Y4", "uscc.length"),
        ("91350100M0001OOY43", "uscc.format"),
        ("320700000123456", "uscc.registration_number"),
    ],
)
def test_invalid_credit_codes_are_422(api_world, db, code, error):
    response = as_(api_world, Role.ADMINISTRATOR).post(
        f"{API}/contractors", {"name": "某公司", "uscc": code}
    )
    assert response.status_code == 422
    assert errors_of(response) == {"uscc": error}


def test_duplicate_credit_code_is_refused(api_world, db):
    existing = api_world.contractor_x.uscc
    response = as_(api_world, Role.ADMINISTRATOR).post(
        f"{API}/contractors", {"name": "同一家", "uscc": " " + existing.lower()}
    )
    assert errors_of(response) == {"uscc": "duplicate"}
    assert Contractor.objects.filter(uscc=existing).count() == 1


def test_site_officer_registers_a_contractor_with_its_engagement(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    body = {"name": "新承包商", "uscc": uscc("91320700MA1X2Y3Q5")}
    alone = client.post(f"{API}/contractors", body)
    assert errors_of(alone) == {"engagement": "out_of_scope"}
    elsewhere = client.post(
        f"{API}/contractors",
        {**body, "engagement": {"site_id": api_world.site_b.pk, "starts_on": "2026-01-01"}},
    )
    assert errors_of(elsewhere) == {"engagement.site_id": "unknown"}
    backwards = client.post(
        f"{API}/contractors",
        {
            **body,
            "engagement": {
                "site_id": api_world.site_a.pk,
                "starts_on": "2026-06-01",
                "ends_on": "2026-05-31",
            },
        },
    )
    assert errors_of(backwards) == {"engagement.ends_on": "invalid"}
    assert not Contractor.objects.filter(name="新承包商").exists()
    ok = client.post(
        f"{API}/contractors",
        {**body, "engagement": {"site_id": api_world.site_a.pk, "starts_on": "2026-01-01"}},
    )
    assert ok.status_code == 201, ok.content
    assert client.get(f"{API}/contractors/{ok.json()['id']}").status_code == 200
    assert [r.action for r in AuditRecord.objects.order_by("seq")][-2:] == [
        "people.contractor_registered",
        "people.contractor_engaged",
    ]


def test_engaging_a_contractor_makes_its_staff_visible_at_the_site(api_world, db):
    w = api_world
    client = as_(w, Role.SAFETY_OFFICER)
    assert client.get(f"{API}/persons/{w.p_z.pk}").status_code == 404
    assert client.get(f"{API}/contractors/{w.contractor_z.pk}").status_code == 404
    response = client.post(
        f"{API}/engagements",
        {
            "contractor_id": w.contractor_z.pk,
            "site_id": w.site_a.pk,
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["contractor_name"] == "承包商Z"
    assert client.get(f"{API}/persons/{w.p_z.pk}").status_code == 200
    assert client.get(f"{API}/contractors/{w.contractor_z.pk}").status_code == 200


def test_engagement_references_and_period(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    base = {"contractor_id": api_world.contractor_x.pk, "starts_on": "2026-01-01"}
    assert errors_of(client.post(f"{API}/engagements", {**base, "site_id": 0})) == {
        "site_id": "unknown"
    }
    other_site = {**base, "site_id": api_world.site_b.pk}
    assert errors_of(client.post(f"{API}/engagements", other_site)) == {"site_id": "unknown"}
    assert errors_of(
        client.post(
            f"{API}/engagements",
            {**base, "contractor_id": 424242, "site_id": api_world.site_a.pk},
        )
    ) == {"contractor_id": "unknown"}
    url = f"{API}/engagements/{api_world.engagement_x.pk}"
    assert errors_of(client.patch(url, {"ends_on": "2024-12-31"})) == {"ends_on": "invalid"}
    patched = client.patch(url, {"ends_on": "2027-12-31", "status": "suspended"})
    assert patched.status_code == 200
    assert (patched.json()["ends_on"], patched.json()["status"]) == ("2027-12-31", "suspended")


def test_deactivation_terminates_and_ends(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    response = client.post(f"{API}/contractors/{api_world.contractor_x.pk}/deactivate")
    assert response.status_code == 200 and response.json()["status"] == "terminated"
    response = as_(api_world, Role.SAFETY_HEAD).post(
        f"{API}/engagements/{api_world.engagement_x.pk}/deactivate"
    )
    assert response.status_code == 200 and response.json()["status"] == "ended"
    assert ContractorEngagement.objects.filter(pk=api_world.engagement_x.pk).exists()
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"people.contractor_deactivated", "people.engagement_ended"} <= actions
    terminated = client.get(f"{API}/contractors?status=terminated").json()
    assert [c["id"] for c in terminated["items"]] == [api_world.contractor_x.pk]


def test_a_site_writer_cannot_change_a_shared_contractor(api_world, db):
    """Contractor X is engaged at site A, maybe elsewhere too: a site-A writer changes its
    engagement there, not the contractor's name, credit code or status (403)."""
    w = api_world
    url = f"{API}/contractors/{w.contractor_x.pk}"
    before = Contractor.objects.get(pk=w.contractor_x.pk)
    for role in (Role.SAFETY_OFFICER, Role.SAFETY_HEAD, Role.PRINCIPAL):
        client = as_(w, role)
        assert client.get(url).status_code == 200
        assert client.patch(url, {"name": "改名"}).status_code == 403
        assert client.patch(url, {"uscc": uscc("91320700MA1X2Y3Q6")}).status_code == 403
        assert client.patch(url, {"status": "suspended"}).status_code == 403
        assert client.post(f"{url}/deactivate").status_code == 403
    after = Contractor.objects.get(pk=w.contractor_x.pk)
    assert (after.name, after.uscc, after.status) == (before.name, before.uscc, before.status)
    assert not AuditRecord.objects.filter(action__startswith="people.contractor").exists()
    # a site-scoped grant may not write contractors at all: 403 before any look-up (so it
    # learns nothing of contractors it cannot see); the engagement at their site stays theirs
    officer = as_(w, Role.SAFETY_OFFICER)
    assert officer.patch(f"{API}/contractors/{w.contractor_z.pk}", {"name": "x"}).status_code == 403
    engagement = officer.patch(f"{API}/engagements/{w.engagement_x.pk}", {"status": "suspended"})
    assert engagement.status_code == 200, engagement.content
    # a group-wide writer may change the contractor
    renamed = as_(w, Role.ADMINISTRATOR).patch(url, {"name": "改名"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "改名"


def test_contractor_manager_sees_only_their_contractor(api_world, db):
    client = as_(api_world, Role.CONTRACTOR_MANAGER)
    assert [c["id"] for c in client.get(f"{API}/contractors").json()["items"]] == [
        api_world.contractor_x.pk
    ]
    assert client.get(f"{API}/contractors/{api_world.contractor_y.pk}").status_code == 404
    engagements = client.get(f"{API}/engagements").json()["items"]
    assert {e["contractor_id"] for e in engagements} == {api_world.contractor_x.pk}


def test_contractor_list_filters(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    at_a = client.get(f"{API}/contractors?site_id={api_world.site_a.pk}").json()
    assert at_a["total"] == 2
    assert {c["id"] for c in at_a["items"]} == {
        api_world.contractor_x.pk,
        api_world.contractor_y.pk,
    }
    by_code = client.get(f"{API}/contractors?uscc={api_world.contractor_y.uscc.lower()}").json()
    assert [c["id"] for c in by_code["items"]] == [api_world.contractor_y.pk]

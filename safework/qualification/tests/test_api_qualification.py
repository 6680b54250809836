"""POST /api/v1/qualifications/check: 200 with the decision, 404 unseen, 422 bad input."""

import datetime as dt

import pytest
from django.test import Client

from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.qualification.tests.qualification_fixtures import (
    HOT_WORK_ATTRS,
    D,
    at,
    certificate,
    hot_work_crew,
    member,
    site,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/qualifications/check"
DAY = dt.timedelta(days=1)


@pytest.fixture
def here(catalogue):
    return site()


def client_for(role: str, **grant) -> Client:
    user = UserFactory()
    RoleGrantFactory(user=user, role=role, **grant)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin():
    return client_for("administrator")


def post(client, body):
    return client.post(URL, body, content_type="application/json")


def one(person, here, **more):
    return {
        "person_id": person.pk,
        "role": "worker",
        "work_type": "hot_work",
        "level": "level1",
        "site_id": here.pk,
        "at": at(D).isoformat(),
        "attrs": HOT_WORK_ATTRS,
        **more,
    }


def test_a_qualified_person_is_allowed(admin, here):
    welder = member(here)
    response = post(admin, one(welder, here))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["allowed"] is True
    assert body["on"] == str(D)
    assert (body["work_type"], body["level"], body["site_id"]) == ("hot_work", "level1", here.pk)
    assert body["reasons"] == []
    assert body["members"] == [
        {
            "person_id": welder.pk,
            "name": welder.name,
            "role": "worker",
            "allowed": True,
            "reasons": [],
        }
    ]


def test_a_refusal_is_a_200_answer_with_every_reason(admin, here):
    welder, guardian, tester = hot_work_crew(here)
    welder.certificates.filter(item__code="2.1").update(valid_until=D - DAY)
    guardian.certificates.filter(item__code="GUARDIAN").update(valid_until=D - DAY)
    body = {
        "crew": [
            {"person_id": guardian.pk, "role": "guardian"},
            {"person_id": tester.pk, "role": "gas_tester"},
            {"person_id": welder.pk, "role": "worker", "attrs": {"hot_work_method": "cutting"}},
        ],
        "work_type": "hot_work",
        "level": "level1",
        "site_id": here.pk,
        "at": at(D).isoformat(),
        "attrs": {"height_m": 1.0},
    }
    response = post(admin, body)
    assert response.status_code == 200, response.json()
    out = response.json()
    assert out["allowed"] is False
    assert sorted(r["code"] for r in out["reasons"]) == ["cert.expired", "cert.expired"]
    assert [m["allowed"] for m in out["members"]] == [False, True, False]
    reason = out["members"][2]["reasons"][0]
    assert set(reason) >= {"code", "message", "clause", "subject", "blocking"}
    assert "安监总局令第30号" in reason["clause"]
    assert reason["blocking"] is True
    assert reason["data"]["person_id"] == welder.pk


def test_an_instant_at_2330_utc_is_asked_about_the_next_local_day(admin, here):
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(valid_until=D)
    late = dt.datetime(D.year, D.month, D.day, 23, 30, tzinfo=dt.UTC)
    out = post(admin, one(welder, here, at=late.isoformat().replace("+00:00", "Z"))).json()
    assert out["on"] == str(D + DAY)
    assert [r["code"] for r in out["reasons"]] == ["cert.expired"]


def test_a_person_the_caller_may_not_see_is_404(here):
    welder = member(here)
    elsewhere = client_for("safety_officer", site=site())
    response = post(elsewhere, one(welder, here))
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    officer = client_for("safety_officer", site=here)
    assert post(officer, one(welder, here)).status_code == 200


def test_a_crew_with_one_unseen_member_is_404(here):
    welder = member(here)
    stranger = member(site())
    officer = client_for("safety_officer", site=here)
    body = one(welder, here)
    del body["person_id"], body["role"]
    body["crew"] = [
        {"person_id": welder.pk, "role": "worker"},
        {"person_id": stranger.pk, "role": "guardian"},
    ]
    assert post(officer, body).status_code == 404


def test_names_are_accepted_and_codes_echoed(admin, here):
    welder = member(here)
    out = post(admin, one(welder, here, work_type="动火作业", level="一级", role="作业人")).json()
    assert (out["allowed"], out["work_type"], out["level"]) == (True, "hot_work", "level1")
    assert out["members"][0]["role"] == "worker"


def test_a_worker_may_check_themselves_only(here):
    welder, other = member(here), member(here)
    user = UserFactory(person=welder)
    RoleGrantFactory(user=user, role="worker")
    client = Client()
    client.force_login(user)
    assert post(client, one(welder, here)).json()["allowed"] is True
    assert post(client, one(other, here)).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"level": "IV"}, "level", "invalid_level"),
        ({"level": None}, "level", "required"),
        ({"work_type": "welding"}, "work_type", "unknown_work_type"),
        ({"role": "boss"}, "role", "unknown_role"),
        ({"attrs": {"height_m": "tall"}}, "attrs.height_m", "invalid_type"),
        ({"attrs": {"height": 2}}, "attrs.height", "unknown_attribute"),
        ({"at": "2026-03-10T10:00:00"}, "at", "invalid_datetime"),
        ({"site_id": 999999}, "site_id", "unknown_site"),
        ({"person_id": None}, "person_id", "required"),
    ],
)
def test_bad_input_is_422_with_field_errors(admin, here, change, field, code):
    response = post(admin, one(member(here), here, **change))
    assert response.status_code == 422, response.json()
    errors = response.json()["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code), errors


def test_bad_crew_member_fields_are_named(admin, here):
    welder = member(here)
    body = one(welder, here)
    del body["person_id"], body["role"]
    body["crew"] = [{"person_id": welder.pk, "role": "worker", "attrs": {"height_m": -1}}]
    response = post(admin, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "crew.0.attrs.height_m"


def test_empty_body_and_malformed_json(admin):
    assert post(admin, {}).status_code == 422
    assert post(admin, "{not json").status_code == 400


def test_login_and_permission_first(here):
    welder = member(here)
    assert post(Client(), one(welder, here)).status_code == 401
    no_grant = Client()
    no_grant.force_login(UserFactory())
    assert post(no_grant, one(welder, here)).status_code == 403


def test_id_numbers_in_reasons_are_masked_for_those_who_may_not_see_them(here):
    welder = member(here, certs=())
    certificate(welder, "special_operation", "2.1", number=welder.id_number, valid_until=D - DAY)
    department = welder.current_employment.department
    head = client_for("workshop_head", department=department)
    out = post(head, one(welder, here)).json()
    (reason,) = out["reasons"]
    assert welder.id_number not in reason["subject"]
    assert reason["subject"] == welder.id_number[:6] + "********" + welder.id_number[-4:]
    officer = client_for("safety_officer", site=here)
    assert post(officer, one(welder, here)).json()["reasons"][0]["subject"] == welder.id_number


def test_openapi_marks_the_permission(admin):
    spec = admin.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/qualifications/check"]["post"]
    assert operation["x-safework-permission"] == {"resource": "certificates", "action": "read"}


@pytest.mark.parametrize("site_id", ["²", "١", "1²", " ", "99999999999999999999999"])
def test_a_site_id_that_only_looks_numeric_is_422(admin, here, site_id):
    response = admin.post(
        "/api/v1/rosters",
        {"name": "x", "site_id": site_id, "entries": [{"person_id": 1}]},
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "site_id"


def test_a_free_text_process_is_422(admin, here):
    welder = member(here)
    for value in ("*", "2.1"):
        response = post(admin, one(welder, here, attrs={**HOT_WORK_ATTRS, "process": value}))
        assert response.status_code == 422, response.json()
        assert response.json()["errors"][0]["field"] == "attrs.process"
        assert response.json()["errors"][0]["code"] == "invalid_choice"

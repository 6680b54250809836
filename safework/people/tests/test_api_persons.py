"""Persons and employment over the API: registration, ID numbers, bad input, scope, history."""

import json

import pytest
from django.utils import translation

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.core.models import AuditRecord
from safework.people.models import Employment, Person
from safework.people.rules import ric_check_char
from safework.people.tests.factories import PersonFactory

api_world = world_fixture()


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English messages; the Chinese ones: core/tests/test_language.py."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


VALID = "11010519491231002X"  # GB 11643's own example


def fresh_number() -> str:
    return PersonFactory.build().id_number


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in text)


def as_(world, role):
    return client_for(world.users[role])


def errors_of(response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def own_employment(world, dept=None):
    return {
        "employer_kind": "own",
        "department_id": (dept or world.dept_t).pk,
        "started_on": "2026-03-01",
    }


# --- registration --------------------------------------------------------------------------


def test_register_person_derives_gender_and_birth_date(api_world, db):
    response = as_(api_world, Role.SAFETY_OFFICER).post(
        f"{API}/persons",
        {"id_number": VALID, "name": " 张三 ", "employment": own_employment(api_world)},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id_number"] == VALID
    assert (body["gender"], body["birth_date"]) == ("female", "1949-12-31")
    assert body["name"] == "张三"
    assert body["current_employment"]["department_id"] == api_world.dept_t.pk
    assert body["current_employment"]["site_id"] == api_world.site_a.pk
    record = AuditRecord.objects.get(action="people.person_registered")
    assert record.object_id == str(body["id"])
    assert record.actor_label == "safety_officer"


def test_full_width_id_number_is_normalised(api_world, db):
    number = fresh_number()
    typed = " " + full_width(number[:-1]) + number[-1].lower() + " "
    response = as_(api_world, Role.ADMINISTRATOR).post(
        f"{API}/persons", {"id_number": typed, "name": "李四"}
    )
    assert response.status_code == 201, response.content
    assert Person.objects.get(pk=response.json()["id"]).id_number == number


def _bad_birth_date() -> str:
    first17 = "11010519490230002"  # 30 February
    return first17 + ric_check_char(first17)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("110105194912310021", "id_number.checksum"),
        ("11010519491231002", "id_number.length"),
        ("1101051949123100AX", "id_number.format"),
        (_bad_birth_date(), "id_number.birth_date"),
        ("110105491231002", "id_number.fifteen_digits"),
        ("", "id_number.required"),
        (full_width("110105194912310021"), "id_number.checksum"),
    ],
)
def test_invalid_id_numbers_are_422_with_a_clear_code(api_world, db, number, code):
    response = as_(api_world, Role.ADMINISTRATOR).post(
        f"{API}/persons", {"id_number": number, "name": "王五"}
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("id_number", code)
    assert error["message"]


def test_duplicate_person_is_refused_also_in_full_width(api_world, db):
    existing = api_world.p_own.id_number
    client = as_(api_world, Role.ADMINISTRATOR)
    for typed in (existing, full_width(existing)):
        response = client.post(f"{API}/persons", {"id_number": typed, "name": "重复"})
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert (error["field"], error["code"]) == ("id_number", "duplicate")
        assert "already registered" in error["message"]
    assert Person.objects.filter(id_number=existing).count() == 1


def test_unknown_or_invisible_department_is_422_and_nothing_is_saved(api_world, db):
    persons, records = Person.objects.count(), AuditRecord.objects.count()
    client = as_(api_world, Role.SAFETY_OFFICER)
    for department_id in (987654, api_world.dept_wb.pk):  # none; site B's
        response = client.post(
            f"{API}/persons",
            {
                "id_number": fresh_number(),
                "name": "赵六",
                "employment": {**own_employment(api_world), "department_id": department_id},
            },
        )
        assert response.status_code == 422
        assert errors_of(response) == {"employment.department_id": "unknown"}
    assert (Person.objects.count(), AuditRecord.objects.count()) == (persons, records)


def test_site_officer_must_register_into_their_scope(api_world, db):
    persons = Person.objects.count()
    response = as_(api_world, Role.SAFETY_OFFICER).post(
        f"{API}/persons", {"id_number": fresh_number(), "name": "无单位"}
    )
    assert response.status_code == 422
    assert errors_of(response) == {"employment": "out_of_scope"}
    assert Person.objects.count() == persons


def test_contractor_manager_registers_only_own_staff(api_world, db):
    client = as_(api_world, Role.CONTRACTOR_MANAGER)

    def register(contractor):
        return client.post(
            f"{API}/persons",
            {
                "id_number": fresh_number(),
                "name": "承包商员工",
                "employment": {
                    "employer_kind": "contractor",
                    "contractor_id": contractor.pk,
                    "started_on": "2026-02-01",
                },
            },
        )

    ok = register(api_world.contractor_x)
    # issue 17: a contractor's registration waits for the site's safety officer (202)
    assert ok.status_code == 202, ok.content
    assert ok.json()["status"] == "pending_review"
    refused = register(api_world.contractor_y)
    assert refused.status_code == 422
    assert errors_of(refused) == {"employment.contractor_id": "unknown"}


def test_employment_block_is_checked(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    response = client.post(
        f"{API}/persons",
        {
            "id_number": fresh_number(),
            "name": "某人",
            "employment": {"employer_kind": "contractor", "started_on": "2026-02-01"},
        },
    )
    assert errors_of(response) == {"employment.contractor_id": "required"}
    response = client.post(
        f"{API}/persons",
        {
            "id_number": fresh_number(),
            "name": "某人",
            "employment": {
                "employer_kind": "own",
                "contractor_id": api_world.contractor_x.pk,
                "started_on": "2026-02-01",
            },
        },
    )
    assert errors_of(response) == {"employment.contractor_id": "invalid"}


# --- malformed and mistyped requests ------------------------------------------------------


def test_malformed_json_is_400(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    response = client.post(f"{API}/persons", '{"id_number": "1', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "malformed"
    for body in ("[]", '"text"', "42", "null"):
        response = client.post(f"{API}/persons", body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["code"] in {"malformed", "body_required"}


def test_wrong_content_type_is_400(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    body = json.dumps({"id_number": VALID, "name": "x"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post(f"{API}/persons", body, content_type=content_type)
        assert response.status_code == 400, content_type
        assert response.json()["errors"][0]["code"] == "unsupported_content_type"
    assert not Person.objects.filter(id_number=VALID).exists()
    ok = client.post(f"{API}/persons", body, content_type="application/json; charset=utf-8")
    assert ok.status_code == 201


def test_missing_body_is_400(api_world, db):
    response = as_(api_world, Role.ADMINISTRATOR).post(f"{API}/persons", "")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "body_required"


def test_missing_fields_are_422_each_named(api_world, db):
    response = as_(api_world, Role.ADMINISTRATOR).post(f"{API}/persons", {})
    assert response.status_code == 422
    assert errors_of(response) == {"id_number": "required", "name": "required"}


def test_wrong_types_and_nested_fields_are_named_as_in_the_request(api_world, db):
    response = as_(api_world, Role.ADMINISTRATOR).post(
        f"{API}/persons",
        {
            "id_number": 110105,
            "name": "类型",
            "position_id": "abc",
            "former_names": "不是列表",
            "education": "phd",
            "employment": {"employer_kind": "own", "started_on": "2026-13-01"},
            "gender": "male",
        },
    )
    assert response.status_code == 422
    assert errors_of(response) == {
        "id_number": "invalid_type",
        "position_id": "invalid_type",
        "former_names": "invalid_type",
        "education": "invalid_choice",
        "employment.started_on": "invalid_date",
        "gender": "unknown_field",
    }
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "input" not in messages["position_id"].lower()  # ours, not pydantic's English


def test_messages_follow_the_request_language(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    english = client.post(f"{API}/persons", {}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["errors"][0]["message"] == "This field is required."


def test_wrong_query_and_path_types_are_422(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    response = client.get(f"{API}/persons?contractor_id=x&limit=0")
    assert response.status_code == 422
    assert errors_of(response) == {"contractor_id": "invalid_type", "limit": "too_small"}
    assert client.get(f"{API}/persons/abc").status_code == 422


# --- update and deactivate ----------------------------------------------------------------


def test_patch_changes_only_what_is_sent(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    url = f"{API}/persons/{api_world.p_own.pk}"
    response = client.patch(url, {"phone": "13800000000", "former_names": ["旧名"]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["phone"], body["former_names"], body["name"]) == (
        "13800000000",
        ["旧名"],
        api_world.p_own.name,
    )
    record = AuditRecord.objects.get(action="people.person_updated")
    assert '"phone":""' in record.payload and '"phone":"13800000000"' in record.payload
    assert errors_of(client.patch(url, {"name": None})) == {"name": "invalid_type"}
    assert errors_of(client.patch(url, {"birth_date": "2000-01-01"})) == {
        "birth_date": "unknown_field"
    }
    # searching by former name
    found = client.get(f"{API}/persons?name=旧名").json()
    assert [p["id"] for p in found["items"]] == [api_world.p_own.pk]


def test_corrected_id_number_rederives_gender_and_birth_date(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    response = client.patch(f"{API}/persons/{api_world.p_own.pk}", {"id_number": VALID})
    assert response.status_code == 200
    assert (response.json()["gender"], response.json()["birth_date"]) == ("female", "1949-12-31")
    taken = client.patch(f"{API}/persons/{api_world.p_b.pk}", {"id_number": VALID})
    assert errors_of(taken) == {"id_number": "duplicate"}


def test_deactivate_person_keeps_the_record_and_is_audited(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    response = client.post(f"{API}/persons/{api_world.p_own.pk}/deactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert Person.objects.filter(pk=api_world.p_own.pk, is_active=False).exists()
    assert AuditRecord.objects.filter(
        action="people.person_deactivated", object_id=str(api_world.p_own.pk)
    ).exists()
    inactive = client.get(f"{API}/persons?is_active=false").json()
    assert [p["id"] for p in inactive["items"]] == [api_world.p_own.pk]


def test_someone_elses_person_is_404_for_every_verb(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    url = f"{API}/persons/{api_world.p_b.pk}"  # site B
    assert client.get(url).status_code == 404
    assert client.patch(url, {"phone": "1"}).status_code == 404
    assert client.post(f"{url}/deactivate").status_code == 404


# --- employment history -------------------------------------------------------------------


def test_worker_who_changes_contractor_and_returns_keeps_one_record(api_world, db):
    client = as_(api_world, Role.ADMINISTRATOR)
    person = api_world.p_x
    url = f"{API}/persons/{person.pk}/employments"
    to_y = {"employer_kind": "contractor", "contractor_id": api_world.contractor_y.pk}
    response = client.post(url, {"employment": {**to_y, "started_on": "2026-04-01"}})
    assert response.status_code == 201, response.content
    assert response.json()["current_employment"]["contractor_id"] == api_world.contractor_y.pk
    back = {"employer_kind": "own", "department_id": api_world.dept_t.pk}
    response = client.post(
        url, {"employment": {**back, "started_on": "2026-09-01"}, "ended_on": "2026-08-15"}
    )
    assert response.status_code == 201, response.content
    assert Person.objects.filter(id_number=person.id_number).count() == 1
    history = client.get(f"{API}/employments?person_id={person.pk}").json()
    assert history["total"] == 3
    assert [(e["status"], e["ended_on"]) for e in history["items"]] == [
        ("active", None),
        ("ended", "2026-08-15"),
        ("ended", "2026-03-31"),
    ]
    assert AuditRecord.objects.filter(action="people.employment_changed").count() == 2


def test_change_of_employer_checks_dates_and_scope(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    url = f"{API}/persons/{api_world.p_own.pk}/employments"
    early = client.post(
        url,
        {"employment": {**own_employment(api_world), "started_on": "2019-01-01"}},
    )
    assert errors_of(early) == {"ended_on": "invalid"}
    overlap = client.post(
        url,
        {
            "employment": {**own_employment(api_world), "started_on": "2026-01-01"},
            "ended_on": "2026-02-01",
        },
    )
    assert errors_of(overlap) == {"employment.started_on": "overlap"}
    away = client.post(url, {"employment": {**own_employment(api_world, api_world.dept_wb)}})
    assert errors_of(away) == {"employment.department_id": "unknown"}
    assert Employment.objects.filter(person=api_world.p_own).count() == 1


def test_employment_patch_and_end(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    employment_id = api_world.p_own.current_employment_id
    url = f"{API}/employments/{employment_id}"
    suspended = client.patch(url, {"status": "suspended"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert errors_of(client.patch(url, {"status": "ended"})) == {"status": "invalid_choice"}
    assert errors_of(client.patch(url, {"ended_on": "2026-05-01"})) == {"ended_on": "open"}
    moved = client.patch(url, {"department_id": api_world.dept_w.pk})
    assert moved.json()["department_id"] == api_world.dept_w.pk
    ended = client.post(f"{url}/deactivate", {"ended_on": "2026-06-30"})
    assert ended.status_code == 200, ended.content
    assert (ended.json()["status"], ended.json()["ended_on"]) == ("ended", "2026-06-30")
    assert Person.objects.get(pk=api_world.p_own.pk).current_employment_id is None
    assert AuditRecord.objects.filter(action="people.employment_ended").count() == 1


def test_employment_follows_its_department_to_another_site(api_world, db):
    admin = as_(api_world, Role.ADMINISTRATOR)
    response = admin.patch(
        f"{API}/departments/{api_world.dept_w.pk}", {"site_id": api_world.site_b.pk}
    )
    assert response.status_code == 200, response.content
    employment = Employment.objects.get(pk=api_world.p_own.current_employment_id)
    assert employment.site_id == api_world.site_b.pk  # T under W: moved with it
    officer = as_(api_world, Role.SAFETY_OFFICER)
    assert officer.get(f"{API}/persons/{api_world.p_own.pk}").status_code == 404


# --- lists --------------------------------------------------------------------------------


def test_list_filters_and_pagination(api_world, db):
    client = as_(api_world, Role.SAFETY_OFFICER)
    page = client.get(f"{API}/persons?limit=2&offset=1").json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (6, 2, 1, 2)
    x = client.get(f"{API}/persons?contractor_id={api_world.contractor_x.pk}").json()
    assert [p["id"] for p in x["items"]] == [api_world.p_x.pk]
    kind = client.get(f"{API}/persons?employer_kind=contractor").json()
    assert {p["id"] for p in kind["items"]} == {api_world.p_x.pk, api_world.p_y.pk}
    by_number = client.get(f"{API}/persons?id_number={full_width(api_world.p_y.id_number)}")
    assert [p["id"] for p in by_number.json()["items"]] == [api_world.p_y.pk]
    assert client.get(f"{API}/persons?site_id={api_world.site_b.pk}").json()["total"] == 0


def test_person_list_query_count_does_not_grow(api_world, db, django_assert_max_num_queries):
    from safework.people.tests.factories import EmploymentFactory

    client = as_(api_world, Role.ADMINISTRATOR)
    client.get(f"{API}/persons")  # session and grants warmed up
    for _ in range(30):
        EmploymentFactory(employer_kind="contractor", contractor=api_world.contractor_x)
    with django_assert_max_num_queries(8):
        page = client.get(f"{API}/persons?limit=100").json()
    assert page["total"] >= 38
    assert all(p["current_employment"] for p in page["items"][:30])


def test_a_worker_who_left_comes_back_on_the_same_record(api_world, db):
    w = api_world
    officer = as_(w, Role.SAFETY_OFFICER)
    person = w.p_own
    officer.post(f"{API}/employments/{person.current_employment_id}/deactivate")
    as_(w, Role.ADMINISTRATOR).post(f"{API}/persons/{person.pk}/deactivate")
    assert officer.get(f"{API}/persons/{person.pk}").status_code == 404
    back = {"id_number": person.id_number, "name": person.name}
    # without an employment it is still a duplicate
    assert errors_of(officer.post(f"{API}/persons", back)) == {"id_number": "duplicate"}
    wrong_name = officer.post(
        f"{API}/persons", {**back, "name": "别人", "employment": own_employment(w)}
    )
    assert errors_of(wrong_name) == {"name": "mismatch"}
    response = officer.post(
        f"{API}/persons",
        {**back, "employment": {**own_employment(w), "started_on": "2026-10-01"}},
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == person.pk
    assert response.json()["is_active"] is True
    assert Person.objects.filter(id_number=person.id_number).count() == 1
    history = officer.get(f"{API}/employments?person_id={person.pk}").json()
    assert [e["status"] for e in history["items"]] == ["active", "ended"]
    assert AuditRecord.objects.filter(action="people.person_rehired").count() == 1


def test_someone_employed_elsewhere_is_not_taken_over(api_world, db):
    manager = as_(api_world, Role.CONTRACTOR_MANAGER)
    response = manager.post(
        f"{API}/persons",
        {
            "id_number": api_world.p_y.id_number,  # contractor Y's worker
            "name": api_world.p_y.name,
            "employment": {
                "employer_kind": "contractor",
                "contractor_id": api_world.contractor_x.pk,
                "started_on": "2026-10-01",
            },
        },
    )
    # issue 17: not a "duplicate" (that would tell X's manager that Y's worker exists): the
    # neutral "submitted for review" answer, and nothing taken over
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending_review"
    assert Person.objects.get(pk=api_world.p_y.pk).current_employment.contractor_id == (
        api_world.contractor_y.pk
    )


def test_a_rehire_with_a_blank_name_is_refused(api_world, db):
    """A name of blanks would skip the comparison with the registered name: it is required."""
    w = api_world
    person = w.p_own
    as_(w, Role.SAFETY_OFFICER).post(f"{API}/employments/{person.current_employment_id}/deactivate")
    officer = as_(w, Role.SAFETY_OFFICER)
    for blank in ("   ", "\u3000", ""):
        response = officer.post(
            f"{API}/persons",
            {
                "id_number": person.id_number,
                "name": blank,
                "employment": {**own_employment(w), "started_on": "2026-10-01"},
            },
        )
        assert response.status_code == 422, (blank, response.content)
        assert "name" in errors_of(response)
    assert Person.objects.get(pk=person.pk).current_employment_id is None
    assert not AuditRecord.objects.filter(action="people.person_rehired").exists()
    fresh = officer.post(
        f"{API}/persons",
        {"id_number": fresh_number(), "name": "  ", "employment": own_employment(w)},
    )
    assert errors_of(fresh) == {"name": "required"}


def test_a_scoped_writer_changes_only_the_current_employment(api_world, db):
    """The contractor manager of X sees p_own once p_own works for X, and with it p_own's
    earlier own-enterprise employment: that history is not theirs to change."""
    w = api_world
    person = Person.objects.get(pk=w.p_own.pk)
    earlier = person.current_employment_id
    admin = as_(w, Role.ADMINISTRATOR)
    moved = admin.post(
        f"{API}/persons/{person.pk}/employments",
        {
            "employment": {
                "employer_kind": "contractor",
                "contractor_id": w.contractor_x.pk,
                "started_on": "2026-09-01",
            },
            "ended_on": "2026-08-31",
        },
    )
    assert moved.status_code == 201, moved.content
    current = moved.json()["current_employment"]["id"]
    manager = as_(w, Role.CONTRACTOR_MANAGER)
    assert manager.get(f"{API}/employments/{earlier}").status_code == 200  # history is readable
    old = Employment.objects.get(pk=earlier)
    assert (
        manager.patch(f"{API}/employments/{earlier}", {"started_on": "2020-01-01"}).status_code
        == 404
    )
    assert manager.post(f"{API}/employments/{earlier}/deactivate").status_code == 404
    assert Employment.objects.get(pk=earlier).started_on == old.started_on
    officer = as_(w, Role.SAFETY_OFFICER)  # site A sees X's staff too
    assert officer.patch(f"{API}/employments/{earlier}", {"status": "suspended"}).status_code == 404
    # their own current employment stays theirs to change
    response = manager.patch(f"{API}/employments/{current}", {"status": "suspended"})
    assert response.status_code == 200, response.content
    # a group-wide writer may correct the history
    fixed = admin.patch(f"{API}/employments/{earlier}", {"started_on": "2020-01-01"})
    assert fixed.status_code == 200, fixed.content

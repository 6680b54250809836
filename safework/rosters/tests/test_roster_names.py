"""Roster rows whose name is not their ID number's person (issue 17 item 14), and the roster
template."""

import io

import openpyxl
import pytest

from safework.core.errors import InvalidInput
from safework.people.masking import mask_id_number
from safework.people.models import Person
from safework.people.tests.factories import PersonFactory
from safework.qualification.tests.qualification_fixtures import D, member, site
from safework.rosters import services as roster
from safework.rosters.template import EXAMPLE, TEMPLATE_COLUMNS
from safework.rosters.tests.test_roster import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def here(catalogue):
    return site()


def rows_for(person, name):
    return roster.rows_from_entries(
        [
            {
                "id_number": person.id_number,
                "name": name,
                "on": str(D),
                "work_type": "hot_work",
                "level": "level2",
                "role": "worker",
                "attrs": {"hot_work_method": "welding", "height_m": 0.5},
            }
        ]
    )


@pytest.mark.parametrize(
    "given",
    [
        "单志强",  # exact
        " 单 志强 ",  # spaces (and NFKC) do not matter
        "单·志强",  # a middle dot neither
        "善志强",  # the same pinyin under a heteronym reading (单 shan)
        "单志刚",  # a former name
    ],
)
def test_a_name_that_matches_the_person_is_accepted(here, given):
    person = member(here, name="单志强", former_names=["单志刚"])
    (entry,) = roster.validate_rows(rows_for(person, given), persons=Person.objects.all())
    assert entry.person == person


def test_a_name_of_someone_else_is_a_row_error_not_a_check_of_the_other_person(here):
    person = member(here, name="王建国")
    with pytest.raises(InvalidInput) as exc:
        roster.validate_rows(rows_for(person, "李四"), persons=Person.objects.all())
    (error,) = exc.value.errors
    assert (error.field, error.code) == ("rows.0.name", "name_mismatch")  # entry 0 is row 1
    assert "李四" in error.message and "1" in error.message  # the name given, the row
    assert mask_id_number(person.id_number) in error.message  # masked by default
    assert person.id_number not in error.message
    assert "王建国" not in error.message  # the other person's name is not told


@pytest.mark.parametrize(("role", "full"), [("safety_officer", True), ("team_leader", False)])
def test_the_api_masks_the_id_number_as_the_viewer_may_see_it(here, role, full):
    person = member(here, name="王建国")
    client, _user = client_for(role, site=here)
    entry = {
        "id_number": person.id_number,
        "name": "李四",
        "on": str(D),
        "work_type": "hot_work",
        "level": "level2",
        "role": "worker",
        "attrs": {"hot_work_method": "welding", "height_m": 0.5},
    }
    response = client.post(
        "/api/v1/rosters",
        {"site_id": here.pk, "entries": [entry]},
        content_type="application/json",
    )
    assert response.status_code == 422, response.json()
    (error,) = response.json()["errors"]
    assert (error["field"], error["code"]) == ("entries.0.name", "name_mismatch")
    assert (person.id_number in error["message"]) is full
    assert mask_id_number(person.id_number) in error["message"] or full
    ok = client.post(
        "/api/v1/rosters",
        {"site_id": here.pk, "entries": [{**entry, "name": "王建国"}]},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.json()


def test_a_file_row_with_another_persons_name(here):
    person = member(here, name="王建国")
    book = openpyxl.Workbook()
    book.active.append(["姓名", "身份证号", "日期", "作业类型", "级别", "角色", "动火方式"])
    book.active.append(
        ["王建国", person.id_number, "2026-03-10", "动火作业", "二级", "作业人", "焊接"]
    )
    book.active.append(
        ["赵六", person.id_number, "2026-03-11", "动火作业", "二级", "作业人", "焊接"]
    )
    out = io.BytesIO()
    book.save(out)
    rows = roster.read_roster_file(out.getvalue(), "排班.xlsx")
    with pytest.raises(InvalidInput) as exc:
        roster.validate_rows(rows, persons=Person.objects.all())
    assert [(e.field, e.code) for e in exc.value.errors] == [("rows.3.name", "name_mismatch")]


def test_the_template_reads_back_as_a_roster(here):
    client, _user = client_for("safety_officer", site=here)
    response = client.get("/api/v1/rosters/template")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    data = b"".join(response.streaming_content) if response.streaming else response.content
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == [header for _column, header in TEMPLATE_COLUMNS]
    codes = {(row[0].value, row[1].value) for row in book.worksheets[1].iter_rows(min_row=2)}
    assert ("工作类型", "hot_work") in codes or any(code == "hot_work" for _k, code in codes)
    assert any(code == "level2" for _k, code in codes)
    assert any(code == "guardian" for _k, code in codes)
    assert any(code == "welding" for _k, code in codes)

    # The example row is a valid roster row for the person it names.
    example = PersonFactory(id_number=EXAMPLE["id_number"], name="张三")
    rows = roster.read_roster_file(data, "safework-roster-template.xlsx")
    (entry,) = roster.validate_rows(rows, persons=Person.objects.all())
    assert (entry.person, entry.work_type.code, entry.level.code, entry.role.code) == (
        example,
        "hot_work",
        "level2",
        "worker",
    )
    assert entry.attrs == {"height_m": 3.0, "hot_work_method": "welding", "forklift_area": False}


def test_readers_may_download_the_template_but_strangers_may_not(here):
    client, _user = client_for("inspector", site=here)
    assert client.get("/api/v1/rosters/template").status_code == 200
    from django.test import Client

    # Not logged in: 401 (403 is for a known user without the permission).
    assert Client().get("/api/v1/rosters/template").status_code == 401

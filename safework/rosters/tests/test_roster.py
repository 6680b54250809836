"""The roster forward check (CERT-09): reading schedules, row errors, problems, API and CLI."""

import datetime as dt
import io
import json

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.core.errors import InvalidInput
from safework.core.models import AuditRecord
from safework.core.scope import Scope
from safework.people.models import Person
from safework.people.queries import persons_visible_to
from safework.qualification.tests.qualification_fixtures import D, certificate, member, site
from safework.rosters import services as roster
from safework.rosters.models import Roster

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
HEADER = ["序号", "姓名", "身份证号", "日期", "作业类型", "级别", "角色", "高处作业内容", "备注"]


@pytest.fixture
def here(catalogue):
    return site()


@pytest.fixture
def scaffolder(here):
    """A welder who also erects scaffolds; the 3.1 certificate expires 20 days after D."""
    person = member(here)
    certificate(person, "special_operation", "3.1", valid_until=D + 20 * DAY)
    return person


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def schedule(person, *days):
    return [HEADER] + [
        [i, person.name, person.id_number, day, "高处作业", "Ⅱ级", "作业人", "scaffolding", ""]
        for i, day in enumerate(days, start=1)
    ]


def test_read_xlsx_with_chinese_headers_dates_and_names(here, scaffolder):
    data = xlsx(schedule(scaffolder, D + DAY, D + 25 * DAY))
    rows = roster.read_roster_file(data, "排班.xlsx")
    assert [r.number for r in rows] == [2, 3]
    entries = roster.validate_rows(rows, persons=Person.objects.all(), site=here)
    assert [(e.person, e.on, e.work_type.code, e.level.code, e.role.code) for e in entries] == [
        (scaffolder, D + DAY, "height", "II", "worker"),
        (scaffolder, D + 25 * DAY, "height", "II", "worker"),
    ]
    assert entries[0].attrs == {"height_task": "scaffolding"}
    assert entries[0].site == here


def test_read_csv_with_header_synonyms_and_date_formats(here, scaffolder):
    text = (
        "身份证号码,作业日期,作业类型,级别,角色,属性\n"
        f"{scaffolder.id_number},2026/3/11,hot_work,level1,worker,"
        '"hot_work_method=welding; height_m=0.5"\n'
        f"{scaffolder.id_number.lower()},2026年3月12日,动火作业,二级,作业人,"
        '"{""hot_work_method"": ""cutting"", ""height_m"": 3}"\n'
        "\n"
    )
    rows = roster.read_roster_file(text.encode("gb18030"), "roster.csv")
    entries = roster.validate_rows(rows, persons=Person.objects.all())
    assert [(e.on, e.level.code) for e in entries] == [
        (dt.date(2026, 3, 11), "level1"),
        (dt.date(2026, 3, 12), "level2"),
    ]
    assert entries[1].attrs == {"hot_work_method": "cutting", "height_m": 3.0}


def test_excel_serial_dates(here, scaffolder):
    # A date cell that lost its format holds Excel's serial number: 46091 is 2026-03-10.
    data = xlsx(
        [
            HEADER,
            [1, "", scaffolder.id_number, 46091, "高处作业", "Ⅱ级", "作业人", "", ""],
            [2, "", scaffolder.id_number, "2026.03.10", "高处作业", "Ⅱ级", "作业人", "", ""],
        ]
    )
    everyone = Person.objects.all()
    entries = roster.validate_rows(roster.read_roster_file(data, "r.xlsx"), persons=everyone)
    assert [e.on for e in entries] == [dt.date(2026, 3, 10), dt.date(2026, 3, 10)]
    day_first = [1, "", scaffolder.id_number, "10/03/2026", "高处作业", "Ⅱ级", "作业人"]
    with pytest.raises(InvalidInput) as exc:
        roster.validate_rows(
            roster.read_roster_file(xlsx([HEADER, day_first]), "r.xlsx"), persons=everyone
        )
    assert [(e.field, e.code) for e in exc.value.errors] == [("rows.2.on", "invalid_date")]


def test_bad_rows_are_all_reported_with_their_row_numbers(here, scaffolder):
    other_site_person = member(site())
    data = xlsx(
        [
            HEADER,
            [1, "", scaffolder.id_number, D, "高处作业", "Ⅱ级", "作业人", "", ""],
            [2, "", "110105194912310021", D, "高处作业", "Ⅱ级", "作业人", "", ""],  # checksum
            [3, "", scaffolder.id_number, "下周一", "高处作业", "Ⅱ级", "作业人", "", ""],
            [4, "", scaffolder.id_number, D, "高处作业", "V级", "监工", "", ""],
            [5, "", 110105194912310020, D, "焊接", "", "作业人", "", ""],  # number, bad type
            [6, "", other_site_person.id_number, D, "动火作业", "一级", "作业人", "", ""],
        ]
    )
    rows = roster.read_roster_file(data, "bad.xlsx")
    visible = persons_visible_to(Scope(site_ids=frozenset({here.pk})))
    with pytest.raises(InvalidInput) as exc:
        roster.validate_rows(rows, persons=visible, site=here)
    found = {(e.field, e.code) for e in exc.value.errors}
    assert found == {
        ("rows.3.id_number", "id_number.checksum"),
        ("rows.4.on", "invalid_date"),
        ("rows.5.level", "invalid_level"),
        ("rows.5.role", "unknown_role"),
        ("rows.6.id_number", "id_number.as_number"),
        ("rows.6.work_type", "unknown_work_type"),
        ("rows.7.id_number", "unknown_person"),  # exists, but not visible here
    }
    assert all(e.message.startswith("Row ") or "行" in e.message for e in exc.value.errors)


def test_a_file_without_the_needed_columns():
    with pytest.raises(InvalidInput) as exc:
        roster.read_roster_file("姓名,日期\n张三,2026-03-10\n".encode(), "x.csv")
    assert exc.value.errors[0].code == "missing_column"
    with pytest.raises(InvalidInput):
        roster.read_roster_file(b"PK\x03\x04 broken", "x.xlsx")
    with pytest.raises(InvalidInput):
        roster.read_roster_file(b"", "x.pdf")


def test_a_title_row_above_the_header_is_skipped_as_in_a_ledger(here, scaffolder):
    title = ["2026年3月 高处作业排班表"]
    remarked = ["序号", "姓名", "身份证号（必填）", "日期：", "作业类型", "级别", "角色"]
    row = [1, "", scaffolder.id_number, D + DAY, "高处作业", "Ⅱ级", "作业人"]
    rows = roster.read_roster_file(xlsx([title, remarked, row]), "r.xlsx")
    assert [(r.number, r.values["on"]) for r in rows] == [(3, D + DAY)]


def test_problems_list_entries_after_the_expiry_with_the_author(here, scaffolder):
    author = UserFactory(first_name="车间主任")
    rows = roster.read_roster_file(xlsx(schedule(scaffolder, D + DAY, D + 25 * DAY)), "r.xlsx")
    entries = roster.validate_rows(rows, persons=Person.objects.all(), site=here)
    stored = roster.create_roster(name="三月排班", author=author, site=here, entries=entries)

    problems = roster.roster_problems(stored)

    (problem,) = problems
    assert problem.entry.on == D + 25 * DAY
    assert [r.code for r in problem.decision.reasons] == ["cert.expired"]
    assert stored.author == author
    record = AuditRecord.objects.filter(action="roster.created").get()
    assert record.object_id == str(stored.pk)


# --- API ------------------------------------------------------------------------------------------


def client_for(role, **grant):
    user = UserFactory()
    RoleGrantFactory(user=user, role=role, **grant)
    client = Client()
    client.force_login(user)
    return client, user


def test_api_upload_then_problems(here, scaffolder):
    client, user = client_for("safety_officer", site=here)
    upload = SimpleUploadedFile("排班.xlsx", xlsx(schedule(scaffolder, D + DAY, D + 25 * DAY)))
    response = client.post(
        "/api/v1/rosters", {"file": upload, "site_id": here.pk, "name": "三月排班"}
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["entries"] == 2
    assert created["author"]["username"] == user.username

    response = client.get(f"/api/v1/rosters/{created['id']}/problems")
    assert response.status_code == 200, response.json()
    out = response.json()
    assert out["roster"]["author"]["id"] == user.pk
    assert (out["checked"], out["total"]) == (2, 1)
    (item,) = out["items"]
    assert item["on"] == str(D + 25 * DAY)
    assert item["person_id"] == scaffolder.pk
    assert (item["work_type"], item["level"], item["role"]) == ("height", "II", "worker")
    assert [r["code"] for r in item["reasons"]] == ["cert.expired"]
    assert item["reasons"][0]["clause"]


def test_api_json_entries_and_row_errors(here, scaffolder):
    client, _user = client_for("team_leader", site=here)
    entry = {
        "id_number": scaffolder.id_number,
        "on": str(D + DAY),
        "work_type": "hot_work",
        "level": "level1",
        "role": "worker",
        "attrs": {"hot_work_method": "welding", "height_m": 1},
    }
    good = client.post(
        "/api/v1/rosters",
        {"name": "JSON", "site_id": here.pk, "entries": [entry, {**entry, "person_id": None}]},
        content_type="application/json",
    )
    assert good.status_code == 201, good.json()
    problems = client.get(f"/api/v1/rosters/{good.json()['id']}/problems").json()
    assert problems["total"] == 0

    bad = client.post(
        "/api/v1/rosters",
        {"entries": [entry, {**entry, "level": "IV", "on": "someday"}]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    fields = {(e["field"], e["code"]) for e in bad.json()["errors"]}
    assert fields == {("entries.1.level", "invalid_level"), ("entries.1.on", "invalid_date")}
    assert all("2" in e["message"] for e in bad.json()["errors"])  # "Row 2"
    assert Roster.objects.count() == 1


def test_api_rejects_empty_and_malformed_bodies(here):
    client, _user = client_for("safety_officer", site=here)
    assert client.post("/api/v1/rosters", {}, content_type="application/json").status_code == 422
    assert (
        client.post("/api/v1/rosters", "{oops", content_type="application/json").status_code == 400
    )
    assert client.post("/api/v1/rosters", {"name": "no file"}).status_code == 422


def test_rosters_of_another_site_are_404_and_readers_cannot_write(here, scaffolder):
    client, user = client_for("safety_officer", site=here)
    text = f"身份证号,日期,作业类型,级别,角色\n{scaffolder.id_number},{D},excavation,,worker\n"
    upload = SimpleUploadedFile("r.csv", text.encode())
    created = client.post("/api/v1/rosters", {"file": upload, "site_id": here.pk}).json()
    elsewhere, _ = client_for("safety_officer", site=site())
    assert elsewhere.get(f"/api/v1/rosters/{created['id']}/problems").status_code == 404
    inspector, _ = client_for("inspector")
    assert inspector.get(f"/api/v1/rosters/{created['id']}/problems").status_code == 200
    body = {"entries": []}
    assert (
        inspector.post("/api/v1/rosters", body, content_type="application/json").status_code == 403
    )
    problems = client.get(f"/api/v1/rosters/{created['id']}/problems").json()
    assert [r["code"] for r in problems["items"][0]["reasons"]] == ["position.not_permitted"]


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_roster_check(here, scaffolder, tmp_path, capsys):
    path = tmp_path / "排班.xlsx"
    path.write_bytes(xlsx(schedule(scaffolder, D + DAY)))
    call_command("roster", "check", str(path), "--site", here.code)
    assert "已检查 1 条排班，0 条不具备资格" in capsys.readouterr().out

    path.write_bytes(xlsx(schedule(scaffolder, D + DAY, D + 25 * DAY)))
    with pytest.raises(SystemExit) as exit_:
        call_command("roster", "check", str(path), "--site", here.code)
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "第 3 行：" in out and "不具备资格" in out and "cert.expired" in out
    assert scaffolder.id_number not in out

    path.write_bytes(xlsx([HEADER, [1, "", "bad", D, "高处作业", "Ⅱ级", "作业人", "", ""]]))
    with pytest.raises(CommandError) as error:
        call_command("roster", "check", str(path))
    assert error.value.returncode == 2


def test_cli_qualify(here, scaffolder, capsys):
    ask = ["--work-type", "hot_work", "--level", "level1", "--role", "worker"]
    ask += ["--site", here.code, "--attr", "hot_work_method=welding", "--attr", "height_m=3"]
    call_command("qualify", "--person", scaffolder.id_number, *ask, "--at", str(D))
    assert capsys.readouterr().out.startswith("允许：")

    with pytest.raises(SystemExit) as exit_:
        call_command("qualify", "--person", str(scaffolder.pk), *ask, "--at", str(D + 25 * DAY))
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert out.startswith("拒绝：") and "cert.expired" in out and "依据：" in out

    with pytest.raises(CommandError) as error:
        call_command("qualify", "--person", str(scaffolder.pk), *ask[:2], "--level", "IV",
                     "--role", "worker")  # fmt: skip
    assert error.value.returncode == 2
    with pytest.raises(CommandError):
        call_command("qualify", "--person", "999999", *ask)


def test_json_entries_body_is_documented(here):
    client, _ = client_for("administrator")
    spec = client.get("/api/v1/openapi.json").json()
    post = spec["paths"]["/api/v1/rosters"]["post"]
    assert post["x-safework-permission"] == {"resource": "roster", "action": "write"}
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    problems = spec["paths"]["/api/v1/rosters/{roster_id}/problems"]["get"]
    assert problems["x-safework-permission"] == {"resource": "roster", "action": "read"}
    assert json.dumps(spec)  # serialisable


# --- hostile input is a 422, never a 500 ---------------------------------------------------------


def test_a_csv_field_over_the_csv_limit_is_a_file_error(here, scaffolder):
    text = f"身份证号,日期,作业类型,级别,角色,备注\n{scaffolder.id_number},{D},excavation,,worker,"
    data = (text + "x" * 200_000 + "\n").encode()
    with pytest.raises(InvalidInput) as exc:
        roster.read_roster_file(data, "roster.csv")
    assert [(e.field, e.code) for e in exc.value.errors] == [("file", "file.cell_too_long")]

    client, _user = client_for("safety_officer", site=here)
    upload = SimpleUploadedFile("roster.csv", data)
    response = client.post("/api/v1/rosters", {"file": upload, "site_id": here.pk})
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "file"


def test_deeply_nested_json_in_an_attrs_cell_is_a_row_error(here, scaffolder):
    deep = '{"height_m": ' + "[" * 100_000 + "]" * 100_000 + "}"
    entry = {
        "id_number": scaffolder.id_number,
        "on": str(D + DAY),
        "work_type": "hot_work",
        "level": "level1",
        "role": "worker",
        "attrs": deep,
    }
    with pytest.raises(InvalidInput) as exc:
        roster.validate_rows(roster.rows_from_entries([entry]), persons=Person.objects.all())
    assert [(e.field, e.code) for e in exc.value.errors] == [("rows.0.attrs", "invalid")]

    client, _user = client_for("safety_officer", site=here)
    response = client.post("/api/v1/rosters", {"entries": [entry]}, content_type="application/json")
    assert response.status_code == 422, response.content


def test_text_attributes_in_a_roster_must_be_allowed_values(here, scaffolder):
    text = (
        "身份证号,日期,作业类型,级别,角色,高处作业内容,属性\n"
        f"{scaffolder.id_number},{D},height,II,worker,登高架设,\n"
        f"{scaffolder.id_number},{D},height,II,worker,ladder,\n"
        f"{scaffolder.id_number},{D},height,II,worker,scaffolding,process=*\n"
    )
    rows = roster.read_roster_file(text.encode(), "roster.csv")
    with pytest.raises(InvalidInput) as exc:
        roster.validate_rows(rows, persons=Person.objects.all())
    assert {(e.field, e.code) for e in exc.value.errors} == {
        ("rows.3.attrs.height_task", "invalid_choice"),
        ("rows.4.attrs.process", "invalid_choice"),
    }
    (entry,) = roster.validate_rows(rows[:1], persons=Person.objects.all())
    assert entry.attrs == {"height_task": "scaffolding"}

"""Dates and text that cannot be (issue 17 item 12): a future birth or issue date, employment
before the minimum working age, control characters in text. Each is a 422 naming the field; the
dates are the site's local dates (Asia/Shanghai), so 23:30 UTC is already the next day."""

import datetime as dt

import pytest
import time_machine

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.people.models import Person
from safework.people.rules import ric_check_char
from safework.people.tests.factories import fresh_uscc

api_world = world_fixture()

UTC = dt.UTC
# 2026-12-07 23:30 UTC is 2026-12-08 07:30 in Shanghai: "today" is the 8th there.
LATE_EVENING_UTC = dt.datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
TODAY = dt.date(2026, 12, 8)


def id_born(birth: dt.date, serial: str = "123") -> str:
    first17 = f"110105{birth:%Y%m%d}{serial}"
    return first17 + ric_check_char(first17)


def admin(world):
    return client_for(world.users[Role.ADMINISTRATOR])


def codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def late_evening():
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        yield


# --- birth dates ------------------------------------------------------------------------------


def test_born_today_in_shanghai_is_accepted(api_world, db, late_evening):
    response = admin(api_world).post(
        f"{API}/persons", {"id_number": id_born(TODAY), "name": "王小宝"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["birth_date"] == "2026-12-08"


def test_born_tomorrow_is_422(api_world, db, late_evening):
    number = id_born(TODAY + dt.timedelta(days=1))
    response = admin(api_world).post(f"{API}/persons", {"id_number": number, "name": "王小宝"})
    assert response.status_code == 422, response.content
    assert codes(response) == [("id_number", "id_number.birth_date_future")]
    assert "将来" in response.json()["errors"][0]["message"]
    assert not Person.objects.filter(id_number=number).exists()


# --- the minimum working age ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started_on", "status"),
    [(dt.date(2026, 12, 7), 422), (dt.date(2026, 12, 8), 201)],  # the day before / the birthday
)
def test_employment_starts_on_the_16th_birthday_at_the_earliest(
    api_world, db, late_evening, started_on, status
):
    number = id_born(dt.date(2010, 12, 8))
    body = {
        "id_number": number,
        "name": "李少年",
        "employment": {
            "employer_kind": "own",
            "department_id": api_world.dept_t.pk,
            "started_on": str(started_on),
        },
    }
    response = admin(api_world).post(f"{API}/persons", body)
    assert response.status_code == status, response.content
    if status == 422:
        assert codes(response) == [("employment.started_on", "employment.under_minimum_age")]
        message = response.json()["errors"][0]["message"]
        assert "劳动法" in message and "2026-12-08" in message
        assert not Person.objects.filter(id_number=number).exists()


def test_the_minimum_age_is_a_setting_with_its_clause():
    from safework.core.settings_registry import DEFAULTS

    spec = DEFAULTS["people.minimum_working_age"]
    assert spec.default == 16
    assert "第十五条" in str(spec.clause)  # Labour Law art. 15


def test_born_29_february(db):
    from safework.people.services import birthday, minimum_age_errors

    birth = dt.date(2008, 2, 29)
    assert minimum_age_errors(birth, dt.date(2024, 2, 28), "f")  # 2024 is leap: 29 Feb
    assert not minimum_age_errors(birth, dt.date(2024, 2, 29), "f")
    assert birthday(birth, 18) == dt.date(2026, 3, 1)  # a common year: 1 March


def test_moving_an_employment_start_before_the_16th_birthday_is_422(api_world, db, late_evening):
    created = admin(api_world).post(
        f"{API}/persons",
        {
            "id_number": id_born(dt.date(2010, 1, 10)),
            "name": "赵少年",
            "employment": {
                "employer_kind": "own",
                "department_id": api_world.dept_t.pk,
                "started_on": "2026-01-10",
            },
        },
    )
    assert created.status_code == 201, created.content
    employment_id = created.json()["current_employment"]["id"]
    response = admin(api_world).patch(
        f"{API}/employments/{employment_id}", {"started_on": "2026-01-09"}
    )
    assert response.status_code == 422, response.content
    assert codes(response) == [("started_on", "employment.under_minimum_age")]


# --- control characters -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1f", "\x7f"])
def test_control_characters_in_a_name_are_422(api_world, db, bad):
    number = id_born(dt.date(1990, 5, 6))
    response = admin(api_world).post(f"{API}/persons", {"id_number": number, "name": f"张{bad}三"})
    assert response.status_code == 422, response.content
    assert codes(response) == [("name", "control_characters")]
    assert not Person.objects.filter(id_number=number).exists()


def test_a_name_with_a_middle_dot_is_accepted(api_world, db):
    response = admin(api_world).post(
        f"{API}/persons", {"id_number": id_born(dt.date(1990, 5, 6)), "name": "阿依古丽·买买提"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "阿依古丽·买买提"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/contractors", {"name": "承包\x00商", "uscc": fresh_uscc(77)}, "name"),
        ("/positions", {"name": "焊\x07工", "code": "welder-bad"}, "name"),
        ("/users", {"username": "bad-user", "first_name": "小\x1f明"}, "first_name"),
    ],
)
def test_control_characters_in_other_texts_are_422(api_world, db, path, body, field):
    response = admin(api_world).post(f"{API}{path}", body)
    assert response.status_code == 422, response.content
    assert (field, "control_characters") in codes(response)


def test_a_note_keeps_its_line_breaks_but_not_nul():
    from safework.core.text import text_errors

    assert text_errors("第一行\n第二行\t备注", "note", multiline=True) == []
    assert text_errors("第一行\x00", "note", multiline=True)[0].code == "control_characters"
    assert text_errors("第一行\n第二行", "name")[0].field == "name"
    assert text_errors(["甲", "乙\x00"], "former_names")[0].field == "former_names.1"


def test_nul_anywhere_in_a_body_or_a_query_is_422(api_world, db):
    body = {
        "id_number": id_born(dt.date(1990, 5, 6)),
        "name": "张三",
        "employment": {"employer_kind": "own\x00", "started_on": "2020-01-01"},
    }
    response = admin(api_world).post(f"{API}/persons", body)
    assert response.status_code == 422, response.content
    assert codes(response) == [("employment.employer_kind", "control_characters")]
    response = admin(api_world).get(f"{API}/persons", {"name": "张\x00"})
    assert response.status_code == 422, response.content
    assert codes(response) == [("name", "control_characters")]

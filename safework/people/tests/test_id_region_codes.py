"""Region codes of resident ID numbers across decades (decisions.md, "Resident ID numbers").

A number is assigned at or after birth with the code of the place of registration then, and
keeps it when districts are renamed or merged: a code in force at some time in or after the
birth year is accepted, one abolished before the birth year is not. The check character and the
birth date are still checked. The vectors are written here by hand (the years a code was in
force are those of the Wikipedia division lists python-stdnum ships), each check character
computed below by ISO 7064 MOD 11-2, independently of the code under test.
"""

import pytest

from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, world_fixture
from safework.ledger import values
from safework.ledger.values import ValueProblem
from safework.people.rules import IdNumberError, parse_id_number

api_world = world_fixture()


def mod11_2(first17: str) -> str:
    """ISO 7064 MOD 11-2: the check character making Σ digit·2^(position-1) ≡ 1 (mod 11)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def number(region: str, birth: str, sequence: str = "123") -> str:
    first17 = region + birth + sequence
    return first17 + mod11_2(first17)


def test_the_check_rule_of_this_file_matches_the_standards_example():
    assert number("110105", "19491231", "002") == "11010519491231002X"  # GB 11643's example


# (region, birth date): real districts whose codes started in 1983 (鼓楼区 of Nanjing, 临淄区 of
# Zibo: the demo site's own district) or later, for people born before; renamed codes; a code
# stable since the 1950s; the last year a since-abolished code was in force.
ACCEPTED = [
    ("320106", "19750615"),  # 鼓楼区 (Nanjing), code from 1983
    ("320106", "19820301"),
    ("370305", "19750615"),  # 临淄区 (Zibo), code from 1983
    ("370305", "19821231"),
    ("320106", "19951010"),  # and after it was created
    ("110111", "19801201"),  # 房山区, code from 1986: created after the birth year
    ("110112", "19620101"),  # 通州区, code from 1997
    ("120110", "19801201"),  # 东郊区 until 1991, 东丽区 from 1992
    ("120110", "19921201"),
    ("110105", "19530101"),  # 朝阳区 (Beijing), no change: every decade
    ("110105", "19690707"),
    ("110105", "19761111"),
    ("110105", "19880808"),
    ("110105", "19990909"),
    ("110105", "20050505"),
    ("110103", "19650101"),  # 崇文区, abolished after 2010: born before
    ("110103", "20101231"),  # born in its last year
    ("110201", "19820601"),  # 昌平县, last in force 1982
    ("412723", "19901005"),  # 商水县, old code still on valid numbers (until 2000)
    ("110105", "19760229"),  # 29 February of a leap year
]


@pytest.mark.parametrize(("region", "birth"), ACCEPTED)
def test_a_code_in_force_in_or_after_the_birth_year_is_accepted(region, birth):
    value = number(region, birth)
    parsed = parse_id_number(value)
    assert parsed.value == value
    assert parsed.birth_date.strftime("%Y%m%d") == birth
    assert values.id_number(value).value == value  # the import's fast path agrees


REFUSED_REGION = [
    ("110103", "20110101"),  # 崇文区 merged into 东城区 in 2010
    ("110201", "19830101"),  # 昌平县 became a new code in 1983
    ("110201", "19931201"),
    ("412723", "20050101"),  # 商水县's old code, gone by 2000
    ("990426", "19911201"),  # no such region
    ("110999", "19800101"),  # a province without this county
]


@pytest.mark.parametrize(("region", "birth"), REFUSED_REGION)
def test_a_code_abolished_before_the_birth_year_is_refused(region, birth):
    value = number(region, birth)
    with pytest.raises(IdNumberError) as exc:
        parse_id_number(value)
    assert exc.value.code == "id_number.invalid"
    with pytest.raises(ValueProblem) as problem:
        values.id_number(value)
    assert problem.value.code == "id_number.invalid"


def test_a_wrong_check_character_is_refused_whatever_the_region():
    good = number("370305", "19750615")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(IdNumberError) as exc:
        parse_id_number(bad)
    assert exc.value.code == "id_number.checksum"


@pytest.mark.parametrize("birth", ["19750229", "19820229", "19001301", "19750631"])
def test_an_impossible_birth_date_is_refused(birth):
    with pytest.raises(IdNumberError) as exc:
        parse_id_number(number("320106", birth))
    assert exc.value.code == "id_number.birth_date"


def test_a_first_generation_number_of_a_later_created_code_converts_and_passes():
    # 15 digits: region, birth date YYMMDD, sequence; no check character.
    converted = values.id_number("370305750615123")
    assert converted.value == number("370305", "19750615")
    assert converted.converted_from_15
    with pytest.raises(ValueProblem) as problem:
        values.id_number("110201850101123")  # 昌平县's old code, born 1985
    assert problem.value.code == "id_number.invalid"


@pytest.mark.django_db
def test_the_api_registers_people_born_before_their_district_code(api_world):
    client = client_for(api_world.users[Role.SAFETY_OFFICER])
    for region, birth in (("320106", "19750615"), ("370305", "19820301")):
        response = client.post(
            f"{API}/persons",
            {
                "id_number": number(region, birth, "135"),
                "name": "老职工",
                "employment": {
                    "employer_kind": "own",
                    "department_id": api_world.dept_t.pk,
                    "started_on": "2026-03-01",
                },
            },
        )
        assert response.status_code == 201, response.content
    response = client.post(
        f"{API}/persons",
        {
            "id_number": number("110103", "20110101"),
            "name": "新生",
            "employment": {
                "employer_kind": "own",
                "department_id": api_world.dept_t.pk,
                "started_on": "2026-03-01",
            },
        },
    )
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["errors"]] == ["id_number.invalid"]

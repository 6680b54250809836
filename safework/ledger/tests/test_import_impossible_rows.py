"""Ledger rows that cannot be (issue 17 item 12): control characters in a cell, a birth date in
the future, a person under the minimum working age. Each is a row error of its own row, never a
crash; the other rows import. "Today" is the site's date (23:30 UTC is tomorrow in Shanghai)."""

import datetime as dt

import pytest
import time_machine

from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.services import start_import
from safework.ledger.testing import identities, upload
from safework.people.models import Person
from safework.people.rules import ric_check_char

LATE_EVENING_UTC = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)  # 2026-12-08 in Shanghai
HEADER = "姓名,身份证号码,操作项目,证书编号,发证日期,有效期至"
GOOD = [number for number, _name in identities(6, seed=1217)]


def id_born(birth: dt.date) -> str:
    first17 = f"110105{birth:%Y%m%d}456"
    return first17 + ric_check_char(first17)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run(text: str, django_capture_on_commit_callbacks) -> ImportJob:
    with (
        time_machine.travel(LATE_EVENING_UTC, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = start_import(
            by=None,
            file_obj=upload("台账.csv", text.encode()),
            original_name="台账.csv",
            valid_rows_only=True,
        )
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_impossible_rows_are_row_errors_and_the_rest_imports(
    catalogue, django_capture_on_commit_callbacks
):
    rows = [
        HEADER,
        f"张\x07三,{GOOD[0]},低压电工作业,C-1,2024/1/10,2030/1/9",  # row 2
        f"李\x1f四,{GOOD[1]},低压电工作业,C-2,2024/1/10,2030/1/9",  # row 3
        f"王\x7f五,{GOOD[2]},低压电工作业,C-3,2024/1/10,2030/1/9",  # row 4
        f"明天生,{id_born(dt.date(2026, 12, 9))},低压电工作业,C-4,2024/1/10,2030/1/9",  # row 5
        f"今天生,{id_born(dt.date(2026, 12, 8))},低压电工作业,C-5,2024/1/10,2030/1/9",  # row 6
        f"十五岁,{id_born(dt.date(2010, 12, 9))},低压电工作业,C-6,2024/1/10,2030/1/9",  # row 7
        f"十六岁,{id_born(dt.date(2010, 12, 8))},低压电工作业,C-7,2024/1/10,2030/1/9",  # row 8
        f"阿依古丽·买买提,{GOOD[3]},低压电工作业,C-8,2024/1/10,2030/1/9",  # row 9
    ]
    job = run("\n".join(rows), django_capture_on_commit_callbacks)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    errors = sorted((e["row"], e["code"]) for e in job.errors if e["level"] == "error")
    assert errors == [
        (2, "control_characters"),
        (3, "control_characters"),
        (4, "control_characters"),
        (5, "id_number.birth_date_future"),
        (6, "employment.under_minimum_age"),  # born today: certainly under 16
        (7, "employment.under_minimum_age"),  # turns 16 tomorrow
    ]
    assert "\x07" not in str(job.errors)
    names = set(Person.objects.values_list("name", flat=True))
    assert names == {"十六岁", "阿依古丽·买买提"}

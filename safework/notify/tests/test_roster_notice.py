"""CERT-09: a roster entry whose person will not be qualified on its day is told to the roster's
author (the workshop head who made it), within the look-ahead; a second scan adds nothing."""

import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest

from safework.accounts.tests.factories import UserFactory
from safework.notify import scan, services
from safework.notify.models import Delivery, Event
from safework.people.models import Person
from safework.qualification.tests.qualification_fixtures import D, certificate, member, site
from safework.rosters import services as roster

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
HEADER = ["序号", "姓名", "身份证号", "日期", "作业类型", "级别", "角色", "高处作业内容", "备注"]


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("entry_day", "told"), [(30, True), (31, False)])
def test_unqualified_entry_is_told_to_the_roster_author(catalogue, entry_day, told):
    here = site()
    person = member(here)
    certificate(person, "special_operation", "3.1", valid_until=D + 20 * DAY)
    author = UserFactory(first_name="车间主任")
    rows = [HEADER] + [
        [
            1,
            person.name,
            person.id_number,
            D + entry_day * DAY,
            "高处作业",
            "Ⅱ级",
            "作业人",
            "scaffolding",
            "",
        ],
        [2, person.name, person.id_number, D + DAY, "高处作业", "Ⅱ级", "作业人", "scaffolding", ""],
    ]
    entries = roster.validate_rows(
        roster.read_roster_file(_xlsx(rows), "r.xlsx"), persons=Person.objects.all(), site=here
    )
    stored = roster.create_roster(name="三月排班", author=author, site=here, entries=entries)
    at = dt.datetime.combine(D, dt.time(9), tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))

    scan.run_scan(at=at)  # look-ahead 30 days from D
    assert scan.run_scan(at=at)["rosters"] == 0

    events = Event.objects.filter(kind="roster.unqualified")
    assert events.count() == (1 if told else 0)
    if told:
        services.fan_out(now=at)
        notice = Delivery.objects.get(event=events.get(), user=author)
        assert notice.relation == "roster_author"
        assert (D + entry_day * DAY).isoformat() in notice.body
        assert stored.name == events.get().payload["roster"]

"""The park data exchange (AQ 3064.2-2025 §8.2, Annex A): records, outbox, delivery, export."""

import datetime as dt
import hashlib
import hmac
import io
import json
import socket
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, transaction
from django.utils import translation

from safework.accounts.models import User
from safework.certs.tests.factories import CertificateFactory, item
from safework.core import memo
from safework.org.tests.factories import AreaFactory, DepartmentFactory, SiteFactory
from safework.people.tests.factories import ContractorFactory, PersonFactory
from safework.permits import park
from safework.permits.models import (
    Alarm,
    AlarmType,
    CrewAssignment,
    GasTest,
    ParkPush,
    Permit,
    PermitEvent,
)
from safework.permits.tests.park_receiver import Receiver
from safework.permits.workflow import AlarmStatus, PermitStatus
from safework.work.models import CrewRole, WorkLevel, WorkType

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2027, 3, 10, 8, 0, tzinfo=SHANGHAI)
NOW = dt.datetime(2027, 3, 10, 9, 0, tzinfo=SHANGHAI)
SECRET = "park-secret-for-tests"

pytestmark = pytest.mark.django_db


# ---- builders ------------------------------------------------------------------------------------
def a_user(**fields) -> User:
    # No password: hashing one costs ~0.4 s, and these users never log in.
    return User.objects.create(username=f"park-user-{User.objects.count()}", **fields)


def make_permit(work_type="hot_work", level="level1", **fields) -> Permit:
    wt = WorkType.objects.get(code=work_type)
    values = {
        "work_type": wt,
        "level": WorkLevel.objects.get(work_type=wt, code=level) if level else None,
        "site": fields.pop("site", None) or SiteFactory(),
        "place": "T-101 储罐东侧",
        "content": "更换法兰垫片",
        "planned_start": START,
        "planned_end": START + dt.timedelta(hours=8),
        "applicant": fields.pop("applicant", None) or a_user(),
        "created_at": START - dt.timedelta(days=1),
        "submitted_at": START - dt.timedelta(days=1),
        "status": PermitStatus.SUBMITTED,
    }
    values.update(fields)
    return Permit.objects.create(**values)


def add_crew(permit, role, person=None) -> CrewAssignment:
    return CrewAssignment.objects.create(
        permit=permit,
        person=person or PersonFactory(),
        role=CrewRole.objects.get(code=role),
        added_at=START - dt.timedelta(hours=2),
    )


def add_gas_test(permit, *, gas, value, unit, at) -> GasTest:
    return GasTest.objects.create(
        permit=permit,
        taken_at=at,
        point="罐顶",
        gas=gas,
        value=Decimal(value),
        unit=unit,
        instrument="GD-7",
        tester=PersonFactory(),
        recorded_by=a_user(),
        passed=True,
        limit="≤ 10 %LEL",
        clause="GB 30871-2022 5.3.1",
    )


def make_alarm(permit=None, **fields) -> Alarm:
    alarm_type, _ = AlarmType.objects.get_or_create(
        code="10", defaults={"name": "作业票超期", "trigger": "超过有效期", "clause": "§5.9"}
    )
    values = {
        "alarm_type": alarm_type,
        "key": f"test-{Alarm.objects.count()}",
        "permit": permit,
        "site": permit.site if permit else SiteFactory(),
        "message": "作业票已超过有效期",
        "raised_at": START,
    }
    values.update(fields)
    return Alarm.objects.create(**values)


def push_row(version=1, *, object_uuid=None, at=NOW, payload=None) -> ParkPush:
    return ParkPush.objects.create(
        kind="permit",
        object_uuid=object_uuid or "11111111-1111-4111-8111-111111111111",
        version=version,
        payload=payload or {"id": "x"},
        next_attempt_at=at,
        created_at=at,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def park_on(settings):
    settings.PARK_SECRET = SECRET
    settings.PARK_COMPANY_CODE = "91310000TEST00001X"
    settings.PARK_MAX_ATTEMPTS = 4
    settings.PARK_BACKOFF_SECONDS = 30
    settings.PARK_BACKOFF_MAX_SECONDS = 3600
    settings.PARK_TIMEOUT_SECONDS = 5
    return settings


@pytest.fixture
def receiver(park_on):
    with Receiver() as r:
        park_on.PARK_URL = r.url
        yield r


# ---- the permit record ---------------------------------------------------------------------------
def test_the_permit_record_has_the_33_annex_fields(catalogue):
    record = park.permit_record(make_permit(), at=NOW)
    assert len(record) == 33
    assert list(record)[:4] == ["id", "company_name", "company_code", "work_type"]


def test_the_permit_record_says_who_where_and_what(catalogue, settings):
    settings.PARK_COMPANY_CODE = "91310000TEST00001X"
    settings.PARK_COMPANY_NAME = "测试化工有限公司"
    leader = PersonFactory(phone="13800000001")
    contractor = ContractorFactory(name="安装公司")
    area = AreaFactory(name="罐区", center_latitude="31.100000", center_longitude="121.200000")
    permit = make_permit(
        site=area.site,
        area=area,
        contractor=contractor,
        work_leader=leader,
        approved_at=START - dt.timedelta(minutes=20),
        status=PermitStatus.APPROVED,
    )
    welder, helper = PersonFactory(name="张焊工"), PersonFactory(name="李辅助")
    add_crew(permit, "worker", welder)
    add_crew(permit, "worker", helper)
    add_crew(permit, "guardian", PersonFactory(name="王监护"))
    CertificateFactory(person=welder, item=item("special_operation", "2.1"), number="T001")
    CertificateFactory(  # expired before the work: not listed
        person=helper,
        item=item("special_operation", "2.1"),
        number="T002",
        issued_on=dt.date(2020, 1, 1),
        valid_until=dt.date(2027, 3, 9),
    )
    PermitEvent.objects.create(
        permit=permit, at=START, kind="permit.approved", actor_label="赵审批"
    )

    record = park.permit_record(permit, at=NOW)

    assert record["id"] == str(permit.uuid)
    assert record["company_name"] == "测试化工有限公司"
    assert record["company_code"] == "91310000TEST00001X"
    assert record["work_type"] == "02"
    assert record["work_status"] == "1"
    assert record["sign_time"] == "2027-03-10T07:40:00+08:00"
    assert record["work_start_time"] == "2027-03-10T08:00:00+08:00"
    assert record["work_end_time"] == "2027-03-10T16:00:00+08:00"
    assert record["accept_time"] is None
    assert record["work_place"] == f"{area.site.name} 罐区 T-101 储罐东侧"
    assert record["work_content"] == "更换法兰垫片"
    # No point on the permit: the area's centre.
    assert (record["longitude"], record["latitude"]) == (121.2, 31.1)
    assert record["worker_name"] == "张焊工,李辅助"
    assert record["guardian_name"] == "王监护"
    assert record["special_cert_name"] == "熔化焊接与热切割作业"
    assert record["special_cert_no"] == "T001"
    assert record["work_unit"] == "安装公司"
    assert record["is_contractor"] == 1
    assert (record["work_leader"], record["work_leader_mobile"]) == (leader.name, "13800000001")
    assert (record["is_changed"], record["is_cancelled"], record["deleted"]) == (0, 0, 0)
    assert record["update_by"] == "赵审批"


def test_a_certificate_valid_until_the_start_date_is_listed(catalogue):
    # Valid through its last day: the local date of the start (START is 08:00 on 10 March).
    permit = make_permit()
    welder = PersonFactory()
    add_crew(permit, "worker", welder)
    CertificateFactory(
        person=welder,
        item=item("special_operation", "2.1"),
        number="LAST-DAY",
        issued_on=dt.date(2021, 3, 11),
        valid_until=dt.date(2027, 3, 10),
    )
    assert park.permit_record(permit, at=NOW)["special_cert_no"] == "LAST-DAY"


def test_own_work_unit_and_the_permits_own_point(catalogue):
    department = DepartmentFactory(name="维修车间")
    permit = make_permit(work_unit=department, latitude="30.500000", longitude="120.500000")
    record = park.permit_record(permit, at=NOW)
    assert (record["work_unit"], record["is_contractor"]) == ("维修车间", 0)
    assert (record["longitude"], record["latitude"]) == (120.5, 30.5)


def test_the_gas_fields_carry_the_latest_sampling_round(catalogue):
    permit = make_permit()
    add_gas_test(
        permit, gas="可燃气体", value="0.500", unit="%LEL", at=START - dt.timedelta(hours=1)
    )
    add_gas_test(
        permit, gas="可燃气体", value="0.200", unit="%LEL", at=START - dt.timedelta(minutes=10)
    )
    add_gas_test(permit, gas="氧气", value="20.900", unit="%", at=START - dt.timedelta(minutes=10))
    record = park.permit_record(permit, at=NOW)
    assert record["gas_name"] == "可燃气体,氧气"
    assert record["gas_time"] == "2027-03-10T07:50:00+08:00"
    assert record["gas_value"] == "0.2 %LEL,20.9 %"


def test_work_without_gas_fields_in_the_annex_leaves_them_empty(catalogue):
    permit = make_permit("height", "II")
    add_gas_test(permit, gas="氧气", value="20.9", unit="%", at=START)
    record = park.permit_record(permit, at=NOW)
    assert (record["gas_name"], record["gas_time"], record["gas_value"]) == (None, None, None)


def test_the_record_costs_the_same_queries_for_any_crew(catalogue, django_assert_num_queries):
    small, large = make_permit(), make_permit()
    add_crew(small, "worker")
    for role in ["worker", "worker", "worker", "guardian", "guardian", "site_lead"]:
        member = add_crew(large, role)
        CertificateFactory(person=member.person, item=item("special_operation", "2.1"))
        add_gas_test(large, gas="氧气", value="20.9", unit="%", at=START)
    with django_assert_num_queries(4):
        park.permit_record(small, at=NOW)
    with django_assert_num_queries(4):
        park.permit_record(large, at=NOW)


def _as_a_service_holds_it(permit: Permit) -> Permit:
    # What a service call holds: the permit read under its lock with these reference rows.
    return Permit.objects.select_related(*park.HELD).get(pk=permit.pk)


def _full_read(permit: Permit) -> dict:
    return park.record_of_loaded_permit(park.permits_for_records().get(pk=permit.pk), at=NOW)


def _shapes():
    leader = PersonFactory(name="周负责", phone="13900000002")
    area = AreaFactory(name="罐区", center_latitude="31.100000", center_longitude="121.200000")
    named = a_user(first_name="Lei", last_name="Wang", person=PersonFactory(name="王磊"))
    with_contractor = make_permit(
        site=area.site,
        area=area,
        contractor=ContractorFactory(name="安装公司"),
        work_leader=leader,
        applicant=named,
        approved_at=START - dt.timedelta(minutes=20),
        status=PermitStatus.APPROVED,
    )
    welder = PersonFactory(name="张焊工")
    add_crew(with_contractor, "worker", welder)
    add_crew(with_contractor, "guardian", PersonFactory(name="王监护"))
    add_crew(with_contractor, "site_lead", PersonFactory(name="赵带班", phone="13700000003"))
    CertificateFactory(person=welder, item=item("special_operation", "2.1"), number="T001")
    add_gas_test(with_contractor, gas="氧气", value="20.900", unit="%", at=START)
    PermitEvent.objects.create(
        permit=with_contractor, at=START, kind="permit.approved", actor_label="赵审批"
    )
    own_unit = make_permit(
        work_unit=DepartmentFactory(name="维修车间"),
        applicant=a_user(first_name="Mei", last_name="Li"),
        latitude="30.500000",
        longitude="120.500000",
    )
    add_crew(own_unit, "site_lead", PersonFactory(name="孙带班", phone=""))
    without_level = make_permit(level=None, status=PermitStatus.DRAFT, submitted_at=None)
    height = make_permit("height", "II", cancel_reason="停电", status=PermitStatus.CANCELLED)
    add_gas_test(height, gas="氧气", value="20.9", unit="%", at=START)
    return [with_contractor, own_unit, without_level, height, _a_crew_with_certificates_and_gas()]


def _a_crew_with_certificates_and_gas() -> Permit:
    """Workers whose certificates are listed or not (by date, scheme, state, crew role), in an
    order by item code and number that is neither the crew's nor the rows'; gas tests in rounds,
    several gases at the latest instant (one twice, a fraction of a second in)."""
    permit = make_permit(contractor=ContractorFactory(name="检修公司"))
    first, second, removed = (PersonFactory(name=n) for n in ("甲焊工", "乙电工", "丙离场"))
    guardian = PersonFactory(name="丁监护")
    for person in (first, second):
        add_crew(permit, "worker", person)
    gone = add_crew(permit, "worker", removed)
    gone.removed_at = START - dt.timedelta(hours=1)
    gone.save()
    add_crew(permit, "guardian", guardian)
    add_crew(permit, "site_lead", PersonFactory(name="戊带班", phone="13600000004"))
    welding, low_voltage = item("special_operation", "2.1"), item("special_operation", "1.2")
    CertificateFactory(person=first, item=welding, number="W-2")
    CertificateFactory(person=first, item=welding, number="W-1")
    CertificateFactory(person=first, item=item("special_equipment", "G1"), number="B-9")
    CertificateFactory(person=first, item=low_voltage, number="E-1")
    CertificateFactory(  # valid on its first day, the start date
        person=second, item=welding, number="W-3", issued_on=dt.date(2027, 3, 10)
    )
    CertificateFactory(  # expired the day before the start
        person=second, item=low_voltage, number="OLD", valid_until=dt.date(2027, 3, 9)
    )
    CertificateFactory(  # valid from the day after the start
        person=second, item=low_voltage, number="NEW", issued_on=dt.date(2027, 3, 11)
    )
    CertificateFactory(person=second, item=item("construction", "01"), number="C-1")
    CertificateFactory(person=second, item=welding, number="R-1", state="revoked")
    CertificateFactory(person=removed, item=welding, number="GONE")
    CertificateFactory(person=guardian, item=welding, number="NOT-A-WORKER")
    latest = START - dt.timedelta(minutes=10, microseconds=-250_000)
    add_gas_test(permit, gas="硫化氢", value="0.500", unit="ppm", at=START - dt.timedelta(hours=1))
    add_gas_test(permit, gas="氧气", value="20.900", unit="%", at=latest)
    add_gas_test(permit, gas="可燃气体", value="0.200", unit="%LEL", at=latest)
    add_gas_test(permit, gas="氧气", value="10.000", unit="%", at=latest)
    add_gas_test(permit, gas="硫化氢", value="0.000", unit="ppm", at=latest)
    return permit


@pytest.mark.parametrize("company_name", ["", "测试化工有限公司"])
def test_inside_a_service_call_the_record_is_the_one_a_full_read_gives_in_one_statement(
    catalogue, settings, company_name, django_assert_num_queries
):
    settings.PARK_COMPANY_NAME = company_name
    for permit in _shapes():
        with transaction.atomic(), memo.unit():
            held = _as_a_service_holds_it(permit)
            with django_assert_num_queries(1) as captured:
                record = park.permit_record(held, at=NOW)
            # The crew, certificates and gas tests in subqueries: the permit itself joins nothing.
            assert " JOIN " not in captured.captured_queries[0]["sql"].split(" FROM ")[-1]
        assert record == _full_read(permit)


def test_inside_a_service_call_the_crew_certificates_and_gas_are_read_as_stored(catalogue):
    permit = _a_crew_with_certificates_and_gas()
    with transaction.atomic(), memo.unit():
        record = park.permit_record(_as_a_service_holds_it(permit), at=NOW)
    assert record["worker_name"] == "甲焊工,乙电工"
    assert record["guardian_name"] == "丁监护"
    assert record["special_cert_no"] == "E-1,W-1,W-2,B-9,W-3"
    assert (record["work_leader"], record["work_leader_mobile"]) == ("戊带班", "13600000004")
    assert record["gas_name"] == "可燃气体,氧气,氧气,硫化氢"
    assert record["gas_value"] == "0.2 %LEL,20.9 %,10 %,0 ppm"
    assert record["gas_time"] == "2027-03-10T07:50:00+08:00"


def test_a_held_row_the_permit_no_longer_names_is_read_again(catalogue):
    permit = make_permit(area=AreaFactory(name="旧区域"))
    with transaction.atomic(), memo.unit():
        held = _as_a_service_holds_it(permit)
        new_area = AreaFactory(name="新区域", site=permit.site)
        Permit.objects.filter(pk=permit.pk).update(area=new_area, content="改后内容")
        record = park.permit_record(held, at=NOW)
    assert record["work_place"] == f"{permit.site.name} 新区域 T-101 储罐东侧"
    assert record["work_content"] == "改后内容"


# Our statuses → Annex A codes: 0 unsigned, 1 signed, 2 working, 3 accepted, 4 void,
# 5 revoked, 6 paused (catalogue/annex_a.yaml explains each).
STATUS_CODES = {
    PermitStatus.DRAFT: "0",
    PermitStatus.SUBMITTED: "0",
    PermitStatus.IN_APPROVAL: "0",
    PermitStatus.REJECTED: "0",
    PermitStatus.APPROVED: "1",
    PermitStatus.ACTIVE: "2",
    PermitStatus.SUSPENDED: "6",
    PermitStatus.COMPLETED: "2",
    PermitStatus.ACCEPTED: "3",
    PermitStatus.CLOSED: "3",
    PermitStatus.EXPIRED: "4",
    PermitStatus.CANCELLED: "5",
}


def test_every_permit_status_has_a_code():
    assert set(STATUS_CODES) == set(PermitStatus)


@pytest.mark.parametrize(("status", "code"), STATUS_CODES.items())
def test_status_codes(status, code):
    accepted = START + dt.timedelta(hours=7) if status == PermitStatus.CLOSED else None
    permit = Permit(status=status, planned_end=START + dt.timedelta(hours=8), accepted_at=accepted)
    assert park.status_code(permit, at=NOW) == code


def test_a_cancelled_permit_says_so_with_its_reason(catalogue):
    permit = make_permit(status=PermitStatus.CANCELLED, cancel_reason="天气变化")
    record = park.permit_record(permit, at=NOW)
    assert (record["work_status"], record["is_cancelled"]) == ("5", 1)
    assert record["cancel_reason"] == "天气变化"


def test_a_permit_closed_by_a_change_is_void_and_changed(catalogue):
    permit = make_permit(status=PermitStatus.CLOSED, change_reason="作业地点变更")
    record = park.permit_record(permit, at=NOW)
    assert (record["work_status"], record["is_changed"]) == ("4", 1)
    assert record["change_reason"] == "作业地点变更"


@pytest.mark.parametrize(
    ("read_at", "code"),
    [
        (START + dt.timedelta(hours=8) - dt.timedelta(seconds=1), "2"),  # still valid
        (START + dt.timedelta(hours=8), "4"),  # at its end: expired, stored or not
    ],
)
def test_a_running_permit_past_its_end_is_void_when_read(read_at, code):
    permit = Permit(status=PermitStatus.ACTIVE, planned_end=START + dt.timedelta(hours=8))
    assert park.status_code(permit, at=read_at) == code


TYPE_CODES = [
    ("hot_work", "special", "01"),
    ("hot_work", "level1", "02"),
    ("hot_work", "level2", "03"),
    ("temporary_power", None, "10"),
    ("height", "I", "21"),
    ("height", "II", "22"),
    ("height", "III", "23"),
    ("height", "IV", "24"),
    ("excavation", None, "30"),
    ("road_closure", None, "40"),
    ("blinding", None, "50"),
    ("lifting", "I", "61"),
    ("lifting", "II", "62"),
    ("lifting", "III", "63"),
    ("confined_space", None, "70"),
]


def test_every_work_type_and_level_has_a_type_code(catalogue):
    ours = {(lv.work_type.code, lv.code) for lv in WorkLevel.objects.select_related("work_type")}
    ours |= {(wt.code, None) for wt in WorkType.objects.filter(levels__isnull=True)}
    assert ours == {(wt, level) for wt, level, _ in TYPE_CODES}


@pytest.mark.parametrize(("work_type", "level", "code"), TYPE_CODES)
def test_type_codes(work_type, level, code):
    wt = WorkType(code=work_type)
    permit = Permit(work_type=wt, level=WorkLevel(work_type=wt, code=level) if level else None)
    assert park.type_code(permit) == code


def test_a_hot_work_permit_without_its_level_has_no_type_code():
    assert park.type_code(Permit(work_type=WorkType(code="hot_work"), level=None)) is None


def test_the_record_carries_the_type_code(catalogue):
    assert park.permit_record(make_permit("lifting", "II"), at=NOW)["work_type"] == "62"


# ---- the alarm record ----------------------------------------------------------------------------
def test_the_alarm_record_follows_the_closed_loop(catalogue, django_assert_num_queries):
    permit = make_permit()
    handler = a_user(person=PersonFactory(name="钱安全"))
    alarm = make_alarm(
        permit,
        status=AlarmStatus.CLEARED,
        handled_at=START + dt.timedelta(minutes=5),
        handled_by=handler,
        note="已停止作业并重新分析",
        cleared_at=START + dt.timedelta(minutes=30),
        cleared_by=handler,
    )
    with django_assert_num_queries(1):
        record = park.alarm_record(alarm)
    assert record == {
        "id": str(alarm.uuid),
        "permit_id": str(permit.uuid),
        "alarm_time": "2027-03-10T08:00:00+08:00",
        "alarm_type": "10",
        "clear_time": "2027-03-10T08:30:00+08:00",
        "handle_note": "已停止作业并重新分析",
        "deleted": 0,
        "create_by": "SafeWork",
        "create_time": "2027-03-10T08:00:00+08:00",
        "update_by": "钱安全",
        "update_time": "2027-03-10T08:30:00+08:00",
    }


def test_a_sensor_alarm_has_no_permit(catalogue):
    record = park.alarm_record(make_alarm(None, source_label="GD-7 可燃气体探测器"))
    assert record["permit_id"] is None
    assert record["create_by"] == record["update_by"] == "GD-7 可燃气体探测器"


# ---- the outbox ----------------------------------------------------------------------------------
def test_each_change_is_queued_with_the_next_version(catalogue):
    permit, alarm = make_permit(), None
    with transaction.atomic():
        first = park.enqueue_permit(permit, at=NOW)
        second = park.enqueue_permit(permit, at=NOW + dt.timedelta(minutes=1))
        alarm = make_alarm(permit)
        alarm_push = park.enqueue_alarm(alarm, at=NOW)
    assert (first.version, second.version, alarm_push.version) == (1, 2, 1)
    assert first.payload["id"] == str(permit.uuid)
    assert alarm_push.payload["id"] == str(alarm.uuid)
    assert (second.state, second.next_attempt_at) == ("pending", NOW + dt.timedelta(minutes=1))


@pytest.mark.django_db(transaction=True)
def test_a_push_outside_a_transaction_is_refused(catalogue):
    with pytest.raises(RuntimeError):
        park.enqueue_permit(make_permit(), at=NOW)
    assert not ParkPush.objects.exists()


def test_a_version_taken_by_a_concurrent_transaction_is_retried(catalogue, monkeypatch):
    # The first insert finds its version taken by another transaction (which committed version 1
    # meanwhile; the insert wrote nothing): the next version is read and written.
    permit = make_permit()
    real, taken = park._insert_next_version, iter([True])

    def insert(push):
        if next(taken, False):
            push_row(1, object_uuid=permit.uuid)
            return False
        return real(push)

    monkeypatch.setattr(park, "_insert_next_version", insert)
    with transaction.atomic():
        push = park.enqueue_permit(permit, at=NOW)
    assert push.version == 2
    rows = ParkPush.objects.filter(object_uuid=permit.uuid).order_by("version")
    assert [(r.pk, r.version) for r in rows][-1] == (push.pk, 2)
    assert list(rows.values_list("version", flat=True)) == [1, 2]


# ---- delivery ------------------------------------------------------------------------------------
def test_a_push_is_delivered_signed_once(catalogue, receiver):
    permit = make_permit()
    with transaction.atomic():
        push = park.enqueue_permit(permit, at=NOW)
    result = park.deliver_due(NOW)
    assert (result.sent, result.retrying, result.dead) == (1, 0, 0)
    [request] = receiver.requests
    # The receiver's check: HMAC-SHA256 of "<timestamp>.<raw body>" under the shared secret.
    timestamp = request.headers["x-safework-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-safework-signature"] == "sha256=" + expected.hexdigest()
    assert request.headers["idempotency-key"] == f"{permit.uuid}:1"
    body = json.loads(request.body)
    assert (body["kind"], body["id"], body["version"]) == ("permit", str(permit.uuid), 1)
    assert body["company_code"] == "91310000TEST00001X"
    assert body["record"]["work_type"] == "02"
    push.refresh_from_db()
    assert (push.state, push.sent_at, push.attempts, push.lease_until) == ("sent", NOW, 1, None)
    assert park.deliver_due(NOW + dt.timedelta(hours=1)).sent == 0
    assert len(receiver.requests) == 1


def test_a_tampered_body_does_not_verify(catalogue, receiver):
    with transaction.atomic():
        park.enqueue_permit(make_permit(), at=NOW)
    park.deliver_due(NOW)
    [request] = receiver.requests
    timestamp = request.headers["x-safework-timestamp"]
    tampered = request.body.replace(b'"02"', b'"03"')
    assert tampered != request.body
    forged = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + tampered, hashlib.sha256)
    assert request.headers["x-safework-signature"] != "sha256=" + forged.hexdigest()


def test_a_500_is_retried_after_a_doubling_backoff(receiver):
    receiver.fail_first = 2
    push = push_row()
    assert park.deliver_due(NOW).retrying == 1
    push.refresh_from_db()
    assert (push.state, push.attempts) == ("pending", 1)
    assert push.last_error.startswith("HTTP 500")
    assert push.next_attempt_at == NOW + dt.timedelta(seconds=30)
    # Not before its time (29 s), then at it (30 s); the second wait is twice the first.
    assert park.deliver_due(NOW + dt.timedelta(seconds=29)).retrying == 0
    assert park.deliver_due(NOW + dt.timedelta(seconds=30)).retrying == 1
    push.refresh_from_db()
    assert push.next_attempt_at == NOW + dt.timedelta(seconds=30 + 60)
    assert park.deliver_due(NOW + dt.timedelta(seconds=90)).sent == 1
    push.refresh_from_db()
    assert (push.state, push.attempts, push.last_error) == ("sent", 3, "")
    assert [r.status for r in receiver.requests] == [500, 500, 200]


def test_a_refused_connection_is_retried(park_on):
    park_on.PARK_URL = f"http://127.0.0.1:{free_port()}/push"
    push = push_row()
    assert park.deliver_due(NOW).retrying == 1
    push.refresh_from_db()
    assert "ConnectError" in push.last_error
    with Receiver() as receiver:
        park_on.PARK_URL = receiver.url
        assert park.deliver_due(NOW + dt.timedelta(seconds=30)).sent == 1
    assert len(receiver.stored) == 1


def test_a_push_is_given_up_after_the_last_attempt(receiver, park_on):
    park_on.PARK_MAX_ATTEMPTS = 2
    receiver.fail_first = 5
    push = push_row()
    assert park.deliver_due(NOW).retrying == 1
    assert park.deliver_due(NOW + dt.timedelta(seconds=30)).dead == 1
    push.refresh_from_db()
    assert (push.state, push.attempts) == ("dead", 2)
    assert park.deliver_due(NOW + dt.timedelta(days=1)).sent == 0
    out = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError, match="1 pushes were given up"):
        call_command("park", "status", stdout=out)
    assert f"given up after 2 attempts: permit {push.object_uuid} v1: HTTP 500" in out.getvalue()
    # retry: a new set of attempts, then delivered
    with translation.override("en"):
        call_command("park", "retry", stdout=io.StringIO())
    push.refresh_from_db()
    assert (push.state, push.attempts) == ("pending", 0)
    receiver.fail_first = 0
    assert park.deliver_due(push.next_attempt_at).sent == 1


def test_a_later_version_waits_for_the_earlier_one(receiver):
    receiver.fail_first = 1
    uuid = "22222222-2222-4222-8222-222222222222"
    v1, v2 = push_row(1, object_uuid=uuid), push_row(2, object_uuid=uuid)
    other = push_row(1, object_uuid="33333333-3333-4333-8333-333333333333")
    result = park.deliver_due(NOW)  # v1 fails; v2 must not overtake it; the other object goes
    assert (result.sent, result.retrying) == (1, 1)
    v2.refresh_from_db()
    assert (v2.state, v2.attempts) == ("pending", 0)
    assert park.deliver_due(NOW + dt.timedelta(seconds=30)).sent == 2  # v1, then v2 in one run
    keys = [k for k in receiver.stored if k.startswith(uuid)]
    assert keys == [f"{uuid}:1", f"{uuid}:2"]
    assert {v1.pk, v2.pk, other.pk} == set(
        ParkPush.objects.filter(state="sent").values_list("pk", flat=True)
    )


def test_a_dead_earlier_version_does_not_hold_up_a_later_one(receiver):
    uuid = "22222222-2222-4222-8222-222222222222"
    dead = push_row(1, object_uuid=uuid)
    ParkPush.objects.filter(pk=dead.pk).update(state="dead", attempts=4)
    push_row(2, object_uuid=uuid)
    assert park.deliver_due(NOW).sent == 1
    # The later version carries the whole state: the dead one is not sent after it.
    assert park.retry_dead(NOW) == (0, 1)


def test_a_worker_killed_mid_delivery_is_replaced_after_its_lease(receiver, park_on):
    push = push_row()
    [claimed] = park.claim_due(NOW, limit=10, lease=park.park_settings().lease)
    # The worker posted, then died before recording it: the park has the row once.
    conf = park.park_settings()
    with park.httpx.Client() as client:
        assert park._post(client, claimed, conf) == ""
    lease_end = claimed.lease_until
    assert lease_end == NOW + dt.timedelta(seconds=5 * 20 + 30)
    # While the dead worker's lease runs, nobody else takes the row.
    assert park.deliver_due(lease_end - dt.timedelta(seconds=1)).sent == 0
    assert park.deliver_due(lease_end).sent == 1
    assert park.deliver_due(lease_end + dt.timedelta(hours=1)).sent == 0
    push.refresh_from_db()
    assert (push.state, push.attempts, push.sent_at) == ("sent", 2, lease_end)
    assert len(receiver.requests) == 2
    assert (len(receiver.stored), receiver.repeats) == (1, 1)


def test_a_worker_whose_lease_was_taken_over_records_nothing_more(receiver):
    push = push_row()
    [old] = park.claim_due(NOW, limit=10, lease=dt.timedelta(seconds=60))
    later = NOW + dt.timedelta(seconds=60)
    assert park.deliver_due(later).sent == 1
    # The old worker comes back: its success is not a second "sent", its failure changes nothing.
    assert park._mark_sent(old, at=later) is False
    assert park._mark_failed(old, "late", at=later, conf=park.park_settings()) == ""
    push.refresh_from_db()
    assert (push.state, push.sent_at, push.last_error) == ("sent", later, "")


def test_interleaved_runs_never_send_a_row_twice(receiver, monkeypatch):
    # A second run comes while the first is in the middle of each of its requests.
    for n in range(3):
        push_row(object_uuid=f"44444444-4444-4444-8444-44444444444{n}")
    post, second_runs = park._post, []

    def post_with_a_second_run_in_between(client, push, conf):
        second_runs.append(park.deliver_due(NOW))
        return post(client, push, conf)

    monkeypatch.setattr(park, "_post", post_with_a_second_run_in_between)
    assert park.deliver_due(NOW).sent == 3
    assert [r.sent for r in second_runs] == [0, 0, 0]
    assert len(receiver.requests) == len(receiver.stored) == 3


def _two_workers_at_once(receiver):
    for n in range(20):
        push_row(object_uuid=f"55555555-5555-4555-8555-5555555555{n:02d}")
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = park.deliver_due(NOW, limit=20)
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r.sent for r in results) == 20
    assert len(receiver.requests) == len(receiver.stored) == 20
    assert ParkPush.objects.filter(state="sent").count() == 20


# Real threads need PostgreSQL: SQLite's in-memory test database is shared between threads
# through its shared cache, whose table locks answer "database table is locked" at once instead of
# waiting (a file database in WAL mode, as deployed, waits). On SQLite the interleaving is the
# deterministic test above.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_row_once_on_postgres(receiver, park_on):
    park_on.PARK_BATCH = 3
    _two_workers_at_once(receiver)


def test_without_an_endpoint_pushes_stay_pending(settings):
    settings.PARK_URL = ""
    push = push_row()
    result = park.deliver_due(NOW)
    assert (result.configured, result.sent) == (False, 0)
    with translation.override("en"), pytest.raises(CommandError, match="not configured"):
        call_command("park", "push", stdout=io.StringIO())
    push.refresh_from_db()
    assert (push.state, push.attempts) == ("pending", 0)


def test_push_command_delivers_what_is_due(receiver):
    push_row(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    out = io.StringIO()
    with translation.override("en"):
        call_command("park", "push", stdout=out)
    assert "1 sent, 0 to be retried, 0 given up." in out.getvalue()


def test_a_commit_queues_a_delivery(catalogue, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        park.enqueue_permit(make_permit(), at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert len(receiver.stored) == 1


# ---- export --------------------------------------------------------------------------------------
def test_export_takes_both_dates_whole(catalogue, tmp_path):
    # --from 2027-03-10 --to 2027-03-11: from 10 March 00:00 to 12 March 00:00 (Shanghai), that
    # instant excluded; 23:30 UTC on 9 March is already 10 March in Shanghai.
    first = dt.datetime(2027, 3, 10, 0, 0, tzinfo=SHANGHAI)
    after = dt.datetime(2027, 3, 12, 0, 0, tzinfo=SHANGHAI)
    second = dt.timedelta(seconds=1)
    starts = {
        "before": first - second,
        "first": dt.datetime(2027, 3, 9, 16, 0, tzinfo=dt.UTC),  # = first
        "last": after - second,
        "after": after,
    }
    permits = {
        name: make_permit(planned_start=at, planned_end=at + dt.timedelta(hours=8), content=name)
        for name, at in starts.items()
    }
    make_permit(planned_start=first, submitted_at=None, status=PermitStatus.DRAFT, content="draft")
    at = first + dt.timedelta(hours=1)  # approved with no submission time (an imported permit)
    make_permit(
        planned_start=at,
        planned_end=at + dt.timedelta(hours=8),
        content="imported",
        submitted_at=None,
        status=PermitStatus.APPROVED,
    )
    alarms = {name: make_alarm(permits[name], raised_at=at) for name, at in starts.items()}
    out = tmp_path / "park.jsonl"
    with translation.override("en"):
        call_command(
            "park",
            "export",
            "--from",
            "2027-03-10",
            "--to",
            "2027-03-11",
            "--out",
            str(out),
            stdout=io.StringIO(),
        )
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(x["kind"], x["record"].get("work_content")) for x in lines] == [
        ("permit", "first"),
        ("permit", "imported"),
        ("permit", "last"),
        ("alarm", None),
        ("alarm", None),
    ]
    assert [x["id"] for x in lines[3:]] == [str(alarms["first"].uuid), str(alarms["last"].uuid)]


def test_export_refuses_a_period_that_ends_before_it_starts(db):
    with translation.override("en"), pytest.raises(CommandError, match="before --from"):
        call_command("park", "export", "--from", "2027-03-11", "--to", "2027-03-10")


def test_the_command_speaks_chinese_by_default(settings):
    settings.PARK_URL = ""
    with pytest.raises(CommandError, match="未配置园区推送"):
        call_command("park", "push", stdout=io.StringIO())


def test_the_periodic_task_delivers_what_is_due(receiver):
    from safework.permits import tasks

    push_row(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    tasks.deliver_due_park_pushes.call_local()
    assert len(receiver.stored) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_pushing_one_permit_at_once_get_two_versions(catalogue):
    # Without the permit's row lock: the second insert of version 1 waits for the first
    # transaction, is refused by the unique constraint, and takes version 2.
    permit = make_permit()
    first_inserted, second_started = threading.Event(), threading.Event()
    versions: list = []

    def first():
        try:
            with transaction.atomic():
                versions.append(park.enqueue_permit(permit, at=NOW).version)
                first_inserted.set()
                assert second_started.wait(30)
                threading.Event().wait(0.5)  # let the second reach its insert
        except BaseException as exc:
            versions.append(exc)
        finally:
            first_inserted.set()
            connections.close_all()

    def second():
        try:
            assert first_inserted.wait(30)
            with transaction.atomic():
                second_started.set()
                versions.append(park.enqueue_permit(permit, at=NOW).version)
        except BaseException as exc:
            versions.append(exc)
        finally:
            second_started.set()
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(versions) == [1, 2]
    assert sorted(ParkPush.objects.values_list("version", flat=True)) == [1, 2]

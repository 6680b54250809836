"""The fake registry: its HTTP surface, its records (file, database) and the demo's surprises."""

import datetime as dt
import json

import httpx
import pytest
from django.core.management import CommandError, call_command

from safework.certs.tests.factories import CertificateFactory, item
from safework.people.tests.factories import PersonFactory
from safework.registry import fake as fake_registry
from safework.registry.fake import (
    DEMO_BUCKETS,
    DROP,
    EXPIRE,
    FORMER,
    RENAME,
    RESPELL,
    REVOKE,
    SAMPLE_RECORDS,
    FakeRecord,
    FakeRegistry,
    demo_bucket,
    demo_record,
    records_from_database,
    records_from_file,
    records_to_file,
)
from safework.registry.verification import match_name

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def fake():
    with FakeRegistry(SAMPLE_RECORDS) as server:
        yield server


def test_health_and_unknown_paths(fake):
    assert httpx.get(f"{fake.url}/health").json() == {"ok": True, "records": len(SAMPLE_RECORDS)}
    response = httpx.get(f"{fake.url}/nothing")
    assert response.status_code == 404 and response.json() == {"error": "no such endpoint"}


def test_both_numbers_are_required(fake):
    response = httpx.get(f"{fake.url}/certificates", params={"number": "FR0000001"})
    assert response.status_code == 400


def test_answers_follow_the_contract(fake):
    record = SAMPLE_RECORDS[0]
    params = {"id_number": record.id_number.lower(), "number": record.number}  # a lower-case x
    body = httpx.get(f"{fake.url}/certificates", params=params).json()
    assert body == {
        "status": "valid",
        "name": "张伟",
        "former_names": [],
        "scheme": "special_operation",
        "item": "2.1",
        "number": "FR0000001",
        "issued_on": "2024-01-10",
        "valid_until": "2030-01-09",
        "issuer": "示例省应急管理厅",
    }


def test_the_newest_record_answers_when_several_match(fake):
    old = FakeRecord("110105198503129017", "N1", "张伟", issued_on=dt.date(2018, 1, 1))
    new = FakeRecord("110105198503129017", "N1", "张伟", "revoked", issued_on=dt.date(2024, 1, 1))
    fake.add(old, new)
    params = {"id_number": old.id_number, "number": "N1"}
    assert httpx.get(f"{fake.url}/certificates", params=params).json()["status"] == "revoked"


def test_injected_faults_are_used_up(fake):
    fake.inject("FR0000001", "error", times=2)
    params = {"id_number": SAMPLE_RECORDS[0].id_number, "number": "FR0000001"}
    codes = [httpx.get(f"{fake.url}/certificates", params=params).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    with pytest.raises(ValueError):
        fake.inject("FR0000001", "explode")


def test_a_record_with_a_fault_always_fails(fake):
    fake.add(FakeRecord("110105198503129017", "BROKEN", "张伟", fault="error"))
    params = {"id_number": "110105198503129017", "number": "BROKEN"}
    assert httpx.get(f"{fake.url}/certificates", params=params).status_code == 500


def test_a_miss_reloads_from_the_loader_when_stale():
    loaded = []

    def loader():
        loaded.append(1)
        return [FakeRecord("110105198503129017", "LATE", "张伟")]

    server = FakeRegistry([], loader=loader, reload_after=0)
    assert server.find("110105198503129017", "LATE").name == "张伟"
    assert server.find("110105198503129017", "LATE") is not None
    assert len(loaded) == 1  # a hit does not reload
    assert FakeRegistry([], loader=loader, reload_after=60).find("1", "LATE") is None


def test_records_round_trip_through_a_file(tmp_path):
    path = tmp_path / "records.json"
    records_to_file(SAMPLE_RECORDS, path)
    assert records_from_file(path) == list(SAMPLE_RECORDS)
    # A bare list works too, with only the required fields.
    path.write_text(json.dumps([{"id_number": "110105198503129017", "number": "A", "name": "X"}]))
    assert records_from_file(path) == [FakeRecord("110105198503129017", "A", "X")]


def test_demo_buckets_are_stable_and_spread():
    assert demo_bucket("special_operation", "2.1", "T1", dt.date(2024, 1, 1)) == demo_bucket(
        "special_operation", "2.1", "T1", dt.date(2024, 1, 1)
    )
    seen = {demo_bucket("s", "i", f"N{n}", None) for n in range(2000)}
    assert seen == set(range(DEMO_BUCKETS))


def _with_bucket(bucket: int) -> FakeRecord:
    for n in range(10_000):
        record = FakeRecord(
            "110105198503129017",
            f"N{n}",
            "单丽",
            scheme="special_operation",
            item="2.1",
            issued_on=dt.date(2024, 1, 10),
            valid_until=dt.date(2030, 1, 9),
        )
        if demo_bucket(record.scheme, record.item, record.number, record.issued_on) == bucket:
            return record
    raise AssertionError("no number falls in that bucket")


def test_demo_surprises():
    assert demo_record(_with_bucket(REVOKE), today=TODAY).status == "revoked"
    expired = demo_record(_with_bucket(EXPIRE), today=TODAY)
    assert expired.status == "expired" and expired.valid_until < TODAY
    renamed = demo_record(_with_bucket(RENAME), today=TODAY)
    assert match_name(renamed.name, "单丽") is None
    assert demo_record(_with_bucket(DROP), today=TODAY) is None
    assert match_name(demo_record(_with_bucket(RESPELL), today=TODAY).name, "单丽") == "pinyin"
    former = demo_record(_with_bucket(FORMER), former_names=("单小丽",), today=TODAY)
    assert former.name == "单小丽"
    assert demo_record(_with_bucket(FORMER), today=TODAY).name == "单丽"  # no former name
    untouched = _with_bucket(DEMO_BUCKETS - 1)
    assert demo_record(untouched, today=TODAY) == untouched


@pytest.mark.django_db
def test_records_from_the_database(catalogue):
    person = PersonFactory(name="曾志红", former_names=["曾红"])
    welding = item("special_operation", "2.1")
    certs = [CertificateFactory(person=person, item=welding) for _ in range(60)]
    CertificateFactory(person=person, item=item("internal", "PLANT-ANNUAL"))
    lapsed = CertificateFactory(person=person, item=welding, valid_until=dt.date(2026, 1, 1))
    revoked = CertificateFactory(person=person, item=welding, state="revoked")
    records = {r.number: r for r in records_from_database(today=TODAY)}
    for cert in [*certs, lapsed, revoked]:
        bucket = demo_bucket("special_operation", "2.1", cert.number, cert.issued_on)
        record = records.get(cert.number)
        if bucket == DROP:
            assert record is None
            continue
        assert record.id_number == person.id_number and record.item == "2.1"
        if bucket in (REVOKE, EXPIRE):
            continue
        if cert is lapsed:
            assert record.status == "expired"
        elif cert is revoked:
            assert record.status == "revoked"
        else:
            assert record.status == "valid"
        expected = {RENAME: None, RESPELL: "pinyin", FORMER: "former_name"}.get(bucket, "exact")
        how = match_name(record.name, person.name, former_names=person.former_names)
        assert how == expected, (bucket, record.name)
    assert len(records) == sum(
        demo_bucket("special_operation", "2.1", c.number, c.issued_on) != DROP
        for c in [*certs, lapsed, revoked]
    )  # the internal qualification is not there


@pytest.mark.django_db
def test_command_exports_the_database_and_samples(catalogue, tmp_path):
    CertificateFactory(item=item("special_operation", "2.1"), number="DB-1")
    path = tmp_path / "out.json"
    call_command("fake_registry", "--export", str(path))
    numbers = {r.number for r in records_from_file(path)}
    assert {r.number for r in SAMPLE_RECORDS} <= numbers
    assert ("DB-1" in numbers) == (
        demo_bucket("special_operation", "2.1", "DB-1", dt.date(2024, 1, 10)) != DROP
    )


def test_command_refuses_a_missing_or_broken_file(tmp_path):
    with pytest.raises(CommandError, match="文件不存在"):
        call_command("fake_registry", "--data", str(tmp_path / "none.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"name": "no numbers"}]')
    with pytest.raises(CommandError, match="不是查询平台记录文件"):
        call_command("fake_registry", "--data", str(broken))


def test_command_serves_a_file(tmp_path, monkeypatch):
    path = tmp_path / "records.json"
    records_to_file(SAMPLE_RECORDS[:2], path)
    served = {}

    def serve_forever(self, host, port):
        served.update(host=host, port=port, count=self.count, loader=self.loader)

    monkeypatch.setattr(fake_registry.FakeRegistry, "serve_forever", serve_forever)
    call_command("fake_registry", "--data", str(path), "--port", "8123", "--quiet")
    assert served == {"host": "127.0.0.1", "port": 8123, "count": 2, "loader": None}

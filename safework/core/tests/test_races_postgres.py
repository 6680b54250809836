"""PostgreSQL only: twenty simultaneous creates of the same unique key, each on its own
connection, released together by a barrier: exactly one 201, the others 422 naming the field,
never a 500; nothing of the losers is left and the audit chain holds. Two imports of the same new
ledger at once: one succeeds, the other ends failed with a clear error (never left running).
"""

import threading
from unittest import mock

import pytest
from django.db import connections

from safework.accounts.models import Role
from safework.accounts.tests.world import API, build_world, client_for, make_user
from safework.core import audit
from safework.core.models import AuditRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

N = 20


def race(n, prepare, act):
    """Run `act(prepare())` in n threads, each with its own connection, released together."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            ready = prepare()
            barrier.wait(timeout=60)
            results[i] = act(ready)
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def world(catalogue):
    return build_world()


def bodies(w):
    """(path, body, the field a loser's error names) per unique key family."""
    from safework.people.tests.factories import PersonFactory, fresh_uscc

    inspector = make_user("race-grantee")
    return {
        "person.id_number": (
            "/persons",
            {"id_number": PersonFactory.build().id_number, "name": "张三"},
            "id_number",
        ),
        "user.username": ("/users", {"username": "race-user"}, "username"),
        "user.person": (
            "/users",
            None,  # filled per thread: different usernames, the same person
            "person_id",
        ),
        "contractor.uscc": (
            "/contractors",
            {"name": "竞速承包商", "uscc": fresh_uscc(4242)},
            "uscc",
        ),
        "health_check.one_per_day": (
            "/health-checks",
            {"person_id": w.p_own.pk, "checked_on": "2026-02-03", "conclusion": "fit"},
            "checked_on",
        ),
        "role_grant": (
            "/role-grants",
            {"user_id": inspector.pk, "role": Role.INSPECTOR, "site_id": w.site_a.pk},
            "role",
        ),
        "group.code": ("/groups", {"name": "竞速集团", "code": "race-group"}, "code"),
        "site.code": (
            "/sites",
            {
                "group_id": w.group.pk,
                "name": "竞速厂区",
                "code": "race-site",
                "latitude": 31.2,
                "longitude": 121.5,
            },
            "code",
        ),
        "area.code_per_site": (
            "/areas",
            {"site_id": w.site_a.pk, "name": "竞速区域", "code": "race-area"},
            "code",
        ),
        "department.code": (
            "/departments",
            {
                "group_id": w.group.pk,
                "name": "竞速车间",
                "code": "race-dept",
                "kind": "workshop",
                "parent_id": w.dept_c.pk,
                "site_id": w.site_a.pk,
            },
            "code",
        ),  # fmt: skip
        "position.code": ("/positions", {"name": "竞速岗位", "code": "race-position"}, "code"),
        "certificate.natural_key": (
            "/certificates",
            {
                "person_id": w.p_x.pk,
                "scheme": "special_equipment",
                "item": "Q2",
                "restriction": "mobile",
                "number": "Q2-RACE",
                "issued_on": "2025-03-01",
            },
            "number",
        ),
    }


FAMILIES = [
    "person.id_number",
    "user.username",
    "user.person",
    "contractor.uscc",
    "health_check.one_per_day",
    "role_grant",
    "group.code",
    "site.code",
    "area.code_per_site",
    "department.code",
    "position.code",
    "certificate.natural_key",
]


@pytest.mark.parametrize("family", FAMILIES)
def test_simultaneous_creates_of_one_key_answer_one_201_and_422s(world, family):
    path, body, field = bodies(world)[family]
    admin = world.users[Role.ADMINISTRATOR]
    audit_before = AuditRecord.objects.count()
    counter = iter(range(N))
    lock = threading.Lock()

    def prepare():
        with lock:
            i = next(counter)
        payload = body if body is not None else {"username": f"race-{i}", "person_id": world.p_b.pk}
        return client_for(admin), payload

    def act(ready):
        client, payload = ready
        return client.post(f"{API}{path}", payload)

    results = race(N, prepare, act)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [422] * (N - 1), [r.content for r in results if r.status_code >= 500]
    for r in results:
        if r.status_code == 422:
            assert [(e["field"], e["code"].rsplit(".", 1)[-1]) for e in r.json()["errors"]] == [
                (field, "duplicate")
            ], r.content
    # One audit record per winning write (plus the logins' sessions, which are not audited).
    assert AuditRecord.objects.count() - audit_before >= 1
    assert audit.verify_chain().ok


def test_two_imports_of_one_new_ledger_at_once(world, settings, tmp_path):
    from safework.ledger import services as imports
    from safework.ledger.models import ImportJob, JobStatus
    from safework.ledger.testing import identities, upload, xlsx_bytes

    settings.MEDIA_ROOT = tmp_path / "media"
    header = ["序号", "姓名", "身份证号码", "操作项目", "证书编号", "初领日期", "有效期至"]
    rows = [header] + [
        [i + 1, name, number, "低压电工作业", f"RACE-{i}", "2024.5.12", "2030.5.11"]
        for i, (number, name) in enumerate(identities(30, seed=4711))
    ]
    content = xlsx_bytes(rows)
    jobs = [
        imports.start_import(
            by=None, file_obj=upload("台账.xlsx", content), original_name="台账.xlsx", enqueue=False
        )
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    original = imports.write_plan

    def write_together(*args, **kwargs):
        barrier.wait(timeout=60)  # both checked the file against an empty database
        return original(*args, **kwargs)

    ids = iter([job.pk for job in jobs])
    lock = threading.Lock()

    def prepare():
        with lock:
            return next(ids)

    with mock.patch.object(imports, "write_plan", side_effect=write_together):
        results = race(2, prepare, imports.run_import)
    assert not [r for r in results if isinstance(r, BaseException)], results
    statuses = sorted(
        ImportJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
    )
    assert statuses == sorted([JobStatus.SUCCEEDED, JobStatus.FAILED])
    loser = ImportJob.objects.get(pk__in=[j.pk for j in jobs], status=JobStatus.FAILED)
    assert loser.finished_at is not None
    assert loser.errors[0]["code"] == "import.write_failed"
    assert audit.verify_chain().ok

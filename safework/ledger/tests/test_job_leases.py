"""Jobs always end in a clear state (issue 17, item 1).

An import or a verification batch whose worker was SIGKILLed, crashed, or never got the task
must not stay queued or running forever: its lease runs out, and the reaper (every minute, and
whenever jobs are read) queues it again where that is safe or fails it with a reason a user
understands, its finish time, and its files removed.
"""

import datetime as dt
import os
import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from safework.accounts.models import Role, RoleGrant, User
from safework.certs.models import Certificate
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.models import AuditRecord
from safework.ledger import leases, services
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.tasks import expire_stale_jobs
from safework.ledger.testing import identities, upload, xlsx_bytes
from safework.org.tests.factories import DepartmentFactory
from safework.people.tests.factories import PersonFactory
from safework.registry import verification
from safework.registry.client import reset_registries
from safework.registry.fake import SAMPLE_PEOPLE, SAMPLE_RECORDS, FakeRegistry
from safework.registry.models import BatchStatus, LookupOutcome, VerificationBatch
from safework.registry.tasks import expire_stale_batches_task

ROOT = Path(__file__).resolve().parents[3]
IDS = [number for number, _name in identities(6, seed=171)]
LEASE = dt.timedelta(seconds=120)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "var" / "media"
    settings.JOB_LEASE_SECONDS = int(LEASE.total_seconds())
    settings.JOB_QUEUE_TIMEOUT_SECONDS = 900


def ledger(n=3) -> bytes:
    header = ["序号", "姓名", "身份证号码", "部门", "操作项目", "证书编号", "初领日期", "有效期至"]
    rows = [
        [i, f"工人{i}", IDS[i], "焊接车间", "2.1", f"L-{i}", "2024.01.10", "2030.01.09"]
        for i in range(n)
    ]
    return xlsx_bytes([header, *rows])


def _queued_job(by=None) -> ImportJob:
    DepartmentFactory(name="焊接车间")
    return services.start_import(
        by=by, file_obj=upload("台账.xlsx", ledger()), original_name="台账.xlsx", enqueue=False
    )


def _as_if_claimed(job: ImportJob, *, attempts: int = 1) -> ImportJob:
    """A worker claimed the job and then died: running, its lease not renewed since."""
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=now, lease_until=now + LEASE, attempts=attempts
    )
    job.refresh_from_db()
    return job


def _stored(name: str) -> bool:
    return bool(name) and ImportJob._meta.get_field("file").storage.exists(name)


def _admin_client() -> Client:
    user = User.objects.create(username="admin")
    RoleGrant.objects.create(user=user, role=Role.ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    return client


# ---- imports ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_running_import_whose_lease_expired_is_queued_again_when_read_and_then_finishes(
    catalogue, django_capture_on_commit_callbacks
):
    job = _as_if_claimed(_queued_job())
    client = _admin_client()
    with time_machine.travel(job.lease_until - dt.timedelta(seconds=1), tick=False):
        assert client.get(f"/api/v1/imports/{job.pk}").json()["status"] == "running"  # alive
    with (
        time_machine.travel(job.lease_until + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        body = client.get(f"/api/v1/imports/{job.pk}").json()
    assert body["status"] == "queued"  # the answer shows the job given back to the queue
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.errors  # the requeued task ran it
    assert job.attempts == 2 and job.finished_at is not None and job.lease_until is None
    assert Certificate.objects.filter(number__startswith="L-").count() == 3
    actions = AuditRecord.objects.filter(object_id=str(job.pk)).values_list("action", flat=True)
    assert "certs.import_requeued" in list(actions)


@pytest.mark.django_db
def test_an_import_whose_worker_died_too_often_fails_with_a_reason_and_its_files_go(
    catalogue, django_capture_on_commit_callbacks
):
    job = _as_if_claimed(_queued_job(), attempts=leases.MAX_ATTEMPTS)
    upload_name = job.file.name
    assert _stored(upload_name)
    after = job.lease_until + dt.timedelta(seconds=1)
    with (
        time_machine.travel(after, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        expire_stale_jobs.call_local()  # the periodic task's body
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.finished_at == after and job.lease_until is None
    assert [e["code"] for e in job.errors] == ["import.worker_lost"]
    assert "进程" in job.message and "未导入" in job.message  # Chinese, says nothing was imported
    assert not job.file and not _stored(upload_name)
    assert AuditRecord.objects.filter(object_id=str(job.pk), action="certs.import_failed").exists()


@pytest.mark.django_db
def test_a_lease_not_yet_expired_is_left_alone(catalogue):
    job = _as_if_claimed(_queued_job())
    with time_machine.travel(job.lease_until, tick=False):  # the last instant still covered
        assert leases.expire_stale_imports() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1


@pytest.mark.django_db
def test_an_import_never_queued_is_queued_again_and_after_the_last_attempt_fails(
    catalogue, django_capture_on_commit_callbacks
):
    """The process died between the commit and queuing the task: the job would wait forever."""
    job = _queued_job()
    assert job.lease_until is not None
    late = job.lease_until + dt.timedelta(seconds=1)
    with (
        time_machine.travel(late, tick=False),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        assert leases.expire_stale_imports() == 1
    assert len(callbacks) == 1  # queued again (the task is not run here)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 2)
    ImportJob.objects.filter(pk=job.pk).update(attempts=leases.MAX_ATTEMPTS)
    with time_machine.travel(job.lease_until + dt.timedelta(seconds=1), tick=False):
        leases.expire_stale_imports()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert [e["code"] for e in job.errors] == ["import.not_started"]
    assert not job.file


@pytest.mark.django_db
def test_an_exception_in_the_worker_fails_the_job_with_a_reason(
    catalogue, monkeypatch, django_capture_on_commit_callbacks
):
    job = _queued_job()
    upload_name = job.file.name

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "write_plan", broken)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.run_import(job.pk)
    assert job.status == JobStatus.FAILED
    assert job.finished_at is not None and job.lease_until is None
    assert [e["code"] for e in job.errors] == ["import.internal_error"]
    assert "disk on fire" not in job.message  # no internals for the user
    assert not _stored(upload_name)
    assert not Certificate.objects.filter(number__startswith="L-").exists()


@pytest.mark.django_db
def test_a_worker_whose_job_was_taken_stores_no_result(catalogue, monkeypatch):
    """The reaper queued the job again while the old worker still ran: its write is refused."""
    job = _queued_job()
    real_check = services.check_file

    def check_then_lose(job, **kwargs):
        plan = real_check(job, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, attempts=2)
        return plan

    monkeypatch.setattr(services, "check_file", check_then_lose)
    job = services.run_import(job.pk)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 2)
    assert not Certificate.objects.filter(number__startswith="L-").exists()


@pytest.mark.django_db
def test_row_errors_fail_the_job_keep_the_error_file_and_drop_the_upload(
    catalogue, django_capture_on_commit_callbacks
):
    DepartmentFactory(name="焊接车间")
    content = xlsx_bytes(
        [
            ["序号", "姓名", "身份证号码", "部门", "操作项目", "证书编号", "初领日期", "有效期至"],
            [1, "工人1", IDS[1], "没有的车间", "2.1", "E-1", "2024.01.10", "2030.01.09"],
        ]
    )
    job = services.start_import(
        by=None, file_obj=upload("台账.xlsx", content), original_name="台账.xlsx", enqueue=False
    )
    upload_name = job.file.name
    with django_capture_on_commit_callbacks(execute=True):
        job = services.run_import(job.pk)
    assert job.status == JobStatus.FAILED
    assert not _stored(upload_name) and not job.file
    assert _stored(job.error_file.name)  # the findings stay downloadable


# ---- a real worker process, SIGKILLed mid-job ----------------------------------------------------

CHILD = """
import sys
import django

django.setup()
from safework.ledger import services

real = services.check_file


def check_file(job, **kwargs):
    print("claimed", flush=True)
    sys.stdin.read()  # hold the job until the parent kills this process
    return real(job, **kwargs)


services.check_file = check_file
services.run_import(int(sys.argv[1]))
"""


def _database_for_child(tmp_path) -> str:
    """A DATABASE_URL a child process can open with the test database's rows in it."""
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        user, host = quote(s.get("USER") or "postgres"), s.get("HOST") or "127.0.0.1"
        if s.get("PASSWORD"):
            user += ":" + quote(s["PASSWORD"], safe="")
        return f"postgres://{user}@{host}:{s.get('PORT') or 5432}/{s['NAME']}"
    path = tmp_path / "child.sqlite3"  # the SQLite test database lives in memory: copy it
    connection.ensure_connection()
    with sqlite3.connect(path) as target:
        connection.connection.backup(target)
    target.close()
    return f"sqlite:///{path}"


def _take_back(url: str) -> None:
    if connection.vendor == "sqlite":
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        source.backup(connection.connection)
        source.close()


@pytest.mark.django_db(transaction=True)
def test_an_import_worker_killed_mid_job_is_detected_and_the_job_retried(
    catalogue, tmp_path, settings
):
    job = _queued_job()
    url = _database_for_child(tmp_path)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "safework.settings",
        "DATABASE_URL": url,
        "SAFEWORK_VAR_DIR": str(tmp_path / "var"),
        "SAFEWORK_JOB_LEASE_SECONDS": str(settings.JOB_LEASE_SECONDS),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(job.pk)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ready, _w, _x = select.select([child.stdout], [], [], 180)  # event-driven, bounded
        assert ready, "the worker did not claim the job"
        line = child.stdout.readline()
        assert line == b"claimed\n", child.stderr.read().decode()
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdin.close()
        child.stdout.close()
        child.stderr.close()
    _take_back(url)

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # what the dead worker left: nobody will finish it
    with time_machine.travel(job.lease_until + dt.timedelta(seconds=1), tick=False):
        expire_stale_jobs.call_local()  # queues it again; the (inline) task runs it here
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert job.attempts == 2 and job.finished_at is not None
    assert Certificate.objects.filter(number__startswith="L-").count() == 3


# ---- verification batches -----------------------------------------------------------------------


@pytest.fixture
def registry(settings):
    reset_registries()
    with FakeRegistry(SAMPLE_RECORDS) as server:
        settings.REGISTRY_URL = server.url
        settings.REGISTRY_RETRIES = 0
        yield server
    reset_registries()


@pytest.fixture
def batch(catalogue):
    welding = item("special_operation", "2.1")
    numbers = {r.id_number: r.number for r in SAMPLE_RECORDS}
    ids = []
    for key in ("valid", "revoked"):
        id_number, name, former = SAMPLE_PEOPLE[key]
        person = PersonFactory(id_number=id_number, name=name, former_names=list(former))
        ids.append(CertificateFactory(person=person, item=welding, number=numbers[id_number]).pk)
    return verification.start_verification(by=None, certificate_ids=ids, enqueue=False)


def _batch_claimed(batch, *, attempts=1) -> VerificationBatch:
    now = timezone.now()
    VerificationBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.RUNNING, started_at=now, lease_until=now + LEASE, attempts=attempts
    )
    batch.refresh_from_db()
    return batch


@pytest.mark.django_db
def test_a_batch_whose_worker_died_is_queued_again_when_read_and_then_finishes(
    registry, batch, django_capture_on_commit_callbacks
):
    batch = _batch_claimed(batch)
    client = _admin_client()
    with (
        time_machine.travel(batch.lease_until + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        body = client.get(f"/api/v1/verifications/{batch.pk}").json()
    assert body["status"] == "queued" and body["message"]
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.attempts) == (BatchStatus.SUCCEEDED, 2, 2)


@pytest.mark.django_db
def test_a_batch_whose_worker_died_too_often_fails_and_its_lookups_can_be_retried(
    registry, batch, django_capture_on_commit_callbacks
):
    batch = _batch_claimed(batch, attempts=verification.MAX_ATTEMPTS)
    after = batch.lease_until + dt.timedelta(seconds=1)
    with time_machine.travel(after, tick=False):
        expire_stale_batches_task.call_local()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and batch.finished_at == after
    assert "进程" in batch.message
    rows = list(batch.lookups.all())
    assert {r.outcome for r in rows} == {LookupOutcome.RETRY_LATER}
    assert all(r.message == batch.message for r in rows)
    with django_capture_on_commit_callbacks(execute=True):
        verification.retry_verification(batch=batch, by=None)
    batch.refresh_from_db()
    assert (batch.status, batch.done) == (BatchStatus.SUCCEEDED, 2)


@pytest.mark.django_db
def test_a_batch_never_started_is_queued_again(batch, django_capture_on_commit_callbacks):
    with (
        time_machine.travel(batch.lease_until + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        assert verification.expire_stale_batches() == 1
    assert len(callbacks) == 1
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == (BatchStatus.QUEUED, 2)


@pytest.mark.django_db
def test_an_exception_in_the_verification_worker_fails_the_batch(registry, batch, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(verification, "_store", broken)
    batch = verification.run_verification_batch(batch.pk)
    assert batch.status == BatchStatus.FAILED
    assert batch.finished_at is not None and batch.lease_until is None
    assert batch.message and "boom" not in batch.message
    assert set(batch.lookups.values_list("outcome", flat=True)) == {LookupOutcome.RETRY_LATER}

"""The import and report workflows (issue 13, item 5): their states and arrows as pinned here,
the status changed only through them, each move audited, and a queued job claimed once.

The transition tables below are written from the import and report rules (decisions.md, issue
17), not read from the code under test.
"""

import datetime as dt
import json
import threading

import pytest
from django.db import connections, transaction
from django.tasks import Task
from django.tasks.base import TaskResultStatus
from django.utils import timezone

from safework.core import jobs
from safework.core.models import AuditRecord
from safework.core.workflow import ConcurrentTransition, TransitionNotAllowed
from safework.ledger import leases, services
from safework.ledger.models import ImportJob, JobStatus, ReportJob, ReportStatus
from safework.ledger.tasks import run_import_task, run_report_task
from safework.ledger.testing import identities, upload, xlsx_bytes
from safework.org.tests.factories import DepartmentFactory

AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)

IMPORT_ARROWS = {
    ("claim", "queued", "running", "certs.import_claimed"),
    ("succeed", "running", "succeeded", "certs.import_succeeded"),
    ("hold_for_review", "running", "pending_review", "certs.import_pending_review"),
    ("approve", "pending_review", "succeeded", "certs.import_approved"),
    ("reject", "pending_review", "rejected", "certs.import_rejected"),
    ("fail", "queued", "failed", "certs.import_failed"),  # no worker started it, too often
    ("fail", "running", "failed", "certs.import_failed"),
    ("fail", "pending_review", "failed", "certs.import_failed"),  # the approval's re-check
    ("requeue", "queued", "queued", "certs.import_requeued"),
    ("requeue", "running", "queued", "certs.import_requeued"),
}

REPORT_ARROWS = {
    ("claim", "queued", "running", "certs.report_claimed"),
    ("succeed", "running", "succeeded", "certs.report_succeeded"),
    ("fail", "queued", "failed", "certs.report_failed"),
    ("fail", "running", "failed", "certs.report_failed"),
    ("requeue", "queued", "queued", "certs.report_requeued"),
    ("requeue", "running", "queued", "certs.report_requeued"),
}


def arrows(model) -> set[tuple[str, str, str, str]]:
    field = model._meta.get_field("status")
    return {
        (t.name, str(t.source), str(t.target), t.custom["action"])
        for t in field.get_all_transitions(model)
    }


def test_the_import_workflow_has_exactly_the_pinned_arrows():
    assert arrows(ImportJob) == IMPORT_ARROWS
    assert {value for value, _label in JobStatus.choices} == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "pending_review",
        "rejected",
    }


def test_the_report_workflow_has_exactly_the_pinned_arrows():
    assert arrows(ReportJob) == REPORT_ARROWS
    assert {value for value, _label in ReportStatus.choices} == {
        "queued",
        "running",
        "succeeded",
        "failed",
    }


def _job(**fields) -> ImportJob:
    return ImportJob.objects.create(original_name="台账.xlsx", file_sha256="0" * 64, **fields)


def _actions(job) -> list[str]:
    rows = AuditRecord.objects.filter(object_id=str(job.pk), object_type="ledger.importjob")
    return list(rows.order_by("seq").values_list("action", flat=True))


@pytest.mark.django_db
def test_the_status_is_changed_only_through_transitions():
    job = _job()
    with pytest.raises(AttributeError):
        job.status = JobStatus.SUCCEEDED
    job.refresh_from_db()  # reading the row again is no change
    assert job.status == JobStatus.QUEUED
    for ended in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.REJECTED):
        done = _job(status=ended)  # a row is created in a state (fixtures); then it is fixed
        assert list(done.get_available_status_transitions()) == []
        with pytest.raises(TransitionNotAllowed):
            done.requeue(at=AT, message="")


@pytest.mark.django_db
def test_illegal_moves_are_refused_and_leave_nothing_behind():
    job = _job()
    for move in (job.approve, job.succeed, job.hold_for_review):
        with pytest.raises(TransitionNotAllowed):
            move(at=AT)
    with pytest.raises(TransitionNotAllowed):
        job.reject(at=AT, message="no")
    job.save()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.finished_at is None
    assert _actions(job) == []


@pytest.mark.django_db
def test_each_move_is_audited_with_its_source_and_target_when_saved():
    job = _job()
    job.claim(at=AT)
    assert _actions(job) == []  # nothing is written before the save
    job.save()
    job.hold_for_review(at=AT + dt.timedelta(minutes=1))
    job.save()
    job.reject(at=AT + dt.timedelta(minutes=2), message="请补充证件照")
    job.save()
    job.refresh_from_db()
    assert (job.status, job.finished_at, job.message) == (
        JobStatus.REJECTED,
        AT + dt.timedelta(minutes=2),
        "请补充证件照",
    )
    records = AuditRecord.objects.filter(object_id=str(job.pk)).order_by("seq")
    payloads = [json.loads(r.payload) for r in records]
    assert [(p["action"], p["before"]["status"], p["after"]["status"]) for p in payloads] == [
        ("certs.import_claimed", "queued", "running"),
        ("certs.import_pending_review", "running", "pending_review"),
        ("certs.import_rejected", "pending_review", "rejected"),
    ]
    assert payloads[0]["at"].startswith("2026-03-02T08:00:00")  # the move's instant
    assert payloads[2]["object_label"] == str(job)  # the label names the state moved to


@pytest.mark.django_db
def test_a_second_claim_of_one_job_finds_it_taken():
    job = _job()
    first = jobs.claim(ImportJob, job.pk, at=AT)
    second = jobs.claim(ImportJob, job.pk, at=AT + dt.timedelta(seconds=1))
    assert first is not None and first.status == JobStatus.RUNNING
    assert second is None
    job.refresh_from_db()
    assert job.started_at == AT  # the first claim's
    assert _actions(job) == ["certs.import_claimed"]
    assert jobs.claim(ImportJob, 10**9, at=AT) is None  # deleted: nothing to claim


@pytest.mark.django_db
def test_a_move_from_a_state_read_before_another_process_moved_it_is_not_saved():
    """The save is `UPDATE … WHERE status = <state read>`: a copy read while the job was
    queued cannot claim it after another worker did, nor audit anything."""
    job = _job()
    stale = ImportJob.objects.get(pk=job.pk)
    assert jobs.claim(ImportJob, job.pk, at=AT) is not None
    stale.claim(at=AT + dt.timedelta(seconds=5))
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.save()
    job.refresh_from_db()
    assert (job.status, job.started_at) == (JobStatus.RUNNING, AT)
    assert _actions(job) == ["certs.import_claimed"]


def _ledger() -> bytes:
    header = ["序号", "姓名", "身份证号码", "部门", "操作项目", "证书编号", "初领日期", "有效期至"]
    rows = [
        [i, f"工人{i}", number, "焊接车间", "2.1", f"W-{i}", "2024.01.10", "2030.01.09"]
        for i, (number, _name) in enumerate(identities(2, seed=913))
    ]
    return xlsx_bytes([header, *rows])


@pytest.fixture
def queued_import(catalogue, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    DepartmentFactory(name="焊接车间")
    return services.start_import(
        by=None, file_obj=upload("台账.xlsx", _ledger()), original_name="台账.xlsx", enqueue=False
    )


@pytest.mark.django_db
def test_a_worker_whose_job_was_given_to_another_worker_stores_nothing(queued_import, monkeypatch):
    """The reaper queued the job again and a second worker claimed it: the job is running again,
    but not in the first worker's attempt, whose result must be dropped."""
    real_check = services.check_file

    def check_then_taken_over(job, **kwargs):
        plan = real_check(job, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(attempts=2)  # requeued, claimed again
        return plan

    monkeypatch.setattr(services, "check_file", check_then_taken_over)
    job = services.run_import(queued_import.pk)
    assert (job.status, job.attempts, job.finished_at) == (JobStatus.RUNNING, 2, None)
    assert _actions(job) == ["certs.import_uploaded", "certs.import_claimed"]


@pytest.mark.django_db
def test_a_crashed_worker_does_not_fail_the_run_of_the_worker_that_took_over(queued_import):
    job = jobs.claim(ImportJob, queued_import.pk, at=AT)
    ImportJob.objects.filter(pk=job.pk).update(attempts=2)  # the other worker's attempt
    leases.fail_import(job, code="import.internal_error", reason="boom")
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 2)
    assert _actions(job) == ["certs.import_uploaded", "certs.import_claimed"]


@pytest.mark.django_db
def test_jobs_run_as_django_tasks_on_huey(queued_import, settings):
    assert settings.TASKS["default"]["BACKEND"] == ("huey.contrib.djhuey.tasks_backend.HueyBackend")
    assert isinstance(run_import_task, Task) and isinstance(run_report_task, Task)
    assert jobs.task_of(ImportJob) is run_import_task
    assert jobs.task_of(ReportJob) is run_report_task
    result = run_import_task.enqueue(queued_import.pk)  # huey's immediate mode in tests
    assert result.status == TaskResultStatus.SUCCESSFUL
    queued_import.refresh_from_db()
    assert queued_import.status == JobStatus.SUCCEEDED, queued_import.errors
    again = run_import_task.enqueue(queued_import.pk)  # a repeated task changes nothing
    assert again.status == TaskResultStatus.SUCCESSFUL
    assert _actions(queued_import) == [
        "certs.import_uploaded",
        "certs.import_claimed",
        "certs.import_succeeded",
    ]


@pytest.mark.django_db
def test_a_job_is_queued_when_its_transaction_commits(
    queued_import, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs.enqueue(queued_import)
    assert len(callbacks) == 1
    queued_import.refresh_from_db()
    assert queued_import.status == JobStatus.QUEUED  # not before the commit
    callbacks[0]()
    queued_import.refresh_from_db()
    assert queued_import.status == JobStatus.SUCCEEDED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_one_job_at_once_one_wins():
    job = _job()
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def worker(i):
        try:
            barrier.wait(timeout=60)
            results[i] = jobs.claim(ImportJob, job.pk, at=timezone.now())
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
    assert sorted(r is None for r in results) == [False, True]
    assert _actions(job) == ["certs.import_claimed"]

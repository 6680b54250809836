"""Exports and the coverage report as jobs (issue 17, item 4): 202 with a job, progress, the file
for the requester only, and the lease rules of every job (a lost worker: queued again, then
failed with a reason)."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from safework.accounts.models import Role, RoleGrant, User
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.models import AuditRecord
from safework.ledger import report_jobs
from safework.ledger.models import JobStatus, ReportJob
from safework.ledger.tasks import expire_stale_jobs

URL = "/api/v1/exports/certificates"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOB_LEASE_SECONDS = 120


def client_for(username, role=Role.ADMINISTRATOR):
    user = User.objects.create(username=username)
    RoleGrant.objects.create(user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def certificates(db, catalogue):
    for n in range(3):
        CertificateFactory(item=item("special_operation", "2.1"), number=f"R-{n}")


def test_the_export_answers_at_once_with_a_job_and_the_file_waits_for_it(
    certificates, django_capture_on_commit_callbacks
):
    client = client_for("admin")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post(URL, {"on": "2026-03-02"}, content_type="application/json")
    assert created.status_code == 202
    body = created.json()
    assert (body["kind"], body["status"], body["file_url"]) == ("certificates", "queued", None)
    assert len(callbacks) == 1  # the task is queued when the request commits
    refused = client.get(f"/api/v1/report-jobs/{body['id']}/file")
    assert refused.status_code == 409
    assert refused.json()["reasons"][0]["code"] == "report.not_ready"

    callbacks[0]()  # the worker runs the job
    job = client.get(f"/api/v1/report-jobs/{body['id']}").json()
    assert (job["status"], job["total"], job["done"], job["progress"]) == ("succeeded", 3, 3, 1.0)
    download = client.get(job["file_url"])  # read to its end: the test client then closes it
    assert download.status_code == 200 and download.getvalue().startswith(b"PK")  # a zip: xlsx
    listed = client.get("/api/v1/report-jobs").json()
    assert [j["id"] for j in listed["items"]] == [body["id"]]
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"certs.report_requested", "certs.report_succeeded"} <= actions


def test_a_report_is_its_requesters_only(certificates, django_capture_on_commit_callbacks):
    owner, other = client_for("owner"), client_for("other")
    with django_capture_on_commit_callbacks(execute=True):
        job_id = owner.post(URL, {}, content_type="application/json").json()["id"]
    assert other.get(f"/api/v1/report-jobs/{job_id}").status_code == 404
    assert other.get(f"/api/v1/report-jobs/{job_id}/file").status_code == 404
    assert other.get("/api/v1/report-jobs").json()["total"] == 0


def test_a_crash_while_building_fails_the_job_with_a_reason(certificates, monkeypatch):
    job = report_jobs.start_report(
        by=None, kind="certificates", params={"on": "2026-03-02"}, enqueue=False
    )

    def broken(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(report_jobs.exports, "export_certificates", broken)
    job = report_jobs.run_report(job.pk)
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert job.message and job.lease_until is None and not job.file


def test_a_report_whose_worker_died_is_queued_again_then_failed(
    certificates, django_capture_on_commit_callbacks
):
    job = report_jobs.start_report(
        by=None, kind="coverage", params={"on": "2026-03-02"}, enqueue=False
    )
    now = timezone.now()
    ReportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, lease_until=now + dt.timedelta(seconds=120)
    )
    later = now + dt.timedelta(seconds=121)
    with (
        time_machine.travel(later, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        expire_stale_jobs.call_local()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)  # queued again, and ran

    ReportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, lease_until=now, attempts=report_jobs.MAX_ATTEMPTS
    )
    with time_machine.travel(later, tick=False):
        expire_stale_jobs.call_local()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.finished_at == later
    assert "进程" in job.message

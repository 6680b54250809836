"""Import jobs always end: a job whose worker died is queued again or failed, with a reason.

A queued job holds a queue lease, a running one a run lease that its worker renews
(`core.jobs.heartbeat`). `expire_stale_imports` (every minute from the task worker, and whenever
jobs are read over the API) looks at the queued and running jobs whose lease ran out:

- fewer than `MAX_ATTEMPTS` times queued: queued again. That is safe for an import: its check
  writes nothing, and its write is one transaction that either committed together with the job's
  final state or was rolled back when the process died;
- otherwise failed, with a reason a user understands, the finish time, and its files removed (the
  uploaded copy cannot be used again: a new upload starts a new job).

A job that fails for any reason loses its uploaded copy; the error file stays when it lists the
findings of a completed check, and goes when the job died or crashed on the way.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import audit
from safework.core.jobs import queue_lease
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.plan import Issue

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # times a job is queued (the first time included) before a lost worker fails it
LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
OWNED = (JobStatus.RUNNING, JobStatus.PENDING_REVIEW)


class LeaseLost(Exception):
    """The job was taken from this worker (its lease expired and it was queued again or failed):
    the worker's result must not be stored."""


def ensure_held(job_id: int) -> None:
    """Inside the transaction that stores a job's result: lock the job and check that it is still
    this worker's (running) or a reviewer's (waiting for review)."""
    status = (
        ImportJob.objects.select_for_update().filter(pk=job_id).values_list("status", flat=True)
    )
    if status.first() not in OWNED:
        raise LeaseLost(job_id)


def stale_q(now: dt.datetime) -> Q:
    """Queued or running jobs whose lease ran out (or which never had one: jobs from before
    leases, stuck since)."""
    oldest = now - dt.timedelta(seconds=int(settings.JOB_QUEUE_TIMEOUT_SECONDS))
    return Q(status__in=LIVE) & (
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, created_at__lt=oldest)
    )


def expire_stale_imports(*, now: dt.datetime | None = None) -> int:
    """Queue again or fail every import whose worker was lost; the number of jobs handled."""
    now = now or timezone.now()
    handled = 0
    for pk in ImportJob.objects.filter(stale_q(now)).values_list("pk", flat=True)[:200]:
        try:
            handled += bool(_expire(pk, now))
        except Exception:  # one job never stops the others
            log.exception("could not expire import job %s", pk)
    return handled


def _expire(pk: int, now: dt.datetime) -> ImportJob | None:
    with transaction.atomic():
        # Locked and read again: a worker that is writing holds the lock and finishes first.
        job = ImportJob.objects.select_for_update().filter(stale_q(now), pk=pk).first()
        if job is None:
            return None
        was_running = job.status == JobStatus.RUNNING
        if job.attempts < MAX_ATTEMPTS:
            return _requeue(job, now=now, was_running=was_running)
        if was_running:
            code = "import.worker_lost"
            reason = _(
                "The process working on this import stopped (killed or crashed) %(n)s times; "
                "nothing was imported. Upload the file again, or ask an administrator to look "
                "at the task worker."
            ) % {"n": job.attempts}
        else:
            code = "import.not_started"
            reason = _(
                "No task worker started this import in time; nothing was imported. Is the task "
                "worker running? Upload the file again."
            )
        return _fail(job, code=code, reason=reason, now=now)


def _requeue(job: ImportJob, *, now: dt.datetime, was_running: bool) -> ImportJob:
    before = audit.snapshot(job, ["status", "attempts", "message"])
    job.status = JobStatus.QUEUED
    job.attempts += 1
    job.lease_until = queue_lease(now)
    job.started_at = None
    job.processed_rows = 0
    if was_running:
        job.message = _(
            "The process working on this import stopped (killed or crashed); nothing was "
            "written. The import was queued again (attempt %(n)s of %(max)s)."
        ) % {"n": job.attempts, "max": MAX_ATTEMPTS}
    else:
        job.message = _(
            "No task worker started this import in time; it was queued again (attempt %(n)s of "
            "%(max)s)."
        ) % {"n": job.attempts, "max": MAX_ATTEMPTS}
    fields = ["status", "attempts", "lease_until", "started_at", "processed_rows", "message"]
    job.save(update_fields=fields)
    audit.record(
        action="certs.import_requeued",
        target=job,
        actor=None,
        before=before,
        after=audit.snapshot(job, ["status", "attempts", "message"]),
        at=now,
    )
    job_id = job.pk

    def enqueue():
        from safework.ledger.tasks import run_import_task

        run_import_task(job_id)

    transaction.on_commit(enqueue)
    return job


def fail_import(job_id: int, *, code: str, reason: str) -> ImportJob | None:
    """End a queued or running job as failed with `reason` (a crash in the worker); a job that
    has already ended is left as it is."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, status__in=LIVE).first()
        if job is None:
            return ImportJob.objects.filter(pk=job_id).first()
        return _fail(job, code=code, reason=reason, now=timezone.now())


def _fail(job: ImportJob, *, code: str, reason: str, now: dt.datetime) -> ImportJob:
    before = audit.snapshot(job, ["status", "message"])
    job.status = JobStatus.FAILED
    job.finished_at = now
    job.lease_until = None
    job.created_count = job.updated_count = job.unchanged_count = 0
    job.errors = [Issue(0, "", "", "", code, reason).as_dict()]
    job.message = _("Nothing imported: %(message)s") % {"message": reason}
    drop_files(job, error_file=True)
    job.save()
    audit.record(
        action="certs.import_failed",
        target=job,
        actor=None,
        before=before,
        after={"status": job.status, "code": code, "attempts": job.attempts},
        at=now,
    )
    return job


def drop_files(job: ImportJob, *, error_file: bool = False) -> None:
    """Forget the job's uploaded copy (and error file); the files go when the transaction
    commits, so a rollback keeps them."""
    names = []
    if job.file:
        names.append(job.file.name)
        job.file = ""
    if error_file and job.error_file:
        names.append(job.error_file.name)
        job.error_file = ""
    if not names:
        return
    storage = ImportJob._meta.get_field("file").storage

    def delete():
        for name in names:
            try:
                storage.delete(name)
            except OSError:
                log.warning("could not delete %s", name)

    transaction.on_commit(delete)

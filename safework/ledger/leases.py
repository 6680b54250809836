"""Import jobs always end: a job whose worker died is queued again or failed, with a reason.

A queued job holds a queue lease, a running one a run lease that its worker renews
(`core.jobs.heartbeat`). `expire_stale_imports` (every minute from the task worker, and whenever
jobs are read over the API) hands the queued and running jobs whose lease ran out to the reaper
of every job kind (`core.jobs.reap`):

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

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import jobs
from safework.core.jobs import LeaseLost  # noqa: F401  (raised by held(), caught by services)
from safework.core.scope import Scope
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.plan import Issue
from safework.ledger.queries import imports_visible_to

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # times a job is queued (the first time included) before a lost worker fails it
OWNED = (JobStatus.RUNNING, JobStatus.PENDING_REVIEW)


def held(job: ImportJob) -> ImportJob:
    """Inside the transaction that stores a job's result: the job's row, locked, checked to be
    still this worker's (running, not queued again since) or a reviewer's (waiting for review);
    LeaseLost otherwise."""
    return jobs.hold(ImportJob, job, states=OWNED)


def expire_stale_imports(*, now: dt.datetime | None = None) -> int:
    """Queue again or fail every import whose worker was lost; the number of jobs handled."""
    return jobs.reap(
        ImportJob,
        max_attempts=MAX_ATTEMPTS,
        requeue_message=_requeue_message,
        give_up=_give_up,
        now=now,
    )


def _requeue_message(was_running: bool, attempt: int) -> str:
    if was_running:
        return _(
            "The process working on this import stopped (killed or crashed); nothing was "
            "written. The import was queued again (attempt %(n)s of %(max)s)."
        ) % {"n": attempt, "max": MAX_ATTEMPTS}
    return _(
        "No task worker started this import in time; it was queued again (attempt %(n)s of "
        "%(max)s)."
    ) % {"n": attempt, "max": MAX_ATTEMPTS}


def _give_up(job: ImportJob, *, at: dt.datetime, was_running: bool) -> None:
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
    _fail(job, code=code, reason=reason, now=at)


def fail_import(job: ImportJob, *, code: str, reason: str) -> ImportJob | None:
    """End a queued or running job as failed with `reason` (a crash in its worker); a job that
    has ended, or was queued again for another worker meanwhile, is left as it is."""
    return jobs.end_if_live(
        ImportJob,
        job.pk,
        lambda locked: _fail(locked, code=code, reason=reason, now=timezone.now()),
        attempts=job.attempts,
    )


def _fail(job: ImportJob, *, code: str, reason: str, now: dt.datetime) -> ImportJob:
    job.errors = [Issue(0, "", "", "", code, reason).as_dict()]
    drop_files(job, error_file=True)
    job.fail(at=now, message=_("Nothing imported: %(message)s") % {"message": reason}, code=code)
    job.save()
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


def visible_import(scope: Scope, user, job_id: int) -> ImportJob:
    """One import job the scope sees (Http404 otherwise), read after ending stale ones: a job
    whose worker died shows its end to whoever looks (the API and the pages alike)."""
    expire_stale_imports()
    return get_object_or_404(imports_visible_to(scope, user), pk=job_id)

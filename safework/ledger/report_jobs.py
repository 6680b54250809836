"""Exports and the coverage report as background jobs with progress (they take tens of seconds
on 150,000 certificates, too long for a web request).

`start_report` records what was asked and queues the task; `run_report` (the task's body) builds
the workbook for the asking user (their scope and ID-number masking, read again when it runs),
reporting progress, and stores it as the job's file; the user polls the job and downloads the
file. A job whose worker died is queued again or failed like an import (`expire_stale_reports`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.accounts.matrix import CERTIFICATES, READ
from safework.accounts.scope import scope_for
from safework.core import audit
from safework.core.jobs import heartbeat, queue_lease, run_lease
from safework.core.scope import Scope
from safework.ledger import exports
from safework.ledger.models import JobStatus, ReportJob, ReportKind

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
PROGRESS_EVERY = 1.0  # seconds between progress writes (with the lease, from the heartbeat)


def start_report(*, by, kind: str, params: dict, enqueue: bool = True) -> ReportJob:
    """Record the request (filters already checked against the caller's scope) and queue it."""
    with transaction.atomic():
        job = ReportJob.objects.create(
            kind=ReportKind(kind),
            params=params,
            created_by=by if by is not None and by.pk else None,
            lease_until=queue_lease(),
        )
        audit.record(
            action="certs.report_requested",
            target=job,
            actor=by,
            after={"kind": job.kind, "params": params},
        )
        if enqueue:
            _enqueue(job.pk)
    return job


def _enqueue(job_id: int) -> None:
    def run():
        from safework.ledger.tasks import run_report_task

        run_report_task(job_id)

    transaction.on_commit(run)


def _scope(user) -> Scope:
    if user is None:
        return Scope.everything()
    return scope_for(user, CERTIFICATES, READ) or Scope.nothing()


# Builders by report kind: (user, scope, on, params, progress) → (content, file name). Ledger
# registers the certificate export; apps above it register theirs (qualification: coverage) in
# their AppConfig.ready(), so this module never imports them.
ReportBuilder = Callable[..., tuple[bytes, str]]
BUILDERS: dict[str, ReportBuilder] = {}


def register_report(kind: str, builder: ReportBuilder) -> None:
    BUILDERS[kind] = builder


def _certificates(*, user, scope, on, params, progress):
    content = exports.export_certificates(
        user=user,
        scope=scope,
        on=on,
        flt=exports.ExportFilter(
            scheme=params.get("scheme") or "",
            contractor_id=params.get("contractor_id"),
            site_id=params.get("site_id"),
            department_id=params.get("department_id"),
        ),
        progress=progress,
    )
    return content, f"certificates-{on.isoformat()}.xlsx"


register_report(ReportKind.CERTIFICATES, _certificates)


def build(job: ReportJob, *, progress=None) -> tuple[bytes, str]:
    """The workbook and its file name, for the job's requester as they are now."""
    user, params = job.created_by, job.params
    builder = BUILDERS[job.kind]
    on = dt.date.fromisoformat(params["on"])
    return builder(user=user, scope=_scope(user), on=on, params=params, progress=progress)


def run_report(job_id: int) -> ReportJob | None:
    """Claim a queued job, build its file and store it; any exception fails the job with a
    reason. Safe to run twice: only a queued job is claimed."""
    now = timezone.now()
    claimed = ReportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=now, lease_until=run_lease(now), done=0
    )
    job = ReportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if not claimed or job is None:
        return job
    state = {"done": 0, "total": 0}

    def progress(done: int, total: int):
        state.update(done=done, total=total)  # the heartbeat thread writes it

    beat = heartbeat(ReportJob, job_id, fields=lambda: dict(state), every=PROGRESS_EVERY)
    with beat:
        try:
            content, filename = build(job, progress=progress)
            return _succeed(job_id, content, filename, rows=state["total"])
        except Exception:
            log.exception("report job %s failed", job_id)
            return fail_report(job_id, reason=_("The report failed unexpectedly."))


def _succeed(job_id: int, content: bytes, filename: str, *, rows: int) -> ReportJob:
    with transaction.atomic():
        job = ReportJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING:  # taken from this worker meanwhile
            return job
        job.file.save(filename, ContentFile(content), save=False)
        job.filename = filename
        job.status = JobStatus.SUCCEEDED
        job.finished_at = timezone.now()
        job.lease_until = None
        job.done = job.total = rows
        job.save()
        audit.record(
            action="certs.report_succeeded",
            target=job,
            actor=job.created_by,
            after={"status": job.status, "rows": job.total, "file": job.file.name},
        )
    return job


def fail_report(job_id: int, *, reason: str, now: dt.datetime | None = None) -> ReportJob | None:
    with transaction.atomic():
        job = ReportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in LIVE:
            return job
        return _fail(job, reason=reason, now=now or timezone.now())


def _fail(job: ReportJob, *, reason: str, now: dt.datetime) -> ReportJob:
    job.status = JobStatus.FAILED
    job.finished_at = now
    job.lease_until = None
    job.message = reason
    job.save(update_fields=["status", "finished_at", "lease_until", "message"])
    audit.record(
        action="certs.report_failed",
        target=job,
        actor=None,
        after={"status": job.status, "message": reason},
        at=now,
    )
    return job


def _stale_q(now: dt.datetime) -> Q:
    from django.conf import settings

    oldest = now - dt.timedelta(seconds=int(settings.JOB_QUEUE_TIMEOUT_SECONDS))
    return Q(status__in=LIVE) & (
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, created_at__lt=oldest)
    )


def expire_stale_reports(*, now: dt.datetime | None = None) -> int:
    """Reports whose worker was lost: queued again (a report writes nothing but its own file) at
    most `MAX_ATTEMPTS` times, then failed with a reason."""
    now = now or timezone.now()
    handled = 0
    for pk in ReportJob.objects.filter(_stale_q(now)).values_list("pk", flat=True)[:200]:
        with transaction.atomic():
            job = ReportJob.objects.select_for_update().filter(_stale_q(now), pk=pk).first()
            if job is None:
                continue
            handled += 1
            if job.attempts >= MAX_ATTEMPTS:
                _fail(
                    job,
                    reason=_(
                        "The process building this report stopped or never started %(n)s "
                        "times; ask for the report again, or ask an administrator to look at "
                        "the task worker."
                    )
                    % {"n": job.attempts},
                    now=now,
                )
                continue
            job.status = JobStatus.QUEUED
            job.attempts += 1
            job.lease_until = queue_lease(now)
            job.message = _(
                "The process building this report stopped or did not start; it was queued "
                "again (attempt %(n)s of %(max)s)."
            ) % {"n": job.attempts, "max": MAX_ATTEMPTS}
            job.save(update_fields=["status", "attempts", "lease_until", "message"])
            audit.record(
                action="certs.report_requeued",
                target=job,
                actor=None,
                after={"status": job.status, "attempts": job.attempts},
                at=now,
            )
            _enqueue(job.pk)
    return handled

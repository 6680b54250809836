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
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.accounts.matrix import CERTIFICATES, READ
from safework.accounts.scope import scope_for
from safework.core import audit, jobs
from safework.core.jobs import heartbeat, queue_lease
from safework.core.scope import Scope
from safework.ledger import exports
from safework.ledger.models import ReportJob, ReportKind
from safework.ledger.queries import reports_visible_to

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
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
            jobs.enqueue(job)
    return job


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
    claimed = jobs.claim(ReportJob, job_id)
    job = ReportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if claimed is None or job is None:
        return job
    state = {"done": 0, "total": 0}

    def progress(done: int, total: int):
        state.update(done=done, total=total)  # the heartbeat thread writes it

    beat = heartbeat(ReportJob, job_id, fields=lambda: dict(state), every=PROGRESS_EVERY)
    with beat:
        try:
            content, filename = build(job, progress=progress)
            return _succeed(job, content, filename, rows=state["total"])
        except jobs.LeaseLost:  # taken from this worker meanwhile: its file is not kept
            return ReportJob.objects.get(pk=job_id)
        except Exception:
            log.exception("report job %s failed", job_id)
            return jobs.end_if_live(
                ReportJob,
                job_id,
                lambda locked: _fail(
                    locked, reason=_("The report failed unexpectedly."), now=timezone.now()
                ),
                attempts=job.attempts,
            )


def _succeed(job: ReportJob, content: bytes, filename: str, *, rows: int) -> ReportJob:
    with transaction.atomic():
        job = jobs.hold(ReportJob, job)
        job.file.save(filename, ContentFile(content), save=False)
        job.filename = filename
        job.done = job.total = rows
        job.succeed(by=job.created_by, at=timezone.now())
        job.save()
    return job


def _fail(job: ReportJob, *, reason: str, now: dt.datetime) -> ReportJob:
    job.fail(at=now, message=reason)
    job.save()
    return job


def expire_stale_reports(*, now: dt.datetime | None = None) -> int:
    """Reports whose worker was lost: queued again (a report writes nothing but its own file) at
    most `MAX_ATTEMPTS` times, then failed with a reason."""
    return jobs.reap(
        ReportJob,
        max_attempts=MAX_ATTEMPTS,
        requeue_message=_requeue_message,
        give_up=_give_up,
        now=now,
    )


def _requeue_message(was_running: bool, attempt: int) -> str:
    return _(
        "The process building this report stopped or did not start; it was queued "
        "again (attempt %(n)s of %(max)s)."
    ) % {"n": attempt, "max": MAX_ATTEMPTS}


def _give_up(job: ReportJob, *, at: dt.datetime, was_running: bool) -> None:
    reason = _(
        "The process building this report stopped or never started %(n)s "
        "times; ask for the report again, or ask an administrator to look at "
        "the task worker."
    ) % {"n": job.attempts}
    _fail(job, reason=reason, now=at)


def visible_report(user, job_id: int) -> ReportJob:
    """One of the user's report jobs (Http404 otherwise), read after ending stale ones (a job
    whose worker died ends when it is read)."""
    expire_stale_reports()
    return get_object_or_404(reports_visible_to(user), pk=job_id)

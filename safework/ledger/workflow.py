"""The ledger's workflows: an import job's and a report job's states and the only legal moves
between them (style.md §4; the machinery in core.workflow: protected status, audited moves).

Import job (`ImportJob`)::

    queued ─claim─▶ running ─succeed─────────▶ succeeded
       ▲              │  └──hold_for_review──▶ pending_review ─approve─▶ succeeded
       │              │                             │ └─reject─▶ rejected
       └──requeue─────┤ (worker lost, attempts left)│
                      └──fail──▶ failed ◀──fail─────┘ (the approval's re-check found errors)
    queued ─fail─▶ failed (no worker started it, attempts used up)

A contractor manager's upload is checked, then waits in `pending_review` for a site's safety
officer; approving it checks the file again against the database as it is then and writes it in
the same request, so an approved job is `succeeded` (audited as `certs.import_approved`) or, when
the re-check finds errors, `failed`. There is no state "approved" between: nothing waits there.

Report job (`ReportJob`): queued ─claim─▶ running ─succeed─▶ succeeded; queued|running
─requeue─▶ queued (worker lost, attempts left); queued|running ─fail─▶ failed.

The services decide which arrow to take and why (messages, counts, files); each transition sets
only what belongs to the arrow itself: times, the lease, the attempt count.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.core.jobs import QUEUED, RUNNING, queue_lease, run_lease, status_field
from safework.core.workflow import Workflow, transition

__all__ = ["ImportWorkflow", "JobStatus", "ReportStatus", "ReportWorkflow"]


class JobStatus(models.TextChoices):
    """An import job's states."""

    QUEUED = QUEUED, _("queued")
    RUNNING = RUNNING, _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed (nothing imported)")
    PENDING_REVIEW = "pending_review", _("waiting for the safety officer's review")
    REJECTED = "rejected", _("rejected by review")


LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class ImportWorkflow(Workflow):
    status = status_field(JobStatus)

    class Meta:
        abstract = True

    @transition(source=JobStatus.QUEUED, target=JobStatus.RUNNING, action="certs.import_claimed")
    def claim(self, *, by, at):
        self.started_at = at
        self.lease_until = run_lease(at)
        self.processed_rows = 0
        return {"attempts": self.attempts}

    @transition(
        source=JobStatus.RUNNING, target=JobStatus.SUCCEEDED, action="certs.import_succeeded"
    )
    def succeed(self, *, by, at):
        self._finish(at)
        return self._counts()

    @transition(
        source=JobStatus.RUNNING,
        target=JobStatus.PENDING_REVIEW,
        action="certs.import_pending_review",
    )
    def hold_for_review(self, *, by, at):
        self.lease_until = None
        return {"total_rows": self.total_rows, "error_rows": self.error_rows}

    @transition(
        source=JobStatus.PENDING_REVIEW, target=JobStatus.SUCCEEDED, action="certs.import_approved"
    )
    def approve(self, *, by, at):
        self.reviewed_by = by
        self.reviewed_at = self.reviewed_at or at
        self._finish(at)
        return {**self._counts(), "reviewed_by_id": self.reviewed_by_id}

    @transition(
        source=JobStatus.PENDING_REVIEW, target=JobStatus.REJECTED, action="certs.import_rejected"
    )
    def reject(self, *, by, at, message: str):
        self.reviewed_by = by
        self.reviewed_at = at
        self._finish(at)
        self.message = message
        return {"reviewed_by_id": self.reviewed_by_id, "message": message}

    @transition(
        source=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PENDING_REVIEW],
        target=JobStatus.FAILED,
        action="certs.import_failed",
    )
    def fail(self, *, by, at, message: str, code: str = ""):
        """Nothing imported: the counts are zero whatever the check had planned."""
        self._finish(at)
        self.created_count = self.updated_count = self.unchanged_count = 0
        self.message = message
        details = {"error_rows": self.error_rows, "total_rows": self.total_rows}
        return {**details, "code": code} if code else details

    @transition(source=list(LIVE), target=JobStatus.QUEUED, action="certs.import_requeued")
    def requeue(self, *, by, at, message: str):
        """Queued again after its worker was lost: a new attempt starts from the beginning."""
        self.attempts += 1
        self.lease_until = queue_lease(at)
        self.started_at = None
        self.processed_rows = 0
        self.message = message
        return {"attempts": self.attempts, "message": message}

    def _finish(self, at):
        self.finished_at = at
        self.lease_until = None

    def _counts(self) -> dict:
        return {
            "created": self.created_count,
            "updated": self.updated_count,
            "unchanged": self.unchanged_count,
            "error_rows": self.error_rows,
        }


class ReportStatus(models.TextChoices):
    """A report job's states."""

    QUEUED = QUEUED, _("queued")
    RUNNING = RUNNING, _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class ReportWorkflow(Workflow):
    status = status_field(ReportStatus)

    class Meta:
        abstract = True

    @transition(
        source=ReportStatus.QUEUED, target=ReportStatus.RUNNING, action="certs.report_claimed"
    )
    def claim(self, *, by, at):
        self.started_at = at
        self.lease_until = run_lease(at)
        self.done = 0
        return {"attempts": self.attempts}

    @transition(
        source=ReportStatus.RUNNING, target=ReportStatus.SUCCEEDED, action="certs.report_succeeded"
    )
    def succeed(self, *, by, at):
        self.finished_at = at
        self.lease_until = None
        return {"rows": self.total, "file": self.file.name}

    @transition(
        source=[ReportStatus.QUEUED, ReportStatus.RUNNING],
        target=ReportStatus.FAILED,
        action="certs.report_failed",
    )
    def fail(self, *, by, at, message: str):
        self.finished_at = at
        self.lease_until = None
        self.message = message
        return {"message": message}

    @transition(
        source=[ReportStatus.QUEUED, ReportStatus.RUNNING],
        target=ReportStatus.QUEUED,
        action="certs.report_requeued",
    )
    def requeue(self, *, by, at, message: str):
        self.attempts += 1
        self.lease_until = queue_lease(at)
        self.message = message
        return {"attempts": self.attempts}

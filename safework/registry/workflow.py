"""A verification batch's states and the only legal moves between them (style.md §4; the
machinery in core.workflow: protected status, audited moves)::

    queued ─claim─▶ running ─succeed─▶ succeeded   (some look-up answered, or none to ask)
       ▲               ├─────fail────▶ failed      (no look-up answered; a crash)
       ├──requeue──────┘                           (worker lost, attempts left)
       └──retry── queued | running | succeeded | failed   (look-ups left to retry queued again)
    queued ─fail─▶ failed (no worker started it, attempts used up)

A batch has no review: its look-ups go to the to-review list one by one, and the batch itself only
runs. `retry` is the user's: it queues the look-ups the registry could not answer (those are
`retry_later`) in a new run, whatever the batch's state.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.core.jobs import QUEUED, RUNNING, queue_lease, run_lease, status_field
from safework.core.workflow import Workflow, transition

__all__ = ["BatchStatus", "BatchWorkflow"]


class BatchStatus(models.TextChoices):
    QUEUED = QUEUED, _("queued")
    RUNNING = RUNNING, _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


LIVE = (BatchStatus.QUEUED, BatchStatus.RUNNING)


class BatchWorkflow(Workflow):
    status = status_field(BatchStatus)

    class Meta:
        abstract = True

    @transition(
        source=BatchStatus.QUEUED, target=BatchStatus.RUNNING, action="cert.verification_claimed"
    )
    def claim(self, *, by, at):
        self.started_at = at
        self.finished_at = None
        self.lease_until = run_lease(at)
        self.message = ""
        return {"attempts": self.attempts}

    @transition(
        source=BatchStatus.RUNNING,
        target=BatchStatus.SUCCEEDED,
        action="cert.verification_succeeded",
    )
    def succeed(self, *, by, at):
        self.finished_at = at
        self.lease_until = None
        return {"done": self.done, "total": self.total}

    @transition(source=list(LIVE), target=BatchStatus.FAILED, action="cert.verification_failed")
    def fail(self, *, by, at, message: str):
        self.finished_at = at
        self.lease_until = None
        self.message = message
        return {"done": self.done, "total": self.total, "message": message}

    @transition(source=list(LIVE), target=BatchStatus.QUEUED, action="cert.verification_requeued")
    def requeue(self, *, by, at, message: str):
        self.attempts += 1
        self.lease_until = queue_lease(at)
        self.message = message
        return {"attempts": self.attempts, "message": message}

    @transition(
        source=[*LIVE, BatchStatus.SUCCEEDED, BatchStatus.FAILED],
        target=BatchStatus.QUEUED,
        action="cert.verification_retried",
    )
    def retry(self, *, by, at):
        """A new run for the look-ups queued again: its attempts are counted afresh."""
        self.finished_at = None
        self.lease_until = queue_lease(at)
        self.attempts = 1
        self.message = ""
        return {"done": self.done}

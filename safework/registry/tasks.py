"""Background work of registry verification: one Django task per batch (`django.tasks`, run by
huey through settings.TASKS), and the per-minute reaper of batches whose worker was lost.

`verification.start_verification` / `retry_verification` queue the task with
`core.jobs.enqueue(batch)` when their transaction commits. Running it twice is safe: only a queued
batch is claimed, and answered rows are skipped. The reaper stays a huey periodic task: Django's
task API has no schedules.
"""

from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from safework.core import jobs
from safework.registry import verification
from safework.registry.models import VerificationBatch

__all__ = ["expire_stale_batches_task", "verify_batch"]


@jobs.runner(VerificationBatch)
@task
def verify_batch(batch_id: int) -> None:
    """Look up the pending rows of one verification batch."""
    verification.run_verification_batch(batch_id)


@db_periodic_task(crontab(minute="*"))
def expire_stale_batches_task():
    """Every minute: batches whose worker was lost (lease expired) are queued again or ended."""
    verification.expire_stale_batches()

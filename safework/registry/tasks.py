"""Background work of registry verification (huey tasks).

One task per batch, queued by `verification.start_verification` / `retry_verification` when their
transaction commits. Running it twice is safe: answered rows are skipped.
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from safework.registry.verification import run_verification_batch

__all__ = ["expire_stale_batches_task", "verify_batch"]


@db_task()
def verify_batch(batch_id: int) -> None:
    """Look up the pending rows of one verification batch."""
    run_verification_batch(batch_id)


@db_periodic_task(crontab(minute="*"))
def expire_stale_batches_task():
    """Every minute: batches whose worker was lost (lease expired) are queued again or ended."""
    from safework.registry.verification import expire_stale_batches

    expire_stale_batches()

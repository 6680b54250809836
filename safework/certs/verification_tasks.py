"""Background work of registry verification (huey tasks).

One task per batch, queued by `verification.start_verification` / `retry_verification` when their
transaction commits. Running it twice is safe: answered rows are skipped.
"""

from huey.contrib.djhuey import db_task

from safework.certs.verification import run_verification_batch

__all__ = ["verify_batch"]


@db_task()
def verify_batch(batch_id: int) -> None:
    """Look up the pending rows of one verification batch."""
    run_verification_batch(batch_id)

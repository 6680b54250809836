"""Background work of ledger imports (huey tasks)."""

from huey.contrib.djhuey import db_task

__all__ = ["run_import_task"]


@db_task()
def run_import_task(job_id: int):
    """Check and write one import job; safe to run twice (only a queued job is claimed)."""
    from safework.certs.imports.services import run_import

    run_import(job_id)

"""Background work of ledger imports, exports and reports (huey tasks)."""

from huey.contrib.djhuey import db_task

__all__ = ["run_import_task", "run_report_task"]


@db_task()
def run_import_task(job_id: int):
    """Check and write one import job; safe to run twice (only a queued job is claimed)."""
    from safework.certs.imports.services import run_import

    run_import(job_id)


@db_task()
def run_report_task(job_id: int):
    """Build one export or report; safe to run twice (only a queued job is claimed)."""
    from safework.certs.imports.report_jobs import run_report

    run_report(job_id)

"""Background work of ledger imports, exports and reports (huey tasks)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

__all__ = ["expire_stale_jobs", "run_import_task", "run_report_task"]


@db_task()
def run_import_task(job_id: int):
    """Check and write one import job; safe to run twice (only a queued job is claimed)."""
    from safework.ledger.services import run_import

    run_import(job_id)


@db_task()
def run_report_task(job_id: int):
    """Build one export or report; safe to run twice (only a queued job is claimed)."""
    from safework.ledger.report_jobs import run_report

    run_report(job_id)


@db_periodic_task(crontab(minute="*"))
def expire_stale_jobs():
    """Every minute: jobs whose worker was lost (lease expired) are queued again or failed."""
    from safework.ledger.leases import expire_stale_imports
    from safework.ledger.report_jobs import expire_stale_reports

    expire_stale_imports()
    expire_stale_reports()

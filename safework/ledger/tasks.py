"""Background work of the ledger: imports and reports as Django tasks (`django.tasks`, run by
huey through settings.TASKS), and the per-minute reaper of jobs whose worker was lost.

Each task takes a job's id and calls one service; running it twice is safe (only a queued job is
claimed). The services queue these tasks with `core.jobs.enqueue(job)`, which finds them by model
(`@jobs.runner`), so that no service imports this module. The reaper stays a huey periodic task:
Django's task API has no schedules.
"""

from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from safework.core import jobs
from safework.ledger import leases, report_jobs, services
from safework.ledger.models import ImportJob, ReportJob

__all__ = ["expire_stale_jobs", "run_import_task", "run_report_task"]


@jobs.runner(ImportJob)
@task
def run_import_task(job_id: int) -> None:
    """Check and write one import job."""
    services.run_import(job_id)


@jobs.runner(ReportJob)
@task
def run_report_task(job_id: int) -> None:
    """Build one export or report."""
    report_jobs.run_report(job_id)


@db_periodic_task(crontab(minute="*"))
def expire_stale_jobs():
    """Every minute: jobs whose worker was lost (lease expired) are queued again or failed."""
    leases.expire_stale_imports()
    report_jobs.expire_stale_reports()

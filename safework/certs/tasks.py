"""huey discovers `<app>.tasks`: the certs tasks live beside the services they call."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from safework.certs.imports.tasks import *  # noqa: F403
from safework.certs.verification_tasks import *  # noqa: F403


@db_periodic_task(crontab(minute="*"))
def expire_stale_jobs():
    """Every minute: jobs whose worker was lost (lease expired) are queued again or failed."""
    from safework.certs.imports.leases import expire_stale_imports
    from safework.certs.imports.report_jobs import expire_stale_reports
    from safework.certs.verification import expire_stale_batches

    expire_stale_imports()
    expire_stale_batches()
    expire_stale_reports()

"""Background work of reports: every hour a huey periodic job asks whether last month's reports
are due (on or after the 5th, not yet sent); the service decides and sends them once."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from safework.reports import services

__all__ = ["monthly_reports"]


@db_periodic_task(crontab(minute="20"))
def monthly_reports():
    """Hourly: last month's certificate health and contractor compliance reports, on the 5th."""
    services.send_monthly_reports()

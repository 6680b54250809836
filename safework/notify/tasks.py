"""Background work of notifications: the delivery worker and the scan, as a Django task (queued
when an event is emitted) and huey periodic jobs (every minute: deliver; every hour: scan).

Each runs under a huey lock (in huey's own storage: the SQLite file under var/ embedded, Redis
at scale), so two app processes, each with its consumer, never run the same job at once; the
claim in `worker` keeps two workers from sending one delivery even without it.
"""

from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task
from huey.exceptions import TaskLockedException

from safework.notify import scan, worker

__all__ = ["deliver_task", "notify_deliver", "notify_scan", "wake"]


def _deliver() -> int:
    try:
        with HUEY.lock_task("safework-notify-deliver"):
            return worker.run_once()
    except TaskLockedException:
        return 0  # another process is delivering; it will take these too


@task
def deliver_task() -> int:
    """Fan out and send what is due now."""
    return _deliver()


def wake() -> None:
    """Queue a delivery run (called when an emitting transaction commits)."""
    deliver_task.enqueue()


@db_periodic_task(crontab(minute="*"))
def notify_deliver():
    """Every minute: retries that came due, escalations, anything a lost wake-up left."""
    _deliver()


@db_periodic_task(crontab(minute="5"))
def notify_scan():
    """Every hour: the date-driven events (warning stages, expiry, health checks, …)."""
    try:
        with HUEY.lock_task("safework-notify-scan"):
            scan.run_scan()
    except TaskLockedException:
        return
    _deliver()

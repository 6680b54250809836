"""Background work of notifications: the delivery run as a Django task (queued when an emitting
transaction commits) and huey periodic jobs (every minute: deliver; every hour: scan).

Each runs under a run lock with an expiry (`locks`, in the database), so two app processes, each
with its consumer, never run the same job at once, and a killed one blocks nobody for long; the
claim in `worker` keeps two workers from sending one delivery even without it.
"""

from django.conf import settings
from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from safework.notify import locks, scan, services, worker

__all__ = ["deliver_task", "notify_deliver", "notify_scan", "wake"]


def _deliver() -> int:
    with locks.held("notify-deliver", seconds=settings.NOTIFY_LOCK_SECONDS) as mine:
        return worker.run_once() if mine else 0  # another process delivers; it takes these too


@task
def deliver_task() -> int:
    """Fan out and send what is due now."""
    return _deliver()


def wake() -> None:
    """Queue a delivery run (called when an emitting transaction commits)."""
    deliver_task.enqueue()


services.set_waker(wake)


@db_periodic_task(crontab(minute="*"))
def notify_deliver():
    """Every minute: retries that came due, escalations, anything a lost wake-up left."""
    _deliver()


@db_periodic_task(crontab(minute="5"))
def notify_scan():
    """Every hour: the date-driven events (warning stages, expiry, health checks, …)."""
    with locks.held("notify-scan", seconds=settings.NOTIFY_LOCK_SECONDS) as mine:
        if mine:
            scan.run_scan()
    _deliver()

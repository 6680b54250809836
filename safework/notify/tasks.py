"""Background work of notifications: the delivery run as a Django task (queued when an emitting
transaction commits) and huey periodic jobs (every minute: deliver; every hour: scan).

Each runs under a run lock with an expiry (`locks`, in the database), so two app processes, each
with its consumer, never run the same job at once, and a killed one blocks nobody for long; the
claim in `worker` keeps two workers from sending one delivery even without it.
"""

import time

from django.conf import settings
from django.tasks import TaskResultStatus, task
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


# The delivery run this process queued last, and when (time.monotonic()): while it has not
# started, a run is certain to come after any event committed now, so no other is queued
# (a queuing writes twice to the task store: SQLite ~8 ms).
_queued: tuple[str, float] | None = None
# A run queued longer ago than this is queued again even if it looks unstarted (its task may
# have been lost: a store wiped, a failed write); the minute's periodic run covers the gap.
WAKE_TRUST_SECONDS = 30


def _waiting(queued: tuple[str, float] | None) -> bool:
    """True when the run `queued` is still waiting for a worker. Safe to skip a wake then: the
    worker marks a run RUNNING (in the shared task store) before it starts, so a run seen READY
    after our commit fans out after it and takes our events. Any doubt (no record, a backend
    that keeps none, an error) answers False: queue a run."""
    if queued is None or time.monotonic() - queued[1] > WAKE_TRUST_SECONDS:
        return False
    try:
        return deliver_task.get_result(queued[0]).status == TaskResultStatus.READY
    except Exception:
        return False


def wake() -> None:
    """Queue a delivery run (called when an emitting transaction commits), unless the one this
    process queued last has not started yet (it will take this transaction's events too)."""
    global _queued
    if _waiting(_queued):
        return
    _queued = None
    result = deliver_task.enqueue()
    _queued = (result.id, time.monotonic())


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

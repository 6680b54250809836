"""Leases of background jobs: how a job whose worker died is told from one still running.

A job row carries `lease_until`. Queuing a job gives it a queue lease (`queue_lease()`); the worker
that claims it takes a run lease (`run_lease()`) and renews it from a heartbeat thread while it
works. A job still queued or running after its lease ran out has lost its worker (killed, crashed,
the machine restarted, or the task was never queued): the app's reaper then retries it where that
is safe or ends it as failed with a reason. The reaper runs periodically and whenever a job is read.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone

log = logging.getLogger(__name__)


def lease_seconds() -> int:
    return int(settings.JOB_LEASE_SECONDS)


def run_lease(now: dt.datetime | None = None) -> dt.datetime:
    """The end of a running job's lease taken or renewed `now`."""
    return (now or timezone.now()) + dt.timedelta(seconds=lease_seconds())


def queue_lease(now: dt.datetime | None = None) -> dt.datetime:
    """How long a queued job may wait for a worker before it is queued again."""
    return (now or timezone.now()) + dt.timedelta(seconds=int(settings.JOB_QUEUE_TIMEOUT_SECONDS))


class heartbeat:  # noqa: N801 (used as a context manager, like contextlib's)
    """Renew the lease of job `pk` (a row of `model` whose status is `running`) every quarter of
    the lease while the block runs.

    The renewal is a conditional UPDATE from a thread with its own database connection; a failed
    renewal (a database busy with the job's own write) is logged and tried again at the next beat.
    Inside a transaction the claim is not visible to other connections, so no thread is started
    (tests, a review that runs inside a request).
    """

    def __init__(self, model, pk: int, *, running: str = "running", fields=None, every=None):
        # `fields()`: more columns to write with each beat (progress), so that the worker's own
        # connection, perhaps reading through a cursor, never writes meanwhile (on SQLite a read
        # that turns into a write fails once another connection has committed).
        self.model, self.pk, self.running = model, pk, running
        self.fields, self.every = fields, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self):
        if connection.in_atomic_block or lease_seconds() <= 0:
            return self
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{self.model._meta.label}-{self.pk}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=lease_seconds())
        return False

    def _beat(self):
        interval = self.every or max(lease_seconds() / 4, 0.05)
        try:
            while not self._stop.wait(interval):
                try:
                    close_old_connections()
                    extra = self.fields() if self.fields else {}
                    self.model.objects.filter(pk=self.pk, status=self.running).update(
                        lease_until=run_lease(), **extra
                    )
                except Exception:
                    log.warning("could not renew the lease of %s %s", self.model.__name__, self.pk)
        finally:
            connections.close_all()

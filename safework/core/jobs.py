"""Background jobs: their tasks, leases, claims, and the reaper of jobs whose worker was lost.

A job is a row (an import, a report, a verification batch) whose workflow (`core.workflow`) has
the states `queued` and `running` and the transitions `claim`, `requeue` and `fail`, and the
columns `lease_until`, `attempts` and `created_at`. One pattern serves every kind, and the
notifications to come:

- Its task is a Django task (`django.tasks`, run by huey: settings.TASKS) in the app's `tasks.py`,
  registered for the model with `@runner(Model)`; it takes the row's id, calls one service and is
  safe to run twice. Services queue it with `enqueue(row)`, when their transaction commits. So a
  service never imports its app's tasks module (which imports the services): no import cycle.
- The task's service claims the row (`claim`: locked, moved from queued to running, or None when
  another worker has it), works under a `heartbeat` that renews its run lease, and stores its
  result after `hold` has checked, under the row's lock, that the job is still its own.
- Queuing a job gives it a queue lease (`queue_lease()`); a job still queued or running after its
  lease ran out has lost its worker (killed, crashed, the machine restarted, or the task was never
  queued): `reap` (every minute from the task worker, and whenever jobs are read) queues it again,
  at most `max_attempts` times, then ends it as failed with a reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection, connections, models, transaction
from django.db.models import Q
from django.tasks import Task
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_fsm import FSMField

from safework.core.workflow import can_proceed

log = logging.getLogger(__name__)

# The states every job workflow shares (the values of its status field).
QUEUED, RUNNING = "queued", "running"
LIVE = (QUEUED, RUNNING)
REAP_AT_ONCE = 200  # jobs looked at per reaper run: the next minute takes the rest


def status_field(states: type[models.TextChoices]) -> FSMField:
    """A job's status among `states`, queued at first, changed only through its workflow's
    transitions (protected)."""
    return FSMField(
        gettext_lazy("status"),
        max_length=20,
        choices=states.choices,
        default=QUEUED,
        protected=True,
    )


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

    def __init__(self, model, pk: int, *, running: str = RUNNING, fields=None, every=None):
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


# ---- tasks ---------------------------------------------------------------------------------------
_RUNNERS: dict[str, Task] = {}


def runner(model: type[models.Model]):
    """Register the decorated Django task as the one that works on a row of `model`.

    Used in an app's tasks.py under `@task`; the app's AppConfig.ready() imports that module, so
    the web process, the commands and the task worker all know the task before queuing it.
    """

    def register(task: Task) -> Task:
        _RUNNERS[model._meta.label] = task
        return task

    return register


def task_of(model: type[models.Model]) -> Task:
    try:
        return _RUNNERS[model._meta.label]
    except KeyError:
        raise LookupError(
            f"no task is registered for {model._meta.label}: does its app's AppConfig.ready() "
            "import its tasks module?"
        ) from None


def enqueue(job: models.Model) -> None:
    """Queue the task of `job` when the current transaction commits (at once outside one): a job
    rolled back is never run, and a worker never looks for a row not committed yet."""
    task, pk = task_of(type(job)), job.pk
    transaction.on_commit(lambda: task.enqueue(pk))


# ---- claim and hold ------------------------------------------------------------------------------
class LeaseLost(Exception):
    """The job was taken from this worker (its lease expired and it was queued again or failed):
    the worker's result must not be stored."""


def claim(model: type[models.Model], pk: int, *, at: dt.datetime | None = None):
    """Move a queued job to running (its `claim` transition, which takes the run lease) in a
    transaction of its own, and return it; None when it is not queued (another worker claimed
    it, it ended, or it was deleted).

    Two workers cannot both claim a job: the row is locked before its state is read (PostgreSQL:
    SELECT … FOR UPDATE; SQLite: the IMMEDIATE transaction holds the writer lock), and the save is
    an `UPDATE … WHERE status = 'queued'` besides (core.workflow).
    """
    at = at or timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=pk).first()
        if job is None or not can_proceed(job.claim):
            return None
        job.claim(at=at)
        job.save()
    return job


def hold(model: type[models.Model], job: models.Model, *, states=(RUNNING,)):
    """Inside the transaction that stores a job's result: lock the job's row and return it,
    checked to be still this run's (in one of `states`, and queued no further time since `job`
    was read); LeaseLost otherwise."""
    locked = model.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None or locked.status not in states or locked.attempts != job.attempts:
        raise LeaseLost(job.pk)
    return locked


def end_if_live(
    model: type[models.Model], pk: int, end: Callable, *, attempts: int | None = None
) -> models.Model | None:
    """Lock the job and, while it is queued or running (in its attempt `attempts`, if given: a
    crashed worker must not end the run of the worker that took the job over), call `end(job)`,
    which ends it; the job as it is then (None if it was deleted)."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=pk).first()
        if job is None or job.status not in LIVE:
            return job
        if attempts is not None and job.attempts != attempts:
            return job
        end(job)
        return job


# ---- the reaper ----------------------------------------------------------------------------------
def stale_q(now: dt.datetime) -> Q:
    """Queued or running jobs whose lease ran out (or which never had one: rows from before
    leases, stuck since)."""
    oldest = now - dt.timedelta(seconds=int(settings.JOB_QUEUE_TIMEOUT_SECONDS))
    return Q(status__in=LIVE) & (
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, created_at__lt=oldest)
    )


def reap(
    model: type[models.Model],
    *,
    max_attempts: int,
    requeue_message: Callable[[bool, int], str],
    give_up: Callable[..., object],
    now: dt.datetime | None = None,
) -> int:
    """Queue again, or end, every job of `model` whose worker was lost; the number handled.

    A job queued fewer than `max_attempts` times is queued again (its `requeue` transition, with
    `requeue_message(was_running, attempt)`, and its task queued after commit): the kind must make
    that safe (its work either committed with its final state or rolled back). Otherwise
    `give_up(job, at=now, was_running=…)` ends it (its `fail` transition and whatever goes with
    it). Each job in a transaction of its own, locked and read again first (a worker storing its
    result holds the lock and finishes first); one job's error never stops the others.
    """
    now = now or timezone.now()
    handled = 0
    for pk in model.objects.filter(stale_q(now)).values_list("pk", flat=True)[:REAP_AT_ONCE]:
        try:
            with transaction.atomic():
                job = model.objects.select_for_update().filter(stale_q(now), pk=pk).first()
                if job is None:
                    continue
                was_running = job.status == RUNNING
                if job.attempts < max_attempts:
                    job.requeue(at=now, message=requeue_message(was_running, job.attempts + 1))
                    job.save()
                    enqueue(job)
                else:
                    give_up(job, at=now, was_running=was_running)
                handled += 1
        except Exception:
            log.exception("could not expire %s %s", model._meta.label, pk)
    return handled

"""The delivery wake: a transaction that emitted events queues a delivery run when it commits,
unless the run this process queued last has not started yet (that one fans out after the
commit, so it takes the events too). Through huey's real task backend, its queue held (not run
inline) so that a queued run can be seen waiting, then started by a worker."""

import types

import pytest
from huey.contrib import djhuey
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage

from safework.notify import tasks
from safework.notify.models import Event
from safework.notify.tests.helpers import AT

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(monkeypatch):
    """Huey queuing for real (not inline), in memory; a clock for the wake's trust window."""
    storage = MemoryStorage("test-wake")
    monkeypatch.setattr(HUEY, "_immediate", False)
    # A worker closes its database connections around each task; here the "worker" is the test,
    # inside the test's transaction: closing would end it (PostgreSQL).
    monkeypatch.setattr(djhuey, "close_old_connections", lambda: None)
    monkeypatch.setattr(HUEY, "storage", storage)
    monkeypatch.setattr(tasks, "_queued", None)
    clock = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr(tasks, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    storage.clock = clock
    return storage


def _work_one():
    """A worker takes the next queued task and runs it."""
    task = HUEY.dequeue()
    assert task is not None
    HUEY.execute(task)


def test_a_wake_while_the_queued_run_waits_queues_nothing_more(queue):
    tasks.wake()
    assert queue.queue_size() == 1
    tasks.wake()
    tasks.wake()
    assert queue.queue_size() == 1


def test_events_of_skipped_wakes_are_taken_by_the_waiting_run(queue, catalogue):
    from safework.notify import services

    for n in (1, 2):
        services.emit(
            "permit.approval_waiting",
            key=f"permit:9:step:{n}",
            subject_label="DH-9",
            payload={"number": "DH-9", "roles": []},
            site_id=None,
            at=AT,
        )
        tasks.wake()  # what each emitting transaction's commit calls
    assert queue.queue_size() == 1
    _work_one()
    assert not Event.objects.filter(key__startswith="permit:9:", fanned_out_at=None).exists()


def test_once_the_run_started_the_next_wake_queues_another(queue):
    tasks.wake()
    _work_one()  # started (and here finished): it may have fanned out before our commit
    assert queue.queue_size() == 0
    tasks.wake()
    assert queue.queue_size() == 1


def test_a_run_marked_running_but_not_done_does_not_absorb_a_wake(queue):
    from huey.contrib.djhuey.tasks_backend import KEY

    tasks.wake()
    result_id = tasks._queued[0]
    record = HUEY.get(KEY % result_id, peek=True)
    record["status"] = "RUNNING"  # what the worker writes before it calls the task
    HUEY.put_result(KEY % result_id, record)
    tasks.wake()
    assert queue.queue_size() == 2


def test_a_run_waiting_longer_than_the_trust_window_is_queued_again(queue):
    tasks.wake()
    queue.clock.now += tasks.WAKE_TRUST_SECONDS
    tasks.wake()
    assert queue.queue_size() == 1  # at the limit: still trusted
    queue.clock.now += 0.001
    tasks.wake()
    assert queue.queue_size() == 2  # past it: perhaps lost, queued again


def test_a_run_whose_record_is_gone_is_queued_again(queue):
    tasks.wake()
    queue.flush_results()
    tasks.wake()
    assert queue.queue_size() == 2

"""The run lock (one scan or delivery run at a time, a killed holder blocks nobody for long),
and the outbox's transaction: an event exists exactly when the change that emitted it
committed."""

import datetime as dt

import pytest
import time_machine
from django.db import transaction

from safework.notify import locks
from safework.notify.models import Event
from safework.notify.tests.helpers import AT

pytestmark = pytest.mark.django_db


def test_a_held_lock_is_refused_until_released_or_expired():
    with time_machine.travel(AT, tick=False) as clock:
        first = locks.acquire("notify-deliver", seconds=300)
        assert first is not None
        assert locks.acquire("notify-deliver", seconds=300) is None
        clock.shift(dt.timedelta(seconds=299))
        assert locks.acquire("notify-deliver", seconds=300) is None  # still held
        clock.shift(dt.timedelta(seconds=1))
        taken_over = locks.acquire("notify-deliver", seconds=300)  # the holder died
        assert taken_over not in (None, first)
        locks.release("notify-deliver", taken_over)
        with locks.held("notify-deliver", seconds=300) as mine:
            assert mine


def test_an_event_emitted_in_a_transaction_that_rolls_back_is_gone():
    from safework.notify import services

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        services.emit(
            "permit.alarm_raised",
            key="permit:1:alarm:1",
            subject_label="DH-1",
            payload={"number": "DH-1"},
            site_id=None,
            at=AT,
        )
        assert Event.objects.filter(key="permit:1:alarm:1").exists()
        raise Boom
    assert not Event.objects.filter(key="permit:1:alarm:1").exists()


def test_emitting_queues_the_delivery_run_when_the_transaction_commits(
    django_capture_on_commit_callbacks, catalogue
):
    from safework.accounts.tests.world import make_user
    from safework.notify import services
    from safework.notify.models import Delivery

    approver = make_user("approver")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = services.emit(
            "permit.approval_waiting",
            key="permit:2:step:1",
            subject_label="DH-2",
            payload={"number": "DH-2", "roles": []},
            site_id=None,
            at=AT,
            recipients_hint={"approver": [approver.pk]},
        )
        assert not Delivery.objects.filter(event=event).exists()  # nothing before the commit
    assert len(callbacks) == 1
    assert Delivery.objects.get(event=event).user == approver  # the task ran (huey, immediate)


def _emit(key: str):
    from safework.notify import services

    return services.emit(
        "permit.approval_waiting",
        key=key,
        subject_label="DH-3",
        payload={"number": "DH-3", "roles": []},
        site_id=None,
        at=AT,
    )


def test_one_transaction_queues_one_delivery_run_however_many_events(
    django_capture_on_commit_callbacks, catalogue
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        first, second = _emit("permit:3:step:1"), _emit("permit:3:step:2")
    assert first.pk != second.pk
    assert len(callbacks) == 1


def test_a_wake_rolled_back_with_its_savepoint_is_queued_again(
    django_capture_on_commit_callbacks, catalogue
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                _emit("permit:4:step:1")
                raise RuntimeError("the inner block fails")
        except RuntimeError:
            pass
        _emit("permit:4:step:2")
    assert len(callbacks) == 1
    assert list(
        Event.objects.filter(key__startswith="permit:4:").values_list("key", flat=True)
    ) == ["permit:4:step:2"]


def test_emitting_a_stored_event_again_returns_it_and_queues_nothing(
    django_capture_on_commit_callbacks, catalogue
):
    stored = _emit("permit:5:step:1")
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        again = _emit("permit:5:step:1")
        assert again.pk == stored.pk
    assert callbacks == []
    assert Event.objects.filter(key="permit:5:step:1").count() == 1

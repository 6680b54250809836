"""A run lock in the database with an expiry (`RunLock`): two app processes, each with its task
consumer, never run the same notify job at once, and a process killed while holding it blocks
nobody for longer than the lock's time."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from safework.notify.models import RunLock


def acquire(name: str, *, seconds: int, holder: str | None = None) -> str | None:
    """The holder token if the lock was free (or expired) and is now ours, else None."""
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    now = timezone.now()
    until = now + dt.timedelta(seconds=seconds)
    with transaction.atomic():
        taken = RunLock.objects.filter(Q(until__lte=now) | Q(holder=""), name=name).update(
            holder=holder, until=until
        )
        if taken:
            return holder
        if RunLock.objects.filter(name=name).exists():
            return None
        try:
            with transaction.atomic():
                RunLock.objects.create(name=name, holder=holder, until=until)
        except IntegrityError:
            return None
    return holder


def release(name: str, holder: str) -> None:
    RunLock.objects.filter(name=name, holder=holder).update(holder="", until=timezone.now())


@contextlib.contextmanager
def held(name: str, *, seconds: int):
    """`with held("notify-deliver", seconds=300) as ok:` – ok is False when another has it."""
    holder = acquire(name, seconds=seconds)
    try:
        yield holder is not None
    finally:
        if holder is not None:
            release(name, holder)

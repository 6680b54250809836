"""The delivery worker: claim due deliveries under a lease, send each, record every attempt.

Exactly once per delivery key: a batch is claimed with one conditional UPDATE (pending, due, and
not leased to a live worker) that stamps the worker's claim token; only rows carrying that token
are sent, and the outcome is stored only while the token is still there. A worker killed
mid-batch leaves its rows leased; when the lease runs out another worker takes them. The one
window left, a message sent but the worker killed before storing it, is closed at the receiver by
the delivery key (webhook header `X-SafeWork-Delivery`, e-mail Message-ID).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from safework.core.settings_registry import get_setting
from safework.notify import channels, services
from safework.notify.models import Attempt, Delivery, DeliveryStatus
from safework.notify.recipients import Recipient

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimable(now: dt.datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def claim_batch(*, worker: str, limit: int, now: dt.datetime | None = None) -> list[Delivery]:
    """Take up to `limit` due deliveries for this worker (none another live worker holds)."""
    now = now or timezone.now()
    token = f"{worker}/{uuid.uuid4().hex[:12]}"[:64]
    lease = now + dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    with transaction.atomic():
        ids = Delivery.objects.filter(_claimable(now)).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            ids = ids.select_for_update(skip_locked=True)
        ids = list(ids.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        # Conditional: a row another worker claimed meanwhile no longer matches.
        Delivery.objects.filter(_claimable(now), pk__in=ids).update(
            claim=token, lease_until=lease, attempts=F("attempts") + 1
        )
    return list(
        Delivery.objects.filter(claim=token, status=DeliveryStatus.PENDING)
        .select_related("event")
        .order_by("pk")
    )


def _backoff(attempts: int) -> dt.timedelta:
    base = int(get_setting("notify.retry_base_seconds"))
    return dt.timedelta(seconds=base * (2 ** max(attempts - 1, 0)))


def record_outcome(
    d: Delivery, *, ok: bool, error: str = "", worker: str, now: dt.datetime | None = None
) -> bool:
    """Store the outcome of one attempt (False when the claim was lost: another worker took the
    row after this lease ran out, and its result counts)."""
    now = now or timezone.now()
    with transaction.atomic():
        if ok and connection.vendor == "postgresql":
            # A success need not wait for the disk: if the database itself crashes in the next
            # moment, the delivery is sent once more (the receiver drops it by its key); a
            # killed worker loses nothing that was committed.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        mine = Delivery.objects.filter(pk=d.pk, claim=d.claim, status=DeliveryStatus.PENDING)
        Attempt.objects.create(delivery_id=d.pk, at=now, ok=ok, error=error[:2000], worker=worker)
        if ok:
            return bool(
                mine.update(status=DeliveryStatus.SENT, sent_at=now, lease_until=None, claim="")
            )
        if d.attempts >= int(get_setting("notify.max_attempts")):
            changed = mine.update(
                status=DeliveryStatus.FAILED, last_error=error[:2000], lease_until=None, claim=""
            )
            if changed and not _reached_otherwise(d):
                services.report_undeliverable(
                    d.event,
                    Recipient(d.relation, d.user_id, d.person_id, d.recipient_label),
                    error=error,
                    now=now,
                )
            return bool(changed)
        return bool(
            mine.update(
                last_error=error[:2000],
                next_attempt_at=now + _backoff(d.attempts),
                lease_until=None,
                claim="",
            )
        )


def _reached_otherwise(d: Delivery) -> bool:
    """Another external channel reached (or may still reach) the same recipient."""
    same = Delivery.objects.filter(event_id=d.event_id, escalation_of_id=d.escalation_of_id)
    same = same.filter(user_id=d.user_id) if d.user_id else same.filter(person_id=d.person_id)
    return (
        same.exclude(pk=d.pk)
        .exclude(channel="inbox")
        .filter(status__in=[DeliveryStatus.SENT, DeliveryStatus.PENDING])
        .exists()
    )


def deliver_batch(*, worker: str | None = None, limit: int | None = None) -> int:
    """Claim and send one batch; the number of deliveries tried."""
    worker = worker or worker_name()
    batch = claim_batch(worker=worker, limit=limit or settings.NOTIFY_BATCH)
    try:
        for d in batch:
            try:
                channels.send(d)
            except channels.SendError as exc:
                record_outcome(d, ok=False, error=str(exc), worker=worker)
            except Exception as exc:  # a bug in a sender must not stop the batch
                log.exception("delivery %s", d.pk)
                record_outcome(d, ok=False, error=f"{type(exc).__name__}: {exc}", worker=worker)
            else:
                record_outcome(d, ok=True, worker=worker)
    finally:
        channels.close_client()
    return len(batch)


def run_once(*, worker: str | None = None, max_batches: int = 1000) -> int:
    """Fan out new events, escalate what waited too long, then send until nothing is due."""
    services.fan_out()
    services.escalate_unacknowledged()
    sent = 0
    for _ in range(max_batches):
        n = deliver_batch(worker=worker)
        sent += n
        if n == 0 and services.fan_out() == 0:
            break
    return sent

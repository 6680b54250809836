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
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

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
    return bool(record_outcomes([(d, ok, error)], worker=worker, now=now))


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


def _pool() -> ThreadPoolExecutor:
    # One pool of sending threads per worker process, kept across batches.
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=max(int(settings.NOTIFY_CONCURRENCY), 1), thread_name_prefix="notify-send"
        )
    return _POOL


_POOL: ThreadPoolExecutor | None = None


def _send(d: Delivery) -> tuple[bool, str]:
    try:
        channels.send(d)
    except channels.SendError as exc:
        return False, str(exc)
    except Exception as exc:  # a bug in a sender must not stop the batch
        log.exception("delivery %s", d.pk)
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def record_outcomes(
    outcomes: list[tuple[Delivery, bool, str]], *, worker: str, now: dt.datetime | None = None
) -> int:
    """Store the outcomes of several attempts in one transaction: every attempt logged, the
    successes marked sent with one UPDATE, the failures rescheduled (or failed for good). Only
    rows still carrying their claim change; the number that did."""
    if not outcomes:
        return 0
    now = now or timezone.now()
    max_attempts = int(get_setting("notify.max_attempts"))
    changed = 0
    with transaction.atomic():
        if connection.vendor == "postgresql" and all(ok for _, ok, _ in outcomes):
            # A success need not wait for the disk: if the database itself crashes in the next
            # moment, these are sent once more (the receiver drops them by their key); a killed
            # worker loses nothing that was committed.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        Attempt.objects.bulk_create(
            [
                Attempt(delivery_id=d.pk, at=now, ok=ok, error=error[:2000], worker=worker)
                for d, ok, error in outcomes
            ]
        )
        by_claim: dict[str, list[int]] = {}
        for d, ok, _ in outcomes:
            if ok:
                by_claim.setdefault(d.claim, []).append(d.pk)
        for claim, ids in by_claim.items():
            changed += Delivery.objects.filter(
                pk__in=ids, claim=claim, status=DeliveryStatus.PENDING
            ).update(status=DeliveryStatus.SENT, sent_at=now, lease_until=None, claim="")
        for d, ok, error in outcomes:
            if ok:
                continue
            mine = Delivery.objects.filter(pk=d.pk, claim=d.claim, status=DeliveryStatus.PENDING)
            if d.attempts >= max_attempts:
                lost = mine.update(
                    status=DeliveryStatus.FAILED,
                    last_error=error[:2000],
                    lease_until=None,
                    claim="",
                )
                if lost and not _reached_otherwise(d):
                    services.report_undeliverable(
                        d.event,
                        Recipient(d.relation, d.user_id, d.person_id, d.recipient_label),
                        error=error,
                        now=now,
                    )
            else:
                lost = mine.update(
                    last_error=error[:2000],
                    next_attempt_at=now + _backoff(d.attempts),
                    lease_until=None,
                    claim="",
                )
            changed += lost
    return changed


def deliver_batch(*, worker: str | None = None, limit: int | None = None) -> int:
    """Claim and send one batch; the number of deliveries tried.

    The batch is sent concurrently (NOTIFY_CONCURRENCY requests at a time, keep-alive clients).
    Outcomes are stored in groups: whenever the worker would wait for the next answer, what has
    come back so far is committed in one transaction. So a worker killed mid-batch leaves unstored
    only the requests still in flight (the receiver drops their repeat by the delivery key), and
    a busy worker commits tens of outcomes per transaction instead of one.
    """
    worker = worker or worker_name()
    batch = claim_batch(worker=worker, limit=limit or settings.NOTIFY_BATCH)
    if not batch:
        return 0
    pool = _pool()
    pending = {pool.submit(_send, d): d for d in batch}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            outcomes = []
            for future in done:
                ok, error = future.result()
                outcomes.append((pending.pop(future), ok, error))
            record_outcomes(outcomes, worker=worker)
    finally:
        wait(pending)  # an error while storing: let the requests end before the client closes
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

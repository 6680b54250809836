"""Certificate events for notify: the set-based scan of warning stages, review due dates and
recent expiries, registered with `notify.scan` in `CertsConfig.ready()` (certs is above notify:
it writes notify's outbox; notify never reads certificates).

One query over the certificates in force and not yet renewed finds, for the local date, every
record inside the largest stage before its expiry or its next review, or expired within the
look-back; the events are inserted in bulk, keyed (certificate, date, stage), so a second run on
the same day adds nothing and an extension (a new expiry date) starts its stages afresh.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from safework.certs.models import Certificate, CertState
from safework.certs.queries import DaysFrom
from safework.core.settings_registry import get_setting
from safework.notify import services
from safework.notify.models import Event
from safework.notify.scan import stage_of

EXPIRING, REVIEW_DUE, EXPIRED = "cert.expiring", "cert.review_due", "cert.expired"
FIELDS = (
    "pk",
    "person_id",
    "person__name",
    "person__current_employment__site_id",
    "number",
    "valid_until",
    "next_review_due",
    "scheme__code",
    "item__code",
    "item__name",
    "days_to_expiry",
    "days_to_review",
)


def due_rows(*, on: dt.date, expiring: list[int], review: list[int], lookback: int):
    """The certificates with something to tell on `on`: one SQL statement (values rows)."""
    horizon = max(expiring or [-1])
    review_horizon = max(review or [-1])
    wanted = Q(days_to_expiry__gte=-lookback, days_to_expiry__lte=horizon)
    if review:
        wanted |= Q(days_to_review__gte=0, days_to_review__lte=review_horizon)
    return (
        Certificate.objects.filter(state=CertState.ACTIVE, successor__isnull=True)
        .annotate(
            days_to_expiry=DaysFrom("valid_until", on),
            days_to_review=DaysFrom("next_review_due", on),
        )
        .filter(wanted)
        .order_by()
        .values_list(*FIELDS)
    )


def events_for(row: tuple, *, on, at, expiring, review) -> list[Event]:
    r = dict(zip(FIELDS, row, strict=True))
    base = {
        "person": r["person__name"],
        "item": f"{r['item__code']} {r['item__name']}",
        "item_code": r["item__code"],
        "scheme": r["scheme__code"],
        "number": r["number"],
        "url": f"/admin/certs/certificate/{r['pk']}/change/",
    }
    out = []

    def event(kind, due, stage, days):
        out.append(
            Event(
                kind=kind,
                key=f"cert:{r['pk']}:{due}:{stage}",
                stage=str(stage),
                subject_label=f"{r['person__name']} {base['item']}"[:300],
                payload={**base, "due": due.isoformat(), "days": days, "stage": stage},
                site_id=r["person__current_employment__site_id"],
                person_id=r["person_id"],
                at=at,
            )
        )

    days = r["days_to_expiry"]
    if days is not None and days < 0:
        event(EXPIRED, r["valid_until"], "expired", days)
    elif days is not None and (stage := stage_of(days, expiring)) is not None:
        event(EXPIRING, r["valid_until"], stage, days)
    days = r["days_to_review"]
    if (
        days is not None
        and days >= 0
        and r["next_review_due"] < r["valid_until"]
        and (stage := stage_of(days, review)) is not None
    ):
        event(REVIEW_DUE, r["next_review_due"], stage, days)
    return out


def scan_certificates(*, on: dt.date, at: dt.datetime) -> int:
    """Emit the certificate events due on `on`; the number of new events."""
    expiring = services.stages_of(EXPIRING)
    review = services.stages_of(REVIEW_DUE)
    lookback = int(get_setting("notify.expired_lookback_days"))
    added, batch = 0, []
    for row in due_rows(on=on, expiring=expiring, review=review, lookback=lookback).iterator(
        chunk_size=5000
    ):
        batch.extend(events_for(row, on=on, at=at, expiring=expiring, review=review))
        if len(batch) >= 5000:
            added += services.emit_many(batch)
            batch = []
    return added + services.emit_many(batch)

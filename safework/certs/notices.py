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

from django.db import connection
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


def event_key_prefix(certificate_id: int) -> str:
    """The start of the keys of every event about one certificate (the diagnosis filters by it)."""
    return f"cert:{certificate_id}:"


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
                key=f"{event_key_prefix(r['pk'])}{due}:{stage}",
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


def _stage_sql(days: str, stages: list[int]) -> str:
    """SQL twin of `stage_of` over the integer expression `days` (stages are integers from
    the rules' rows, never user text)."""
    whens = " ".join(f"WHEN {days} <= {int(s)} THEN {int(s)}" for s in sorted(stages))
    return f"(CASE {whens} END)" if whens else "(NULL::integer)"


def _insert_select_sql(expiring: list[int], review: list[int]) -> str:
    """The whole scan as one INSERT … SELECT … ON CONFLICT DO NOTHING (PostgreSQL): the same
    rows as `due_rows` + `events_for`, without a row through Python."""
    exp_stage = _stage_sql("b.dte", expiring)
    rev_stage = _stage_sql("b.dtr", review)
    horizon = max(expiring or [-1])
    review_horizon = max(review or [-1])
    return f"""
    WITH b AS (
        SELECT c.id, c.person_id, p.name AS person, e.site_id, c.number, c.valid_until,
               c.next_review_due, s.code AS scheme, i.code AS item_code,
               i.code || ' ' || i.name AS item,
               (c.valid_until - %(on)s::date) AS dte,
               (c.next_review_due - %(on)s::date) AS dtr
        FROM certs_certificate c
        JOIN people_person p ON p.id = c.person_id
        LEFT JOIN people_employment e ON e.id = p.current_employment_id
        JOIN certs_scheme s ON s.id = c.scheme_id
        JOIN certs_certificateitem i ON i.id = c.item_id
        WHERE c.state = 'active'
          AND NOT EXISTS (SELECT 1 FROM certs_certificate n WHERE n.predecessor_id = c.id)
          AND ((c.valid_until - %(on)s::date) BETWEEN -%(back)s AND {int(horizon)}
               OR (c.next_review_due - %(on)s::date) BETWEEN 0 AND {int(review_horizon)})
    ), v AS (
        SELECT b.*, 'cert.expired' AS kind, b.valid_until AS due, b.dte AS days,
               'expired' AS stage, to_jsonb('expired'::text) AS stage_json
        FROM b WHERE b.dte < 0
        UNION ALL
        SELECT b.*, 'cert.expiring', b.valid_until, b.dte, {exp_stage}::text,
               to_jsonb({exp_stage})
        FROM b WHERE b.dte >= 0 AND {exp_stage} IS NOT NULL
        UNION ALL
        SELECT b.*, 'cert.review_due', b.next_review_due, b.dtr, {rev_stage}::text,
               to_jsonb({rev_stage})
        FROM b WHERE b.dtr >= 0 AND b.next_review_due < b.valid_until
          AND {rev_stage} IS NOT NULL
    )
    INSERT INTO notify_event (kind, key, stage, subject_label, payload, site_id, person_id,
                              recipients_hint, at, created_at)
    SELECT v.kind, 'cert:' || v.id || ':' || to_char(v.due, 'YYYY-MM-DD') || ':' || v.stage,
           v.stage, left(v.person || ' ' || v.item, 300),
           jsonb_build_object(
               'person', v.person, 'item', v.item, 'item_code', v.item_code,
               'scheme', v.scheme, 'number', v.number,
               'url', '/admin/certs/certificate/' || v.id || '/change/',
               'due', to_char(v.due, 'YYYY-MM-DD'), 'days', v.days, 'stage', v.stage_json),
           v.site_id, v.person_id, '{{}}'::jsonb, %(at)s, now()
    FROM v
    ON CONFLICT (kind, key) DO NOTHING
    """


def scan_certificates(*, on: dt.date, at: dt.datetime) -> int:
    """Emit the certificate events due on `on`; the number of new events. On PostgreSQL one
    INSERT … SELECT; elsewhere the rows of one query, inserted in bulk."""
    expiring = services.stages_of(EXPIRING)
    review = services.stages_of(REVIEW_DUE)
    lookback = int(get_setting("notify.expired_lookback_days"))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _insert_select_sql(expiring, review), {"on": on, "at": at, "back": lookback}
            )
            return cursor.rowcount
    return _scan_in_python(on=on, at=at, expiring=expiring, review=review, lookback=lookback)


def _scan_in_python(*, on, at, expiring, review, lookback) -> int:
    added, batch = 0, []
    for row in due_rows(on=on, expiring=expiring, review=review, lookback=lookback).iterator(
        chunk_size=5000
    ):
        batch.extend(events_for(row, on=on, at=at, expiring=expiring, review=review))
        if len(batch) >= 5000:
            added += services.emit_many(batch)
            batch = []
    return added + services.emit_many(batch)

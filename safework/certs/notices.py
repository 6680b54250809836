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
from django.db.models import F, Q

from safework.certs.models import CatalogueRule, Certificate, CertState
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


# ---- windows and vacuum ahead (issue 15: "vacuum ahead, review/extension/renewal window opening
# using the rule's window fields") ----------------------------------------------------------------

VACUUM_AHEAD = "cert.vacuum_ahead"
REVIEW_WINDOW = "cert.review_window_open"
EXTENSION_WINDOW = "cert.extension_window_open"
RENEWAL_WINDOW = "cert.renewal_window_open"
WINDOW_KINDS = (REVIEW_WINDOW, EXTENSION_WINDOW, RENEWAL_WINDOW)
WINDOW_FIELDS = (
    "pk",
    "person_id",
    "person__name",
    "person__current_employment__site_id",
    "number",
    "scheme_id",
    "item_id",
    "valid_until",
    "next_review_due",
    "scheme__code",
    "item__code",
    "item__name",
)


def windows_of(r: dict, book) -> list[tuple[str, object, dt.date, object]]:
    """(kind, window, date it is about, rule) of each application window a certificate has:
    the review before its next due date (while it falls before expiry), the extension and the
    renewal before its expiry, from the catalogue rule in force for that date."""
    from safework.certs.rules import extension_window, renewal_window, review_window

    out = []
    due = r["next_review_due"]
    if due is not None and due < r["valid_until"]:
        rule = book.rule_for(r["scheme_id"], r["item_id"], due)
        if rule is not None and rule.review_window_days is not None:
            out.append((REVIEW_WINDOW, review_window(due, rule), due, rule))
    rule = book.rule_for(r["scheme_id"], r["item_id"], r["valid_until"])
    if rule is not None and rule.extension_window_open_days is not None:
        window = extension_window(r["valid_until"], rule)
        out.append((EXTENSION_WINDOW, window, r["valid_until"], rule))
    if rule is not None and rule.renewal_window_days is not None:
        window = renewal_window(r["valid_until"], rule)
        out.append((RENEWAL_WINDOW, window, r["valid_until"], rule))
    return out


def window_stage(window, *, on: dt.date, stages: list[int]) -> tuple[int, int] | None:
    """(stage, days until the window opens) on `on`: the configured stages count days before the
    opening (0: the day it opens); a window already open and not yet closed that was not told
    (the scan did not run) takes the smallest stage. None: nothing to tell."""
    if window.opens is None or not stages:
        return None
    if window.closes is not None and on > window.closes:
        return None
    days = (window.opens - on).days
    stage = stage_of(days, stages)
    return None if stage is None else (stage, days)


def _base_payload(r: dict) -> dict:
    return {
        "person": r["person__name"],
        "item": f"{r['item__code']} {r['item__name']}",
        "item_code": r["item__code"],
        "scheme": r["scheme__code"],
        "number": r["number"],
        "url": f"/admin/certs/certificate/{r['pk']}/change/",
    }


def scan_windows(*, on: dt.date, at: dt.datetime) -> int:
    """Emit the window-opening and vacuum-ahead events due on `on`; the number of new events,
    keyed by certificate, date and stage (a second run adds nothing). The windows: on PostgreSQL
    one INSERT … SELECT (`_windows_sql`); elsewhere one query over the certificates near a
    window, the rule rows in memory (versioned by date, item before scheme), events inserted in
    bulk. The vacuum: one query, its few rows through Python."""
    from safework.certs.rules import RuleBook

    stages = {kind: services.stages_of(kind) for kind in (*WINDOW_KINDS, VACUUM_AHEAD)}
    events: list[Event] = []
    added = 0
    if any(stages[k] for k in WINDOW_KINDS):
        widest = max(
            [
                d
                for row in CatalogueRule.objects.values_list(
                    "review_window_days", "extension_window_open_days", "renewal_window_days"
                )
                for d in row
                if d is not None
            ]
            or [0]
        )
        horizon = on + dt.timedelta(days=widest + max(s for k in WINDOW_KINDS for s in stages[k]))
    if any(stages[k] for k in WINDOW_KINDS) and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_windows_sql(stages), {"on": on, "at": at, "horizon": horizon})
            added = cursor.rowcount
    elif any(stages[k] for k in WINDOW_KINDS):
        book = RuleBook.load()
        near = Q(valid_until__gte=on, valid_until__lte=horizon) | Q(
            next_review_due__gte=on, next_review_due__lte=horizon
        )
        rows = (
            Certificate.objects.filter(state=CertState.ACTIVE, successor__isnull=True)
            .filter(near)
            .order_by()
            .values_list(*WINDOW_FIELDS)
        )
        for row in rows.iterator(chunk_size=5000):
            r = dict(zip(WINDOW_FIELDS, row, strict=True))
            for kind, window, due, rule in windows_of(r, book):
                found = window_stage(window, on=on, stages=stages[kind])
                if found is None:
                    continue
                stage, days = found
                events.append(
                    Event(
                        kind=kind,
                        key=f"cert:{r['pk']}:{window.opens}:{stage}",
                        stage=str(stage),
                        subject_label=f"{r['person__name']} {r['item__code']} {r['item__name']}"[
                            :300
                        ],
                        payload={
                            **_base_payload(r),
                            "due": due.isoformat(),
                            "opens": window.opens.isoformat(),
                            "closes": window.closes.isoformat() if window.closes else "",
                            "days": days,
                            "stage": stage,
                            "clause": rule.clause,
                        },
                        site_id=r["person__current_employment__site_id"],
                        person_id=r["person_id"],
                        at=at,
                    )
                )
    if stages[VACUUM_AHEAD]:
        events += _vacuum_events(on=on, at=at, stages=stages[VACUUM_AHEAD])
    return added + services.emit_many(events)


def _rule_cte(date: str, where: str = "TRUE") -> str:
    """SQL twin of `RuleBook.rule_for` for each row of `near` on its date column `date`: the
    row of `near` with the window fields of the item's catalogue row in force, else the
    scheme's (the earliest in force first). Each row is joined to its own few rule rows only
    (no join of two large sets on an estimate)."""
    in_force = (
        f"r.effective_from <= n.{date} AND (r.effective_to IS NULL OR n.{date} < r.effective_to)"
    )
    cols = (
        "n.*, r.effective_from AS rule_from, r.id AS rule_id, r.review_window_days, "
        "r.extension_window_open_days, r.extension_window_close_days, r.renewal_window_days, "
        "r.clause"
    )
    return f"""
        SELECT DISTINCT ON (c.id) c.* FROM (
            SELECT {cols}, 0 AS pref
            FROM near n JOIN certs_cataloguerule r ON r.item_id = n.item_id
            WHERE {where} AND {in_force}
            UNION ALL
            SELECT {cols}, 1
            FROM near n JOIN certs_cataloguerule r
              ON r.item_id IS NULL AND r.scheme_id = n.scheme_id
            WHERE {where} AND {in_force}
        ) c ORDER BY c.id, c.pref, c.rule_from, c.rule_id"""


def _windows_sql(stages: dict[str, list[int]]) -> str:
    """The window-opening events as one INSERT … SELECT … ON CONFLICT DO NOTHING (PostgreSQL):
    the same rows as `windows_of` + `window_stage` over the certificates near a window, without
    a row through Python. A kind whose rules name no stage has no branch."""
    keep = "n.id, n.person_id, n.person, n.site_id, n.number, n.scheme, n.item_code, n.item"
    branches = {
        REVIEW_WINDOW: f"""
        SELECT {keep}, n.next_review_due AS due,
               n.next_review_due - n.review_window_days AS opens,
               n.next_review_due AS closes, n.clause
        FROM at_review n WHERE n.review_window_days IS NOT NULL""",
        EXTENSION_WINDOW: f"""
        SELECT {keep}, n.valid_until AS due,
               n.valid_until - n.extension_window_open_days AS opens,
               n.valid_until - COALESCE(n.extension_window_close_days, 0) AS closes, n.clause
        FROM at_expiry n WHERE n.extension_window_open_days IS NOT NULL""",
        RENEWAL_WINDOW: f"""
        SELECT {keep}, n.valid_until AS due, n.valid_until - n.renewal_window_days AS opens,
               n.valid_until AS closes, n.clause
        FROM at_expiry n WHERE n.renewal_window_days IS NOT NULL""",
    }
    parts = [
        f"SELECT w.*, '{kind}' AS kind, {_stage_sql('(w.opens - %(on)s::date)', stages[kind])} "
        f"AS stage FROM ({branches[kind]}) w WHERE w.closes >= %(on)s::date"
        for kind in WINDOW_KINDS
        if stages[kind]
    ]
    union = "\n        UNION ALL\n        ".join(parts)
    review_rule = _rule_cte("next_review_due", "n.next_review_due < n.valid_until")
    return f"""
    WITH near AS MATERIALIZED (
        SELECT c.id, c.person_id, p.name AS person, e.site_id, c.number, c.scheme_id, c.item_id,
               c.valid_until, c.next_review_due, s.code AS scheme, i.code AS item_code,
               i.code || ' ' || i.name AS item
        FROM certs_certificate c
        JOIN people_person p ON p.id = c.person_id
        LEFT JOIN people_employment e ON e.id = p.current_employment_id
        JOIN certs_scheme s ON s.id = c.scheme_id
        JOIN certs_certificateitem i ON i.id = c.item_id
        WHERE c.state = 'active'
          AND NOT EXISTS (SELECT 1 FROM certs_certificate n WHERE n.predecessor_id = c.id)
          AND (c.valid_until BETWEEN %(on)s::date AND %(horizon)s::date
               OR c.next_review_due BETWEEN %(on)s::date AND %(horizon)s::date)
    ), at_expiry AS MATERIALIZED ({_rule_cte("valid_until")}
    ), at_review AS MATERIALIZED ({review_rule}
    ), v AS (
        {union}
    )
    INSERT INTO notify_event (kind, key, stage, subject_label, payload, site_id, person_id,
                              recipients_hint, at, created_at)
    SELECT v.kind, 'cert:' || v.id || ':' || to_char(v.opens, 'YYYY-MM-DD') || ':' || v.stage,
           v.stage::text, left(v.person || ' ' || v.item, 300),
           jsonb_build_object(
               'person', v.person, 'item', v.item, 'item_code', v.item_code,
               'scheme', v.scheme, 'number', v.number,
               'url', '/admin/certs/certificate/' || v.id || '/change/',
               'due', to_char(v.due, 'YYYY-MM-DD'), 'opens', to_char(v.opens, 'YYYY-MM-DD'),
               'closes', to_char(v.closes, 'YYYY-MM-DD'), 'days', v.opens - %(on)s::date,
               'stage', v.stage, 'clause', v.clause),
           v.site_id, v.person_id, '{{}}'::jsonb, %(at)s, now()
    FROM v WHERE v.stage IS NOT NULL
    ON CONFLICT (kind, key) DO NOTHING
    """


def _vacuum_events(*, on: dt.date, at: dt.datetime, stages: list[int]) -> list[Event]:
    """A renewal that starts later than the day after its predecessor ends leaves days with no
    valid certificate (the vacuum, decisions.md): told `stages` days before the first of them,
    and (caught up) while the gap lasts."""
    last = on + dt.timedelta(days=max(stages) - 1)  # the gap starts the day after valid_until
    rows = (
        Certificate.objects.filter(
            state=CertState.ACTIVE,
            valid_until__lte=last,
            successor__state=CertState.ACTIVE,
            successor__valid_from__gt=on,  # the gap has not ended
        )
        .filter(successor__valid_from__gt=F("valid_until"))
        .order_by()
        .values_list(*WINDOW_FIELDS, "successor__number", "successor__valid_from")
    )
    out = []
    for row in rows.iterator(chunk_size=5000):
        r = dict(zip((*WINDOW_FIELDS, "successor_number", "successor_from"), row, strict=True))
        gap_from = r["valid_until"] + dt.timedelta(days=1)
        gap_to = r["successor_from"] - dt.timedelta(days=1)
        if gap_to < gap_from:
            continue  # the renewal starts the day after: no gap
        days = (gap_from - on).days
        stage = stage_of(days, stages)
        if stage is None:
            continue
        out.append(
            Event(
                kind=VACUUM_AHEAD,
                key=f"cert:{r['pk']}:{gap_from}:{stage}",
                stage=str(stage),
                subject_label=f"{r['person__name']} {r['item__code']} {r['item__name']}"[:300],
                payload={
                    **_base_payload(r),
                    "due": r["valid_until"].isoformat(),
                    "gap_from": gap_from.isoformat(),
                    "gap_to": gap_to.isoformat(),
                    "successor_number": r["successor_number"],
                    "successor_from": r["successor_from"].isoformat(),
                    "days": days,
                    "stage": stage,
                },
                site_id=r["person__current_employment__site_id"],
                person_id=r["person_id"],
                at=at,
            )
        )
    return out

"""Writes of notifications: the outbox (`emit`), fan-out of events into deliveries, escalation,
and the inbox's read / acknowledge.

`emit` is what the domains above call (certs, rosters, permits), inside their own transaction:
the event exists exactly when the change that caused it committed. Fan-out turns an event into
one `Delivery` per (rule, event, recipient, channel, binding), unique on its key, so running it
twice (two workers, a restart) adds nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from safework.notify import messages
from safework.notify.models import (
    Channel,
    ChannelBinding,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Event,
    NotifyRule,
)
from safework.notify.recipients import NEXT_LEVEL, Recipient, Resolver

log = logging.getLogger(__name__)

UNDELIVERABLE = "notify.undeliverable"


def _json_safe(payload: dict) -> dict:
    return json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder))


# The delivery run to queue when an emitting transaction commits: set by notify.tasks (which
# imports this module; a service never imports its app's tasks).
_waker = None


def set_waker(fn) -> None:
    global _waker
    _waker = fn


def _wake() -> None:
    if _waker is not None:
        _waker()


def emit(
    kind: str,
    *,
    key: str,
    subject_label: str,
    payload: dict,
    site_id: int | None,
    person_id: int | None = None,
    at: dt.datetime,
    recipients_hint: dict | None = None,
) -> Event:
    """Record that `kind` happened to the object named by `key` (kind + object + stage: e.g.
    "cert:42:2027-03-01:30"), in the caller's transaction. Emitting the same (kind, key) again
    returns the stored event and changes nothing. `payload` carries what the message shows (and
    `stage`, `url`, `roles` for approvers); `recipients_hint` names users notify cannot find
    itself, by relation: {"roster_author": [7], "liaison": [9]}."""
    payload = _json_safe(payload)
    event = Event(
        kind=kind,
        key=key[:200],
        stage=str(payload.get("stage", ""))[:20],
        subject_label=str(subject_label)[:300],
        payload=payload,
        site_id=site_id,
        person_id=person_id,
        recipients_hint=_json_safe(recipients_hint or {}),
        at=at,
    )
    if not _insert_once(event):
        # Stored already (earlier, or by a racing twin): that one, unchanged.
        return Event.objects.get(kind=kind, key=event.key)
    _wake_on_commit()
    return event


def _insert_once(event: Event) -> bool:
    """INSERT the event unless its (kind, key) is stored: one statement (ON CONFLICT DO
    NOTHING, on PostgreSQL and SQLite alike) where a read, a savepoint, the insert and the
    savepoint's release were four. A conflict leaves the caller's transaction intact (no error
    is raised), so no savepoint is needed. True when the row was written (its pk set)."""
    meta = Event._meta
    qn = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    kind, key = (qn(meta.get_field(n).column) for n in ("kind", "key"))
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({kind}, {key}) DO NOTHING RETURNING {qn(meta.pk.column)}"
    )
    params = [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk = row[0]
    event._state.adding, event._state.db = False, connection.alias
    return True


def _wake_on_commit() -> None:
    # One delivery run per transaction: it takes every event the transaction wrote, and each
    # queuing costs a write to the task store (SQLite: ~8 ms). A wake queued inside a savepoint
    # that is later rolled back is dropped with it; an emit after that finds none and queues one.
    pending = connection.run_on_commit if connection.in_atomic_block else ()
    if not any(func is _wake for _ids, func, _robust in pending):
        transaction.on_commit(_wake)


def emit_many(events: list[Event]) -> int:
    """Bulk twin of `emit` for the scans: unsaved `Event`s; the ones already stored are skipped
    (and a racing twin is ignored by the unique key). Returns how many were new."""
    if not events:
        return 0
    kinds = {e.kind for e in events}
    stored = set(
        Event.objects.filter(kind__in=kinds, key__in=[e.key for e in events]).values_list(
            "kind", "key"
        )
    )
    new = [e for e in events if (e.kind, e.key) not in stored]
    Event.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
    return len(new)


# ---- rules -------------------------------------------------------------------------------------


def _specificity(rule: NotifyRule) -> tuple:
    return (rule.site_id is not None, bool(rule.item_code), bool(rule.scheme_code), -rule.pk)


def _pick_rule(rows, *, site_id=None, scheme_code="", item_code="") -> NotifyRule | None:
    """The most specific of one kind's rule rows that applies (the in-memory twin of the filter
    in `rule_for`)."""
    rows = [
        r
        for r in rows
        if r.site_id in (None, site_id)
        and r.scheme_code in ("", scheme_code or "")
        and r.item_code in ("", item_code or "")
    ]
    rows = sorted(rows, key=_specificity, reverse=True)
    return rows[0] if rows else None


def rule_for(kind: str, *, site_id=None, scheme_code="", item_code="") -> NotifyRule | None:
    """The most specific rule row for an event (site, then item, then scheme, then general),
    enabled or not: a specific row switched off silences that case on purpose."""
    rows = _memo(("rules", kind), lambda: list(NotifyRule.objects.filter(kind=kind)))
    return _pick_rule(rows, site_id=site_id, scheme_code=scheme_code, item_code=item_code)


# Within one fan-out chunk the same rule, channel switches, bindings and recipients are asked for
# again and again (a scan's thousand warnings to one site's safety officer): read them once.
_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("notify_memo", default=None)


def _memo(key, compute):
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


@contextlib.contextmanager
def memoised():
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def resolver() -> Resolver:
    """The recipients' resolver of the current `memoised()` block (a fresh one outside)."""
    return _memo(("resolver",), Resolver)


def prime(events: list[Event]) -> None:
    """Read in bulk, for the current `memoised()` block, what `recipients_of` and
    `rule_of_event` will ask about these events: their persons, logins, liaisons, hinted users
    and the rule rows of their kinds (one query each, not one per event)."""
    if _MEMO.get() is None or not events:
        return
    memo = _MEMO.get()
    resolver().prime(events)
    kinds = {e.kind for e in events if ("rules", e.kind) not in memo}
    if kinds:
        rows: dict[str, list] = {k: [] for k in kinds}
        for rule in NotifyRule.objects.filter(kind__in=kinds):
            rows[rule.kind].append(rule)
        for kind, found in rows.items():
            memo[("rules", kind)] = found


def prime_bindings(found: list[Recipient]) -> None:
    """Read the channel bindings of many recipients in one query for `bindings_of`."""
    memo = _MEMO.get()
    if memo is None:
        return
    wanted = {(r.user_id, r.person_id) for r in found} - {k[1:] for k in memo if k[0] == "bindings"}
    if not wanted:
        return
    users = {u for u, _p in wanted if u}
    persons = {p for _u, p in wanted if p}
    rows = list(
        ChannelBinding.objects.filter(Q(user_id__in=users) | Q(person_id__in=persons)).order_by(
            "pk"
        )
    )
    for user_id, person_id in wanted:
        memo[("bindings", user_id, person_id)] = [
            b
            for b in rows
            if (user_id and b.user_id == user_id) or (person_id and b.person_id == person_id)
        ]


def rule_of_event(event: Event) -> NotifyRule | None:
    p = event.payload or {}
    scheme, item = p.get("scheme", ""), p.get("item_code", "")
    return _memo(
        ("rule", event.kind, event.site_id, scheme, item),
        lambda: rule_for(event.kind, site_id=event.site_id, scheme_code=scheme, item_code=item),
    )


def stages_of(kind: str) -> list[int]:
    """Every stage any rule of `kind` uses (the scans look for all of them), largest first."""
    out: set[int] = set()
    for stages in NotifyRule.objects.filter(kind=kind, enabled=True).values_list(
        "stages", flat=True
    ):
        out.update(int(s) for s in stages or [])
    return sorted(out, reverse=True)


def enabled_channels() -> set[str]:
    """Channels switched on; a channel with no row counts as on (nothing was set up to stop it)."""

    def read():
        off = set(Channel.objects.filter(enabled=False).values_list("code", flat=True))
        return {c for c in ChannelKind.values if c not in off}

    return _memo(("channels",), read)


def bindings_of(recipient: Recipient) -> list[ChannelBinding]:
    q = Q(pk__in=[])
    if recipient.user_id:
        q |= Q(user_id=recipient.user_id)
    if recipient.person_id:
        q |= Q(person_id=recipient.person_id)
    return _memo(
        ("bindings", recipient.user_id, recipient.person_id),
        lambda: list(ChannelBinding.objects.filter(q).order_by("pk")),
    )


def routes(recipient: Recipient, channels: list[str], on: set[str]) -> list[tuple[str, object]]:
    """(channel, binding) pairs a notice to `recipient` goes over: the rule's channels that are
    switched on and where the recipient is bound (every user has an inbox)."""
    out = []
    bindings = bindings_of(recipient)
    for channel in channels:
        if channel not in on:
            continue
        if channel == ChannelKind.INBOX:
            if recipient.user_id:
                out.append((channel, None))
            continue
        for b in bindings:
            if b.channel == channel and b.enabled:
                out.append((channel, b))
    return out


# ---- fan-out -----------------------------------------------------------------------------------


def _delivery(
    event: Event,
    rule: NotifyRule | None,
    r: Recipient,
    channel: str,
    binding,
    msg,
    *,
    now,
    key: str,
    escalation_of=None,
) -> Delivery:
    inbox = channel == ChannelKind.INBOX
    return Delivery(
        key=key[:300],
        event=event,
        rule=rule,
        relation=r.relation,
        user_id=r.user_id,
        person_id=r.person_id,
        recipient_label=r.label[:200],
        channel=channel,
        address=binding.address if binding else "",
        secret=binding.secret if binding else "",
        title=msg.title,
        body=msg.body,
        url=msg.url,
        # The inbox is written, not sent: it is delivered when the row exists.
        status=DeliveryStatus.SENT if inbox else DeliveryStatus.PENDING,
        sent_at=now if inbox else None,
        next_attempt_at=None if inbox else now,
        escalation_of=escalation_of,
    )


def recipients_of(event: Event, relations: list[str]) -> list[Recipient]:
    """Everyone the relations name for the event, each user once (first relation kept)."""
    seen, out = set(), []
    payload, hint = event.payload or {}, event.recipients_hint or {}
    for relation in relations:
        key = (
            "resolve",
            relation,
            event.person_id,
            event.site_id,
            json.dumps(payload.get("roles")),
            json.dumps(hint.get(relation)),
        )
        found = _memo(
            key,
            lambda relation=relation: resolver().resolve(
                relation,
                person_id=event.person_id,
                site_id=event.site_id,
                payload=payload,
                hint=hint,
            ),
        )
        for r in found:
            if r.key not in seen:
                seen.add(r.key)
                out.append(r)
    return out


def plan_deliveries(event: Event, *, now: dt.datetime) -> tuple[list[Delivery], list[Recipient]]:
    """The deliveries an event asks for, and the recipients no channel reaches."""
    rule = rule_of_event(event)
    if rule is None or not rule.enabled:
        return [], []
    staged = bool(rule.stages) and event.stage.lstrip("-").isdigit()
    if staged and int(event.stage) not in [int(s) for s in rule.stages]:
        return [], []
    msg = messages.render(event.kind, subject=event.subject_label, payload=event.payload)
    on = enabled_channels()
    planned, unreached = [], []
    for r in recipients_of(event, list(rule.recipients)):
        pairs = routes(r, list(rule.channels), on)
        if not pairs:
            unreached.append(r)
        for channel, b in pairs:
            key = f"r{rule.pk}:{event.kind}:{event.key}:{r.key}:{channel}:{b.pk if b else 0}"
            planned.append(_delivery(event, rule, r, channel, b, msg, now=now, key=key))
    return planned, unreached


def fan_out(*, limit: int = 2000, chunk: int = 200, now: dt.datetime | None = None) -> int:
    """Turn events not fanned out yet into deliveries; the number of events handled. Safe to
    run in several processes at once: a chunk of events per transaction, locked and re-read
    (skipped when another process holds them, on PostgreSQL), and the deliveries' keys are
    unique."""
    now = now or timezone.now()
    done = 0
    ids = list(
        Event.objects.filter(fanned_out_at__isnull=True)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for start in range(0, len(ids), chunk):
        with transaction.atomic(), memoised():
            events = Event.objects.filter(pk__in=ids[start : start + chunk], fanned_out_at=None)
            if connection.features.has_select_for_update_skip_locked:
                events = events.select_for_update(skip_locked=True)
            events = list(events.order_by("pk"))
            prime(events)
            planned, unreached = [], []
            for event in events:
                p, u = plan_deliveries(event, now=now)
                planned += p
                unreached += [(event, r) for r in u]
            Delivery.objects.bulk_create(planned, batch_size=1000, ignore_conflicts=True)
            for event, r in unreached:
                report_undeliverable(event, r, error="no channel", now=now, per_day=True)
            Event.objects.filter(pk__in=[e.pk for e in events]).update(fanned_out_at=now)
            done += len(events)
    return done


def report_undeliverable(
    event: Event, r: Recipient, *, error: str, now: dt.datetime, per_day: bool = False
) -> None:
    """Tell the administrators that `r` could not be reached about `event` (never about a
    notice that was itself such a report). `per_day`: once a day per recipient (someone with no
    channel at all would otherwise bring one report per warning)."""
    if event.kind == UNDELIVERABLE:
        return
    msg = messages.render(event.kind, subject=event.subject_label, payload=event.payload)
    key = (
        f"no-channel:{r.key}:{timezone.localdate(now)}"
        if per_day
        else f"{event.kind}:{event.key}:{r.key}"
    )
    emit(
        UNDELIVERABLE,
        key=key,
        subject_label=f"{r.label}: {msg.title}",
        payload={
            "title": msg.title,
            "recipient": r.label,
            "relation": r.relation,
            "error": error[:300],
            "person_id": r.person_id or "",
            "event_id": event.pk,
        },
        site_id=event.site_id,
        person_id=r.person_id,
        at=now,
    )


# ---- escalation --------------------------------------------------------------------------------


def escalate_unacknowledged(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Events whose inbox notices nobody acknowledged within the rule's time go one level up
    (the rule's `escalate_to`, else the next level of each relation). Once per event and
    recipient; the number of events escalated."""
    now = now or timezone.now()
    waiting = (
        Delivery.objects.filter(
            channel=ChannelKind.INBOX,
            escalation_of__isnull=True,
            escalated_at__isnull=True,
            rule__escalate_after_hours__isnull=False,
        )
        .select_related("rule", "event")
        .order_by("sent_at")
    )
    handled = 0
    by_event: dict[int, list[Delivery]] = {}
    for d in waiting[: limit * 10]:
        if d.sent_at and d.sent_at + dt.timedelta(hours=d.rule.escalate_after_hours) <= now:
            by_event.setdefault(d.event_id, []).append(d)
    for event_id, group in list(by_event.items())[:limit]:
        with transaction.atomic():
            acked = Delivery.objects.filter(
                event_id=event_id, channel=ChannelKind.INBOX, acknowledged_at__isnull=False
            ).exists()
            ids = [d.pk for d in group]
            if acked:
                Delivery.objects.filter(pk__in=ids).update(escalated_at=now)
                continue
            event, rule = group[0].event, group[0].rule
            relations = list(rule.escalate_to) or sorted(
                {NEXT_LEVEL[d.relation] for d in group if d.relation in NEXT_LEVEL}
            )
            already = {d.user_id for d in group if d.user_id}
            msg = messages.render(
                event.kind,
                subject=event.subject_label,
                payload=event.payload,
                escalated_after=rule.escalate_after_hours,
            )
            on = enabled_channels()
            planned = []
            for r in recipients_of(event, relations):
                if r.user_id in already:
                    continue
                for channel, b in routes(r, list(rule.channels), on):
                    key = f"esc:{event.kind}:{event.key}:{r.key}:{channel}:{b.pk if b else 0}"
                    planned.append(
                        _delivery(
                            event,
                            rule,
                            r,
                            channel,
                            b,
                            msg,
                            now=now,
                            key=key,
                            escalation_of=group[0],
                        )
                    )
            Delivery.objects.bulk_create(planned, ignore_conflicts=True)
            Delivery.objects.filter(pk__in=ids).update(escalated_at=now)
            handled += 1
    return handled


# ---- the inbox ---------------------------------------------------------------------------------


def mark_read(delivery: Delivery, *, at: dt.datetime | None = None) -> Delivery:
    """The recipient opened the notice (the first time counts)."""
    at = at or timezone.now()
    Delivery.objects.filter(pk=delivery.pk, read_at__isnull=True).update(read_at=at)
    delivery.refresh_from_db()
    return delivery


def acknowledge(delivery: Delivery, *, at: dt.datetime | None = None) -> Delivery:
    """The recipient confirms they will act: no escalation for this event any more."""
    at = at or timezone.now()
    Delivery.objects.filter(pk=delivery.pk, read_at__isnull=True).update(read_at=at)
    Delivery.objects.filter(pk=delivery.pk, acknowledged_at__isnull=True).update(acknowledged_at=at)
    delivery.refresh_from_db()
    return delivery

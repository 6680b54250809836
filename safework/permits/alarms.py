"""AQ 3064.2 alarms (§5.9, Table A.4): raised from the refusals of the gates and from the clock,
pushed to whoever must act, handled in a closed loop.

Which refusal raises which alarm is data (`AlarmType.reason_codes`). An alarm is raised once per
key (the permit, the type and what it is about): refusing the same start twice keeps one alarm
open, not two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from safework.core.refusals import Reason
from safework.permits import events
from safework.permits.models import Alarm, AlarmType, Permit


def _matches(code: str, patterns: Iterable[str]) -> bool:
    return any(code == p or (p.endswith("*") and code.startswith(p[:-1])) for p in patterns)


def alarm_types_for(reasons: Iterable[Reason]) -> dict[str, list[Reason]]:
    """Alarm type code → the blocking reasons that raise it."""
    types = [(t.code, t.reason_codes) for t in AlarmType.objects.filter(is_active=True)]
    out: dict[str, list[Reason]] = {}
    for reason in reasons:
        if not reason.blocking:
            continue
        for code, patterns in types:
            if _matches(reason.code, patterns):
                out.setdefault(code, []).append(reason)
    return out


def raise_alarm(
    code: str, *, permit: Permit, at: dt.datetime, message: str, about: str = "", details=None
) -> Alarm | None:
    """Raise alarm `code` about `permit` unless the same one (type, permit, `about`) is open.
    Returns the new alarm, or None when one was already open."""
    alarm_type = AlarmType.objects.filter(code=code, is_active=True).first()
    if alarm_type is None:
        return None
    open_key = f"{code}:{permit.uuid}:{about}"
    if Alarm.objects.filter(key__startswith=open_key + "#").exclude(status="cleared").exists():
        return None
    seq = Alarm.objects.filter(key__startswith=open_key + "#").count() + 1
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(
                alarm_type=alarm_type,
                key=f"{open_key}#{seq}",
                permit=permit,
                site_id=permit.site_id,
                source_label=permit.number or str(permit),
                message=message,
                details=details or {},
                raised_at=at,
            )
    except IntegrityError:  # raised at the same instant by another request: one alarm
        return None
    events.alarm_changed(alarm, at=at)
    return alarm


def raise_for_refusal(permit: Permit, reasons: Iterable[Reason], *, at: dt.datetime) -> list[Alarm]:
    """Raise the alarms the blocking `reasons` call for, in their own transaction: the refused
    action rolls back, its alarms stay (the refusal itself is what AQ 3064.2 asks to report)."""
    raised = []
    with transaction.atomic():
        for code, rs in alarm_types_for(reasons).items():
            message = "；".join(str(r.message) for r in rs)
            about = ",".join(sorted({r.subject for r in rs if r.subject}))[:80]
            alarm = raise_alarm(
                code,
                permit=permit,
                at=at,
                message=message,
                about=about,
                details={"reasons": [r.as_dict() for r in rs]},
            )
            if alarm is not None:
                raised.append(alarm)
    return raised

"""What the rest of the product hears of a permit: one call per change, in the change's
transaction. It writes the permit's timeline (`PermitEvent`), queues the park push (AQ 3064.2
§8.2: every change of the approval flow or of an alarm's state) and, where someone must act, the
notification outbox (`notify`, when it is installed)."""

from __future__ import annotations

import datetime as dt

from safework.permits import park
from safework.permits.models import Alarm, Permit, PermitEvent

# The events that change the approval flow: each is pushed to the park platform.
PUSHED = {
    "submitted",
    "routed",
    "step.approved",
    "approved",
    "rejected",
    "reapproval",
    "started",
    "suspended",
    "resumed",
    "completed",
    "accepted",
    "closed",
    "cancelled",
    "expired",
    "superseded",
    "gas_test",
}


def permit_event(permit: Permit, kind: str, *, at: dt.datetime, by=None, **details) -> PermitEvent:
    event = PermitEvent.objects.create(
        permit=permit,
        at=at,
        kind=kind,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=actor_label(by),
        details=details,
    )
    if kind in PUSHED and permit.number:
        park.enqueue_permit(permit, at=at)
    return event


def alarm_changed(alarm: Alarm, *, at: dt.datetime, by=None) -> None:
    if alarm.permit_id:
        PermitEvent.objects.create(
            permit_id=alarm.permit_id,
            at=at,
            kind=f"alarm.{alarm.status}",
            actor=by if getattr(by, "pk", None) else None,
            actor_label=actor_label(by),
            details={"code": alarm.alarm_type.code, "message": alarm.message},
        )
    park.enqueue_alarm(alarm, at=at)


def actor_label(by) -> str:
    if by is None:
        return ""
    name = getattr(by, "get_full_name", lambda: "")() or getattr(by, "username", "")
    return str(name or by)[:200]

"""What the rest of the product hears of a permit: one call per change, in the change's
transaction. It writes the permit's timeline (`PermitEvent`), queues the park push (AQ 3064.2
§8.2: every change of the approval flow or of an alarm's state) and, where someone must act, the
notification outbox (`notify.services.emit`: approval waiting or overdue, alarm raised)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection
from django.utils.translation import gettext as _

from safework.core import inserts
from safework.notify import services as notify
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


# The permits changed by the running service call, and its timeline events not yet written (see
# `one_push_per_permit`).
_changed: ContextVar[dict | None] = ContextVar("permits_changed", default=None)
_timeline: ContextVar[list | None] = ContextVar("permits_timeline", default=None)


@contextmanager
def one_push_per_permit():
    """Within one service call, write the timeline's events at its end in one INSERT, then queue
    one park push per changed permit, with its final state (a submission that is also routed, an
    approval that also approves the permit: one version, not two). Outside a service call each
    event is written and each change pushed at once."""
    token = _changed.set({})
    timeline = _timeline.set([])
    try:
        yield
        _write_timeline(_timeline.get())
        for permit, at in _changed.get().values():
            park.enqueue_permit(permit, at=at)
    finally:
        _timeline.reset(timeline)
        _changed.reset(token)


# The timeline's columns (all but the id), as a service call's end writes them.
_TIMELINE_FIELDS = tuple(f for f in PermitEvent._meta.concrete_fields if not f.primary_key)


def _write_timeline(pending: list[PermitEvent]) -> None:
    """The pending events in one cached INSERT (see `core.inserts`), each value adapted as
    `save()` would (`pre_save`, then `get_db_prep_save`: the details' JSON, the time); their
    ids are not read back (nobody uses them)."""
    if not pending:
        return
    rows = [
        tuple(f.get_db_prep_save(f.pre_save(event, True), connection) for f in _TIMELINE_FIELDS)
        for event in pending
    ]
    inserts.insert(PermitEvent._meta.db_table, tuple(f.column for f in _TIMELINE_FIELDS), rows)


def permit_event(permit: Permit, kind: str, *, at: dt.datetime, by=None, **details) -> PermitEvent:
    """Add an event to the permit's timeline. Within a service call it is written when the call
    ends, and the returned event never gets its id."""
    event = PermitEvent(
        permit=permit,
        at=at,
        kind=kind,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=actor_label(by),
        details=details,
    )
    pending = _timeline.get()
    if pending is None:
        event.save()
    else:
        pending.append(event)  # written, in order, when the service call ends
    if kind in PUSHED and permit.number:
        changed = _changed.get()
        if changed is None:
            park.enqueue_permit(permit, at=at)
        else:
            changed[permit.pk] = (permit, at)
    if kind in NOTIFIED:
        _notify_step(permit, NOTIFIED[kind], at=at, details=details)
    return event


# Timeline events someone must act on → the notification outbox's event kinds (notify rules).
NOTIFIED = {"step.waiting": "permit.approval_waiting", "step.overdue": "permit.approval_overdue"}


def permit_url(permit: Permit) -> str:
    return f"/admin/permits/permit/{permit.pk}/change/"


def _notify_step(permit: Permit, kind: str, *, at: dt.datetime, details: dict) -> None:
    label = permit.number or str(permit)
    notify.emit(
        kind,
        key=f"permit:{permit.pk}:step:{details['step_id']}",
        subject_label=_("Permit %(number)s: %(step)s") % {"number": label, "step": details["step"]},
        payload={
            "permit_id": permit.pk,
            "number": label,
            "step": details["step"],
            "roles": list(details.get("roles") or []),
            "site_id": permit.site_id,
            "due_at": details.get("due_at"),
            "url": permit_url(permit),
        },
        site_id=permit.site_id,
        at=at,
    )


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
    if alarm.status == "raised":
        permit = alarm.permit
        notify.emit(
            "permit.alarm_raised",
            key=f"alarm:{alarm.uuid}",
            subject_label=f"{alarm.alarm_type.code} {alarm.alarm_type.name}",
            payload={
                "code": alarm.alarm_type.code,
                "name": alarm.alarm_type.name,
                "message": alarm.message,
                "clause": alarm.alarm_type.clause,
                "permit_id": alarm.permit_id,
                "number": permit.number if permit else "",
                "url": permit_url(permit) if permit else "",
            },
            site_id=alarm.site_id,
            at=at,
        )


def actor_label(by) -> str:
    if by is None:
        return ""
    name = getattr(by, "get_full_name", lambda: "")() or getattr(by, "username", "")
    return str(name or by)[:200]

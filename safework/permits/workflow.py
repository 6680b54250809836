"""The states of a work permit and of an alarm, and the only legal moves between them (style.md
§4; the machinery in core.workflow: protected status, audited moves, conditional saves)::

    draft ─submit─▶ submitted ─route─▶ in_approval ─approve(last step)─▶ approved ─start─▶ active
      ▲                                   │    ▲                            │   ▲           │ ▲
      └────────revise──── rejected ◀─reject┘    └──── reapprove (crew changed) ┘   resume│ │suspend
                                                                                        ▼ │
                                                                   suspended ◀──────────┘
    active ─complete─▶ completed ─accept─▶ accepted ─close─▶ closed
    draft | submitted | in_approval | approved | suspended ─cancel─▶ cancelled   (reason; approval
                                                                                   once approved)
    approved | active | suspended ─expire─▶ expired    (past validity: also computed when read)
    active | suspended | approved ─supersede─▶ closed  (a change: the old permit closes, a new
                                                        linked permit carries the change, AQ §5.8)

Nothing goes back from a final state (closed, cancelled, expired): a permit is never extended or
altered after the fact (GB 30871-2022 §4.16, §4.18). The guards that need a reason and a clause
(gates, approvers, on-site signing) are in `permits.gates` and `permits.services`, which refuse
before calling a transition.

An alarm (AQ 3064.2 §5.9, closed loop): raised → acknowledged → handled (with a note) → cleared.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField

from safework.core.workflow import Workflow, transition

__all__ = [
    "AlarmStatus",
    "AlarmWorkflow",
    "LIVE",
    "FINAL",
    "PermitStatus",
    "PermitWorkflow",
    "VALID",
]


class PermitStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    IN_APPROVAL = "in_approval", _("in approval")
    APPROVED = "approved", _("approved")
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    COMPLETED = "completed", _("completed")
    ACCEPTED = "accepted", _("accepted")
    CLOSED = "closed", _("closed")
    REJECTED = "rejected", _("rejected")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("expired")


S = PermitStatus
# The states in which a permit authorises work (or is about to): its validity runs.
VALID = (S.APPROVED, S.ACTIVE, S.SUSPENDED)
# Before approval: the content may still change (a draft) or is being approved.
LIVE = (S.DRAFT, S.SUBMITTED, S.IN_APPROVAL, S.REJECTED)
FINAL = (S.CLOSED, S.CANCELLED, S.EXPIRED)


class PermitWorkflow(Workflow):
    status = FSMField(
        _("status"), max_length=20, choices=PermitStatus.choices, default=S.DRAFT, protected=True
    )

    class Meta:
        abstract = True

    @transition(source=S.DRAFT, target=S.SUBMITTED, action="permit.submitted")
    def submit(self, *, by, at, number: str):
        self.number = number
        self.submitted_at = at
        return {"number": number}

    @transition(source=S.SUBMITTED, target=S.IN_APPROVAL, action="permit.routed")
    def route(self, *, by, at, steps: list[str]):
        return {"steps": steps}

    @transition(
        source=[S.APPROVED, S.ACTIVE, S.SUSPENDED], target=S.IN_APPROVAL, action="permit.reapproval"
    )
    def reapprove(self, *, by, at, reason: str, steps: list[str]):
        # A crew change after approval: the permit goes back to approval (AQ §5.6.4).
        self.approved_at = None
        return {"reason": reason, "steps": steps}

    @transition(source=S.IN_APPROVAL, target=S.APPROVED, action="permit.approved")
    def approve(self, *, by, at):
        self.approved_at = at
        return None

    @transition(source=S.IN_APPROVAL, target=S.REJECTED, action="permit.rejected")
    def reject(self, *, by, at, reason: str):
        self.reject_reason = reason
        return {"reason": reason}

    @transition(source=S.REJECTED, target=S.DRAFT, action="permit.revised")
    def revise(self, *, by, at):
        return None

    @transition(source=S.APPROVED, target=S.ACTIVE, action="permit.started")
    def start(self, *, by, at):
        self.started_at = at
        return None

    @transition(source=S.ACTIVE, target=S.SUSPENDED, action="permit.suspended")
    def suspend(self, *, by, at, reason: str):
        self.suspended_at = at
        return {"reason": reason}

    @transition(source=S.SUSPENDED, target=S.ACTIVE, action="permit.resumed")
    def resume(self, *, by, at):
        self.suspended_at = None
        return None

    @transition(source=S.ACTIVE, target=S.COMPLETED, action="permit.completed")
    def complete(self, *, by, at, note: str = ""):
        self.completed_at = at
        return {"note": note} if note else None

    @transition(source=S.COMPLETED, target=S.ACCEPTED, action="permit.accepted")
    def accept(self, *, by, at, note: str = ""):
        self.accepted_at = at
        return {"note": note} if note else None

    @transition(source=S.ACCEPTED, target=S.CLOSED, action="permit.closed")
    def close(self, *, by, at):
        self.closed_at = at
        return None

    @transition(
        source=[S.APPROVED, S.ACTIVE, S.SUSPENDED], target=S.CLOSED, action="permit.superseded"
    )
    def supersede(self, *, by, at, reason: str, successor: str):
        self.closed_at = at
        self.change_reason = reason
        return {"reason": reason, "successor": successor}

    @transition(
        source=[S.DRAFT, S.SUBMITTED, S.IN_APPROVAL, S.APPROVED, S.SUSPENDED, S.REJECTED],
        target=S.CANCELLED,
        action="permit.cancelled",
    )
    def cancel(self, *, by, at, reason: str):
        self.cancelled_at = at
        self.cancel_reason = reason
        return {"reason": reason}

    @transition(source=list(VALID), target=S.EXPIRED, action="permit.expired")
    def expire(self, *, by, at):
        return {"planned_end": self.planned_end.isoformat()}


class AlarmStatus(models.TextChoices):
    RAISED = "raised", _("raised")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    HANDLED = "handled", _("handled")
    CLEARED = "cleared", _("cleared")


A = AlarmStatus


class AlarmWorkflow(Workflow):
    status = FSMField(
        _("status"), max_length=20, choices=AlarmStatus.choices, default=A.RAISED, protected=True
    )

    class Meta:
        abstract = True

    @transition(source=A.RAISED, target=A.ACKNOWLEDGED, action="alarm.acknowledged")
    def acknowledge(self, *, by, at):
        self.acknowledged_at, self.acknowledged_by = at, by
        return None

    @transition(source=[A.RAISED, A.ACKNOWLEDGED], target=A.HANDLED, action="alarm.handled")
    def handle(self, *, by, at, note: str):
        self.handled_at, self.handled_by, self.note = at, by, note
        return {"note": note}

    @transition(source=A.HANDLED, target=A.CLEARED, action="alarm.cleared")
    def clear(self, *, by, at):
        self.cleared_at, self.cleared_by = at, by
        return None

"""State machines of SafeWork's workflows (django-fsm-2), each move audited.

A workflow model (an import job, a verification batch, later a permit) keeps its state in a
protected `FSMField`: assigning the field raises, so the state changes only through the model's
transitions, one method per arrow, declared in the app's `workflow.py` (style.md §4).

Each transition names its audit action. Calling it moves the state in memory and notes one audit
entry (before: the source state; after: the target and the details the method returns); `save()`
then writes the row and, after it, those entries: the audit stays the transaction's last write
(core.audit). The save is conditional on the state the row had when it was read
(`ConcurrentTransitionMixin`: `UPDATE … WHERE status = <state read>`), so two processes moving the
same row from the same state cannot both succeed: the second save raises `ConcurrentTransition`
and its transaction rolls back, its audit entries with it.

A transition method takes the keywords `by` (the actor, None for the system) and `at` (the
instant of the move, the caller's clock) and sets what the arrow changes beside the state
(finish time, lease); it returns a dict of details for the audit record, or None. Guards that must
give a reason (who may approve) stay in the services, which refuse before calling the transition.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import django_fsm as fsm
from django.db import models

from safework.core import audit

__all__ = [
    "ConcurrentTransition",
    "TransitionNotAllowed",
    "Workflow",
    "can_proceed",
    "transition",
]

ConcurrentTransition = fsm.ConcurrentTransition
TransitionNotAllowed = fsm.TransitionNotAllowed
can_proceed = fsm.can_proceed
AUDIT_CHUNK = 10_000


@dataclass(frozen=True)
class _Move:
    action: str
    field: str
    source: str
    target: str
    by: object
    at: object
    details: dict


class Workflow(fsm.ConcurrentTransitionMixin, models.Model):
    """Base of a model whose state fields change only through audited transitions."""

    class Meta:
        abstract = True

    def save(self, *args, audit_first: Iterable[audit.Entry] = (), **kwargs):
        """Write the row, then the audit: `audit_first` (the records of a change that comes with
        the move, such as an import's rows), then one record per move since the last save."""
        moves: list[_Move] = self.__dict__.pop("_sw_moves", [])
        fields = kwargs.get("update_fields")
        if moves and fields is not None:  # a moved state is always written with the row
            kwargs["update_fields"] = {*fields, *(m.field for m in moves)}
        super().save(*args, **kwargs)
        entries = [*audit_first, *self._entries(moves)]
        # In chunks, so that a 100,000-row import does not build every record's row at once.
        for start in range(0, len(entries), AUDIT_CHUNK):
            audit.record_many(entries[start : start + AUDIT_CHUNK])

    def _entries(self, moves: Iterable[_Move]) -> list[audit.Entry]:
        # Built after the write, so that the label (str(self)) names the new state.
        return [
            audit.entry(
                action=m.action,
                target=self,
                actor=m.by,
                before={m.field: m.source},
                after={m.field: m.target, **m.details},
                at=m.at,
            )
            for m in moves
        ]


def transition(*, source, target, action: str, field: str = "status", **options):
    """Declare one arrow of a workflow (see the module's docstring); `action` names its audit
    record. `source` is a state or a list of states; `options` go to `django_fsm.transition`."""

    def decorate(method):
        @functools.wraps(method)
        def arrow(self, *, by=None, at, **kwargs):
            before = getattr(self, field)
            details = method(self, by=by, at=at, **kwargs) or {}
            move = _Move(action, field, str(before), str(target), by, at, details)
            self.__dict__.setdefault("_sw_moves", []).append(move)
            return details

        return fsm.transition(
            field=field, source=source, target=target, custom={"action": action}, **options
        )(arrow)

    return decorate


def actions(model: type[models.Model], field: str = "status") -> dict[str, str]:
    """The audit action of each transition of `model` (name → action), for tests and docs."""
    out = {}
    for t in model._meta.get_field(field).get_all_transitions(model):
        out[t.name] = t.custom["action"]
    return out

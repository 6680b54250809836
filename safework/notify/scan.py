"""The periodic scan for date-driven events: each domain registers a scanner (certs for
certificates, this module for health checks), each one set-based: one query finds what is due
on a day and the events are inserted in bulk; keys make a second run of the same day a no-op.

A stage is the smallest configured number of days that is at least the days left: with
stages 90/60/30/15/7/0, 61 days left is stage 90, 60 is stage 60, 0 (the expiry day) stage 0. A
day the scan did not run is caught up by the next run at the stage then current.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
from django.utils import timezone

from safework.notify import services
from safework.notify.models import Event
from safework.people.models import HealthCheck

log = logging.getLogger(__name__)

Scanner = Callable[..., int]  # scanner(on=date, at=datetime) -> events added
_SCANNERS: dict[str, Scanner] = {}


def register_scanner(name: str, fn: Scanner) -> None:
    """Make `fn` part of every scan (an app above notify registers in its ready())."""
    _SCANNERS[name] = fn


def stage_case(days: str, stages: list[int]) -> Case:
    """SQL: the stage of a row whose days left are `days` (an expression), NULL past all."""
    whens = [When(**{f"{days}__lte": s}, then=Value(s)) for s in sorted(stages)]
    return Case(*whens, default=Value(None), output_field=IntegerField())


def stage_of(days_left: int, stages: list[int]) -> int | None:
    """The plain twin of `stage_case`."""
    for s in sorted(stages):
        if days_left <= s:
            return s
    return None


def _scan_health(*, on: dt.date, at: dt.datetime) -> int:
    stages = services.stages_of("health.expiring")
    if not stages:
        return 0
    newer = HealthCheck.objects.filter(
        person_id=OuterRef("person_id"), checked_on__gt=OuterRef("checked_on")
    )
    rows = (
        HealthCheck.objects.filter(
            valid_until__gte=on, valid_until__lte=on + dt.timedelta(days=max(stages))
        )
        .filter(~Exists(newer))
        .values(
            "pk", "person_id", "person__name", "valid_until", "person__current_employment__site_id"
        )
    )
    events = []
    for r in rows:
        days = (r["valid_until"] - on).days
        stage = stage_of(days, stages)
        if stage is None:
            continue
        events.append(
            Event(
                kind="health.expiring",
                key=f"health:{r['pk']}:{r['valid_until']}:{stage}",
                stage=str(stage),
                subject_label=r["person__name"],
                payload={
                    "person": r["person__name"],
                    "due": r["valid_until"].isoformat(),
                    "days": days,
                    "stage": stage,
                    "url": f"/admin/people/healthcheck/{r['pk']}/change/",
                },
                site_id=r["person__current_employment__site_id"],
                person_id=r["person_id"],
                at=at,
            )
        )
    return services.emit_many(events)


register_scanner("health", _scan_health)


def run_scan(*, at: dt.datetime | None = None) -> dict[str, int]:
    """Run every scanner for the local date of `at`; events added per scanner."""
    at = at or timezone.now()
    on = timezone.localdate(at)
    out = {}
    for name, fn in _SCANNERS.items():
        out[name] = fn(on=on, at=at)
    return out

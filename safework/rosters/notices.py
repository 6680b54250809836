"""Roster events for notify (CERT-09): an entry whose person will not be qualified on its day is
told to the roster's author (the workshop head who makes it), not only to the safety office.
Registered with `notify.scan` in `RostersConfig.ready()`; rosters is above notify and writes its
outbox, passing the author as the recipient notify cannot find itself.

The scan takes the entries from the scan's day to the look-ahead (a notify setting), asks the
engine once for all of them, and emits one event per failing entry (keyed by entry and day).
"""

from __future__ import annotations

import datetime as dt

from safework.core.settings_registry import get_setting
from safework.notify import services
from safework.notify.models import Event
from safework.rosters.models import RosterEntry
from safework.rosters.services import check_entries

KIND = "roster.unqualified"
CHUNK = 2000


def scan_rosters(*, on: dt.date, at: dt.datetime) -> int:
    """Emit an event for every entry from `on` to the look-ahead that the engine refuses."""
    ahead = int(get_setting("notify.roster_lookahead_days"))
    entries = (
        RosterEntry.objects.filter(on__gte=on, on__lte=on + dt.timedelta(days=ahead))
        .select_related("roster", "person", "work_type", "level", "crew_role", "site")
        .order_by("on", "pk")
    )
    added, rows = 0, list(entries)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        events = []
        for entry, decision in zip(chunk, check_entries(chunk), strict=True):
            if decision.allowed:
                continue
            reasons = "；".join(str(r.message) for r in decision.reasons if r.blocking)
            roster = entry.roster
            events.append(
                Event(
                    kind=KIND,
                    key=f"roster:{roster.pk}:entry:{entry.pk}:{entry.on}",
                    subject_label=f"{entry.person.name} {entry.on} {entry.work_type.name}"[:300],
                    payload={
                        "person": entry.person.name,
                        "day": entry.on.isoformat(),
                        "work_type": entry.work_type.name,
                        "reason": reasons[:500],
                        "roster": roster.name,
                        "url": f"/admin/rosters/roster/{roster.pk}/change/",
                    },
                    site_id=entry.site_id or roster.site_id,
                    person_id=entry.person_id,
                    recipients_hint={"roster_author": [roster.author_id]}
                    if roster.author_id
                    else {},
                    at=at,
                )
            )
        added += services.emit_many(events)
    return added


def planned_entries(*, person_ids: list[int], on: dt.date, at: dt.datetime):
    """Lister for `certs.disqualification`: the persons' roster entries from `on`, each for its
    roster's author to change."""
    from safework.certs.disqualification import Affected

    out: dict[int, list] = {}
    rows = (
        RosterEntry.objects.filter(person_id__in=person_ids, on__gte=on)
        .select_related("roster", "work_type")
        .order_by("on", "pk")
    )
    for entry in rows:
        roster = entry.roster
        out.setdefault(entry.person_id, []).append(
            Affected(
                what="roster_entry",
                label=f"{roster.name} {entry.work_type.name}"[:200],
                day=entry.on.isoformat(),
                url=f"/admin/rosters/roster/{roster.pk}/change/",
                responsible={"roster_author": [roster.author_id]} if roster.author_id else {},
            )
        )
    return out

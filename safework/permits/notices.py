"""What permits tell `certs.disqualification` when a certificate turns red: the holder's open
permits (not yet closed, cancelled or expired, and not yet past their planned end), each for its
applicant and work leader to act on (take the person off the crew, or suspend the work)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from safework.accounts.models import User
from safework.permits.models import Permit
from safework.permits.workflow import LIVE, VALID

OPEN = (*LIVE, *VALID)


def open_permits(*, person_ids: list[int], on: dt.date, at: dt.datetime):
    """Lister for `certs.disqualification`: per person, the open permits they are crew on or
    lead."""
    from safework.certs.disqualification import Affected

    wanted = set(person_ids)
    permits = list(
        Permit.objects.filter(status__in=OPEN, planned_end__gte=at)
        .filter(
            Q(crew__person_id__in=wanted, crew__removed_at__isnull=True)
            | Q(work_leader_id__in=wanted)
        )
        .distinct()
        .prefetch_related("crew")
        .order_by("planned_start", "pk")
    )
    leaders = {p.work_leader_id for p in permits if p.work_leader_id}
    leader_users: dict[int, list[int]] = {}
    for user_id, person_id in User.objects.filter(
        person_id__in=leaders, is_active=True
    ).values_list("pk", "person_id"):
        leader_users.setdefault(person_id, []).append(user_id)
    out: dict[int, list] = {}
    for permit in permits:
        persons = {c.person_id for c in permit.crew.all() if c.removed_at is None}
        persons.add(permit.work_leader_id)
        responsible = {"permit_applicant": [permit.applicant_id]}
        if leader_users.get(permit.work_leader_id):
            responsible["work_leader"] = leader_users[permit.work_leader_id]
        label = permit.number or f"#{permit.pk}"
        for person_id in sorted(persons & wanted):
            out.setdefault(person_id, []).append(
                Affected(
                    what="permit",
                    label=f"{label} {permit.get_status_display()}"[:200],
                    day=timezone.localtime(permit.planned_start).strftime("%Y-%m-%d %H:%M"),
                    url=f"/admin/permits/permit/{permit.pk}/change/",
                    responsible=responsible,
                )
            )
    return out

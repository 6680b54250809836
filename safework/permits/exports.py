"""Exports of permits: the ledger (AQ 3064.2 §5.11) as a workbook, and one permit's full history
as an audit-grade record (every event, signature with its position, gas test, measure, briefing,
alarm, and the audit chain's records of the permit with their hashes), as JSON and as a
workbook. Used alike by the API and the `safework permits` command.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import xlsx
from safework.core.models import AuditRecord
from safework.permits.models import Briefing, CrewAssignment, Permit

# A synchronous export answers within a request: beyond this many rows, narrow the filters.
MAX_EXPORT_ROWS = 10_000


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _label(obj) -> str:
    return str(obj) if obj is not None else ""


def _user(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def ledger_header() -> list[str]:
    return [
        _("permit number"),
        _("work type"),
        _("level"),
        _("status"),
        _("site"),
        _("area"),
        _("exact place"),
        _("work content"),
        _("planned start"),
        _("planned end"),
        _("applicant"),
        _("work unit"),
        _("contractor"),
        _("work leader"),
        _("upgraded"),
        _("emergency"),
    ]


def ledger_row(p: Permit) -> list:
    status = getattr(p, "status_now", None) or p.status
    return [
        p.number or "",
        p.work_type.name,
        p.level.name if p.level_id else "",
        str(dict(Permit._meta.get_field("status").choices).get(status, status)),
        p.site.name,
        p.area.name if p.area_id else "",
        p.place,
        p.content,
        _local(p.planned_start),
        _local(p.planned_end),
        _user(p.applicant),
        p.work_unit.name if p.work_unit_id else "",
        p.contractor.name if p.contractor_id else "",
        p.work_leader.name if p.work_leader_id else "",
        _("yes") if p.upgraded else _("no"),
        _("yes") if p.is_emergency else _("no"),
    ]


def ledger_xlsx(qs: QuerySet[Permit]) -> bytes:
    """The ledger rows of `qs` (already filtered, with `status_now`) as one sheet."""
    wb = xlsx.new_workbook()
    xlsx.add_sheet(
        wb,
        _("Permit ledger"),
        ledger_header(),
        (ledger_row(p) for p in qs.iterator(chunk_size=2000)),
        widths=[18, 12, 10, 10, 14, 14, 24, 40, 19, 19, 12, 14, 16, 10, 8, 8],
    )
    return xlsx.to_bytes(wb)


# ---- one permit's history ---------------------------------------------------------------------


def _position(obj) -> dict | None:
    if obj.latitude is None:
        return None
    return {"lat": str(obj.latitude), "lon": str(obj.longitude), "accuracy_m": obj.accuracy_m}


def history_permit(pk: int, qs: QuerySet[Permit] | None = None) -> Permit:
    """The permit with everything its history shows, read in a fixed number of queries."""
    qs = Permit.objects.all() if qs is None else qs
    return (
        qs.select_related(
            "work_type", "level", "site", "area", "applicant", "work_unit", "contractor"
        )
        .select_related("work_leader")
        .prefetch_related(
            Prefetch("crew", queryset=CrewAssignment.objects.select_related("person", "role")),
            "steps",
            "signatures__user",
            "signatures__delegated_by",
            "measures__confirmed_by",
            "measures__confirmer",
            "risks",
            Prefetch(
                "briefings",
                queryset=Briefing.objects.select_related("briefer").prefetch_related("recipients"),
            ),
            "gas_tests__tester",
            "presence__person",
            "alarms__alarm_type",
            "events",
        )
        .get(pk=pk)
    )


def audit_records(permit: Permit) -> QuerySet[AuditRecord]:
    """The audit chain's records about the permit (its own and its parts' moves)."""
    return AuditRecord.objects.filter(
        object_type=Permit._meta.label_lower, object_id=str(permit.pk)
    ).order_by("seq")


def history(permit: Permit) -> dict:
    """One permit's full history as plain data (JSON): what happened, who signed where, what
    was measured, and the audit records with their hashes, so the export can be checked against
    the chain (`safework audit verify`)."""
    return {
        "permit": {
            "id": permit.pk,
            "uuid": str(permit.uuid),
            "number": permit.number,
            "work_type": permit.work_type.code,
            "level": permit.level.code if permit.level_id else None,
            "status": permit.status,
            "status_now": permit.status_at(timezone.now()),
            "site": permit.site.name,
            "area": permit.area.name if permit.area_id else None,
            "place": permit.place,
            "content": permit.content,
            "planned_start": permit.planned_start.isoformat(),
            "planned_end": permit.planned_end.isoformat(),
            "applicant": _user(permit.applicant),
            "work_unit": permit.work_unit.name if permit.work_unit_id else None,
            "contractor": permit.contractor.name if permit.contractor_id else None,
            "work_leader": permit.work_leader.name if permit.work_leader_id else None,
            "level_basis": permit.level_basis,
            "upgraded": permit.upgraded,
            "calendar_basis": permit.calendar_basis,
        },
        "crew": [
            {
                "person": c.person.name,
                "role": c.role.code,
                "added_at": c.added_at.isoformat(),
                "added_after_approval": c.added_after_approval,
                "removed_at": c.removed_at.isoformat() if c.removed_at else None,
            }
            for c in permit.crew.all()
        ],
        "steps": [
            {
                "round": s.round,
                "order": s.order,
                "stage": s.stage,
                "label": s.label,
                "roles": s.roles,
                "clause": s.clause,
                "status": s.status,
                "decided_at": s.decided_at.isoformat() if s.decided_at else None,
            }
            for s in permit.steps.all()
        ],
        "signatures": [
            {
                "action": s.action,
                "role": s.role,
                "signer": s.signer_label,
                "user_id": s.user_id,
                "on_behalf_of": _user(s.delegated_by) if s.delegated_by_id else None,
                "at": s.at.isoformat(),
                "position": _position(s),
                "on_site": s.on_site,
                "note": s.note,
                "has_image": bool(s.image),
            }
            for s in permit.signatures.all()
        ],
        "measures": [
            {
                "text": m.text,
                "clause": m.clause,
                "involved": m.involved,
                "confirmed_by": _user(m.confirmed_by) if m.confirmed_by_id else None,
                "confirmed_at": m.confirmed_at.isoformat() if m.confirmed_at else None,
            }
            for m in permit.measures.all()
        ],
        "risks": [{"hazard": r.hazard, "controls": r.controls} for r in permit.risks.all()],
        "briefings": [
            {
                "briefer": b.briefer.name,
                "recipients": [p.name for p in b.recipients.all()],
                "content": b.content,
                "at": b.at.isoformat(),
            }
            for b in permit.briefings.all()
        ],
        "gas_tests": [
            {
                "taken_at": t.taken_at.isoformat(),
                "point": t.point,
                "gas": t.gas,
                "value": str(t.value),
                "unit": t.unit,
                "instrument": t.instrument,
                "calibrated_on": t.calibrated_on.isoformat() if t.calibrated_on else None,
                "tester": t.tester.name,
                "position": _position(t),
                "passed": t.passed,
                "limit": t.limit,
                "clause": t.clause,
            }
            for t in permit.gas_tests.all()
        ],
        "presence": [
            {
                "person": p.person.name,
                "kind": p.kind,
                "at": p.at.isoformat(),
                "position": _position(p),
            }
            for p in permit.presence.all()
        ],
        "alarms": [
            {
                "code": a.alarm_type.code,
                "name": a.alarm_type.name,
                "status": a.status,
                "message": a.message,
                "raised_at": a.raised_at.isoformat(),
                "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
                "handled_at": a.handled_at.isoformat() if a.handled_at else None,
                "note": a.note,
                "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None,
            }
            for a in permit.alarms.all()
        ],
        "events": [
            {"at": e.at.isoformat(), "kind": e.kind, "by": e.actor_label, "details": e.details}
            for e in permit.events.all()
        ],
        "audit": [
            {
                "seq": r.seq,
                "at": r.at.isoformat(),
                "action": r.action,
                "actor": r.actor_label,
                "payload": r.payload,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in audit_records(permit)
        ],
    }


def history_xlsx(permit: Permit) -> bytes:
    """The history as a workbook: one sheet per part, the audit records last with their hashes."""
    h = history(permit)
    wb = xlsx.new_workbook()
    p = h["permit"]
    xlsx.add_sheet(
        wb, _("Permit"), [_("field"), _("value")], [[k, _cell(v)] for k, v in p.items()], [18, 60]
    )
    for key, title in (
        ("crew", _("Crew")),
        ("steps", _("Approval steps")),
        ("signatures", _("Signatures")),
        ("measures", _("Safety measures")),
        ("risks", _("Risk analysis")),
        ("briefings", _("Briefings")),
        ("gas_tests", _("Gas tests")),
        ("presence", _("Check-ins")),
        ("alarms", _("Alarms")),
        ("events", _("Timeline")),
        ("audit", _("Audit records")),
    ):
        rows = h[key]
        header = list(rows[0]) if rows else [_("none")]
        xlsx.add_sheet(wb, title, header, ([_cell(v) for v in r.values()] for r in rows))
    return xlsx.to_bytes(wb)


def _cell(value):
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value

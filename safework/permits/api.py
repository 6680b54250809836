"""Work permits over the API (issue 14 item 11): the whole lifecycle, the ledger (AQ 3064.2
§5.11) with its filters and export, one permit's audit-grade history, and the alarms' closed loop.

Each endpoint: permitted (`access(resource, action)`) → visible (`permits_visible_to`; someone
else's permit is a 404) → object rules where they apply (`require(request, "permits.approve",
permit)`: nobody approves their own permit) → one service call at `timezone.now()`. A refusal
is a 409 with every reason and clause, bad input a 422 naming its field (safework/api.py).

`/sign` signs the pending check *before the start* (e.g. the shift leader's 验票 of hot work) with
the `permits.sign` permission; approval steps are signed with `/approve` (`permits.approve`).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Status, UploadedFile

from safework.accounts.access import READ, access, require
from safework.accounts.models import User
from safework.core import xlsx
from safework.core.errors import FieldError, InvalidInput
from safework.core.pagination import Page, PageParams, paginate
from safework.core.refusals import Reason, Refused
from safework.core.validation import RowId
from safework.org.models import Site
from safework.permits import exports, queries, services
from safework.permits.models import Alarm, Permit
from safework.permits.permissions import (
    ACCEPT,
    ALARMS,
    APPLY,
    APPROVE,
    CANCEL,
    GAS_TEST,
    HANDLE,
    PERMITS,
    SIGN,
)
from safework.permits.schemas import (
    AlarmFilterIn,
    AlarmHandleIn,
    AlarmOut,
    AttachmentOut,
    BriefingIn,
    CancelIn,
    ChangeIn,
    CheckInIn,
    ChecklistIn,
    CompleteIn,
    ConfirmIn,
    CrewChangeIn,
    DelegationIn,
    DelegationOut,
    GasTestIn,
    LevelOut,
    NoteIn,
    PermitDetailOut,
    PermitFilter,
    PermitIn,
    PermitOut,
    PermitPatch,
    PositionOnlyIn,
    PreviewIn,
    ReasonIn,
    SignIn,
    StartIn,
)

router = Router(tags=["permits"])


# ---- helpers ----------------------------------------------------------------------------------


def _visible_qs(request):
    return queries.permits_visible_to(request.scope, request.user)


def _permit(request, permit_id: int) -> Permit:
    return get_object_or_404(_visible_qs(request), pk=permit_id)


def _ref(obj, name: str | None = None) -> dict | None:
    if obj is None:
        return None
    return {"id": obj.pk, "name": name if name is not None else getattr(obj, "name", str(obj))}


def _user_ref(user) -> dict:
    return {"id": user.pk, "name": user.get_full_name() or user.get_username()}


def _summary(p: Permit, now) -> dict:
    return {
        "id": p.pk,
        "number": p.number,
        "work_type": p.work_type.code,
        "work_type_name": p.work_type.name,
        "level": p.level.code if p.level_id else None,
        "level_name": p.level.name if p.level_id else None,
        "status": getattr(p, "status_now", None) or p.status_at(now),
        "stored_status": p.status,
        "site": _ref(p.site),
        "area": _ref(p.area) if p.area_id else None,
        "place": p.place,
        "content": p.content,
        "planned_start": p.planned_start,
        "planned_end": p.planned_end,
        "applicant": _user_ref(p.applicant),
        "work_unit": _ref(p.work_unit) if p.work_unit_id else None,
        "contractor": _ref(p.contractor) if p.contractor_id else None,
        "work_leader": _ref(p.work_leader) if p.work_leader_id else None,
        "upgraded": p.upgraded,
        "is_emergency": p.is_emergency,
        "created_at": p.created_at,
    }


def _position(obj) -> dict | None:
    if obj.latitude is None:
        return None
    return {"lat": obj.latitude, "lon": obj.longitude, "accuracy_m": obj.accuracy_m}


def _alarm_out(a: Alarm) -> dict:
    return {
        "id": a.pk,
        "code": a.alarm_type.code,
        "name": a.alarm_type.name,
        "clause": a.alarm_type.clause,
        "status": a.status,
        "message": a.message,
        "permit_id": a.permit_id,
        "permit_number": a.permit.number if a.permit_id else None,
        "site": _ref(a.site),
        "raised_at": a.raised_at,
        "acknowledged_at": a.acknowledged_at,
        "handled_at": a.handled_at,
        "note": a.note,
        "cleared_at": a.cleared_at,
        "details": a.details or {},
    }


def _detail(request, permit_id: int) -> dict:
    """The permit with its crew, steps, signatures, measures, risks, briefings, gas tests,
    check-ins, alarms and timeline (a fixed number of queries)."""
    now = timezone.now()
    try:
        p = exports.history_permit(permit_id, _visible_qs(request).prefetch_related("linked"))
    except Permit.DoesNotExist:  # e.g. moved out of the caller's scope by the action itself
        raise Http404 from None
    out = _summary(p, now)
    out.update(
        derived_level=p.derived_level.code if p.derived_level_id else None,
        level_basis=p.level_basis or [],
        upgrade_kinds=p.upgrade_kinds or [],
        calendar_basis=p.calendar_basis,
        open_air=p.open_air,
        emergency_reason=p.emergency_reason,
        latitude=p.latitude,
        longitude=p.longitude,
        inputs=p.inputs or {},
        fields=p.fields or {},
        equipment=p.equipment,
        linked=[x.pk for x in p.linked.all()],
        replaces_id=p.replaces_id,
        reject_reason=p.reject_reason,
        cancel_reason=p.cancel_reason,
        change_reason=p.change_reason,
        submitted_at=p.submitted_at,
        approved_at=p.approved_at,
        started_at=p.started_at,
        completed_at=p.completed_at,
        accepted_at=p.accepted_at,
        closed_at=p.closed_at,
        cancelled_at=p.cancelled_at,
        crew=[
            {
                "id": c.pk,
                "person_id": c.person_id,
                "name": c.person.name,
                "role": c.role.code,
                "role_name": c.role.name,
                "attrs": c.attrs or {},
                "added_at": c.added_at,
                "added_after_approval": c.added_after_approval,
                "removed_at": c.removed_at,
            }
            for c in p.crew.all()
        ],
        steps=[
            {
                "id": s.pk,
                "round": s.round,
                "order": s.order,
                "stage": s.stage,
                "label": s.label,
                "roles": s.roles,
                "clause": s.clause,
                "on_site_required": s.on_site_required,
                "status": s.status,
                "activated_at": s.activated_at,
                "due_at": s.due_at,
                "decided_at": s.decided_at,
            }
            for s in p.steps.all()
        ],
        signatures=[
            {
                "id": s.pk,
                "step_id": s.step_id,
                "action": s.action,
                "role": s.role,
                "user_id": s.user_id,
                "signer": s.signer_label,
                "on_behalf_of_id": s.delegated_by_id,
                "at": s.at,
                "position": _position(s),
                "on_site": s.on_site,
                "note": s.note,
                "has_image": bool(s.image),
            }
            for s in p.signatures.all()
        ],
        measures=[
            {
                "id": m.pk,
                "order": m.order,
                "code": m.code,
                "text": m.text,
                "clause": m.clause,
                "involved": m.involved,
                "confirmer_id": m.confirmer_id,
                "confirmed_by_id": m.confirmed_by_id,
                "confirmed_at": m.confirmed_at,
                "photo": m.photo.name or None,
            }
            for m in p.measures.all()
        ],
        risks=[
            {
                "id": r.pk,
                "hazard": r.hazard,
                "controls": r.controls,
                "from_template": r.from_template,
            }
            for r in p.risks.all()
        ],
        briefings=[
            {
                "id": b.pk,
                "briefer_id": b.briefer_id,
                "briefer": b.briefer.name,
                "recipient_ids": [x.pk for x in b.recipients.all()],
                "content": b.content,
                "at": b.at,
            }
            for b in p.briefings.all()
        ],
        gas_tests=[
            {
                "id": t.pk,
                "taken_at": t.taken_at,
                "point": t.point,
                "gas": t.gas,
                "value": t.value,
                "unit": t.unit,
                "lel_percent": t.lel_percent,
                "instrument": t.instrument,
                "calibrated_on": t.calibrated_on,
                "tester_id": t.tester_id,
                "tester": t.tester.name,
                "position": _position(t),
                "passed": t.passed,
                "limit": t.limit,
                "clause": t.clause,
            }
            for t in p.gas_tests.all()
        ],
        presence=[
            {
                "id": x.pk,
                "person_id": x.person_id,
                "name": x.person.name,
                "kind": x.kind,
                "at": x.at,
                "position": _position(x),
            }
            for x in p.presence.all()
        ],
        alarms=[
            {
                "id": a.pk,
                "code": a.alarm_type.code,
                "name": a.alarm_type.name,
                "status": a.status,
                "message": a.message,
                "raised_at": a.raised_at,
            }
            for a in p.alarms.all()
        ],
        events=[
            {"id": e.pk, "at": e.at, "kind": e.kind, "by": e.actor_label, "details": e.details}
            for e in p.events.all()
        ],
    )
    return out


def _position_in(body) -> dict | None:
    pos = getattr(body, "position", None)
    return pos.dict() if pos is not None else None


def _in_scope_to_apply(request, site_id: int, contractor_id: int | None) -> None:
    services.check_apply_scope(request.scope, site_id, contractor_id)


def _data(body) -> dict:
    data = body.dict(exclude_unset=True) if hasattr(body, "dict") else dict(body)
    for key in ("crew", "measures", "risks"):
        if data.get(key) is not None:
            data[key] = [dict(x) for x in data[key]]
    return data


# ---- the ledger -------------------------------------------------------------------------------


def _ledger(request, filters: PermitFilter):
    f = queries.LedgerFilter(**filters.dict())
    return queries.ledger(_visible_qs(request), f, at=timezone.now())


@router.get("/permits", response=Page[PermitOut], **access(PERMITS, READ))
def list_permits(request, filters: Query[PermitFilter], page: Query[PageParams]):
    """The permit ledger (AQ 3064.2 §5.11) in the user's scope, newest planned start first.
    `status` is the status as read now: a valid permit past its planned end is `expired`."""
    now = timezone.now()
    f = queries.LedgerFilter(**filters.dict())
    total, rows = queries.ledger_list(
        request.scope, request.user, f, at=now, offset=page.offset, limit=page.limit
    )
    items = [_summary(p, now) for p in rows]
    return {"total": total, "limit": page.limit, "offset": page.offset, "items": items}


@router.get("/permits/export.xlsx", **access(PERMITS, READ))
def export_permits(request, filters: Query[PermitFilter]):
    """The filtered ledger as a workbook (at most `MAX_EXPORT_ROWS` rows; narrow the filters
    beyond that)."""
    qs = _ledger(request, filters)
    total = qs.count()
    if total > exports.MAX_EXPORT_ROWS:
        raise InvalidInput(
            FieldError(
                "",
                "too_many_rows",
                _("%(n)s permits match: narrow the filters to at most %(max)s.")
                % {"n": total, "max": exports.MAX_EXPORT_ROWS},
            )
        )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx.download(exports.ledger_xlsx(qs), f"permits-{stamp}.xlsx")


@router.post("/permits/preview-level", response=LevelOut, **access(PERMITS, APPLY))
def preview_level(request, body: PreviewIn):
    """The level as the form is filled in: derived from the inputs, upgraded for the periods
    the window touches, with every reason and clause (nothing is stored)."""
    d = services.preview_level(_data(body))
    code = lambda lv: lv.code if lv is not None else None  # noqa: E731
    return {
        "needs_permit": d.needs_permit,
        "derived": code(d.derived),
        "required": code(d.required),
        "level": code(d.level),
        "upgraded": d.upgraded,
        "kinds": list(d.kinds),
        "basis": d.basis,
        "extra_roles": list(d.extra_roles),
        "confined_space_gas": d.confined_space_gas,
        "reasons": [r.as_dict() for r in d.reasons],
        "refusals": [r.as_dict() for r in d.refusals],
    }


# ---- drafting ---------------------------------------------------------------------------------


@router.post("/permits", response={201: PermitDetailOut}, **access(PERMITS, APPLY))
def create_permit(request, body: PermitIn):
    """A draft permit, with the type's measure checklist and JSA template plus the additions."""
    _in_scope_to_apply(request, body.site_id, body.contractor_id)
    permit = services.create_permit(request.user, _data(body), at=timezone.now())
    return Status(201, _detail(request, permit.pk))


@router.get("/permits/{permit_id}", response=PermitDetailOut, **access(PERMITS, READ))
def get_permit(request, permit_id: RowId):
    return _detail(request, _permit(request, permit_id).pk)


@router.patch("/permits/{permit_id}", response=PermitDetailOut, **access(PERMITS, APPLY))
def update_permit(request, permit_id: RowId, body: PermitPatch):
    """Change a draft (a rejected permit is revised into a draft first); omitted fields stay."""
    permit = _permit(request, permit_id)
    data = _data(body)
    if "site_id" in data or "contractor_id" in data:
        _in_scope_to_apply(
            request,
            data.get("site_id") or permit.site_id,
            data.get("contractor_id", permit.contractor_id),
        )
    services.update_draft(permit, request.user, data, at=timezone.now())
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/submit", response=PermitDetailOut, **access(PERMITS, APPLY))
def submit_permit(request, permit_id: RowId):
    """Submit: every gate with its clause (409), then the number and the approval route."""
    permit = _permit(request, permit_id)
    services.submit(permit, request.user, at=timezone.now())
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/revise", response=PermitDetailOut, **access(PERMITS, APPLY))
def revise_permit(request, permit_id: RowId):
    """A rejected permit back into a draft, to be changed and submitted again."""
    permit = _permit(request, permit_id)
    services.revise(permit, request.user, at=timezone.now())
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/crew", response=PermitDetailOut, **access(PERMITS, APPLY))
def change_crew(request, permit_id: RowId, body: CrewChangeIn):
    """Add or remove crew members; after approval the permit goes back to approval."""
    permit = _permit(request, permit_id)
    services.change_crew(
        permit,
        request.user,
        at=timezone.now(),
        add=[dict(c) for c in body.dict()["add"]],
        remove=body.remove,
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/cancel", response=PermitDetailOut, **access(PERMITS, CANCEL))
def cancel_permit(request, permit_id: RowId, body: CancelIn):
    """Cancel with a reason; an approved permit only by an approver of its site (409)."""
    permit = _permit(request, permit_id)
    services.cancel(permit, request.user, at=timezone.now(), reason=body.reason)
    return _detail(request, permit.pk)


@router.post(
    "/permits/{permit_id}/change", response={201: PermitDetailOut}, **access(PERMITS, APPLY)
)
def change_permit(request, permit_id: RowId, body: ChangeIn):
    """A change after approval: the permit closes and a new linked draft carries the change
    (GB 30871-2022 §4.16–4.17, AQ 3064.2 §5.8). Answers the new permit."""
    permit = _permit(request, permit_id)
    changes = _data(body.changes)
    if "site_id" in changes or "contractor_id" in changes:
        _in_scope_to_apply(
            request,
            changes.get("site_id") or permit.site_id,
            changes.get("contractor_id", permit.contractor_id),
        )
    new = services.change_permit(
        permit, request.user, at=timezone.now(), reason=body.reason, data=changes
    )
    return Status(201, _detail(request, new.pk))


# ---- approval ---------------------------------------------------------------------------------


@router.post("/permits/{permit_id}/approve", response=PermitDetailOut, **access(PERMITS, APPROVE))
def approve_permit(request, permit_id: RowId, body: SignIn):
    """Sign the pending step with one's position (on site where the rule is on: alarm 30)."""
    permit = _permit(request, permit_id)
    require(request, "permits.approve", permit)
    services.approve(
        permit,
        request.user,
        at=timezone.now(),
        position=_position_in(body),
        image=body.image,
        note=body.note,
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/reject", response=PermitDetailOut, **access(PERMITS, APPROVE))
def reject_permit(request, permit_id: RowId, body: ReasonIn):
    """Reject the pending step with a reason: back to the applicant."""
    permit = _permit(request, permit_id)
    require(request, "permits.approve", permit)
    services.reject(
        permit, request.user, at=timezone.now(), reason=body.reason, position=_position_in(body)
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/sign", response=PermitDetailOut, **access(PERMITS, SIGN))
def sign_check(request, permit_id: RowId, body: SignIn):
    """Sign the pending check before the start (e.g. the shift leader's 验票); approval steps
    are signed with `/approve`."""
    permit = _permit(request, permit_id)
    step = services.current_step(permit)
    if step is None or step.stage == "approval":
        raise Refused(
            [Reason("step.none", _("No check before the start is waiting for a signature."))]
        )
    services.approve(
        permit,
        request.user,
        at=timezone.now(),
        position=_position_in(body),
        image=body.image,
        note=body.note,
    )
    return _detail(request, permit.pk)


@router.post("/delegations", response={201: DelegationOut}, **access(PERMITS, APPROVE))
def create_delegation(request, body: DelegationIn):
    """Delegate one's step role at a site for a window, only to someone holding that role
    there (AQ 3064.2 §5.5.3)."""
    to = User.objects.filter(pk=body.to_user_id, is_active=True).first()
    if to is None:
        raise InvalidInput(FieldError("to_user_id", "not_found", _("No such user.")))
    if not Site.objects.filter(pk=body.site_id).exists():
        raise InvalidInput(FieldError("site_id", "not_found", _("No such site.")))
    d = services.delegate(
        request.user,
        to=to,
        role=body.role,
        site=body.site_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        at=timezone.now(),
    )
    return Status(201, d)


# ---- before and during the work ---------------------------------------------------------------


@router.post(
    "/permits/{permit_id}/measures/{measure_id}/confirm",
    response=PermitDetailOut,
    **access(PERMITS, SIGN),
)
def confirm_measure(request, permit_id: RowId, measure_id: RowId, body: ConfirmIn):
    """Confirm one measure (by the person it names, if any)."""
    permit = _permit(request, permit_id)
    services.confirm_measure(
        permit,
        measure_id,
        request.user,
        at=timezone.now(),
        involved=body.involved,
        photo_attachment_id=body.photo_attachment_id,
    )
    return _detail(request, permit.pk)


@router.post(
    "/permits/{permit_id}/measures/confirm", response=PermitDetailOut, **access(PERMITS, SIGN)
)
def confirm_checklist(request, permit_id: RowId, body: ChecklistIn):
    """Confirm several measures at once (the checklist ticked and signed on site); one refused
    item confirms none (409, or 422 for a measure not on this permit)."""
    permit = _permit(request, permit_id)
    items = [{"id": i.id, "involved": i.involved} for i in body.items]
    services.confirm_measures(permit, items, request.user, at=timezone.now())
    return _detail(request, permit.pk)


@router.post(
    "/permits/{permit_id}/briefings", response={201: PermitDetailOut}, **access(PERMITS, SIGN)
)
def record_briefing(request, permit_id: RowId, body: BriefingIn):
    """The safety briefing: who briefed whom (GB 30871-2022 §4.4)."""
    permit = _permit(request, permit_id)
    services.record_briefing(
        permit,
        request.user,
        briefer_id=body.briefer_id,
        recipient_ids=body.recipient_ids,
        content=body.content,
        at=timezone.now(),
    )
    return Status(201, _detail(request, permit.pk))


@router.post(
    "/permits/{permit_id}/gas-tests", response={201: PermitDetailOut}, **access(PERMITS, GAS_TEST)
)
def record_gas_test(request, permit_id: RowId, body: GasTestIn):
    """A gas analysis, judged against its rule (a failing one raises alarm 02)."""
    permit = _permit(request, permit_id)
    data = body.dict()
    data["position"] = _position_in(body)
    services.record_gas_test(permit, request.user, at=timezone.now(), **data)
    return Status(201, _detail(request, permit.pk))


@router.post("/permits/{permit_id}/check-in", response=PermitDetailOut, **access(PERMITS, SIGN))
def check_in(request, permit_id: RowId, body: CheckInIn):
    """A crew member or guardian present in person (or leaving: `kind: out`)."""
    permit = _permit(request, permit_id)
    services.check_in(
        permit,
        request.user,
        person_id=body.person_id,
        at=timezone.now(),
        position=_position_in(body),
        kind=body.kind,
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/start", response=PermitDetailOut, **access(PERMITS, SIGN))
def start_permit(request, permit_id: RowId, body: StartIn):
    """Start the work: every start gate with its clause (409)."""
    permit = _permit(request, permit_id)
    services.start(
        permit,
        request.user,
        at=timezone.now(),
        weather=body.weather.dict() if body.weather is not None else None,
        position=_position_in(body),
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/suspend", response=PermitDetailOut, **access(PERMITS, SIGN))
def suspend_permit(request, permit_id: RowId, body: ReasonIn):
    permit = _permit(request, permit_id)
    services.suspend(
        permit, request.user, at=timezone.now(), reason=body.reason, position=_position_in(body)
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/resume", response=PermitDetailOut, **access(PERMITS, SIGN))
def resume_permit(request, permit_id: RowId, body: PositionOnlyIn):
    """Resume: a passing gas analysis after the pause where the type needs one."""
    permit = _permit(request, permit_id)
    services.resume(permit, request.user, at=timezone.now(), position=_position_in(body))
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/complete", response=PermitDetailOut, **access(PERMITS, SIGN))
def complete_permit(request, permit_id: RowId, body: CompleteIn):
    permit = _permit(request, permit_id)
    services.complete(
        permit,
        request.user,
        at=timezone.now(),
        cleaned_up=body.cleaned_up,
        note=body.note,
        position=_position_in(body),
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/accept", response=PermitDetailOut, **access(PERMITS, ACCEPT))
def accept_permit(request, permit_id: RowId, body: NoteIn):
    """Acceptance by the owner (not the applicant)."""
    permit = _permit(request, permit_id)
    services.accept(
        permit, request.user, at=timezone.now(), note=body.note, position=_position_in(body)
    )
    return _detail(request, permit.pk)


@router.post("/permits/{permit_id}/close", response=PermitDetailOut, **access(PERMITS, ACCEPT))
def close_permit(request, permit_id: RowId):
    permit = _permit(request, permit_id)
    services.close(permit, request.user, at=timezone.now())
    return _detail(request, permit.pk)


# ---- history ----------------------------------------------------------------------------------


@router.post(
    "/permits/{permit_id}/attachments", response={201: AttachmentOut}, **access(PERMITS, APPLY)
)
def add_attachment(
    request, permit_id: RowId, file: File[UploadedFile], name: Form[str] = "", kind: Form[str] = ""
):
    """Attach a document or an image (a plan, the blind drawing, a sketch, an evidence photo):
    422 for another type, an empty or too large file; 409 on a closed permit."""
    permit = _permit(request, permit_id)
    item = services.add_attachment(
        permit, request.user, upload=file, name=name, kind=kind, at=timezone.now()
    )
    return Status(201, _attachment(item))


@router.get(
    "/permits/{permit_id}/attachments", response=list[AttachmentOut], **access(PERMITS, READ)
)
def list_attachments(request, permit_id: RowId):
    permit = _permit(request, permit_id)
    return [_attachment(a) for a in permit.attachments.select_related("uploaded_by").order_by("at")]


@router.get("/permits/{permit_id}/attachments/{attachment_id}", **access(PERMITS, READ))
def download_attachment(request, permit_id: RowId, attachment_id: RowId):
    """The file itself (someone else's permit or attachment: 404)."""
    permit = _permit(request, permit_id)
    item = get_object_or_404(permit.attachments, pk=attachment_id)
    return FileResponse(
        item.file.open("rb"), as_attachment=True, filename=Path(item.file.name).name
    )


def _attachment(a) -> dict:
    return {
        "id": a.pk,
        "name": a.name,
        "kind": a.kind,
        "uploaded_by": _user_ref(a.uploaded_by),
        "at": a.at,
        "bytes": a.file.size if a.file else 0,
    }


@router.get("/permits/{permit_id}/history", **access(PERMITS, READ))
def permit_history(request, permit_id: RowId):
    """One permit's full history as JSON: events, signatures with positions, gas tests, measures,
    briefings, alarms and the audit records of the permit with their hashes."""
    permit = exports.history_permit(_permit(request, permit_id).pk)
    body = json.dumps(exports.history(permit), ensure_ascii=False, default=str)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


@router.get("/permits/{permit_id}/history.xlsx", **access(PERMITS, READ))
def permit_history_xlsx(request, permit_id: RowId):
    """The same history as a workbook, one sheet per part, the audit records last."""
    permit = exports.history_permit(_permit(request, permit_id).pk)
    name = f"permit-{permit.number or permit.pk}-history.xlsx"
    return xlsx.download(exports.history_xlsx(permit), name)


# ---- alarms -----------------------------------------------------------------------------------


def _alarms(request):
    return queries.alarms_visible_to(request.scope, request.user)


def _alarm(request, alarm_id: int) -> Alarm:
    return get_object_or_404(_alarms(request), pk=alarm_id)


def _alarm_detail(alarm_id: int) -> dict:
    return _alarm_out(Alarm.objects.select_related("alarm_type", "permit", "site").get(pk=alarm_id))


@router.get("/alarms", response=Page[AlarmOut], **access(ALARMS, READ))
def list_alarms(request, filters: Query[AlarmFilterIn], page: Query[PageParams]):
    """AQ 3064.2 alarms in the user's scope, newest first."""
    f = queries.AlarmFilter(**filters.dict())
    qs = queries.alarm_list(_alarms(request), f)
    return paginate(qs, page, transform=_alarm_out)


@router.post("/alarms/{alarm_id}/acknowledge", response=AlarmOut, **access(ALARMS, HANDLE))
def acknowledge_alarm(request, alarm_id: RowId):
    alarm = _alarm(request, alarm_id)
    services.acknowledge_alarm(alarm, request.user, at=timezone.now())
    return _alarm_detail(alarm.pk)


@router.post("/alarms/{alarm_id}/handle", response=AlarmOut, **access(ALARMS, HANDLE))
def handle_alarm(request, alarm_id: RowId, body: AlarmHandleIn):
    alarm = _alarm(request, alarm_id)
    services.handle_alarm(alarm, request.user, at=timezone.now(), note=body.note)
    return _alarm_detail(alarm.pk)


@router.post("/alarms/{alarm_id}/clear", response=AlarmOut, **access(ALARMS, HANDLE))
def clear_alarm(request, alarm_id: RowId):
    alarm = _alarm(request, alarm_id)
    services.clear_alarm(alarm, request.user, at=timezone.now())
    return _alarm_detail(alarm.pk)

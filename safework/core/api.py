"""The audit trail over the API: `GET /audit` (filtered, paginated) and `GET /audit/verify`.

Who sees which records: group-wide readers see the whole chain; a site-scoped reader (a safety
officer) sees the records about objects visible to them, plus their own actions. Core imports no
other app, so each app registers how to see its objects (`register_audit_visibility`), as
org/people/accounts do in their api modules; an object type nobody registered is seen
group-wide only (fail closed).

ID numbers inside records are masked for users who may not see them, like everywhere else.
"""

import json
import re
from collections.abc import Callable
from datetime import datetime

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from ninja import Field, FilterSchema, Query, Router, Schema

from safework.accounts.access import READ, access
from safework.accounts.matrix import AUDIT
from safework.accounts.scope import sees_full_id_numbers
from safework.core import audit
from safework.core.models import AuditRecord
from safework.core.pagination import Page, PageParams, paginate
from safework.core.scope import Scope

router = Router(tags=["audit"])

_VISIBILITY: dict[str, Callable[[Scope], QuerySet]] = {}


def register_audit_visibility(object_type: str, visible: Callable[[Scope], QuerySet]) -> None:
    """`visible(scope)` is the queryset of objects of `object_type` ("people.person") a scope
    sees; their audit records are visible to the same scope."""
    _VISIBILITY[object_type] = visible


def audit_visible_to(scope: Scope, *, user_id: int | None = None) -> QuerySet[AuditRecord]:
    qs = AuditRecord.objects.all()
    if scope.group_wide:
        return qs
    q = Q(actor_id=user_id) if user_id is not None else Q(pk__in=[])
    for object_type, visible in sorted(_VISIBILITY.items()):
        ids = visible(scope).order_by().annotate(_audit_id=Cast("pk", CharField()))
        q |= Q(object_type=object_type, object_id__in=ids.values("_audit_id"))
    return qs.filter(q)


# An 18-character resident ID number inside any text of a record (a label, a before/after value).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def _mask_text(text: str) -> str:
    return _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)


def _masked(value):
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


class AuditFilter(FilterSchema):
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_id: int | None = None
    from_: datetime | None = Field(None, alias="from", description="at or after (ISO 8601)")
    to: datetime | None = Field(None, description="before (ISO 8601)")

    def filter_from_(self, value):
        return Q(at__gte=value)

    def filter_to(self, value):
        return Q(at__lt=value)


class AuditRecordOut(Schema):
    seq: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    object_label: str
    client_addr: str
    before: dict | None
    after: dict | None
    hash: str
    prev_hash: str


class VerifyOut(Schema):
    ok: bool
    count: int
    head: dict
    problem: str
    broken_seq: int | None


def _record_out(row: AuditRecord, *, full_ids: bool) -> dict:
    try:
        payload = json.loads(row.payload)
    except ValueError:  # verify reports it; the list still shows the row
        payload = {}
    out = {
        "seq": row.seq,
        "at": row.at,
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "object_label": row.object_label,
        "client_addr": row.client_addr,
        "before": payload.get("before"),
        "after": payload.get("after"),
        "hash": row.hash,
        "prev_hash": row.prev_hash,
    }
    if not full_ids:
        for key in ("actor_label", "object_label", "before", "after"):
            out[key] = _masked(out[key])
    return out


@router.get("/audit", response=Page[AuditRecordOut], **access(AUDIT, READ))
def list_audit(request, filters: Query[AuditFilter], page: Query[PageParams]):
    """Newest first. `from`/`to` bound the time of the change; ID numbers masked as for the
    user everywhere else."""
    qs = filters.filter(audit_visible_to(request.scope, user_id=request.user.pk))
    full_ids = sees_full_id_numbers(request.user)
    return paginate(
        qs.order_by("-seq"), page, transform=lambda r: _record_out(r, full_ids=full_ids)
    )


@router.get("/audit/verify", response=VerifyOut, **access(AUDIT, READ))
def verify_audit(request):
    """Recompute the whole chain; names the first broken record."""
    result = audit.verify_chain()
    return {
        "ok": result.ok,
        "count": result.count,
        "head": {"seq": result.head_seq, "hash": result.head_hash},
        "problem": result.problem,
        "broken_seq": result.broken_seq,
    }

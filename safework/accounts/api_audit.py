"""The audit trail over the API: `GET /audit` (filtered, paginated) and `GET /audit/verify`.

It lives in accounts because it needs the permission matrix; which records a reader sees is
`core.queries.audit_visible_to`. ID numbers and birth dates inside records are masked
(`people.masking`) for users who may not see them; the stored chain is never changed.
"""

import json
from datetime import datetime

from django.db.models import Q
from ninja import Field, FilterSchema, Query, Router, Schema

from safework.accounts.access import READ, access
from safework.accounts.matrix import AUDIT
from safework.accounts.scope import sees_full_id_numbers
from safework.core import audit
from safework.core.models import AuditRecord
from safework.core.pagination import Page, PageParams, paginate
from safework.core.queries import audit_visible_to
from safework.core.validation import RowId
from safework.people.masking import masked

router = Router(tags=["audit"])


class AuditFilter(FilterSchema):
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_id: RowId | None = None
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
            out[key] = masked(out[key])
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

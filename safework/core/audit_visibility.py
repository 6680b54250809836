"""Who sees which audit records: the registry of per-app visibility and ID-number masking.

Group-wide readers see the whole chain; a site-scoped reader (a safety officer) sees the records
about objects visible to them, plus their own actions. Core imports no other app, so each app
registers how to see its objects (`register_audit_visibility`) in its api module; an object type
nobody registered is seen group-wide only (fail closed).
"""

import re
from collections.abc import Callable

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from safework.core.models import AuditRecord
from safework.core.scope import Scope

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


def mask_text(text: str) -> str:
    return _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)


def masked(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value

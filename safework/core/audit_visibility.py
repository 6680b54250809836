"""Who sees which audit records: the registry of per-app visibility. (What a reader sees of
each record's ID numbers and birth dates is `people.masking`, applied by the readers' doors.)

Group-wide readers see the whole chain; a site-scoped reader (a safety officer) sees the records
about objects visible to them, plus their own actions. Core imports no other app, so each app
registers how to see its objects (`register_audit_visibility`) in its api module; an object type
nobody registered is seen group-wide only (fail closed).
"""

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

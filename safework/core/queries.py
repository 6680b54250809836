"""Reads of the audit chain and of the settings, filtered by a visibility scope (the API and the
admin filter through these)."""

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from safework.core.audit_visibility import registered
from safework.core.models import AuditRecord, Setting
from safework.core.scope import Scope


def audit_visible_to(scope: Scope, *, user_id: int | None = None) -> QuerySet[AuditRecord]:
    """Group-wide: the whole chain. Otherwise the records of objects the scope sees (each app's
    registered query, `core.audit_visibility`) and the reader's own actions."""
    qs = AuditRecord.objects.all()
    if scope.group_wide:
        return qs
    q = Q(actor_id=user_id) if user_id is not None else Q(pk__in=[])
    for object_type, visible in registered():
        ids = visible(scope).order_by().annotate(_audit_id=Cast("pk", CharField()))
        q |= Q(object_type=object_type, object_id__in=ids.values("_audit_id"))
    return qs.filter(q)


def settings_visible_to(scope: Scope) -> QuerySet[Setting]:
    """Group-wide: every value. A site scope: the values for every site and its sites' own."""
    if scope.group_wide:
        return Setting.objects.all()
    return Setting.objects.filter(Q(site_id__isnull=True) | Q(site_id__in=scope.site_ids))

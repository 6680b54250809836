"""Who sees which audit records: the registry of per-app visibility. (What a reader sees of
each record's ID numbers and birth dates is `people.masking`, applied by the readers' doors.)

Group-wide readers see the whole chain; a site-scoped reader (a safety officer) sees the records
about objects visible to them, plus their own actions (`core.queries.audit_visible_to`). Core
imports no other app, so each app registers how to see its objects (`register_audit_visibility`)
in its queries module, beside the query (the admin imports those modules at start-up); an object
type nobody registered is seen group-wide only (fail closed).
"""

from collections.abc import Callable

from django.db.models import QuerySet

from safework.core.scope import Scope

_VISIBILITY: dict[str, Callable[[Scope], QuerySet]] = {}


def register_audit_visibility(object_type: str, visible: Callable[[Scope], QuerySet]) -> None:
    """`visible(scope)` is the queryset of objects of `object_type` ("people.person") a scope
    sees; their audit records are visible to the same scope."""
    _VISIBILITY[object_type] = visible


def registered() -> list[tuple[str, Callable[[Scope], QuerySet]]]:
    """(object type, its visibility query), in a stable order."""
    return sorted(_VISIBILITY.items())

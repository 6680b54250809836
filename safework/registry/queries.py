"""Reads of registry verification batches and look-ups, filtered by a visibility scope (the
API, the admin and the verification services filter through these)."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from safework.core.scope import Scope
from safework.people.queries import person_scope_q
from safework.registry.models import VerificationBatch, VerificationLookup


def lookups_visible_to(scope: Scope) -> QuerySet[VerificationLookup]:
    """The look-ups of the certificates the scope sees (a batch may hold others' certificates:
    those rows are not there for this reader, even in their own batch)."""
    return VerificationLookup.objects.filter(person_scope_q(scope, "certificate__person__"))


def batches_visible_to(scope: Scope, user=None) -> QuerySet[VerificationBatch]:
    """Batches holding a certificate the scope sees, and the user's own batches."""
    if scope.group_wide:
        return VerificationBatch.objects.all()
    seen = lookups_visible_to(scope).filter(batch=OuterRef("pk"))
    q = Q(Exists(seen))
    if user is not None and user.pk:
        q |= Q(created_by=user)
    return VerificationBatch.objects.filter(q)

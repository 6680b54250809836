"""Registry verification answers shaped for people: a batch with its progress, a look-up with
ID numbers masked for whoever may not see them. The API and the pages show the same dicts."""

from __future__ import annotations

from safework.accounts.access import shown_id_number, shown_number, shown_text
from safework.core.scope import Scope
from safework.registry import verification
from safework.registry.models import VerificationBatch, VerificationLookup


def batch_out(batch: VerificationBatch, scope: Scope) -> dict:
    """A batch with its progress counted over the look-ups the scope sees."""
    progress = verification.batch_progress(batch, scope)
    return {
        "id": batch.pk,
        "status": batch.status,
        "source": batch.source,
        "total": progress.total,
        "done": progress.done,
        "progress": progress.fraction,
        "counts": progress.counts,
        "to_review": progress.to_review,
        "message": batch.message,
        "created_by": batch.created_by.get_username() if batch.created_by else None,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
    }


def lookup_out(lookup: VerificationLookup, user) -> dict:
    """A look-up as output; ID numbers (the certificate number is often one, and the registry's
    answer holds both) are masked in every field for users who may not see them in full."""
    cert = lookup.certificate
    person = cert.person if cert else None
    out = {
        "id": lookup.pk,
        "certificate_id": lookup.certificate_id,
        "person_id": person.pk if person else None,
        "person_name": person.name if person else "",
        "id_number": shown_id_number(user, lookup.id_number),
        "number": shown_number(user, lookup.number, lookup.id_number),
        "scheme": cert.scheme.code if cert else "",
        "item": cert.item.code if cert else "",
        "outcome": lookup.outcome,
        "name_match": lookup.name_match or None,
        "registry_name": lookup.registry_name,
        "explanation": verification.explain(lookup, person.name if person else ""),
        "differences": verification.differences(lookup.response, cert) if cert else [],
        "attempts": lookup.attempts,
        "checked_at": lookup.checked_at,
        "response": lookup.response,
    }
    for key in ("registry_name", "explanation", "differences", "response"):
        out[key] = shown_text(user, out[key])
    return out

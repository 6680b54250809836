"""Registry verification over the API: start a batch, watch its progress, read what to review."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from safework.accounts.access import READ, WRITE, access, shown_id_number, shown_number, shown_text
from safework.accounts.matrix import CERTIFICATES
from safework.core.pagination import Page, PageParams, paginate
from safework.registry import queries, verification
from safework.registry.models import LookupOutcome, VerificationBatch, VerificationLookup

router = Router(tags=["certificates"])


class VerificationIn(Schema):
    certificate_ids: list[int] | None = Field(
        None, description="certificates to look up (ids); or give `pasted`"
    )
    pasted: str | None = Field(
        None, description="a pasted column: one certificate number or ID number per line"
    )


class BatchOut(Schema):
    id: int
    status: str
    source: str = Field(description="the registry asked (base URL)")
    total: int
    done: int
    progress: float = Field(description="done / total, 0 to 1")
    counts: dict[str, int] = Field(description="look-ups by outcome")
    to_review: int = Field(description="not found, revoked, expired or name differs")
    message: str = Field(description="why the batch was queued again or failed, if it was")
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None


class LookupOut(Schema):
    id: int
    certificate_id: int | None
    person_id: int | None
    person_name: str
    id_number: str
    number: str
    scheme: str
    item: str
    outcome: str
    name_match: str | None = Field(
        description="exact, normalised, pinyin, former_name; null when the name differs"
    )
    registry_name: str
    explanation: str
    differences: list[dict] = Field(description="fields where the registry's record differs")
    attempts: int
    checked_at: datetime | None
    response: dict | None = Field(description="the registry's answer as received")


class LookupFilters(Schema):
    outcome: list[LookupOutcome] | None = Field(None, description="one or more outcomes")
    to_review: bool = Field(False, description="only not found, revoked, expired, name differs")


def _batch_out(request, batch: VerificationBatch) -> dict:
    progress = verification.batch_progress(batch, request.scope)
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


def _lookup_out(request, lookup: VerificationLookup) -> dict:
    """A look-up as output; ID numbers (the certificate number is often one, and the registry's
    answer holds both) are masked in every field for users who may not see them in full."""
    cert = lookup.certificate
    person = cert.person if cert else None
    out = {
        "id": lookup.pk,
        "certificate_id": lookup.certificate_id,
        "person_id": person.pk if person else None,
        "person_name": person.name if person else "",
        "id_number": shown_id_number(request.user, lookup.id_number),
        "number": shown_number(request.user, lookup.number, lookup.id_number),
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
        out[key] = shown_text(request.user, out[key])
    return out


def _visible_batch(request, batch_id: int) -> VerificationBatch:
    verification.expire_stale_batches()  # a batch whose worker died ends when it is read
    batches = queries.batches_visible_to(request.scope, request.user)
    return get_object_or_404(batches.select_related("created_by"), pk=batch_id)


@router.post(
    "/verifications",
    response={202: BatchOut},
    summary="Verify certificates against the registry (a background batch)",
    **access(CERTIFICATES, WRITE),
)
def start_verification(request, body: VerificationIn):
    batch = verification.start_verification(
        by=request.user,
        certificate_ids=body.certificate_ids,
        pasted=body.pasted,
        scope=request.scope,
    )
    return Status(202, _batch_out(request, _visible_batch(request, batch.pk)))


@router.get(
    "/verifications",
    response=Page[BatchOut],
    summary="Verification batches",
    **access(CERTIFICATES, READ),
)
def list_verifications(request, page: Query[PageParams]):
    verification.expire_stale_batches()
    qs = queries.batches_visible_to(request.scope, request.user).select_related("created_by")
    return paginate(
        qs.order_by("-created_at", "-pk"), page, transform=lambda b: _batch_out(request, b)
    )


@router.get(
    "/verifications/{batch_id}",
    response=BatchOut,
    summary="A verification batch: status, progress, counts by outcome",
    **access(CERTIFICATES, READ),
)
def get_verification(request, batch_id: int):
    return _batch_out(request, _visible_batch(request, batch_id))


@router.get(
    "/verifications/{batch_id}/lookups",
    response=Page[LookupOut],
    summary="The look-ups of a batch (to_review=true: the to-review list)",
    **access(CERTIFICATES, READ),
)
def list_lookups(request, batch_id: int, filters: Query[LookupFilters], page: Query[PageParams]):
    batch = _visible_batch(request, batch_id)
    qs = queries.lookups_visible_to(request.scope).filter(batch=batch)
    if filters.outcome:
        qs = qs.filter(outcome__in=filters.outcome)
    if filters.to_review:
        qs = qs.filter(outcome__in=verification.TO_REVIEW)
    qs = qs.select_related(
        "certificate__person", "certificate__scheme", "certificate__item"
    ).order_by("pk")
    return paginate(qs, page, transform=lambda row: _lookup_out(request, row))


@router.post(
    "/verifications/{batch_id}/retry",
    response={202: BatchOut},
    summary="Ask the registry again for the look-ups that could not be answered",
    **access(CERTIFICATES, WRITE),
)
def retry_verification(request, batch_id: int):
    batch = _visible_batch(request, batch_id)
    batch = verification.retry_verification(batch=batch, by=request.user, scope=request.scope)
    return Status(202, _batch_out(request, _visible_batch(request, batch.pk)))

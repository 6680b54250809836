"""Registry verification over the API: start a batch, watch its progress, read what to review."""

from datetime import datetime

from ninja import Field, Query, Router, Schema, Status

from safework.accounts.access import READ, WRITE, access
from safework.accounts.matrix import CERTIFICATES
from safework.core.pagination import Page, PageParams, paginate
from safework.registry import queries, verification
from safework.registry.models import LookupOutcome
from safework.registry.output import batch_out, lookup_out

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
    return Status(
        202,
        batch_out(verification.visible_batch(request.scope, request.user, batch.pk), request.scope),
    )


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
        qs.order_by("-created_at", "-pk"), page, transform=lambda b: batch_out(b, request.scope)
    )


@router.get(
    "/verifications/{batch_id}",
    response=BatchOut,
    summary="A verification batch: status, progress, counts by outcome",
    **access(CERTIFICATES, READ),
)
def get_verification(request, batch_id: int):
    return batch_out(
        verification.visible_batch(request.scope, request.user, batch_id), request.scope
    )


@router.get(
    "/verifications/{batch_id}/lookups",
    response=Page[LookupOut],
    summary="The look-ups of a batch (to_review=true: the to-review list)",
    **access(CERTIFICATES, READ),
)
def list_lookups(request, batch_id: int, filters: Query[LookupFilters], page: Query[PageParams]):
    batch = verification.visible_batch(request.scope, request.user, batch_id)
    qs = queries.lookups_visible_to(request.scope).filter(batch=batch)
    if filters.outcome:
        qs = qs.filter(outcome__in=filters.outcome)
    if filters.to_review:
        qs = qs.filter(outcome__in=verification.TO_REVIEW)
    qs = qs.select_related(
        "certificate__person", "certificate__scheme", "certificate__item"
    ).order_by("pk")
    return paginate(qs, page, transform=lambda row: lookup_out(row, request.user))


@router.post(
    "/verifications/{batch_id}/retry",
    response={202: BatchOut},
    summary="Ask the registry again for the look-ups that could not be answered",
    **access(CERTIFICATES, WRITE),
)
def retry_verification(request, batch_id: int):
    batch = verification.visible_batch(request.scope, request.user, batch_id)
    batch = verification.retry_verification(batch=batch, by=request.user, scope=request.scope)
    return Status(
        202,
        batch_out(verification.visible_batch(request.scope, request.user, batch.pk), request.scope),
    )

"""REST endpoints of certificate records and the catalogue.

Each endpoint: permitted (`access`) → visible (scope query, else 404) → one service call.
Lists carry each record's status, colour and days left on `?on=` (default today), computed in
the same SQL statement by `queries.with_status`; a detail adds its events and the reason with
its clause (`queries.status_of`). ID numbers leave only through `shown_id_number`.
"""

from functools import partial

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from safework.accounts.access import READ, WRITE, access, shown_id_number
from safework.accounts.matrix import CATALOGUE, CERTIFICATES
from safework.certs import queries, services
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateEvent,
    CertificateItem,
    RevocationGround,
    Scheme,
)
from safework.certs.schemas import (
    PATCH_NULLABLE,
    CertificateDetailOut,
    CertificateFilter,
    CertificateIn,
    CertificateOut,
    CertificatePatch,
    ExtensionIn,
    ItemFilter,
    ItemOut,
    OnQuery,
    RenewalIn,
    ReviewIn,
    RevocationGroundOut,
    RevocationIn,
    RuleFilter,
    RuleOut,
    SchemeOut,
    StateChangeIn,
    WorkTypeOut,
    certificate_out,
)
from safework.core.errors import FieldError, InvalidInput
from safework.core.pagination import Page, PageParams, paginate
from safework.people.queries import persons_visible_to
from safework.work.models import WorkLevel, WorkType

router = Router(tags=["certificates"])


def _certificates(scope):
    return queries.certificates_visible_to(scope).select_related(
        "person", "scheme", "item", "revocation_ground"
    )


def _visible(request, cert_id: int) -> Certificate:
    return get_object_or_404(_certificates(request.scope), pk=cert_id)


def _list(request, qs, filters: CertificateFilter, on_query: OnQuery, page: PageParams) -> dict:
    on = queries.local_day(on_query.on)
    qs = filters.filter(queries.with_status(qs, on=on)).order_by(
        "person__name", "person_id", "scheme__code", "item__code", "-issued_on", "pk"
    )
    out = partial(certificate_out, shown_id_number=partial(shown_id_number, request.user), on=on)
    return paginate(qs, page, transform=out)


def _detail(request, cert_id: int, on=None) -> dict:
    on = queries.local_day(on)
    events = CertificateEvent.objects.order_by("on", "pk")
    cert = get_object_or_404(
        _certificates(request.scope)
        .select_related("predecessor")
        .prefetch_related(Prefetch("events", queryset=events)),
        pk=cert_id,
    )
    status = queries.status_of(cert, on=on)
    out = certificate_out(
        cert, shown_id_number=partial(shown_id_number, request.user), on=on, status=status
    )
    out["predecessor_valid_until"] = cert.predecessor.valid_until if cert.predecessor_id else None
    out["successor_id"] = (
        Certificate.objects.filter(predecessor=cert).values_list("pk", flat=True).first()
    )
    reason = status.reason(subject=out["number"])  # masked as the ID number is
    out["reason"] = reason.as_dict() if reason else None
    out["events"] = list(cert.events.all())
    return out


def _scheme(code: str) -> Scheme:
    scheme = Scheme.objects.filter(code=code).first()
    if scheme is None:
        raise InvalidInput(FieldError("scheme", "unknown", _("No such scheme.")))
    return scheme


def _item(scheme: Scheme, code: str) -> CertificateItem:
    """The item of the scheme; an item of another scheme goes to the service, which says so."""
    items = CertificateItem.objects.select_related("scheme")
    found = items.filter(scheme=scheme, code=code).first() or items.filter(code=code).first()
    if found is None:
        raise InvalidInput(FieldError("item", "unknown", _("No such certificate item.")))
    return found


# --- certificates --------------------------------------------------------------------------


@router.get("/certificates", response=Page[CertificateOut], **access(CERTIFICATES, READ))
def list_certificates(
    request,
    filters: Query[CertificateFilter],
    on: Query[OnQuery],
    page: Query[PageParams],
):
    """Certificates in the user's scope with their status on `on` (default today); filter by
    status, colour or usable on that date (`?on=2026-12-01&status=expired`)."""
    return _list(request, _certificates(request.scope), filters, on, page)


@router.get(
    "/persons/{person_id}/certificates",
    response=Page[CertificateOut],
    **access(CERTIFICATES, READ),
)
def list_person_certificates(
    request,
    person_id: int,
    filters: Query[CertificateFilter],
    on: Query[OnQuery],
    page: Query[PageParams],
):
    person = get_object_or_404(persons_visible_to(request.scope), pk=person_id)
    return _list(request, _certificates(request.scope).filter(person=person), filters, on, page)


@router.get("/certificates/{cert_id}", response=CertificateDetailOut, **access(CERTIFICATES, READ))
def get_certificate(request, cert_id: int, on: Query[OnQuery]):
    """One record with its events, and its status on `on` with the reason and clause."""
    return _detail(request, cert_id, on.on)


@router.post("/certificates", response={201: CertificateDetailOut}, **access(CERTIFICATES, WRITE))
def create_certificate(request, payload: CertificateIn):
    person = persons_visible_to(request.scope).filter(pk=payload.person_id).first()
    if person is None:
        raise InvalidInput(
            FieldError("person_id", "unknown", _("No such object, or it is outside your scope."))
        )
    scheme = _scheme(payload.scheme)
    data = payload.dict(exclude={"person_id", "scheme", "item"})
    cert = services.create_certificate(
        by=request.user, person=person, scheme=scheme, item=_item(scheme, payload.item), **data
    )
    return Status(201, _detail(request, cert.pk))


@router.patch(
    "/certificates/{cert_id}", response=CertificateDetailOut, **access(CERTIFICATES, WRITE)
)
def update_certificate(request, cert_id: int, payload: CertificatePatch):
    """Correct the printed facts; state and verification change through their own actions."""
    cert = _visible(request, cert_id)
    changes = payload.dict(exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None and k not in PATCH_NULLABLE]
    if nulls:
        raise InvalidInput(
            [FieldError(k, "required", _("This field cannot be empty.")) for k in nulls]
        )
    if "item" in changes:
        changes["item"] = _item(cert.scheme, changes["item"])
    services.update_certificate(by=request.user, cert=cert, **changes)
    return _detail(request, cert.pk)


@router.post(
    "/certificates/{cert_id}/review",
    response=CertificateDetailOut,
    **access(CERTIFICATES, WRITE),
)
def record_review(request, cert_id: int, payload: ReviewIn):
    """The periodic review (Order No. 30) due next; 409 with the clause outside its window or
    where no review is required (Order No. 19)."""
    cert = _visible(request, cert_id)
    services.record_review(by=request.user, cert=cert, **payload.dict())
    return _detail(request, cert.pk)


@router.post(
    "/certificates/{cert_id}/extend",
    response=CertificateDetailOut,
    **access(CERTIFICATES, WRITE),
)
def record_extension(request, cert_id: int, payload: ExtensionIn):
    """An extension of the same record (TSG Z6001, construction); 409 outside the window."""
    cert = _visible(request, cert_id)
    services.record_extension(by=request.user, cert=cert, **payload.dict())
    return _detail(request, cert.pk)


@router.post(
    "/certificates/{cert_id}/renew",
    response={201: CertificateDetailOut},
    **access(CERTIFICATES, WRITE),
)
def renew_certificate(request, cert_id: int, payload: RenewalIn):
    """The renewal as a new record linked to this one; answers the new record."""
    cert = _visible(request, cert_id)
    new = services.renew_certificate(by=request.user, cert=cert, **payload.dict())
    return Status(201, _detail(request, new.pk))


@router.post(
    "/certificates/{cert_id}/revoke",
    response=CertificateDetailOut,
    **access(CERTIFICATES, WRITE),
)
def revoke_certificate(request, cert_id: int, payload: RevocationIn):
    """Revoke with its ground (a code of GET /catalogue/revocation-grounds) and particulars."""
    cert = _visible(request, cert_id)
    services.revoke_certificate(by=request.user, cert=cert, **payload.dict())
    return _detail(request, cert.pk)


@router.post(
    "/certificates/{cert_id}/cancel",
    response=CertificateDetailOut,
    **access(CERTIFICATES, WRITE),
)
def cancel_certificate(request, cert_id: int, payload: StateChangeIn):
    cert = _visible(request, cert_id)
    services.cancel_certificate(by=request.user, cert=cert, **payload.dict())
    return _detail(request, cert.pk)


# --- catalogue -----------------------------------------------------------------------------


@router.get("/catalogue/schemes", response=Page[SchemeOut], **access(CATALOGUE, READ))
def list_schemes(request, page: Query[PageParams]):
    return paginate(Scheme.objects.order_by("code"), page)


@router.get("/catalogue/items", response=Page[ItemOut], **access(CATALOGUE, READ))
def list_items(request, filters: Query[ItemFilter], page: Query[PageParams]):
    qs = CertificateItem.objects.select_related("scheme").order_by("scheme__code", "code", "pk")
    return paginate(filters.filter(qs), page)


@router.get("/catalogue/rules", response=Page[RuleOut], **access(CATALOGUE, READ))
def list_rules(request, filters: Query[RuleFilter], page: Query[PageParams]):
    """Validity, review, extension and renewal rules with their clause and effective dates
    (`?on=` the rows in force on a date)."""
    qs = CatalogueRule.objects.select_related("scheme", "item").order_by(
        "scheme__code", "item__code", "effective_from", "pk"
    )
    return paginate(filters.filter(qs), page)


@router.get("/catalogue/work-types", response=Page[WorkTypeOut], **access(CATALOGUE, READ))
def list_work_types(request, page: Query[PageParams]):
    levels = Prefetch("levels", queryset=WorkLevel.objects.order_by("rank", "pk"))
    return paginate(WorkType.objects.prefetch_related(levels).order_by("order", "pk"), page)


@router.get(
    "/catalogue/revocation-grounds",
    response=Page[RevocationGroundOut],
    **access(CATALOGUE, READ),
)
def list_revocation_grounds(request, page: Query[PageParams]):
    """The grounds a revocation names, with their clause and any bar on reapplying."""
    return paginate(RevocationGround.objects.select_related("scheme").order_by("order", "pk"), page)

"""Input, output and filter schemas of the certificate and catalogue API.

ID numbers leave the API only through `shown_id_number(user, …)` (see `certificate_out`). Input
schemas forbid unknown fields; PATCH leaves omitted fields alone.
"""

from datetime import date, datetime
from typing import Annotated

from django.db.models import Q
from ninja import Field, FilterLookup, FilterSchema, Schema
from pydantic import ConfigDict

from safework.certs.models import CertState, EventKind, Verification
from safework.certs.rules import Colour, Status
from safework.certs.services import normalise_number
from safework.core.scope import Scope
from safework.core.validation import RowId
from safework.people.masking import mask_certificate_number
from safework.people.queries import person_scope_q

Number = Annotated[str, Field(min_length=1, max_length=60, description="as printed")]
Restriction = Annotated[str, Field(max_length=60, description="e.g. the crane kind of a Q2")]
Authority = Annotated[str, Field(max_length=200)]
Note = Annotated[str, Field(max_length=500)]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- certificates --------------------------------------------------------------------------


class OnQuery(Schema):
    on: date | None = Field(None, description="the date the status is about (default: today)")


class CertificateFilter(FilterSchema):
    person_id: RowId | None = None
    scheme: Annotated[str | None, FilterLookup("scheme__code")] = Field(
        None, description="scheme code, e.g. special_operation"
    )
    item: Annotated[str | None, FilterLookup("item__code")] = Field(
        None, description="item code, e.g. 2.1 or Q2"
    )
    item_id: RowId | None = None
    number: str | None = None
    state: CertState | None = None
    verification: Verification | None = None
    status: Status | None = Field(None, description="status on `on`")
    colour: Colour | None = Field(None, description="colour on `on`")
    usable: bool | None = Field(None, description="usable on `on`")
    site_id: RowId | None = Field(None, description="holders at this site (own staff or engaged)")
    contractor_id: Annotated[
        RowId | None, FilterLookup("person__current_employment__contractor_id")
    ] = None

    def filter_site_id(self, value) -> Q:
        if value is None:
            return Q()
        return person_scope_q(Scope(site_ids=frozenset({value})), "person__")

    def filter_number(self, value) -> Q:
        if value is None:
            return Q()
        return Q(number=normalise_number(value))


class EventOut(Schema):
    id: int
    kind: EventKind
    on: date
    due_on: date | None
    passed: bool
    previous_valid_until: date | None
    new_valid_until: date | None
    reason: str
    actor_label: str
    created_at: datetime


class ReasonOut(Schema):
    code: str
    message: str
    clause: str
    subject: str
    blocking: bool


class CertificateOut(Schema):
    id: int
    person_id: int
    person_name: str
    person_id_number: str = Field(description="masked unless the user may see it in full")
    scheme: str
    item: str
    item_name: str
    number: str
    restriction: str
    first_issued_on: date | None
    issued_on: date
    valid_from: date
    valid_until: date
    next_review_due: date | None
    long_review_interval: bool
    issuing_authority: str
    state: CertState
    state_reason: str
    state_changed_on: date | None
    revocation_ground: str | None = Field(description="code of the ground, when revoked")
    revoked_on: date | None
    reapply_allowed_from: date | None = Field(
        description="revoked on a ground that bars reapplying: no new certificate before this day"
    )
    verification: Verification
    verified_at: datetime | None
    catalogue_version: str
    predecessor_id: int | None
    predecessor_valid_until: date | None
    last_practised_on: date | None
    on: date = Field(description="the date of status, usable, colour and days_left")
    status: Status
    usable: bool
    colour: Colour
    days_left: int | None


class CertificateDetailOut(CertificateOut):
    successor_id: int | None
    reason: ReasonOut | None = Field(description="why the status is not plain valid, with clause")
    events: list[EventOut]


class CertificateIn(In):
    person_id: int
    scheme: str = Field(description="scheme code")
    item: str = Field(description="item code within the scheme")
    number: Number
    issued_on: date
    valid_from: date | None = Field(None, description="default: the issue date")
    valid_until: date | None = Field(None, description="default: the validity of the rule")
    first_issued_on: date | None = Field(None, description="default: the issue date")
    restriction: Restriction = ""
    long_review_interval: bool = False
    issuing_authority: Authority = ""
    last_practised_on: date | None = None


class CertificatePatch(In):
    item: str | None = Field(None, description="item code within the same scheme")
    number: Number | None = None
    restriction: Restriction | None = None
    first_issued_on: date | None = None
    issued_on: date | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    long_review_interval: bool | None = None
    issuing_authority: Authority | None = None
    last_practised_on: date | None = None


# PATCH fields that may be set to null; an explicit null elsewhere is a 422.
PATCH_NULLABLE = frozenset({"last_practised_on"})


class ReviewIn(In):
    on: date | None = Field(None, description="the day of the review (default: today)")
    passed: bool = True
    note: Note = ""


class ExtensionIn(In):
    on: date | None = Field(None, description="the day applied for (default: today)")
    passed: bool = True
    note: Note = ""


class RenewalIn(In):
    number: Number
    issued_on: date
    valid_from: date | None = None
    valid_until: date | None = None
    issuing_authority: Authority | None = None
    restriction: Restriction | None = None
    long_review_interval: bool = False


class StateChangeIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=300)]
    on: date | None = Field(None, description="effective from (default: today)")


class RevocationIn(StateChangeIn):
    ground: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        description="code of the revocation ground (GET /catalogue/revocation-grounds)"
    )


class RevocationGroundOut(Schema):
    code: str
    name: str
    scheme: str | None = Field(description="empty: every scheme")
    clause: str
    reapply_bar_months: int | None
    bar_clause: str

    @staticmethod
    def resolve_scheme(obj) -> str | None:
        return obj.scheme.code if obj.scheme_id else None


def certificate_out(cert, *, shown_id_number, on: date, status=None) -> dict:
    """A certificate as output; `status` is a CertStatus, else the row's with_status fields."""
    person = cert.person
    shown = shown_id_number(person.id_number)
    out = {
        "id": cert.pk,
        "person_id": person.pk,
        "person_name": person.name,
        "person_id_number": shown,
        "scheme": cert.scheme.code,
        "item": cert.item.code,
        "item_name": cert.item.name,
        "on": on,
    }
    # Certificates are often numbered with their holder's ID number: masked as the ID number is.
    out["number"] = (
        cert.number
        if shown == person.id_number
        else mask_certificate_number(cert.number, person.id_number)
    )
    for name in (
        "restriction",
        "first_issued_on",
        "issued_on",
        "valid_from",
        "valid_until",
        "next_review_due",
        "long_review_interval",
        "issuing_authority",
        "state",
        "state_reason",
        "state_changed_on",
        "revoked_on",
        "reapply_allowed_from",
        "verification",
        "verified_at",
        "catalogue_version",
        "predecessor_id",
        "last_practised_on",
    ):
        out[name] = getattr(cert, name)
    out["predecessor_valid_until"] = getattr(cert, "predecessor_valid_until", None)
    out["revocation_ground"] = cert.revocation_ground.code if cert.revocation_ground_id else None
    if status is not None:
        out.update(
            status=status.status,
            usable=status.usable,
            colour=status.colour,
            days_left=status.days_left,
        )
    else:
        out.update(
            status=cert.status, usable=cert.usable, colour=cert.colour, days_left=cert.days_left
        )
    return out


# --- catalogue -----------------------------------------------------------------------------


class SchemeOut(Schema):
    id: int
    code: str
    name: str
    authority: str
    basis: str
    catalogue_version: str


class ItemFilter(FilterSchema):
    scheme: Annotated[str | None, FilterLookup("scheme__code")] = None
    code: str | None = None
    category: str | None = None
    is_active: bool | None = None


class ItemOut(Schema):
    id: int
    scheme: str = Field(validation_alias="scheme.code")
    code: str
    name: str
    category: str
    catalogue_version: str
    restriction_kinds: list[str]
    trade_code: str
    calendar_year: bool
    is_active: bool


class InForceFilter(FilterSchema):
    on: date | None = Field(None, description="only the rows in force on this date")

    def filter_on(self, value) -> Q:
        if value is None:
            return Q()
        return Q(effective_from__lte=value) & (
            Q(effective_to__isnull=True) | Q(effective_to__gt=value)
        )


class RuleFilter(InForceFilter):
    scheme: Annotated[str | None, FilterLookup("scheme__code")] = None
    item: Annotated[str | None, FilterLookup("item__code")] = None
    code: str | None = None


class RuleOut(Schema):
    id: int
    code: str
    scheme: str = Field(validation_alias="scheme.code")
    item: str | None
    validity_months: int | None
    review_interval_months: int | None
    long_review_interval_months: int | None
    review_window_days: int | None
    extension_months: int | None
    extension_window_open_days: int | None
    extension_window_close_days: int | None
    renewal_window_days: int | None
    issuer: str
    clause: str
    effective_from: date
    effective_to: date | None = Field(description="the first day the row no longer applies")
    note: str

    @staticmethod
    def resolve_item(obj) -> str | None:
        return obj.item.code if obj.item_id else None


class LevelOut(Schema):
    code: str
    name: str
    rank: int
    clause: str


class WorkTypeOut(Schema):
    id: int
    code: str
    name: str
    permit_code: str
    clause: str
    order: int
    levels: list[LevelOut]

    @staticmethod
    def resolve_levels(obj) -> list:
        return list(obj.levels.all())

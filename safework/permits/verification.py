"""The public verification of a permit (issue 14 item 9): anyone on site scans the QR code of a
printed or shown permit and sees, without logging in, whether it is approved and valid now, who
may work under it, who approved it, the measures and the latest gas test.

The QR code carries a signed token (`token_for`): the permit's UUID, signed with the secret key
and a salt of its own, so a token cannot be made up or altered (`permit_for_token` refuses it),
and a permit's database id is not exposed. The token does not expire: the page reads the status
when it is opened, so a permit past its validity shows as expired (`Permit.status_at`).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

import segno
from django.conf import settings
from django.core import signing
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from safework.permits.models import (
    CrewAssignment,
    GasTest,
    MeasureItem,
    Permit,
    Signature,
    SignatureAction,
    StepStatus,
)
from safework.permits.workflow import PermitStatus

S = PermitStatus
# A permit that got its number and its approval: only these vouch for anything on site.
VERIFIABLE = frozenset(
    (S.APPROVED, S.ACTIVE, S.SUSPENDED, S.COMPLETED, S.ACCEPTED, S.CLOSED, S.EXPIRED)
)
# ...and of those, the ones under which work may go on at this moment.
WORK_ALLOWED = frozenset((S.APPROVED, S.ACTIVE))

_SALT = "safework.permits.verification"
_SEP = "."  # not in the URL-safe base64 alphabet, and needs no escaping in a path


class VerificationError(Exception):
    """A token that cannot be verified; `message` is for the person holding the phone."""

    status = 400

    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


class BadToken(VerificationError):
    """Not a token we signed: altered, truncated or made up (→ 400)."""


class UnknownPermit(VerificationError):
    """A genuine token whose permit no longer exists (→ 404)."""

    status = 404


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT, sep=_SEP)


def token_for(permit: Permit) -> str:
    """A compact, URL-safe signed token naming the permit (66 characters)."""
    raw = base64.urlsafe_b64encode(permit.uuid.bytes).rstrip(b"=").decode()
    return _signer().sign(raw)


def _uuid_of(token: str) -> uuid.UUID:
    try:
        raw = _signer().unsign(token)
        return uuid.UUID(bytes=base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (signing.BadSignature, binascii.Error, ValueError) as exc:
        raise BadToken(
            _("This verification code is not valid: it was altered or copied incompletely.")
        ) from exc


def verification_url(permit: Permit, request=None) -> str:
    """The absolute address of the permit's verification page: SAFEWORK_PUBLIC_URL (a phone on
    site must reach it), else the address of the request."""
    path = reverse("permits:verify", args=[token_for(permit)])
    public = getattr(settings, "SAFEWORK_PUBLIC_URL", "")
    if public:
        return public.rstrip("/") + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def _qr(permit: Permit, request=None) -> segno.QRCode:
    return segno.make(verification_url(permit, request), error="m", micro=False)


def qr_svg(permit: Permit, request=None) -> str:
    """The QR code of the verification address as inline SVG (no XML declaration, no style
    attribute: allowed by the Content-Security-Policy)."""
    return _qr(permit, request).svg_inline(scale=4, border=2, title=str(_("Verify this permit")))


def qr_data_uri(permit: Permit, request=None) -> str:
    """The same QR code as a data: URI (for <img>, e.g. in the printed permit)."""
    return _qr(permit, request).svg_data_uri(scale=4, border=2)


# ---- reading -----------------------------------------------------------------------------------


def _permit_query():
    """One permit with everything its verification page shows, in a constant number of queries
    whatever the size of the crew or the route."""
    return Permit.objects.select_related(
        "work_type", "level", "site", "area", "work_unit", "contractor", "work_leader"
    ).prefetch_related(
        Prefetch(
            "crew",
            CrewAssignment.objects.filter(removed_at__isnull=True)
            .select_related("person", "role")
            .order_by("role__code", "id"),
        ),
        Prefetch(
            "signatures",
            Signature.objects.filter(action=SignatureAction.APPROVE)
            .exclude(step__status=StepStatus.VOID)
            .select_related("step")
            .order_by("at", "id"),
            to_attr="approvals",
        ),
        Prefetch(
            "measures",
            MeasureItem.objects.select_related("confirmer").order_by("order", "id"),
        ),
        Prefetch(
            "gas_tests",
            GasTest.objects.select_related("tester").order_by("-taken_at", "-id")[:1],
            to_attr="latest_gas_tests",
        ),
    )


def permit_for_token(token: str) -> Permit:
    """The permit a token names, with what its page shows; BadToken for a token we did not sign,
    UnknownPermit when the permit is gone."""
    permit_uuid = _uuid_of(token)
    try:
        return _permit_query().get(uuid=permit_uuid)
    except Permit.DoesNotExist:
        raise UnknownPermit(_("No work permit matches this verification code.")) from None


@dataclass(frozen=True)
class Verification:
    """What the public page says about a permit at one instant."""

    permit: Permit
    at: datetime
    status: str

    @property
    def status_label(self) -> str:
        return PermitStatus(self.status).label

    @property
    def verifiable(self) -> bool:
        """Approved (now or earlier): the page shows the permit's content."""
        return self.status in VERIFIABLE

    @property
    def work_allowed(self) -> bool:
        return self.status in WORK_ALLOWED

    @property
    def verdict(self) -> str:
        if not self.verifiable:
            return _("Not approved: this permit does not authorise any work.")
        if self.work_allowed:
            return _("Approved and within its validity.")
        return _("No work may be done under this permit now.")

    @property
    def crew(self) -> list[CrewAssignment]:
        return list(self.permit.crew.all())

    @property
    def approvals(self) -> list[Signature]:
        return self.permit.approvals

    @property
    def measures(self) -> list[MeasureItem]:
        return list(self.permit.measures.all())

    @property
    def gas_test(self) -> GasTest | None:
        return next(iter(self.permit.latest_gas_tests), None)


def verify(token: str, *, at: datetime) -> Verification:
    """The verification of the permit a token names, as read at `at` (VerificationError for a
    bad token or a permit that is gone)."""
    permit = permit_for_token(token)
    return Verification(permit=permit, at=at, status=permit.status_at(at))

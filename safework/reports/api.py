"""The monthly reports over the API: the file itself (xlsx or PDF), built for the reader's scope
in the request (a few seconds at most on the demo data; set-based counts); a group-wide reader
asking for a month the monthly run stored gets that stored file, the report as it was sent."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router

from safework.accounts.access import access
from safework.accounts.scope import sees_full_id_numbers
from safework.core import xlsx
from safework.core.errors import FieldError, InvalidInput
from safework.core.policy import READ
from safework.core.validation import RowId
from safework.reports import render, services
from safework.reports.permissions import COMPLIANCE_REPORT, HEALTH_REPORT
from safework.reports.queries import Month

router = Router(tags=["reports"])


def _month(text: str | None) -> Month:
    if not text:
        return Month.before(timezone.localdate())
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise InvalidInput(FieldError("month", "invalid", str(exc))) from None


def _format(text: str) -> str:
    if text not in render.FORMATS:
        raise InvalidInput(FieldError("format", "invalid_choice", _("Choose xlsx or pdf.")))
    return text


def _file(request, kind: str, month: Month, fmt: str, **extra):
    scope = request.scope
    content = None
    # The stored file was built for everyone with full ID numbers: only for readers who may
    # see all of it.
    if scope.group_wide and sees_full_id_numbers(request.user) and not extra.get("contractor_id"):
        content = services.stored(kind, month, fmt)
    if content is None:
        content, _name = services.build(
            kind, scope=scope, month=month, fmt=fmt, user=request.user, **extra
        )
    return xlsx.download(content, render.filename(kind, month, fmt), render.CONTENT_TYPES[fmt])


@router.get("/reports/certificate-health", **access(HEALTH_REPORT, READ))
def certificate_health(request, month: str | None = None, format: str = "xlsx"):
    """The certificate health report of a month (YYYY-MM, default last month) as xlsx or pdf:
    expiry rate, review timeliness, coverage, cross-site certificates, by site and contractor
    (definitions in the file and in `safework.reports.queries`)."""
    return _file(request, "health", _month(month), _format(format))


@router.get("/reports/contractor-compliance", **access(COMPLIANCE_REPORT, READ))
def contractor_compliance(
    request, month: str | None = None, format: str = "xlsx", contractor_id: RowId | None = None
):
    """The contractor compliance report of a month as xlsx or pdf: per contractor you see (a
    contractor manager: their own) staff, expiry rate, anomalies, registry spot checks,
    coverage. `contractor_id` narrows it to one; another's or an unknown one reads as none (the
    header alone), as a list filter does."""
    return _file(request, "compliance", _month(month), _format(format), contractor_id=contractor_id)

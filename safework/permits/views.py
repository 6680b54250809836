"""Thin page views: the public verification page and the printed permit."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from safework.accounts import guard
from safework.permits import printing, verification
from safework.permits.models import Permit


@require_GET
@never_cache  # the status is read when the page opens: a cached "approved" would outlive it
def verify(request, token: str):
    """Public, read-only: no login, nothing but what the printed permit shows, no ID numbers."""
    try:
        result = verification.verify(token, at=timezone.now())
    except verification.VerificationError as exc:
        return render(request, "permits/verify.html", {"error": exc.message}, status=exc.status)
    return render(request, "permits/verify.html", {"v": result})


@require_GET
@login_required
def permit_pdf(request, permit_id: int):
    permit = get_object_or_404(Permit, pk=permit_id)
    try:
        guard.require(request, "permits.read", obj=permit)
    except ImproperlyConfigured:
        # Until the permits resource is declared (permits.permissions), superusers only.
        if not request.user.is_superuser:
            raise PermissionDenied("permits.read") from None
    pdf = printing.permit_pdf(permit, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{printing.filename(permit)}"'
    return response

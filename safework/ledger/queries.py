"""Reads of import and report jobs, filtered by a visibility scope (the API, the admin and
exports filter through these; nothing else builds their visibility)."""

from django.db.models import Q, QuerySet

from safework.core.scope import Scope
from safework.ledger.models import KIND_CONTRACTOR, ImportJob, ReportJob
from safework.org.models import Site
from safework.people.models import ContractorEngagement


def imports_visible_to(scope: Scope, user=None) -> QuerySet[ImportJob]:
    """Jobs a scope sees: group-wide all; a site its jobs and those of contractors engaged there;
    a contractor manager their company's self-service uploads (not a site's ledger that names
    their company: its rows may be anyone at the site); everyone their own uploads."""
    qs = ImportJob.objects.select_related("contractor", "site", "created_by", "reviewed_by")
    if scope.group_wide:
        return qs
    q = Q(pk__in=[])
    if user is not None and user.pk:
        q |= Q(created_by=user)
    if scope.contractor_ids:
        q |= Q(kind=KIND_CONTRACTOR, contractor_id__in=scope.contractor_ids)
    if scope.site_ids:
        engaged = ContractorEngagement.objects.filter(site_id__in=scope.site_ids).values(
            "contractor_id"
        )
        q |= Q(site_id__in=scope.site_ids) | Q(kind=KIND_CONTRACTOR, contractor_id__in=engaged)
    return qs.filter(q)


def reports_visible_to(user) -> QuerySet[ReportJob]:
    """A report holds what its requester may see: nobody else reads it, whatever their scope."""
    if user is None or not user.pk:
        return ReportJob.objects.none()
    return ReportJob.objects.filter(created_by=user)


def sites_for_imports(scope: Scope) -> QuerySet[Site]:
    """The sites a scope may name for an upload or as an export filter: its own sites and, for
    a contractor manager, the sites where their company is engaged."""
    if scope.group_wide:
        return Site.objects.all()
    q = Q(pk__in=scope.site_ids)
    if scope.contractor_ids:
        q |= Q(engagements__contractor_id__in=scope.contractor_ids)
    return Site.objects.filter(q).distinct()

"""Permit pages: the ledger (AQ 3064.2 §5.11 filters) and one permit with its timeline, steps,
crew, measures, gas tests, alarms, QR code and print link. The page's actions and the approvals
inbox are `web.permit_actions`, which renders the permit page through `render_permit`."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from safework.accounts.guard import may, requires, scope_in
from safework.core import xlsx
from safework.org.queries import sites_visible_to
from safework.permits import exports, queries, verification
from safework.permits.workflow import PermitStatus
from safework.web import forms
from safework.web.views import _page
from safework.work.models import WorkLevel


def _visible(request):
    return queries.permits_visible_to(scope_in(request, "permits", "read"), request.user)


def _level_choices() -> list[tuple[str, str]]:
    """Level codes with their names (a code shared by several work types, e.g. lifting and
    height "I", is one choice: the work type filter tells them apart)."""
    names: dict[str, list[str]] = {}
    for code, name in WorkLevel.objects.order_by("-rank", "code").values_list("code", "name"):
        if name not in names.setdefault(code, []):
            names[code].append(name)
    return [(code, " / ".join(n)) for code, n in names.items()]


def _ledger_form(request) -> forms.PermitLedgerForm:
    scope = scope_in(request, "permits", "read")
    return forms.PermitLedgerForm(
        request.GET,  # bound even when empty: no question is a valid question (every permit)
        sites=sites_visible_to(scope).order_by("name"),
        levels=_level_choices(),
        auto_id="f-%s",
    )


def _ledger_rows(request, form):
    values = form.filter_values() if form.is_valid() else {}
    f = queries.LedgerFilter(**values)
    return queries.ledger(_visible(request), f, at=timezone.now())


@requires("permits.read")
def permit_list(request):
    """The ledger with the §5.11 questions; an invalid question shows its error and every
    permit of the other questions."""
    form = _ledger_form(request)
    page = _page(request, _ledger_rows(request, form))
    labels = dict(PermitStatus.choices)
    for p in page:  # the status as read now (a valid permit past its end is expired)
        p.status_label = labels.get(p.status_now, p.status_now)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/permits.html",
        {
            "page": page,
            "form": form,
            "query": query.urlencode(),
            "may_apply": may(request, "permits.apply"),
        },
    )


@requires("permits.read")
def permit_export(request):
    """The filtered ledger as a workbook, as the API's export (at most MAX_EXPORT_ROWS rows)."""
    form = _ledger_form(request)
    if not form.is_valid():
        return permit_list(request)
    rows = _ledger_rows(request, form)
    total = rows.count()
    if total > exports.MAX_EXPORT_ROWS:
        messages.error(
            request,
            _("%(n)s permits match: narrow the filters to at most %(max)s.")
            % {"n": total, "max": exports.MAX_EXPORT_ROWS},
        )
        return redirect(f"{reverse('web:permits')}?{request.GET.urlencode()}")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx.download(exports.ledger_xlsx(rows), f"permits-{stamp}.xlsx")


def render_permit(request, permit_id: int, *, extra=None, status: int = 200):
    """One permit's page; `extra(permit)` adds to its context (the actions panel)."""
    permit = get_object_or_404(
        _visible(request).select_related(
            "work_type", "level", "site", "area", "work_leader", "applicant"
        ),
        pk=permit_id,
    )
    now = timezone.now()
    approved = permit.number and permit.status not in (
        PermitStatus.DRAFT,
        PermitStatus.SUBMITTED,
        PermitStatus.IN_APPROVAL,
        PermitStatus.REJECTED,
    )
    context = {
        "permit": permit,
        "status_now": PermitStatus(permit.status_at(now)).label,
        # A draft's "edit / submit", for whoever may apply for it (permit_apply's check).
        "may_edit": permit.status == PermitStatus.DRAFT and may(request, "permits.apply", permit),
        "crew": permit.crew.select_related("person", "role").order_by("id"),
        "steps": permit.steps.prefetch_related("signatures").order_by("round", "order"),
        "measures": permit.measures.order_by("order"),
        "risks": permit.risks.order_by("order"),
        "gas_tests": permit.gas_tests.select_related("tester").order_by("-taken_at"),
        "alarms": permit.alarms.select_related("alarm_type").order_by("-raised_at"),
        "events": permit.events.order_by("-at", "-id")[:200],
        # segno's SVG: generated by us from the permit's signed URL, no user text inside.
        "qr": mark_safe(verification.qr_svg(permit, request)) if approved else "",  # noqa: S308
    }
    if extra is not None:
        context.update(extra(permit))
    return render(request, "web/permit.html", context, status=status)

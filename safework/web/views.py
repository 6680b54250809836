"""The web pages: visible (the same `…_visible_to` queries as the API) → permitted
(`accounts.guard`) → one service call → a template (or its partial, for htmx).

No business rule lives here: statuses come from `certs.queries`, decisions from the
qualification engine, imports and exports from the ledger's services; where the API already
shapes an answer for people (an import job, a verification batch, a masked reason), the page
reuses that function so both doors say the same thing.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from safework.accounts.access import shown_id_number, shown_number, shown_reason
from safework.accounts.guard import may, require, requires, scope_in
from safework.certs import queries as cert_queries
from safework.certs.models import CertificateEvent, EventKind
from safework.certs.rules import STATUS_TABLE, Status
from safework.certs.schemas import CertificateFilter
from safework.core.errors import InvalidInput
from safework.core.refusals import Refused
from safework.ledger import api as ledger_api
from safework.ledger import leases, report_jobs
from safework.ledger import queries as ledger_queries
from safework.ledger import services as ledger_services
from safework.ledger.output import job_out
from safework.ledger.workflow import LIVE, JobStatus
from safework.people import queries as people_queries
from safework.people.schemas import PersonFilter
from safework.qualification import engine as qualification
from safework.qualification.requirements import INTERNAL
from safework.registry import queries as registry_queries
from safework.registry import verification
from safework.registry.output import batch_out, lookup_out
from safework.rosters import api as roster_api
from safework.rosters import queries as roster_queries
from safework.rosters import services as roster_services
from safework.web import forms
from safework.work.models import CrewRole

PAGE_SIZE = 25


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _partial(request, template: str, partial_name: str) -> str:
    """The whole page, or only its partial when htmx asks for it."""
    return f"{template}#{partial_name}" if request.htmx else template


def _errors(form, exc: InvalidInput) -> None:
    """A service's field errors onto the form (unknown fields as form-wide errors)."""
    for e in exc.errors:
        field = e.field.rpartition(".")[2]  # "attrs.height_m" → "height_m"
        field = field if field in form.fields else None
        form.add_error(field, ValidationError(str(e.message), code=e.code))


# --- login -------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login view: `authenticate(request=…)`, so django-axes counts and locks."""

    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


# --- home --------------------------------------------------------------------------------------


def _attention_certificates(scope, on, colour: str):
    """Certificates in the scope of a colour on `on`: yellow ones soonest to turn red first,
    red ones most recently turned first."""
    qs = cert_queries.with_status(
        cert_queries.certificates_visible_to(scope).select_related("person", "item"), on=on
    )
    order = "days_left" if colour == "yellow" else "-days_left"
    return qs.filter(colour=colour).order_by(order, "person__name", "pk")


@login_required
def home(request):
    user = request.user
    on = timezone.localdate()
    context = {"on": on, "sections": []}
    cert_scope = scope_in(request, "certificates", "read")
    if cert_scope is not None:
        counts_qs = cert_queries.with_status(
            cert_queries.certificates_visible_to(cert_scope), on=on
        ).order_by()
        counts = {
            row["colour"]: row["n"] for row in counts_qs.values("colour").annotate(n=Count("pk"))
        }
        context["colour_counts"] = [
            {"colour": c, "label": str(label), "count": counts.get(c, 0)}
            for c, label in (("red", _("red")), ("yellow", _("yellow")), ("green", _("green")))
        ]
        context["turning_yellow"] = [
            _cert_row(user, c) for c in _attention_certificates(cert_scope, on, "yellow")[:8]
        ]
        context["turning_red"] = [
            _cert_row(user, c) for c in _attention_certificates(cert_scope, on, "red")[:8]
        ]
    if may(request, "certificates.write"):
        leases.expire_stale_imports()
        pending = ledger_queries.imports_visible_to(
            scope_in(request, "certificates", "write"), user
        ).filter(status=JobStatus.PENDING_REVIEW)
        context["pending_reviews"] = list(pending.order_by("created_at", "pk")[:10])
    roster_scope = scope_in(request, "roster", "read")
    if roster_scope is not None:
        rosters = roster_queries.rosters_visible_to(roster_scope, user).select_related("author")
        context["roster_problems"] = [
            {"roster": r, "problems": len(roster_services.roster_problems(r))}
            for r in rosters.order_by("-created_at", "-pk")[:5]
        ]
    return render(request, "web/home.html", context)


# --- people ------------------------------------------------------------------------------------


def _person_row(user, person) -> dict:
    emp = person.current_employment
    return {
        "person": person,
        "id_number": shown_id_number(user, person.id_number),
        "employer": (emp.contractor.name if emp and emp.contractor_id else None)
        or (emp.department.name if emp and emp.department_id else ""),
    }


@requires("people.read")
def person_list(request):
    form = forms.PersonSearchForm(request.GET or None, scope=request.scope)
    qs = people_queries.persons_visible_to(request.scope).select_related(
        "current_employment__contractor", "current_employment__department"
    )
    if form.is_valid():
        qs = PersonFilter(**form.filter_values()).filter(qs)
    page = _page(request, qs.order_by("name", "pk"))
    rows = [_person_row(request.user, p) for p in page]
    template = _partial(request, "web/persons.html", "results")
    return render(request, template, {"form": form, "page": page, "rows": rows})


def _cert_row(user, cert, status=None) -> dict:
    """A certificate for a table: masked number, status code, label, colour, days left and the
    reason with its clause (the clause only where the status was read with `statuses_of`)."""
    code = status.status if status is not None else cert.status
    reason = status.reason() if status is not None else None
    return {
        "cert": cert,
        "number": shown_number(user, cert.number, cert.person.id_number),
        "status": code,
        "status_label": Status(code).label,
        "colour": status.colour if status is not None else cert.colour,
        "days_left": status.days_left if status is not None else cert.days_left,
        "reason": reason.message if reason else STATUS_TABLE[code].message,
        "clause": reason.clause if reason else "",
    }


@requires("people.read")
def person_detail(request, person_id: int):
    person = get_object_or_404(
        people_queries.persons_visible_to(request.scope).select_related(
            "current_employment__contractor", "current_employment__department", "position"
        ),
        pk=person_id,
    )
    user = request.user
    on = timezone.localdate()
    context = {"row": _person_row(user, person), "person": person, "on": on}
    cert_scope = scope_in(request, "certificates", "read")
    if cert_scope is not None:
        certs = list(
            cert_queries.certificates_visible_to(cert_scope)
            .filter(person=person)
            .select_related("person", "scheme", "item")
            .order_by("scheme__code", "item__code", "-issued_on", "pk")
        )
        statuses = cert_queries.statuses_of(certs, on=on)
        rows = [_cert_row(user, c, statuses[c.pk]) for c in certs]
        # Internal qualifications (plant training, entry briefings) are the person's training.
        context["certificates"] = [r for r in rows if r["cert"].scheme.code != INTERNAL]
        context["training"] = [r for r in rows if r["cert"].scheme.code == INTERNAL]
        context["reviews"] = list(
            CertificateEvent.objects.filter(certificate__in=certs, kind=EventKind.REVIEW)
            .select_related("certificate__item")
            .order_by("-on", "-pk")
        )
    health_scope = scope_in(request, "health", "read")
    if health_scope is not None:
        context["health_checks"] = list(
            people_queries.health_checks_visible_to(health_scope)
            .filter(person=person)
            .order_by("-checked_on", "-pk")
        )
    context["employments"] = list(
        people_queries.employments_visible_to(request.scope)
        .filter(person=person)
        .order_by("-started_on", "-pk")
    )
    return render(request, "web/person.html", context)


# --- certificates ------------------------------------------------------------------------------


@requires("certificates.read")
def certificate_list(request):
    form = forms.CertificateSearchForm(request.GET or None)
    on = timezone.localdate()
    qs = cert_queries.certificates_visible_to(request.scope).select_related(
        "person", "scheme", "item"
    )
    values = form.filter_values() if form.is_valid() else {}
    on = values.pop("on", None) or on
    qs = CertificateFilter(**values).filter(cert_queries.with_status(qs, on=on))
    page = _page(
        request, qs.order_by("person__name", "person_id", "item__code", "-issued_on", "pk")
    )
    rows = [_cert_row(request.user, c) for c in page]
    template = _partial(request, "web/certificates.html", "results")
    return render(request, template, {"form": form, "page": page, "rows": rows, "on": on})


@require_POST
@requires("certificates.read")
def certificate_export(request):
    """The certificates export as a report job (the ledger's export service), then its page."""
    form = forms.CertificateSearchForm(request.POST)
    values = form.filter_values() if form.is_valid() else {}
    params = {"on": (values.get("on") or timezone.localdate()).isoformat()}
    if values.get("scheme"):
        params["scheme"] = values["scheme"]
    job = report_jobs.start_report(by=request.user, kind="certificates", params=params)
    return redirect("web:report", job_id=job.pk)


@requires("certificates.read")
def report_detail(request, job_id: int):
    job = report_jobs.visible_report(request.user, job_id)
    context = {"job": job, "polling": job.status in LIVE}
    return render(request, _partial(request, "web/report.html", "progress"), context)


@requires("certificates.read")
def report_file(request, job_id: int):
    try:
        return ledger_api.report_file(request, job_id)
    except Refused:
        return redirect("web:report", job_id=job_id)


# --- qualification check -----------------------------------------------------------------------


@requires("certificates.read")
def qualification_check(request):
    form = forms.QualificationForm(request.POST or None, scope=request.scope)
    result = None
    if request.method == "POST" and form.is_valid():
        members, persons = form.crew()
        try:
            answer = qualification.assess_crew(
                members,
                form.cleaned_data["work_type"].code,
                form.cleaned_data["level"] or None,
                form.cleaned_data["site"],
                form.cleaned_data["at"],
                form.attrs(),
                field_prefix="crew",
            )
        except InvalidInput as exc:
            _errors(form, exc)
        else:
            user = request.user
            role_names = dict(CrewRole.objects.values_list("code", "name"))
            result = {
                "allowed": answer.decision.allowed,
                "on": answer.on,
                "reasons": [shown_reason(r, persons, user) for r in answer.decision.reasons],
                "members": [
                    {
                        "name": persons[m.person_id].name,
                        "id_number": shown_id_number(user, persons[m.person_id].id_number),
                        "role": role_names.get(str(m.role), m.role),
                        "allowed": m.decision.allowed,
                        "reasons": [shown_reason(r, persons, user) for r in m.decision.reasons],
                    }
                    for m in answer.members
                ],
            }
    template = _partial(request, "web/qualification.html", "result")
    return render(request, template, {"form": form, "result": result})


# --- ledger import -----------------------------------------------------------------------------


@requires("certificates.read")
def import_list(request):
    leases.expire_stale_imports()
    form = None
    if may(request, "certificates.write"):
        write_scope = scope_in(request, "certificates", "write")
        form = forms.ImportForm(request.POST or None, request.FILES or None, scope=write_scope)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = ledger_services.start_import(
                    by=request.user,
                    file_obj=upload,
                    original_name=upload.name,
                    valid_rows_only=form.cleaned_data["valid_rows_only"],
                    site=form.cleaned_data.get("site"),
                )
            except InvalidInput as exc:
                _errors(form, exc)
            else:
                return redirect("web:import", job_id=job.pk)
    jobs = ledger_queries.imports_visible_to(request.scope, request.user).order_by(
        "-created_at", "-pk"
    )
    page = _page(request, jobs)
    return render(request, "web/imports.html", {"form": form, "page": page})


@requires("certificates.read")
def import_detail(request, job_id: int):
    job = leases.visible_import(request.scope, request.user, job_id)
    out = job_out(job, request.user)
    context = {
        "job": job,
        "out": out,
        "polling": job.status in LIVE,
        # The review buttons only for whom the service would let review (its own reasons).
        "may_review": may(request, "certificates.write")
        and not ledger_services.review_reasons(job, request.user),
    }
    return render(request, _partial(request, "web/import.html", "progress"), context)


@requires("certificates.read")
def import_errors(request, job_id: int):
    fmt = "csv" if request.GET.get("format") == "csv" else "xlsx"
    return ledger_api.import_errors(request, job_id, format=fmt)


@require_POST
@requires("certificates.write")
def import_review(request, job_id: int, decision: str):
    job = leases.visible_import(request.scope, request.user, job_id)
    try:
        if decision == "approve":
            ledger_services.approve_import(job_id=job.pk, by=request.user)
        else:
            reason = request.POST.get("reason", "")[:2000]
            ledger_services.reject_import(job_id=job.pk, by=request.user, reason=reason)
    except Refused as exc:
        for r in exc.reasons:
            messages.error(request, f"{r.message} ({r.clause})" if r.clause else r.message)
    return redirect("web:import", job_id=job.pk)


# --- contractor portal -------------------------------------------------------------------------


@requires("people.read")
def contractor_portal(request):
    """A contractor manager's own staff and own uploads; an upload waits for review."""
    if not people_queries.is_contractor_only(request.scope):
        raise Http404
    user = request.user
    on = timezone.localdate()
    staff = people_queries.persons_visible_to(request.scope).select_related(
        "current_employment__contractor", "current_employment__department"
    )
    cert_scope = scope_in(request, "certificates", "read")
    counts = {}
    if cert_scope is not None:
        rows = (
            cert_queries.with_status(cert_queries.certificates_visible_to(cert_scope), on=on)
            .order_by()
            .values("person_id", "colour")
            .annotate(n=Count("pk"))
        )
        for row in rows:
            counts.setdefault(row["person_id"], {})[row["colour"]] = row["n"]
    page = _page(request, staff.order_by("name", "pk"))
    people = [_person_row(user, p) | {"counts": counts.get(p.pk, {})} for p in page]
    write_scope = scope_in(request, "certificates", "write")
    form = forms.ImportForm(scope=write_scope) if write_scope is not None else None
    jobs = ledger_queries.imports_visible_to(request.scope, user).order_by("-created_at", "-pk")
    context = {"page": page, "people": people, "form": form, "jobs": list(jobs[:10])}
    return render(request, "web/contractor.html", context)


# --- rosters -----------------------------------------------------------------------------------


@requires("roster.read")
def roster_list(request):
    form = None
    if may(request, "roster.write"):
        form = forms.RosterForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            scope = require(request, "roster.write")
            upload = form.cleaned_data["file"]
            try:
                rows = roster_services.read_roster_file(upload.read(), upload.name)
                entries = roster_services.validate_rows(
                    rows,
                    persons=people_queries.persons_visible_to(scope),
                    site=form.cleaned_data.get("site"),
                    prefix="rows",
                    shown_id_number=partial(shown_id_number, request.user),
                )
                stored = roster_services.create_roster(
                    name=form.cleaned_data["name"] or upload.name,
                    author=request.user,
                    site=form.cleaned_data.get("site"),
                    entries=entries,
                )
            except InvalidInput as exc:
                form.row_errors = [e.as_dict() for e in exc.errors]
            else:
                return redirect("web:roster", roster_id=stored.pk)
    scope = scope_in(request, "roster", "read")
    rosters = roster_queries.rosters_visible_to(scope, request.user).select_related("author")
    page = _page(
        request, rosters.annotate(n_entries=Count("entries")).order_by("-created_at", "-pk")
    )
    return render(request, "web/rosters.html", {"form": form, "page": page})


@requires("roster.read")
def roster_detail(request, roster_id: int):
    roster = get_object_or_404(
        roster_queries.rosters_visible_to(request.scope, request.user).select_related("author"),
        pk=roster_id,
    )
    user = request.user
    problems = []
    for p in roster_services.roster_problems(roster):
        e = p.entry
        persons = {e.person_id: e.person}
        problems.append(
            {
                "entry": e,
                "id_number": shown_id_number(user, e.person.id_number),
                "reasons": [shown_reason(r, persons, user) for r in p.decision.reasons],
            }
        )
    context = {"roster": roster, "problems": problems, "checked": roster.entries.count()}
    return render(request, "web/roster.html", context)


# --- registry verification batches -------------------------------------------------------------


@requires("certificates.read")
def verification_list(request):
    verification.expire_stale_batches()
    form = None
    if may(request, "certificates.write"):
        form = forms.VerificationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            scope = require(request, "certificates.write")
            try:
                batch = verification.start_verification(
                    by=request.user,
                    certificate_ids=None,
                    pasted=form.cleaned_data["pasted"],
                    scope=scope,
                )
            except InvalidInput as exc:
                _errors(form, exc)
            except Refused as exc:
                for r in exc.reasons:
                    form.add_error(None, r.message)
            else:
                return redirect("web:verification", batch_id=batch.pk)
    scope = scope_in(request, "certificates", "read")
    batches = registry_queries.batches_visible_to(scope, request.user).select_related("created_by")
    page = _page(request, batches.order_by("-created_at", "-pk"))
    rows = [batch_out(b, request.scope) for b in page]
    return render(request, "web/verifications.html", {"form": form, "page": page, "rows": rows})


@requires("certificates.read")
def verification_detail(request, batch_id: int):
    batch = verification.visible_batch(request.scope, request.user, batch_id)
    out = batch_out(batch, request.scope)
    lookups = (
        registry_queries.lookups_visible_to(request.scope)
        .filter(batch=batch)
        .select_related("certificate__person", "certificate__scheme", "certificate__item")
        .order_by("pk")
    )
    page = _page(request, lookups)
    rows = [lookup_out(lk, request.user) for lk in page]
    context = {
        "batch": batch,
        "out": out,
        "page": page,
        "rows": rows,
        "polling": batch.status in LIVE,
    }
    return render(request, _partial(request, "web/verification.html", "progress"), context)


@requires("certificates.read")
def import_template(request):
    return ledger_api.import_template(request)


@requires("roster.read")
def roster_template(request):
    return roster_api.roster_template(request)

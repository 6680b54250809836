"""Imports, the template, exports and the coverage report over the API (resource CERTIFICATES).

An upload answers 202 with the job; its progress, counts and findings are read from the job, the
findings also as a file. A contractor manager's upload waits for a site safety officer's
approve/reject. The certificate export and the coverage report are jobs too (202, then poll
`/report-jobs/{id}` and download its file), built in the background for the requesting user.
"""

from __future__ import annotations

import datetime as dt

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from safework.accounts.access import READ, WRITE, access
from safework.accounts.matrix import CERTIFICATES
from safework.accounts.scope import sees_full_id_numbers
from safework.core import xlsx
from safework.core.errors import FieldError, InvalidInput
from safework.core.pagination import Page, PageParams, paginate
from safework.core.refusals import Reason, Refused
from safework.core.validation import RowId, visible_ref
from safework.ledger import errorfile, leases, queries, report_jobs, services, template
from safework.ledger.models import JobStatus, ReportJob
from safework.ledger.output import findings_shown, job_out
from safework.org.queries import departments_visible_to
from safework.people.queries import contractors_visible_to
from safework.people.services import route_registrations_for_review

router = Router(tags=["imports"])

# A contractor manager's POST /persons becomes a self-service upload awaiting review (issue 17).
route_registrations_for_review(services.submit_registration)


class ErrorSummary(Schema):
    errors: int = Field(description="findings that stop a row")
    notes: int = Field(description="findings that do not (a converted ID number, a mapped code)")
    by_code: dict[str, int]
    first: list[dict] = Field(description="the first findings: row, column, cell, value, code…")
    omitted: int = Field(0, description="findings not kept with the job (in the error file only)")


class ImportJobOut(Schema):
    id: int
    kind: str = Field(description="ledger, or contractor (self-service: reviewed before writing)")
    status: str
    status_label: str
    original_name: str
    valid_rows_only: bool
    site_id: int | None
    contractor_id: int | None
    total_rows: int
    processed_rows: int
    progress: float = Field(description="processed / total rows, 0 to 1")
    error_rows: int
    created_count: int
    updated_count: int
    unchanged_count: int
    message: str
    error_summary: ErrorSummary
    created_by: str | None
    reviewed_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    reviewed_at: dt.datetime | None


class JobFilters(Schema):
    status: str | None = None
    kind: str | None = None
    contractor_id: RowId | None = None
    site_id: RowId | None = None


class RejectIn(Schema):
    reason: str = Field("", max_length=2000)


class ExportQuery(Schema):
    on: dt.date | None = Field(None, description="status on this date (default today)")
    scheme: str | None = Field(None, description="scheme code, e.g. special_operation")
    contractor_id: int | None = None
    site_id: int | None = None
    department_id: int | None = None


class CoverageQuery(Schema):
    on: dt.date | None = Field(None, description="coverage on this date (default today)")
    site_id: int | None = None
    department_id: int | None = None
    contractor_id: int | None = None


def _site(scope, site_id, field="site_id"):
    """A site the caller holds; for a contractor manager, a site where their company works."""
    return visible_ref(queries.sites_for_imports(scope), site_id, field)


def _checked_filters(scope, *, site_id=None, contractor_id=None, department_id=None):
    """Filters name objects the caller sees; another's reads like an unknown one (422)."""
    if site_id is not None:
        _site(scope, site_id)
    if contractor_id is not None:
        visible_ref(contractors_visible_to(scope), contractor_id, "contractor_id")
    if department_id is not None:
        visible_ref(departments_visible_to(scope), department_id, "department_id")


@router.get("/imports/template", **access(CERTIFICATES, READ))
def import_template(request):
    """The xlsx template: canonical headers, text columns, a dropdown of the items."""
    return xlsx.download(template.template_bytes(), "safework-import-template.xlsx")


@router.post("/imports", response={202: ImportJobOut}, **access(CERTIFICATES, WRITE))
def upload_ledger(
    request,
    file: File[UploadedFile],
    valid_rows_only: Form[bool] = False,
    site_id: Form[int | None] = None,
    contractor_id: Form[int | None] = None,
):
    """Upload a ledger (.xlsx or .csv): 202 with the job; it runs in the background."""
    scope = request.scope
    site = _site(scope, site_id) if site_id is not None else None
    contractor = (
        visible_ref(contractors_visible_to(scope), contractor_id, "contractor_id")
        if contractor_id is not None
        else None
    )
    job = services.start_import(
        by=request.user,
        file_obj=file,
        original_name=file.name,
        valid_rows_only=valid_rows_only,
        contractor=contractor,
        site=site,
    )
    return Status(202, job_out(job, request.user))


@router.get("/imports", response=Page[ImportJobOut], **access(CERTIFICATES, READ))
def list_imports(request, filters: Query[JobFilters], page: Query[PageParams]):
    leases.expire_stale_imports()  # a job whose worker died ends when it is read
    qs = queries.imports_visible_to(request.scope, request.user)
    for name in ("status", "kind", "contractor_id", "site_id"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    return paginate(
        qs.order_by("-created_at", "-pk"), page, transform=lambda job: job_out(job, request.user)
    )


@router.get("/imports/{int:job_id}", response=ImportJobOut, **access(CERTIFICATES, READ))
def get_import(request, job_id: int):
    """Status, progress, counts and a summary of the findings."""
    return job_out(leases.visible_import(request.scope, request.user, job_id), request.user)


@router.get("/imports/{int:job_id}/errors", **access(CERTIFICATES, READ))
def import_errors(request, job_id: int, format: str = "xlsx"):
    """Every finding (row, column, cell, value, code, message) as xlsx (default) or csv."""
    job = leases.visible_import(request.scope, request.user, job_id)
    stem = f"import-{job.pk}-errors"
    findings = findings_shown(request.user, job)
    if format == "csv":
        return xlsx.download(
            errorfile.csv_bytes(findings), f"{stem}.csv", "text/csv; charset=utf-8"
        )
    if format != "xlsx":
        raise InvalidInput(FieldError("format", "invalid_choice", _("Choose xlsx or csv.")))
    stored_ok = sees_full_id_numbers(request.user) and services.sees_review_findings(request.user)
    if job.error_file and stored_ok:  # the stored file is unmasked and holds every finding
        with job.error_file.open("rb") as f:
            return xlsx.download(f.read(), f"{stem}.xlsx")
    return xlsx.download(errorfile.xlsx_bytes(findings), f"{stem}.xlsx")


@router.post(
    "/imports/{int:job_id}/approve",
    response={200: ImportJobOut},
    **access(CERTIFICATES, WRITE),
)
def approve_import(request, job_id: int):
    """A site safety officer approves a contractor's upload: it is checked again and written."""
    job = leases.visible_import(request.scope, request.user, job_id)
    return job_out(services.approve_import(job_id=job.pk, by=request.user), request.user)


@router.post(
    "/imports/{int:job_id}/reject", response={200: ImportJobOut}, **access(CERTIFICATES, WRITE)
)
def reject_import(request, job_id: int, body: RejectIn):
    job = leases.visible_import(request.scope, request.user, job_id)
    job = services.reject_import(job_id=job.pk, by=request.user, reason=body.reason)
    return job_out(job, request.user)


class ReportJobOut(Schema):
    id: int
    kind: str = Field(description="certificates (the export) or coverage (the report)")
    status: str = Field(description="queued, running, succeeded or failed")
    status_label: str
    params: dict = Field(description="what was asked: on, and the filters")
    total: int = Field(description="rows to write (certificates; persons for coverage)")
    done: int
    progress: float = Field(description="done / total, 0 to 1")
    message: str = Field(description="why the job failed or was queued again, if it was")
    file_url: str | None = Field(description="where to download the file once succeeded")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


def report_out(job: ReportJob) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "params": job.params,
        "total": job.total,
        "done": job.done,
        "progress": job.progress,
        "message": job.message,
        "file_url": f"/api/v1/report-jobs/{job.pk}/file" if job.file else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _params(query: Schema) -> dict:
    params = query.dict()
    params["on"] = (query.on or timezone.localdate()).isoformat()
    return {k: v for k, v in params.items() if v not in (None, "")}


@router.post("/exports/certificates", response={202: ReportJobOut}, **access(CERTIFICATES, READ))
def export_certificates(request, query: ExportQuery):
    """Ask for the certificates you may see, with their status on a date, as xlsx: 202 with a
    job; poll `/report-jobs/{id}` for its progress and download its `file_url` when it has
    succeeded. (Until issue 17 this was a GET answering the file itself.)"""
    _checked_filters(
        request.scope,
        site_id=query.site_id,
        contractor_id=query.contractor_id,
        department_id=query.department_id,
    )
    job = report_jobs.start_report(by=request.user, kind="certificates", params=_params(query))
    return Status(202, report_out(job))


@router.post("/reports/coverage", response={202: ReportJobOut}, **access(CERTIFICATES, READ))
def coverage(request, query: CoverageQuery):
    """Ask for the coverage report (CERT-10: who needs which certificate by position matrix and
    requirements, and who holds a usable one, per site, department and contractor) as xlsx:
    202 with a job, as for the export."""
    _checked_filters(
        request.scope,
        site_id=query.site_id,
        contractor_id=query.contractor_id,
        department_id=query.department_id,
    )
    job = report_jobs.start_report(by=request.user, kind="coverage", params=_params(query))
    return Status(202, report_out(job))


@router.get("/report-jobs", response=Page[ReportJobOut], **access(CERTIFICATES, READ))
def list_reports(request, page: Query[PageParams]):
    """Your exports and reports, newest first."""
    report_jobs.expire_stale_reports()
    qs = queries.reports_visible_to(request.user).order_by("-created_at", "-pk")
    return paginate(qs, page, transform=report_out)


@router.get("/report-jobs/{int:job_id}", response=ReportJobOut, **access(CERTIFICATES, READ))
def get_report(request, job_id: int):
    """Status and progress of one of your exports or reports."""
    return report_out(report_jobs.visible_report(request.user, job_id))


@router.get("/report-jobs/{int:job_id}/file", **access(CERTIFICATES, READ))
def report_file(request, job_id: int):
    """The finished file (xlsx); 409 while the job has not succeeded."""
    job = report_jobs.visible_report(request.user, job_id)
    if job.status != JobStatus.SUCCEEDED or not job.file:
        raise Refused(
            [
                Reason(
                    "report.not_ready",
                    _("The file is not ready: the job is %(status)s.")
                    % {"status": job.get_status_display()},
                    subject=str(job.pk),
                )
            ]
        )
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename)

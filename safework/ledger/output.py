"""Import jobs shaped for people: status, progress, counts and a summary of the findings, with
ID numbers masked for whoever may not see them. The API and the pages show the same dict."""

from __future__ import annotations

from safework.accounts.access import shown_text
from safework.ledger import errorfile, services
from safework.ledger.models import ImportJob


def findings_shown(user, job: ImportJob) -> list[dict]:
    """The job's findings; their cells and messages quote the file (ID numbers, certificate
    numbers often equal to them), so ID numbers are masked for users who may not see them."""
    return shown_text(user, services.findings_for(user, job.errors or []))


def job_out(job: ImportJob, user) -> dict:
    """An import job as output (`ImportJobOut`), its findings summarised and masked."""
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "original_name": job.original_name,
        "valid_rows_only": job.valid_rows_only,
        "site_id": job.site_id,
        "contractor_id": job.contractor_id,
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "progress": job.progress,
        "error_rows": job.error_rows,
        "created_count": job.created_count,
        "updated_count": job.updated_count,
        "unchanged_count": job.unchanged_count,
        "message": shown_text(user, job.message),
        "error_summary": errorfile.summary(findings_shown(user, job)),
        "created_by": job.created_by.get_username() if job.created_by else None,
        "reviewed_by": job.reviewed_by.get_username() if job.reviewed_by else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "reviewed_at": job.reviewed_at,
    }

"""Ledger imports as jobs: upload, check, write (or wait for review), approve, reject.

`start_import` stores the file and queues the job; `run_import` (the huey task's body) reads,
checks and writes in one transaction of its own. All-or-nothing by default: any row error fails
the job and nothing is written; `valid_rows_only` writes the rows without errors. Re-importing a
file changes nothing. A contractor manager's upload is checked and then waits in
`pending_review` until a safety officer of a site where the contractor is engaged approves it;
approval checks the file again against the database as it is then and writes it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import uuid
from pathlib import PurePosixPath

from django.core.files.base import ContentFile, File
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.accounts.matrix import CERTIFICATES, WRITE
from safework.accounts.scope import scope_for
from safework.certs.signals import certificates_approved
from safework.core import audit, jobs
from safework.core.errors import FieldError, InvalidInput
from safework.core.jobs import heartbeat, queue_lease
from safework.core.refusals import Reason, Refused
from safework.core.scope import Scope
from safework.core.tabular import FileProblem, Table, check_upload, clip, iter_tables
from safework.core.validation import visible_ref
from safework.ledger import errorfile, leases
from safework.ledger.check import Context, LedgerCheck
from safework.ledger.columns import HeaderError, HeaderMap, detect_header
from safework.ledger.models import KIND_CONTRACTOR, KIND_LEDGER, ImportJob, JobStatus
from safework.ledger.plan import REVIEW, Issue, Plan
from safework.ledger.write import Counts, write_plan
from safework.org.models import Site
from safework.people.models import (
    Contractor,
    ContractorEngagement,
    EmployerKind,
    EngagementStatus,
)
from safework.people.queries import (  # noqa: F401  is_contractor_only re-exported
    contractors_visible_to,
    is_contractor_only,
    persons_visible_to,
)
from safework.people.services import checked_id_number

log = logging.getLogger(__name__)

PROGRESS_STEP = 2000


def uploader_scope(user) -> Scope:
    """The scope in which `user` may write certificates; the command line (None) sees all."""
    if user is None:
        return Scope.everything()
    scope = scope_for(user, CERTIFICATES, WRITE)
    return scope if scope is not None else Scope.nothing()


def sees_review_findings(user) -> bool:
    """Findings for the reviewer (plan.REVIEW) are not for a contractor manager's eyes: they say
    that someone outside the contractor's staff holds a number (issue 17)."""
    return user is None or not is_contractor_only(uploader_scope(user))


def findings_for(user, issues: list[dict]) -> list[dict]:
    if sees_review_findings(user):
        return issues
    return [i for i in issues if i.get("level") != REVIEW]


def job_after(job: ImportJob) -> dict:
    """The job's audited state (explicit: the file fields are names, not files)."""
    return {
        "kind": job.kind,
        "status": job.status,
        "file": job.file.name or "",
        "original_name": job.original_name,
        "file_sha256": job.file_sha256,
        "valid_rows_only": job.valid_rows_only,
        "site_id": job.site_id,
        "contractor_id": job.contractor_id,
        "created_by_id": job.created_by_id,
        "reviewed_by_id": job.reviewed_by_id,
        "message": job.message,
    }


# ---- start -----------------------------------------------------------------------------------


def start_import(
    *,
    by,
    file_obj,
    original_name: str,
    valid_rows_only: bool = False,
    contractor: Contractor | None = None,
    site: Site | None = None,
    enqueue: bool = True,
) -> ImportJob:
    """Store the file, create the job (queued) and queue its task after commit.

    The cheap checks (extension, size, empty, password-protected or not a workbook) answer at
    once as InvalidInput on the field "file"; everything else is the job's result. A contractor
    manager's upload becomes a self-service job for their own company. With `enqueue=False` the
    caller runs `run_import(job.pk)` itself (the command line, with its progress bar).
    """
    original_name = PurePosixPath(original_name or "upload").name[:300]
    size = getattr(file_obj, "size", None)
    file_obj.seek(0)
    head = file_obj.read(8)
    file_obj.seek(0)
    if size is None:
        file_obj.seek(0, 2)
        size = file_obj.tell()
        file_obj.seek(0)
    try:
        ext = check_upload(original_name, size, head)
    except FileProblem as p:
        raise InvalidInput(FieldError("file", p.code, p.message))
    scope = uploader_scope(by)
    kind = KIND_LEDGER
    if by is not None and is_contractor_only(scope):
        kind = KIND_CONTRACTOR
        if contractor is not None and contractor.pk not in scope.contractor_ids:
            raise InvalidInput(
                FieldError(
                    "contractor_id",
                    "contractor.not_own",
                    _("You may upload only for your company."),
                )
            )
        if contractor is None and len(scope.contractor_ids) > 1:
            # A manager of several contractors names the one the upload is for.
            raise InvalidInput(
                FieldError(
                    "contractor_id",
                    "required",
                    _("You manage several companies: choose the one you upload for."),
                )
            )
        if contractor is None:
            contractor = Contractor.objects.get(pk=next(iter(scope.contractor_ids)))
    if site is None and len(scope.site_ids) == 1 and not scope.group_wide:
        site = Site.objects.get(pk=next(iter(scope.site_ids)))
    digest = hashlib.sha256()
    for chunk in iter(lambda: file_obj.read(1 << 20), b""):
        digest.update(chunk)
    file_obj.seek(0)
    with transaction.atomic():
        job = ImportJob(
            kind=kind,
            original_name=original_name,
            file_sha256=digest.hexdigest(),
            valid_rows_only=valid_rows_only,
            site=site,
            contractor=contractor,
            created_by=by if by is not None and by.pk else None,
            lease_until=queue_lease(),
        )
        job.file.save(f"{uuid.uuid4().hex}{ext}", File(file_obj), save=False)
        job.save()
        audit.record(action="certs.import_uploaded", target=job, actor=by, after=job_after(job))
        if enqueue:
            jobs.enqueue(job)
    return job


def submit_registration(
    *,
    by,
    scope: Scope,
    id_number: str,
    name: str,
    former_names: list[str] | None = None,
    phone: str = "",
    education: str = "",
    position_id: int | None = None,
    employment=None,
) -> dict | None:
    """A contractor manager's registration of a person (POST /persons) as a self-service upload
    of one row, waiting for the site's safety officer like their ledgers do; None for anyone
    else (they register at once).

    The answer is the same whether the number is new or held by someone outside the
    contractor's staff (the check holds such a row for the reviewer, who alone reads why).
    Input errors that reveal nothing about others are still a 422 at once. Education and
    position are not carried (the officer completes them); the employment starts on approval.
    """
    if not is_contractor_only(scope):
        return None
    errors: list[FieldError] = []
    number = None
    try:
        number, _birth, _gender = checked_id_number(id_number)
    except InvalidInput as exc:
        errors += exc.errors
    name = (name or "").strip()
    if not name:
        errors.append(FieldError("name", "required", _("The name is required.")))
    if employment is not None:
        if employment.employer_kind != EmployerKind.CONTRACTOR:
            errors.append(
                FieldError(
                    "employment.employer_kind",
                    "invalid",
                    _("A contractor registers only its own staff."),
                )
            )
        try:
            visible_ref(
                contractors_visible_to(scope), employment.contractor_id, "employment.contractor_id"
            )
        except InvalidInput as exc:
            errors += exc.errors
    if number and persons_visible_to(scope).filter(id_number=number).exists():
        errors.append(  # their own staff: nothing they do not already see
            FieldError(
                "id_number",
                "duplicate",
                _(
                    "A person with this ID number is already registered; change their "
                    "employment instead of registering them again."
                ),
            )
        )
    if errors:
        raise InvalidInput(errors)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "身份证号码", "曾用名", "电话"])
    writer.writerow([name, number, "、".join(former_names or []), phone or ""])
    data = out.getvalue().encode("utf-8")
    job = start_import(
        by=by,
        file_obj=ContentFile(data, name="registration.csv"),
        original_name="registration.csv",
        # Checked above to be one of the manager's own contractors.
        contractor=(
            Contractor.objects.get(pk=employment.contractor_id)
            if employment is not None and employment.contractor_id
            else None
        ),
    )
    return {
        "status": JobStatus.PENDING_REVIEW.value,
        "message": _(
            "Submitted: the site's safety officer reviews the registration before it takes effect."
        ),
        "import_id": job.pk,
    }


# ---- run -------------------------------------------------------------------------------------


def _progress(job_id: int):
    def update(done: int, total: int):
        ImportJob.objects.filter(pk=job_id).update(processed_rows=done, total_rows=total)

    return update


def pick_table(tables) -> tuple[Table, HeaderMap]:
    """The first sheet with a header row (a cover or notes sheet before it is skipped; the
    sheets after it are not read)."""
    first_error = None
    for table in tables:
        try:
            return table, detect_header(table.rows)
        except HeaderError as exc:
            first_error = first_error or exc
    raise first_error


def check_file(job: ImportJob, *, progress=None) -> Plan:
    """Read and check the job's file against the database as it is now (raises FileProblem or
    HeaderError for a file that is not a ledger)."""
    with job.file.open("rb") as f:
        data = f.read()
    table, hmap = pick_table(iter_tables(data, job.original_name))
    ctx = Context(
        scope=uploader_scope(job.created_by),
        today=timezone.localdate(),
        contractor=job.contractor,
        self_service=job.kind == KIND_CONTRACTOR,
    )
    plan = LedgerCheck(table, hmap, ctx).run(progress=progress)
    plan.ignored_headers = hmap.ignored
    return plan


def run_import(job_id: int, *, progress=None) -> ImportJob:
    """The job's work: claim it, check the file, then fail, wait for review, or write.

    Safe to run twice: only a queued job is claimed. The claim takes a lease that a heartbeat
    renews while the job runs (a worker killed meanwhile is detected by `leases`); any exception
    ends the job failed with a reason, never left running.
    """
    claimed = jobs.claim(ImportJob, job_id)
    job = ImportJob.objects.select_related("contractor", "created_by").get(pk=job_id)
    if claimed is None:
        return job
    with heartbeat(ImportJob, job_id):
        try:
            return _run_claimed(job, progress=progress)
        except leases.LeaseLost:
            log.warning("import job %s was taken from this worker; its result is dropped", job_id)
        except Exception:
            log.exception("import job %s failed", job_id)
            leases.fail_import(
                job, code="import.internal_error", reason=_("The import failed unexpectedly.")
            )
    return ImportJob.objects.get(pk=job_id)


def _run_claimed(job: ImportJob, *, progress=None) -> ImportJob:
    job_id = job.pk
    update = _progress(job_id)

    def report(done, total):
        update(done, total)
        if progress:
            progress(done, total)

    try:
        plan = check_file(job, progress=report)
    except (FileProblem, HeaderError) as exc:
        issue = Issue(
            row=getattr(exc, "row", None) or 0,
            column="",
            cell="",
            value="、".join(getattr(exc, "found", []))[:500],
            code=exc.code,
            message=exc.message,
        )
        return _finish_failed(job, Plan(issues=[issue]))
    except Exception:
        log.exception("import job %s failed", job_id)
        issue = Issue(0, "", "", "", "import.internal_error", _("The import failed unexpectedly."))
        return _finish_failed(job, Plan(issues=[issue]))
    if progress:
        progress(plan.total_rows, plan.total_rows)
    if plan.errors and not job.valid_rows_only:
        return _finish_failed(job, plan)
    if job.kind == KIND_CONTRACTOR:
        return _finish_pending(job, plan)
    try:
        return _write(job, plan, by=job.created_by)
    except leases.LeaseLost:
        raise  # not this worker's job any more: nothing to record, run_import drops it
    except DatabaseError:
        # e.g. another import wrote the same certificate meanwhile: the transaction rolled back.
        log.exception("import job %s could not write", job_id)
        issue = Issue(
            0,
            "",
            "",
            "",
            "import.write_failed",
            _("The database refused the import (changed meanwhile?); nothing was written."),
        )
        plan.issues.insert(0, issue)
        return _finish_failed(job, plan)
    except Exception:
        # Whatever else went wrong, the write rolled back: the job ends failed, never "running".
        log.exception("import job %s failed while writing", job_id)
        issue = Issue(0, "", "", "", "import.internal_error", _("The import failed unexpectedly."))
        plan.issues.insert(0, issue)
        return _finish_failed(job, plan)


def _store_issues(job: ImportJob, plan: Plan):
    job.total_rows = plan.total_rows
    job.processed_rows = plan.total_rows
    job.error_rows = plan.error_rows
    job.errors = errorfile.stored(plan.issues)
    if plan.issues:
        job.error_file.save(
            f"{PurePosixPath(job.file.name).stem}-errors.xlsx",
            ContentFile(errorfile.xlsx_bytes(plan.issues)),
            save=False,
        )


def _finish_failed(job: ImportJob, plan: Plan, *, by=None) -> ImportJob:
    """Nothing written: the findings are stored; `by` is the reviewer whose approval found them
    (the uploader otherwise)."""
    with transaction.atomic():
        job = leases.held(job)
        _store_issues(job, plan)
        leases.drop_files(job)  # a failed job is never run again: its upload has no further use
        message = _("Nothing imported: %(rows)s rows have errors.") % {"rows": job.error_rows}
        if plan.total_rows == 0 and plan.issues:
            message = _("Nothing imported: %(message)s") % {"message": plan.issues[0].message}
        job.fail(by=by or job.created_by, at=timezone.now(), message=message)
        job.save()
    return job


def _finish_pending(job: ImportJob, plan: Plan) -> ImportJob:
    with transaction.atomic():
        job = leases.held(job)
        _store_issues(job, plan)
        job.message = _summary_pending(plan)
        job.hold_for_review(by=job.created_by, at=timezone.now())
        job.save()
    return job


def _summary_pending(plan: Plan) -> str:
    return _(
        "Waiting for review: %(persons)s new persons, %(certs)s new and %(updated)s updated "
        "certificates, %(checks)s medical checks; %(errors)s rows with errors."
    ) % {
        # Rows held for the reviewer count as new: the uploader cannot tell them apart.
        "persons": len(plan.new_persons) + len(plan.held_persons - plan.new_persons.keys()),
        "certs": len(plan.new_certs) + plan.held_certs,
        "updated": len(plan.cert_updates),
        "checks": len(plan.new_health) + plan.held_health,
        "errors": plan.error_rows,
    }


def _summary(counts: Counts, plan: Plan) -> str:
    text = _(
        "Persons: %(pc)s created, %(pu)s updated, %(pn)s unchanged. Certificates: %(cc)s created, "
        "%(cu)s updated. Medical checks: %(hc)s created. %(errors)s rows with errors skipped."
    ) % {
        "pc": counts.persons_created,
        "pu": counts.persons_updated,
        "pn": counts.persons_unchanged,
        "cc": counts.certificates_created,
        "cu": counts.certificates_updated,
        "hc": counts.health_checks_created,
        "errors": plan.error_rows,
    }
    if plan.ignored_headers:
        text += " " + _("Columns not imported: %(columns)s.") % {
            "columns": clip("、".join(plan.ignored_headers), 1000)
        }
    return text


def _write(job: ImportJob, plan: Plan, *, by, reviewed: bool = False) -> ImportJob:
    """Write the plan in one transaction with the job's final state; the audit last (the rows'
    records, then the job's move: `approve` after a review, `succeed` otherwise)."""
    with transaction.atomic():
        job = leases.held(job)
        entries: list = []
        counts = write_plan(plan, job=job, by=by, today=timezone.localdate(), entries=entries)
        _store_issues(job, plan)
        job.created_count = counts.created
        job.updated_count = counts.updated
        job.unchanged_count = counts.unchanged
        job.message = _summary(counts, plan)
        move = job.approve if reviewed else job.succeed
        move(by=by, at=timezone.now())
        job.save(audit_first=entries)
    job.counts = counts
    return job


# ---- review (contractor self-service) --------------------------------------------------------


def review_reasons(job: ImportJob, by) -> list[Reason]:
    """Why `by` may not approve or reject this upload (empty: they may)."""
    clause = _("CONTRACTOR-01: a contractor's upload is approved by the site's safety officer")
    reasons = []
    if job.status != JobStatus.PENDING_REVIEW:
        reasons.append(
            Reason(
                "import.review.not_pending",
                _("This import is not waiting for review."),
                clause,
                subject=str(job.pk),
            )
        )
    if job.created_by_id is not None and by is not None and by.pk == job.created_by_id:
        reasons.append(
            Reason(
                "import.review.own_upload",
                _("Nobody reviews their own upload."),
                clause,
                subject=str(job.pk),
            )
        )
    scope = uploader_scope(by)
    if not scope.group_wide:
        sites = {job.site_id} if job.site_id else set()
        if not sites and job.contractor_id:
            sites = set(
                ContractorEngagement.objects.filter(
                    contractor_id=job.contractor_id, status=EngagementStatus.ACTIVE
                ).values_list("site_id", flat=True)
            )
        if not (sites & set(scope.site_ids)):
            reasons.append(
                Reason(
                    "import.review.not_site_officer",
                    _("Only a safety officer of a site where the contractor works may review."),
                    clause,
                    subject=str(job.pk),
                )
            )
    return reasons


@transaction.atomic(durable=True)
def approve_import(*, job_id: int, by) -> ImportJob:
    """Approve a contractor's upload: check it again against the database as it is now, write it
    (or fail the job with the errors found now), and queue registry verification of its
    certificates after commit."""
    job = ImportJob.objects.select_for_update(of=("self",)).select_related(
        "contractor", "created_by"
    )
    job = job.get(pk=job_id)
    if reasons := review_reasons(job, by):
        raise Refused(reasons)
    job.reviewed_by, job.reviewed_at = by, timezone.now()
    job.save(update_fields=["reviewed_by", "reviewed_at"])
    try:
        plan = check_file(job)
    except (FileProblem, HeaderError) as exc:
        issues = [Issue(0, "", "", "", exc.code, exc.message)]
        return _finish_failed(job, Plan(issues=issues), by=by)
    if plan.errors and not job.valid_rows_only:
        return _finish_failed(job, plan, by=by)
    job = _write(job, plan, by=by, reviewed=True)
    ids = job.counts.certificate_ids
    if ids:
        transaction.on_commit(lambda: queue_verification(by=by, certificate_ids=ids))
    return job


@transaction.atomic(durable=True)
def reject_import(*, job_id: int, by, reason: str = "") -> ImportJob:
    """Reject a contractor's upload: nothing is written; the reason goes back to the uploader."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if reasons := review_reasons(job, by):
        raise Refused(reasons)
    message = (reason or "").strip()[:2000] or _("Rejected by review.")
    job.reject(by=by, at=timezone.now(), message=message)
    job.save()
    return job


def queue_verification(*, by, certificate_ids: list[int]):
    """Tell the apps that act on approved certificates (registry verification queues a batch),
    after the approval has committed: a registry problem never undoes an approval."""
    for receiver, result in certificates_approved.send_robust(
        sender=ImportJob, by=by, certificate_ids=certificate_ids
    ):
        if isinstance(result, Exception):
            log.error(
                "%s failed on %s approved certificates",
                receiver,
                len(certificate_ids),
                exc_info=result,
            )

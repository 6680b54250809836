"""Ledger imports (persons, certificates, health checks) and report jobs (exports, coverage)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.core.models import JobLease
from safework.ledger.workflow import ImportWorkflow, JobStatus, ReportStatus, ReportWorkflow
from safework.org.models import Site
from safework.people.models import Contractor

__all__ = ["ImportJob", "JobStatus", "ReportJob", "ReportKind", "ReportStatus"]


class ImportJob(ImportWorkflow, JobLease):
    """An import of a ledger (persons, certificates, health checks) as a job with progress.

    All-or-nothing by default; `valid_rows_only` imports the rows without errors. A contractor
    manager's upload waits in `pending_review` until the site safety officer approves it. Its
    status changes only through the transitions of `ledger.workflow`.
    """

    kind = models.CharField(_("kind"), max_length=30, default="ledger")
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=300)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, db_index=True)
    valid_rows_only = models.BooleanField(_("import valid rows only"), default=False)
    site = models.ForeignKey(
        Site, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("site")
    )
    contractor = models.ForeignKey(
        Contractor,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("contractor self-service upload"),
        verbose_name=_("contractor"),
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    error_rows = models.PositiveIntegerField(_("rows with errors"), default=0)
    created_count = models.PositiveIntegerField(_("records created"), default=0)
    updated_count = models.PositiveIntegerField(_("records updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("records unchanged"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_file = models.FileField(_("error file"), upload_to="imports/errors/", blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def progress(self) -> float:
        return 0.0 if not self.total_rows else round(self.processed_rows / self.total_rows, 4)


class ReportKind(models.TextChoices):
    CERTIFICATES = "certificates", _("certificate export")
    COVERAGE = "coverage", _("coverage report")


class ReportJob(ReportWorkflow, JobLease):
    """An export or report built in the background for the user who asked: its file holds what
    that user may see (their scope, their ID-number masking), so only they read it."""

    kind = models.CharField(_("kind"), max_length=20, choices=ReportKind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    total = models.PositiveIntegerField(_("rows"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    file = models.FileField(_("file"), upload_to="reports/%Y/%m/", blank=True)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("report job")
        verbose_name_plural = _("report jobs")
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} ({self.get_status_display()})"

    @property
    def progress(self) -> float:
        if self.status == ReportStatus.SUCCEEDED:
            return 1.0
        return 0.0 if not self.total else round(min(self.done / self.total, 1), 4)


# ImportJob.kind: a site's ledger, or a contractor manager's self-service upload (reviewed first).
KIND_LEDGER = "ledger"
KIND_CONTRACTOR = "contractor"

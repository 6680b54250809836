"""Registry verification: batches of look-ups in the national registries."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.certs.models import Certificate
from safework.core.models import JobLease
from safework.registry.workflow import BatchStatus, BatchWorkflow

__all__ = ["BatchStatus", "LookupOutcome", "VerificationBatch", "VerificationLookup"]


class VerificationBatch(BatchWorkflow, JobLease):
    """A batch of registry look-ups, run as background work; one failure never stops the batch.
    Its status changes only through the transitions of `registry.workflow`."""

    source = models.CharField(_("registry"), max_length=200, blank=True)
    total = models.PositiveIntegerField(_("look-ups"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    message = models.TextField(_("message"), blank=True)

    class Meta:
        verbose_name = _("verification batch")
        verbose_name_plural = _("verification batches")
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.get_status_display()}"


class LookupOutcome(models.TextChoices):
    PENDING = "pending", _("pending")
    VERIFIED = "verified", _("verified")
    MISMATCH = "mismatch", _("name differs")
    NOT_FOUND = "not_found", _("not found")
    EXPIRED = "expired", _("expired")
    REVOKED = "revoked", _("revoked")
    RETRY_LATER = "retry_later", _("registry unavailable: retry later")


class VerificationLookup(models.Model):
    """One look-up of a batch: what was asked, what the registry said, how the name matched."""

    batch = models.ForeignKey(
        VerificationBatch, models.CASCADE, related_name="lookups", verbose_name=_("batch")
    )
    certificate = models.ForeignKey(
        Certificate,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="lookups",
        verbose_name=_("certificate"),
    )
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    number = models.CharField(_("certificate number"), max_length=60, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=LookupOutcome.choices, default=LookupOutcome.PENDING
    )
    name_match = models.CharField(_("name matched by"), max_length=30, blank=True)
    registry_name = models.CharField(_("name in registry"), max_length=100, blank=True)
    response = models.JSONField(_("registry answer"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("registry look-up")
        verbose_name_plural = _("registry look-ups")
        ordering = ["batch", "id"]

    def __str__(self):
        return f"{self.number or self.id_number}: {self.get_outcome_display()}"

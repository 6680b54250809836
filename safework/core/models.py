import pgtrigger
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditRecord(models.Model):
    """One link of the tamper-evident audit chain.

    `hash = HMAC-SHA256(key, prev_hash + payload)` with the key kept outside the database, so a row
    edited, deleted, reordered, inserted or appended with database access alone is detected by
    `safework audit verify`. Actor and object are plain ids plus labels: no foreign keys, so the
    chain outlives what it describes. Rows are only ever appended (`core.audit.record`).
    """

    seq = models.PositiveBigIntegerField(_("sequence"), unique=True)
    at = models.DateTimeField(_("time"))
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_label = models.CharField(_("object"), max_length=300, blank=True)
    client_addr = models.CharField(_("client address"), max_length=64, blank=True)
    payload = models.TextField(_("canonical payload"))
    prev_hash = models.CharField(_("previous hash"), max_length=64, unique=True)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_from_one")
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_label}"


class Setting(models.Model):
    """An administrator's setting (thresholds, switches), with an optional per-site override.

    Each app registers its keys and defaults (`core.settings_registry.register_setting`); a row
    here overrides them. `site_id` is a plain id because core sits below org.
    """

    key = models.CharField(_("key"), max_length=100)
    site_id = models.BigIntegerField(_("site id"), null=True, blank=True)
    value = models.JSONField(_("value"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("setting")
        verbose_name_plural = _("settings")
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(site_id__isnull=True), name="setting_key_global"
            ),
            models.UniqueConstraint(fields=["key", "site_id"], name="setting_key_site"),
        ]

    def __str__(self):
        return f"{self.key}={self.value}"


class JobLease(models.Model):
    """The bookkeeping of a background job with a lease (`core.jobs`): when it was asked for,
    started and finished, until when its worker holds it, and how many times it was queued. A
    queued or running job whose lease runs out has lost its worker and is queued again or failed.
    """

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    lease_until = models.DateTimeField(
        _("lease until"),
        null=True,
        blank=True,
        help_text=_("a queued or running job not renewed by then has lost its worker"),
    )
    attempts = models.PositiveSmallIntegerField(_("times queued"), default=1)

    class Meta:
        abstract = True

"""Certificates, their catalogues and rules, requirements and the work-type catalogue.

Catalogue and rule rows are data with their clause and effective dates (loaded from
`certs/catalogue/*.yaml`, editable in the admin); certificate records are facts about people.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from safework.org.models import Position, Site
from safework.people.models import Contractor, Person


class Scheme(models.Model):
    """A certificate regime: special_operation, special_equipment, construction, internal."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    authority = models.CharField(_("issuing authority"), max_length=200, blank=True)
    basis = models.CharField(_("legal basis"), max_length=300, blank=True)
    catalogue_version = models.CharField(_("current catalogue version"), max_length=40)
    has_registry = models.BooleanField(
        _("kept in a public registry"),
        default=True,
        help_text=_(
            "off for the enterprise's own qualifications: they are never 'unverified' "
            "(no registry can confirm them)"
        ),
    )

    class Meta:
        verbose_name = _("certificate scheme")
        verbose_name_plural = _("certificate schemes")
        ordering = ["code"]

    def __str__(self):
        return self.name


class CertificateItem(models.Model):
    """An operation item of a scheme (special_operation 2.1, special_equipment Q2, GUARDIAN)."""

    scheme = models.ForeignKey(
        Scheme, models.PROTECT, related_name="items", verbose_name=_("scheme")
    )
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category code"), max_length=40, blank=True)
    catalogue_version = models.CharField(_("catalogue version"), max_length=40)
    restriction_kinds = models.JSONField(
        _("allowed restrictions"),
        default=list,
        blank=True,
        help_text=_("e.g. crane kinds for Q2; empty when the item takes none"),
    )
    trade_code = models.CharField(
        _("construction trade code"),
        max_length=2,
        blank=True,
        help_text=_("the two digits after the city letter in a construction certificate number"),
    )
    calendar_year = models.BooleanField(
        _("valid for the calendar year"),
        default=False,
        help_text=_("internal training valid to 31 December instead of one year rolling"),
    )
    aliases = models.JSONField(
        _("ledger names"),
        default=list,
        blank=True,
        help_text=_(
            "other names ledgers write for this item (电工, 架子工); a name listed on several "
            "items is ambiguous, and an import then asks for the scheme or the full name"
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("certificate item")
        verbose_name_plural = _("certificate items")
        ordering = ["scheme", "code"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="item_code_per_scheme"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"


class CatalogueRule(models.Model):
    """Validity, review, extension and renewal rules of a scheme (or one item), by effective date.

    A question about a date uses the row in force then: Order No. 30 (3-yearly review) before
    2026-06-01, Order No. 19 (no review) from that day. An item row overrides its scheme's row.
    """

    scheme = models.ForeignKey(
        Scheme, models.PROTECT, related_name="rules", verbose_name=_("scheme")
    )
    item = models.ForeignKey(
        CertificateItem,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
        verbose_name=_("item"),
        help_text=_("empty: every item of the scheme"),
    )
    code = models.SlugField(_("rule code"), max_length=60, unique=True)
    validity_months = models.PositiveIntegerField(_("validity (months)"), null=True, blank=True)
    review_interval_months = models.PositiveIntegerField(
        _("review interval (months)"),
        null=True,
        blank=True,
        help_text=_("empty: no periodic review"),
    )
    long_review_interval_months = models.PositiveIntegerField(
        _("review interval for 10+ years' clean record (months)"), null=True, blank=True
    )
    review_window_days = models.PositiveIntegerField(
        _("review applied for within (days before due)"), null=True, blank=True
    )
    extension_months = models.PositiveIntegerField(
        _("extension moves expiry by (months)"), null=True, blank=True
    )
    extension_window_open_days = models.PositiveIntegerField(
        _("extension window opens (days before expiry)"), null=True, blank=True
    )
    extension_window_close_days = models.PositiveIntegerField(
        _("extension applied for at least (days before expiry)"), null=True, blank=True
    )
    renewal_window_days = models.PositiveIntegerField(
        _("renewal applied for within (days before expiry)"), null=True, blank=True
    )
    extension_max_age_years = models.PositiveSmallIntegerField(
        _("extension refused past this age (years)"),
        null=True,
        blank=True,
        help_text=_(
            "TSG Z6001: 65; refused from the day after the birthday of this age; empty: no limit"
        ),
    )
    issuer = models.CharField(_("issuer"), max_length=200, blank=True)
    clause = models.CharField(_("clause"), max_length=200)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(
        _("effective to (exclusive)"),
        null=True,
        blank=True,
        help_text=_("the first day this row no longer applies"),
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("catalogue rule")
        verbose_name_plural = _("catalogue rules")
        ordering = ["scheme", "item", "effective_from"]

    def __str__(self):
        return f"{self.code} ({self.effective_from}–{self.effective_to or '…'})"

    def clean(self):
        """Two versions of one rule (same scheme and item) may not be in force on the same day:
        `RuleBook.rule_for` would pick one of them silently."""
        from safework.certs.rules import overlap_errors  # rules imports this module

        if self.scheme_id is None or self.effective_from is None:
            return
        others = CatalogueRule.objects.filter(scheme_id=self.scheme_id, item_id=self.item_id)
        if self.pk is not None:
            others = others.exclude(pk=self.pk)
        if problems := overlap_errors(self, others):
            raise ValidationError({"effective_from": problems})


class RevocationGround(models.Model):
    """A ground on which a certificate is revoked (撤销, Order No. 30 Art. 30), as data with its
    clause. Some grounds bar a new application for a while (`reapply_bar_months`: false entries
    and deception, 3 years): a certificate of the same item issued to the same person within that
    time is flagged and not usable."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    scheme = models.ForeignKey(
        Scheme,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="revocation_grounds",
        verbose_name=_("scheme"),
        help_text=_("empty: a ground for every scheme"),
    )
    clause = models.CharField(_("clause"), max_length=200)
    reapply_bar_months = models.PositiveSmallIntegerField(
        _("no new certificate for (months)"),
        null=True,
        blank=True,
        help_text=_("after a revocation on this ground; empty: no bar"),
    )
    bar_clause = models.CharField(_("clause of the bar"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("revocation ground")
        verbose_name_plural = _("revocation grounds")
        ordering = ["order", "code"]

    def __str__(self):
        return self.name


class LegacyCode(models.Model):
    """An old item code of a scheme and what it means today (TSG Z6001-2019 renumbering)."""

    scheme = models.ForeignKey(
        Scheme, models.PROTECT, related_name="legacy_codes", verbose_name=_("scheme")
    )
    old_code = models.CharField(_("old code"), max_length=40)
    old_version = models.CharField(_("old catalogue version"), max_length=40)
    new_item = models.ForeignKey(
        CertificateItem,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("empty: no unambiguous successor; an import reports a row error"),
        verbose_name=_("new item"),
    )
    restriction = models.CharField(_("restriction implied"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("legacy item code")
        verbose_name_plural = _("legacy item codes")
        constraints = [
            models.UniqueConstraint(fields=["scheme", "old_code"], name="legacy_code_unique"),
        ]

    def __str__(self):
        return f"{self.old_code} ({self.old_version})"


class WorkType(models.Model):
    """One of the eight special work types of GB 30871-2022 (hot_work, confined_space, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    permit_code = models.CharField(_("permit prefix"), max_length=4, blank=True)
    clause = models.CharField(_("clause"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    from_height_m = models.DecimalField(
        _("any work from this height (m) counts as this type"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "height work: 2 m (GB 30871-2022 3.8); a medical restriction for this type then "
            "rules out any work at that height or more"
        ),
    )
    height_clause = models.CharField(_("clause of the height"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("work type")
        verbose_name_plural = _("work types")
        ordering = ["order"]

    def __str__(self):
        return self.name


class WorkLevel(models.Model):
    """A level of a work type (hot work special/level1/level2; height I–IV; lifting I–III)."""

    work_type = models.ForeignKey(
        WorkType, models.CASCADE, related_name="levels", verbose_name=_("work type")
    )
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveSmallIntegerField(_("rank (higher = more dangerous)"))
    clause = models.CharField(_("clause"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("work level")
        verbose_name_plural = _("work levels")
        ordering = ["work_type", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["work_type", "code"], name="level_code_per_type"),
        ]

    def __str__(self):
        return f"{self.work_type.name} {self.name}"


class CrewRole(models.Model):
    """A role in a work crew: worker, guardian, gas_tester, site_lead, signaller, approver."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("crew role")
        verbose_name_plural = _("crew roles")
        ordering = ["code"]

    def __str__(self):
        return self.name


class PositionPermission(models.Model):
    """A row of the position permission matrix: this position may take this crew role in this
    work type, at levels up to `max_level` (empty: any level)."""

    position = models.ForeignKey(
        Position, models.CASCADE, related_name="permissions", verbose_name=_("position")
    )
    work_type = models.ForeignKey(
        WorkType,
        models.CASCADE,
        null=True,
        blank=True,
        help_text=_("empty: every work type"),
        verbose_name=_("work type"),
    )
    crew_role = models.ForeignKey(CrewRole, models.CASCADE, verbose_name=_("crew role"))
    max_level = models.ForeignKey(
        WorkLevel,
        models.CASCADE,
        null=True,
        blank=True,
        help_text=_("empty: every level"),
        verbose_name=_("highest level"),
    )
    clause = models.CharField(_("basis"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("position permission")
        verbose_name_plural = _("position permission matrix")
        constraints = [
            models.UniqueConstraint(
                models.F("position"),
                Coalesce("work_type", 0),
                models.F("crew_role"),
                name="position_permission_unique",
            ),
        ]

    def __str__(self):
        return f"{self.position} → {self.crew_role} / {self.work_type or '*'}"


class RequirementKind(models.TextChoices):
    CERTIFICATE = "certificate", _("a usable certificate of one of the items")
    MEDICAL = "medical", _("a medical check, without a restriction for this work")


class Requirement(models.Model):
    """What a crew member needs for a work type / level / role, with an optional condition.

    `items` is a list of "scheme:code" or "scheme:prefix*" (any one of them satisfies it);
    `condition` is a rule-engine expression over the check's attributes (height_m, hot_work_method,
    crane_kind, process, forklift_area, work_type, level, role); empty means always.
    """

    code = models.SlugField(_("code"), max_length=80, unique=True)
    description = models.CharField(_("description"), max_length=300)
    work_type = models.ForeignKey(
        WorkType,
        models.CASCADE,
        null=True,
        blank=True,
        help_text=_("empty: every work type"),
        verbose_name=_("work type"),
    )
    min_level = models.ForeignKey(
        WorkLevel,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("empty: every level"),
        verbose_name=_("lowest level"),
    )
    crew_role = models.ForeignKey(
        CrewRole,
        models.CASCADE,
        null=True,
        blank=True,
        help_text=_("empty: every crew role"),
        verbose_name=_("crew role"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RequirementKind.choices)
    items = models.JSONField(_("items (any one)"), default=list, blank=True)
    match_restriction = models.CharField(
        _("certificate restriction must equal attribute"),
        max_length=40,
        blank=True,
        help_text=_('e.g. "crane_kind": the Q2 restriction must match the crane used'),
    )
    condition = models.CharField(_("condition (rule-engine)"), max_length=500, blank=True)
    clause = models.CharField(_("clause"), max_length=200)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("requirement")
        verbose_name_plural = _("requirements")
        ordering = ["code"]

    def __str__(self):
        return self.description


class CertState(models.TextChoices):
    """The administrative state of a record; expiry, review and vacuum are derived on a date."""

    ACTIVE = "active", _("in force")
    REVOKED = "revoked", _("revoked")
    CANCELLED = "cancelled", _("cancelled")


class Verification(models.TextChoices):
    UNVERIFIED = "unverified", _("unverified")
    VERIFIED = "verified", _("verified")
    MISMATCH = "mismatch", _("name mismatch")
    NOT_FOUND = "not_found", _("not found")
    EXPIRED = "expired", _("registry says expired")
    REVOKED = "revoked", _("registry says revoked")


class Certificate(models.Model):
    """A certificate record as printed, held by one person.

    Natural key: (scheme, item, number, issued_on). `first_issued_on` is kept across renewals; a
    renewal is a new record whose `predecessor` is the old one; reviews and extensions are
    `CertificateEvent`s on the same record (an extension moves `valid_until`).
    """

    person = models.ForeignKey(
        Person, models.PROTECT, related_name="certificates", verbose_name=_("person")
    )
    scheme = models.ForeignKey(Scheme, models.PROTECT, related_name="+", verbose_name=_("scheme"))
    item = models.ForeignKey(
        CertificateItem, models.PROTECT, related_name="certificates", verbose_name=_("item")
    )
    number = models.CharField(_("number as printed"), max_length=60)
    restriction = models.CharField(
        _("restriction"), max_length=60, blank=True, help_text=_("e.g. the crane kind of a Q2")
    )
    first_issued_on = models.DateField(_("first issued on"), null=True, blank=True)
    issued_on = models.DateField(_("issued on"))
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    next_review_due = models.DateField(
        _("next review due"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("derived from the rule in force; empty when no review applies"),
    )
    long_review_interval = models.BooleanField(
        _("6-yearly review (10+ years clean record)"), default=False
    )
    issuing_authority = models.CharField(_("issuing authority"), max_length=200, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=CertState.choices, default=CertState.ACTIVE
    )
    state_reason = models.CharField(_("reason"), max_length=300, blank=True)
    state_changed_on = models.DateField(_("state changed on"), null=True, blank=True)
    revocation_ground = models.ForeignKey(
        "RevocationGround",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("ground of revocation"),
    )
    revoked_on = models.DateField(_("revoked on"), null=True, blank=True, editable=False)
    reapply_allowed_from = models.DateField(
        _("a new certificate of this item allowed from"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("set by a revocation on a ground that bars a new application"),
    )
    verification = models.CharField(
        _("verification"),
        max_length=20,
        choices=Verification.choices,
        default=Verification.UNVERIFIED,
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verification_source = models.CharField(_("verification source"), max_length=200, blank=True)
    catalogue_version = models.CharField(_("catalogue version"), max_length=40)
    legacy_code = models.CharField(
        _("code in the ledger"),
        max_length=40,
        blank=True,
        help_text=_("an old code mapped to this item on import"),
    )
    predecessor = models.OneToOneField(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="successor",
        verbose_name=_("renewal of"),
    )
    last_practised_on = models.DateField(_("last practised on"), null=True, blank=True)
    import_job = models.ForeignKey(
        "ImportJob",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("import job"),
    )
    is_synthetic = models.BooleanField(_("synthetic (demo/bench) data"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["person", "scheme", "item", "-issued_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "item", "number", "issued_on"], name="certificate_natural_key"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")),
                name="certificate_valid_range",
            ),
        ]
        indexes = [
            models.Index(fields=["person", "item"]),
            models.Index(fields=["valid_until"]),
        ]

    def __str__(self):
        return f"{self.item.code} {self.number}" if self.item_id else self.number


class EventKind(models.TextChoices):
    REVIEW = "review", _("review (复审)")
    EXTENSION = "extension", _("extension (延期)")
    RENEWAL = "renewal", _("renewal (换证)")
    REVOCATION = "revocation", _("revocation (撤销)")
    CANCELLATION = "cancellation", _("cancellation (注销)")
    VERIFICATION = "verification", _("registry verification")


class CertificateEvent(models.Model):
    """Something that happened to a certificate, kept as history."""

    certificate = models.ForeignKey(
        Certificate, models.PROTECT, related_name="events", verbose_name=_("certificate")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    on = models.DateField(_("on"))
    due_on = models.DateField(_("was due on"), null=True, blank=True)
    passed = models.BooleanField(_("passed"), default=True)
    previous_valid_until = models.DateField(_("expiry before"), null=True, blank=True)
    new_valid_until = models.DateField(_("expiry after"), null=True, blank=True)
    reason = models.CharField(_("reason / note"), max_length=500, blank=True)
    actor_label = models.CharField(_("by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("certificate event")
        verbose_name_plural = _("certificate events")
        ordering = ["certificate", "on", "id"]
        indexes = [models.Index(fields=["certificate", "kind", "due_on"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.on}"


class CertificateFile(models.Model):
    """A scanned copy of a certificate."""

    certificate = models.ForeignKey(
        Certificate, models.CASCADE, related_name="files", verbose_name=_("certificate")
    )
    file = models.FileField(_("file"), upload_to="certificates/%Y/%m/")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("scanned file")
        verbose_name_plural = _("scanned files")

    def __str__(self):
        return self.file.name


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed (nothing imported)")
    PENDING_REVIEW = "pending_review", _("waiting for the safety officer's review")
    REJECTED = "rejected", _("rejected by review")


class ImportJob(models.Model):
    """An import of a ledger (persons, certificates, health checks) as a job with progress.

    All-or-nothing by default; `valid_rows_only` imports the rows without errors. A contractor
    manager's upload waits in `pending_review` until the site safety officer approves it.
    """

    kind = models.CharField(_("kind"), max_length=30, default="ledger")
    status = models.CharField(
        _("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
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
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def progress(self) -> float:
        return 0.0 if not self.total_rows else round(self.processed_rows / self.total_rows, 4)


class VerificationBatch(models.Model):
    """A batch of registry look-ups, run as background work; one failure never stops the batch."""

    status = models.CharField(
        _("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
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
        verbose_name = _("verification batch")
        verbose_name_plural = _("verification batches")
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.get_status_display()}"


class ReportKind(models.TextChoices):
    CERTIFICATES = "certificates", _("certificate export")
    COVERAGE = "coverage", _("coverage report")


class ReportStatus(models.TextChoices):
    """A report job's states: the values of `JobStatus` that a report goes through."""

    QUEUED = JobStatus.QUEUED.value, JobStatus.QUEUED.label
    RUNNING = JobStatus.RUNNING.value, JobStatus.RUNNING.label
    SUCCEEDED = JobStatus.SUCCEEDED.value, JobStatus.SUCCEEDED.label
    FAILED = "failed", _("failed")


class ReportJob(models.Model):
    """An export or report built in the background for the user who asked: its file holds what
    that user may see (their scope, their ID-number masking), so only they read it."""

    kind = models.CharField(_("kind"), max_length=20, choices=ReportKind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
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
        verbose_name = _("report job")
        verbose_name_plural = _("report jobs")
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} ({self.get_status_display()})"

    @property
    def progress(self) -> float:
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        return 0.0 if not self.total else round(min(self.done / self.total, 1), 4)


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


class Roster(models.Model):
    """A work schedule uploaded for a forward qualification check (CERT-09)."""

    name = models.CharField(_("name"), max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author (to be told)"),
    )
    site = models.ForeignKey(
        Site, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("site")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("roster")
        verbose_name_plural = _("rosters")
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class RosterEntry(models.Model):
    roster = models.ForeignKey(
        Roster, models.CASCADE, related_name="entries", verbose_name=_("roster")
    )
    person = models.ForeignKey(Person, models.PROTECT, related_name="+", verbose_name=_("person"))
    on = models.DateField(_("date"))
    work_type = models.ForeignKey(
        WorkType, models.PROTECT, related_name="+", verbose_name=_("work type")
    )
    level = models.ForeignKey(
        WorkLevel, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("level")
    )
    crew_role = models.ForeignKey(
        CrewRole, models.PROTECT, related_name="+", verbose_name=_("crew role")
    )
    site = models.ForeignKey(
        Site, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("site")
    )
    attrs = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("roster entry")
        verbose_name_plural = _("roster entries")
        ordering = ["roster", "on", "id"]

    def __str__(self):
        return f"{self.on} {self.person} {self.work_type}"

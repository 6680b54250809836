"""Certificates and their catalogues: schemes, items, rules, revocation grounds, legacy codes.

Catalogue and rule rows are data with their clause and effective dates (loaded from
`certs/catalogue/*.yaml`, editable in the admin); certificate records are facts about people.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.people.models import Person


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
        if self.scheme_id is None or self.effective_from is None:
            return
        others = CatalogueRule.objects.filter(scheme_id=self.scheme_id, item_id=self.item_id)
        if self.pk is not None:
            others = others.exclude(pk=self.pk)
        if problems := overlap_errors(self, others):
            raise ValidationError({"effective_from": problems})


def overlap_errors(rule: "CatalogueRule", others: Iterable["CatalogueRule"]) -> list[str]:
    """Messages for each version of the same rule (`others`: same scheme and item) whose
    effective range [from, to) shares a day with `rule`'s; empty when none does. (Here, not in
    rules.py, because the model's own validation uses it and rules.py imports this module.)"""
    out = []
    for other in others:
        starts_before_other_ends = other.effective_to is None or rule.effective_from < (
            other.effective_to
        )
        other_starts_before_end = rule.effective_to is None or other.effective_from < (
            rule.effective_to
        )
        if starts_before_other_ends and other_starts_before_end:
            out.append(
                _(
                    "Overlaps rule %(code)s (in force %(start)s – %(end)s) of the same scheme "
                    "and item: one version must end (effective to, exclusive) before the next "
                    "starts."
                )
                % {
                    "code": other.code,
                    "start": other.effective_from,
                    "end": other.effective_to or "…",
                }
            )
    return out


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
        "ledger.ImportJob",
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

"""The vocabulary of work: the eight work types, their levels, crew roles, the position
permission matrix and the house rules, as catalogue data (below people and certificates)."""

from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from safework.org.models import Position


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


class HouseRule(models.Model):
    """A rule the enterprise applies to everyone who works, beyond the requirement rows: employed
    and active, contractor engaged at the site, not blacklisted, position permitted, the absence
    and contractor medical rules. The engine knows each by `code` and applies it on the days a
    row of it is in force; every refusal under it names the row's clause. Numbers such rules use
    (months away, medical age) are administrators' settings with per-site overrides."""

    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("name"), max_length=200)
    clause = models.CharField(_("clause"), max_length=300)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)

    class Meta:
        verbose_name = _("house rule")
        verbose_name_plural = _("house rules")
        ordering = ["code", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "effective_from"], name="house_rule_version_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gt=models.F("effective_from")),
                name="house_rule_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.effective_from}–{self.effective_to or '…'})"

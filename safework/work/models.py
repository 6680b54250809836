"""The vocabulary of work: the eight work types, their levels, crew roles, the position
permission matrix and the house rules, as catalogue data (below people and certificates)."""

import datetime as dt

from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from safework.org.models import Position


class Measure(models.TextChoices):
    NONE = "", _("none")
    HEIGHT = "height_m", _("height (m)")
    MASS = "mass_t", _("mass (t)")
    DEPTH = "depth_m", _("depth (m)")


class Versioned(models.Model):
    """A rule row in force from `effective_from` until `effective_to` (exclusive, open)."""

    effective_from = models.DateField(_("effective from"), default=dt.date(2022, 10, 1))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)

    class Meta:
        abstract = True

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


def in_force_q(on: dt.date) -> models.Q:
    return models.Q(effective_from__lte=on) & (
        models.Q(effective_to__isnull=True) | models.Q(effective_to__gt=on)
    )


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
    aq_type_code = models.CharField(
        _("AQ 3064.2 type code"),
        max_length=2,
        blank=True,
        help_text=_("Annex A type code for a type without levels (levels carry their own)"),
    )
    level_clause = models.CharField(_("clause of the levels"), max_length=200, blank=True)
    permit_measure = models.CharField(
        _("measure deciding whether a permit is needed"),
        max_length=10,
        choices=Measure.choices,
        blank=True,
    )
    permit_from = models.DecimalField(
        _("a permit is needed from (inclusive)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
    )
    permit_from_clause = models.CharField(
        _("clause of the permit threshold"), max_length=200, blank=True
    )
    gas_over_depth_m = models.DecimalField(
        _("confined-space gas rules deeper than (m, exclusive)"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("excavation in process or tank areas with buried flammable lines"),
    )
    gas_over_depth_clause = models.CharField(
        _("clause of the depth for gas rules"), max_length=200, blank=True
    )

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
    aq_type_code = models.CharField(_("AQ 3064.2 type code"), max_length=2, blank=True)
    measure = models.CharField(
        _("measure the bounds apply to"), max_length=10, choices=Measure.choices, blank=True
    )
    lower = models.DecimalField(
        _("lower bound"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    lower_inclusive = models.BooleanField(_("lower bound inclusive"), default=True)
    upper = models.DecimalField(
        _("upper bound"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    upper_inclusive = models.BooleanField(_("upper bound inclusive"), default=True)

    class Meta:
        verbose_name = _("work level")
        verbose_name_plural = _("work levels")
        ordering = ["work_type", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["work_type", "code"], name="level_code_per_type"),
        ]

    def __str__(self):
        return f"{self.work_type.name} {self.name}"

    def contains(self, value) -> bool:
        """Whether `value` (a Decimal of `measure`) falls within this level's bounds."""
        below = self.lower is not None and (
            value < self.lower or (value == self.lower and not self.lower_inclusive)
        )
        above = self.upper is not None and (
            value > self.upper or (value == self.upper and not self.upper_inclusive)
        )
        if below or above:
            return False
        return self.lower is not None or self.upper is not None


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


# --- permit-type rules (GB 30871-2022, AQ 3064.2-2025) -------------------------------------------


def _empty_list():
    return []


def _empty_dict():
    return {}


class PermitRule(Versioned):
    """The permit rules of one work type (and level; no level = every level of the type): maximum
    validity, gas analysis, crew roles, plan, the safety-measure checklist and JSA template and
    the type's form fields. A level's row comes before the type-wide row."""

    work_type = models.ForeignKey(
        WorkType, models.CASCADE, related_name="permit_rules", verbose_name=_("work type")
    )
    level = models.ForeignKey(
        WorkLevel,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="permit_rules",
        help_text=_("empty: every level of the type"),
        verbose_name=_("level"),
    )
    clause = models.CharField(_("clause"), max_length=300)
    max_minutes = models.PositiveIntegerField(_("maximum validity (minutes)"))
    absolute_max_minutes = models.PositiveIntegerField(
        _("absolute maximum validity (minutes)"),
        null=True,
        blank=True,
        help_text=_("beyond the maximum only with a warning, never beyond this; empty: maximum"),
    )
    max_clause = models.CharField(_("clause of the validity"), max_length=300)
    default_days = models.PositiveSmallIntegerField(
        _("enterprise default validity (days)"),
        null=True,
        blank=True,
        help_text=_("set where the standard gives no maximum and the enterprise chose one"),
    )
    gas_test_required = models.BooleanField(_("gas analysis required"), default=False)
    gas_test_in_hazard_area_only = models.BooleanField(
        _("gas analysis only in fire/explosion hazardous places"), default=False
    )
    gas_window_minutes = models.PositiveIntegerField(
        _("sample at most this many minutes before start"), null=True, blank=True
    )
    gas_points = models.JSONField(_("sampling points"), default=_empty_list, blank=True)
    continuous_monitoring = models.BooleanField(_("continuous gas monitoring"), default=False)
    monitoring_record_minutes = models.PositiveIntegerField(
        _("monitoring record at least every (minutes)"), null=True, blank=True
    )
    gas_clause = models.CharField(_("clause of the gas analysis"), max_length=300, blank=True)
    interruption_retest_minutes = models.PositiveIntegerField(
        _("interrupted longer than this (minutes) → new analysis"), null=True, blank=True
    )
    interruption_clause = models.CharField(
        _("clause of the interruption"), max_length=300, blank=True
    )
    required_roles = models.JSONField(_("required crew roles"), default=_empty_list, blank=True)
    roles_clause = models.CharField(_("clause of the crew roles"), max_length=300, blank=True)
    plan_required = models.BooleanField(_("written work plan required"), default=False)
    plan_clause = models.CharField(_("clause of the plan"), max_length=300, blank=True)
    measures = models.JSONField(
        _("safety measures [{code, text, clause}]"), default=_empty_list, blank=True
    )
    hazards = models.JSONField(
        _("job hazard analysis template [{hazard, controls}]"), default=_empty_list, blank=True
    )
    form_schema = models.JSONField(_("form fields (JSON Schema)"), default=_empty_dict, blank=True)

    class Meta:
        verbose_name = _("permit rule")
        verbose_name_plural = _("permit rules")
        ordering = ["work_type", "level", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                models.F("work_type"),
                Coalesce("level", 0),
                models.F("effective_from"),
                name="permit_rule_version_unique",
            ),
        ]

    def __str__(self):
        level = f" {self.level.name}" if self.level_id else ""
        return f"{self.work_type.name}{level} ({self.effective_from}–{self.effective_to or '…'})"

    @property
    def hard_max_minutes(self) -> int:
        return self.absolute_max_minutes or self.max_minutes


class PermitFieldSchema(models.Model):
    """Fields an enterprise adds to a work type's permit form (JSON Schema of an object); checked
    together with the type's built-in form fields."""

    work_type = models.ForeignKey(
        WorkType, models.CASCADE, related_name="field_schemas", verbose_name=_("work type")
    )
    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("name"), max_length=200)
    schema = models.JSONField(_("JSON Schema"), default=_empty_dict)
    clause = models.CharField(_("basis"), max_length=300, default="企业规定")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("permit field schema")
        verbose_name_plural = _("permit field schemas")
        ordering = ["work_type", "code"]
        constraints = [
            models.UniqueConstraint(fields=["work_type", "code"], name="field_schema_per_type"),
        ]

    def __str__(self):
        return f"{self.work_type.name}: {self.name}"


class WeatherCondition(models.TextChoices):
    HEAVY_SNOW = "heavy_snow", _("heavy snow")
    RAINSTORM = "rainstorm", _("rainstorm")
    DENSE_FOG = "dense_fog", _("dense fog")


class WeatherStop(Versioned):
    """Weather in which (open-air) work of a type stops: wind of `min_wind_force` or more, or one
    of `conditions`; `unless_upgraded`: the work may go on when managed at a higher level."""

    work_type = models.ForeignKey(
        WorkType, models.CASCADE, related_name="weather_stops", verbose_name=_("work type")
    )
    min_wind_force = models.PositiveSmallIntegerField(
        _("wind force from (inclusive)"), null=True, blank=True
    )
    conditions = models.JSONField(_("weather conditions"), default=_empty_list, blank=True)
    open_air_only = models.BooleanField(_("open-air work only"), default=True)
    unless_upgraded = models.BooleanField(_("allowed when upgraded"), default=False)
    clause = models.CharField(_("clause"), max_length=300)

    class Meta:
        verbose_name = _("weather stop")
        verbose_name_plural = _("weather stops")
        ordering = ["work_type", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["work_type", "effective_from"], name="weather_stop_version_unique"
            ),
        ]

    def __str__(self):
        return f"{self.work_type.name}: {self.clause}"


class HeightHazard(models.Model):
    """An objective hazard of GB 30871-2022 §8.1.2: present → height class by method B."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    clause = models.CharField(_("clause"), max_length=300)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("height work hazard")
        verbose_name_plural = _("height work hazards")
        ordering = ["order", "code"]

    def __str__(self):
        return self.name


class GasKind(models.TextChoices):
    COMBUSTIBLE = "combustible", _("combustible")
    OXYGEN = "oxygen", _("oxygen")
    TOXIC = "toxic", _("toxic")


class GasLimit(Versioned):
    """The pass criterion of one gas: oxygen between min and max (`enriched_max` in a declared
    oxygen-enriched atmosphere), a toxic gas at most max; combustibles by CombustibleCriterion."""

    code = models.SlugField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=GasKind.choices)
    unit = models.CharField(_("unit"), max_length=20)
    min_value = models.DecimalField(
        _("minimum (inclusive)"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum (inclusive)"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    enriched_max = models.DecimalField(
        _("maximum in an oxygen-enriched atmosphere"),
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
    )
    clause = models.CharField(_("clause"), max_length=300)

    class Meta:
        verbose_name = _("gas limit")
        verbose_name_plural = _("gas limits")
        ordering = ["kind", "code", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "effective_from"], name="gas_limit_version_unique"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.unit})"


class CombustibleCriterion(Versioned):
    """Combustible gas passes at most `max_value` (% by volume) when its lower explosive limit is
    at least `lel_at_least` %; the row with the highest `lel_at_least` not above the LEL applies."""

    lel_at_least = models.DecimalField(_("LEL at least (%)"), max_digits=6, decimal_places=2)
    max_value = models.DecimalField(_("maximum (% vol, inclusive)"), max_digits=6, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=20, default="%vol")
    clause = models.CharField(_("clause"), max_length=300)

    class Meta:
        verbose_name = _("combustible gas criterion")
        verbose_name_plural = _("combustible gas criteria")
        ordering = ["-lel_at_least", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["lel_at_least", "effective_from"], name="combustible_version_unique"
            ),
        ]

    def __str__(self):
        return f"LEL ≥ {self.lel_at_least}% → ≤ {self.max_value} {self.unit}"


# --- the calendar ---------------------------------------------------------------------------------


class CalendarYear(models.Model):
    """A year of the official holiday arrangement, as loaded (`safework calendar load`)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    source = models.CharField(_("source"), max_length=300)
    loaded_at = models.DateTimeField(_("loaded at"))

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["-year"]

    def __str__(self):
        return str(self.year)


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("holiday")
    WORKDAY = "workday", _("make-up workday")


class CalendarDay(models.Model):
    """A holiday, or a make-up workday (a weekend day worked), of a loaded year."""

    calendar_year = models.ForeignKey(
        CalendarYear, models.CASCADE, related_name="days", verbose_name=_("calendar year")
    )
    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()


class SpecialPeriod(models.Model):
    """A special period (major event, sensitive time) in which hot work is upgraded; for one site
    or (no site) for all."""

    name = models.CharField(_("name"), max_length=200)
    site = models.ForeignKey(
        "org.Site",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="special_periods",
        help_text=_("empty: every site"),
        verbose_name=_("site"),
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at (exclusive)"))
    clause = models.CharField(_("clause"), max_length=300, default="GB 30871-2022 5.1.1")

    class Meta:
        verbose_name = _("special period")
        verbose_name_plural = _("special periods")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="special_period_ends_after_start",
            ),
        ]

    def __str__(self):
        return self.name


# --- upgrade and routes ---------------------------------------------------------------------------


class UpgradePolicy(models.Model):
    """What "managed at a higher level" means for a work type (enterprise data): `levels_up`
    levels, and at the top level one more approver of `at_top_extra_role`. `alarm_codes` maps a
    period kind to its AQ 3064.2 alarm code, raised when such a permit was not upgraded."""

    work_type = models.OneToOneField(
        WorkType, models.CASCADE, related_name="upgrade_policy", verbose_name=_("work type")
    )
    levels_up = models.PositiveSmallIntegerField(_("levels up"), default=1)
    at_top_extra_role = models.CharField(
        _("extra approver role at the top level"), max_length=40, default="principal"
    )
    alarm_codes = models.JSONField(
        _("AQ alarm codes by period kind"), default=_empty_dict, blank=True
    )
    clause = models.CharField(
        _("clause"), max_length=300, default="GB 30871-2022 5.1.1 升级管理; enterprise data"
    )

    class Meta:
        verbose_name = _("upgrade policy")
        verbose_name_plural = _("upgrade policies")
        ordering = ["work_type"]

    def __str__(self):
        return f"{self.work_type.name} +{self.levels_up}"


class Stage(models.TextChoices):
    APPROVAL = "approval", _("approval")
    BEFORE_START = "before_start", _("check before start")


class RouteStep(Versioned):
    """A step of the approval route: who signs (one role: one approver; several: all
    countersign), when (`condition`, a rule-engine expression over the permit; blank: always),
    within how long, and whether on site. The admin form compiles the condition against the
    typed context (routing.compile_condition) and checks the roles before a row is saved."""

    code = models.SlugField(_("code"), max_length=80)
    work_type = models.ForeignKey(
        WorkType,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="route_steps",
        help_text=_("empty: every work type"),
        verbose_name=_("work type"),
    )
    order = models.PositiveSmallIntegerField(_("order"))
    label = models.CharField(_("label"), max_length=200)
    roles = models.JSONField(_("account roles"), default=_empty_list)
    condition = models.CharField(_("condition"), max_length=500, blank=True)
    time_limit_minutes = models.PositiveIntegerField(
        _("time limit (minutes)"), null=True, blank=True
    )
    stage = models.CharField(
        _("stage"), max_length=20, choices=Stage.choices, default=Stage.APPROVAL
    )
    on_site_required = models.BooleanField(_("signed on site"), default=True)
    clause = models.CharField(_("clause"), max_length=300)

    class Meta:
        verbose_name = _("route step")
        verbose_name_plural = _("route steps")
        ordering = ["work_type", "stage", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "effective_from"], name="route_step_version_unique"
            ),
        ]

    def __str__(self):
        return f"{self.work_type or '*'} {self.order}: {self.label}"

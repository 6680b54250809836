"""Admin of the work vocabulary: work types, levels, crew roles, position permissions, house
rules."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from safework.accounts.admin_mixins import (
    ScopedTabularInline,
)
from safework.accounts.admin_shared import (
    CatalogueAdmin,
    EffectiveDatesForm,
)
from safework.work.fields import schema_problem
from safework.work.models import (
    CalendarDay,
    CalendarYear,
    CombustibleCriterion,
    CrewRole,
    GasLimit,
    HeightHazard,
    HouseRule,
    PermitFieldSchema,
    PermitRule,
    PositionPermission,
    RouteStep,
    SpecialPeriod,
    UpgradePolicy,
    WeatherCondition,
    WeatherStop,
    WorkLevel,
    WorkType,
)
from safework.work.routing import ConditionError, compile_condition, role_problems


class WorkLevelInline(ScopedTabularInline):
    model = WorkLevel
    fields = (
        "code",
        "name",
        "rank",
        "clause",
        "aq_type_code",
        "measure",
        "lower",
        "lower_inclusive",
        "upper",
        "upper_inclusive",
    )
    deletable = True


@admin.register(WorkType)
class WorkTypeAdmin(CatalogueAdmin):
    list_display = ("name", "code", "permit_code", "clause", "order")
    search_fields = ("code", "name")
    inlines = (WorkLevelInline,)


@admin.register(WorkLevel)
class WorkLevelAdmin(CatalogueAdmin):
    list_display = ("work_type", "code", "name", "rank", "clause")
    list_filter = ("work_type",)
    list_select_related = ("work_type",)


@admin.register(CrewRole)
class CrewRoleAdmin(CatalogueAdmin):
    list_display = ("code", "name")


@admin.register(PositionPermission)
class PositionPermissionAdmin(CatalogueAdmin):
    list_display = ("position", "work_type", "crew_role", "max_level", "clause")
    list_filter = ("work_type", "crew_role")
    list_select_related = ("position", "work_type", "crew_role", "max_level")


class HouseRuleForm(EffectiveDatesForm):
    class Meta:
        model = HouseRule
        fields = ("code", "name", "clause", "effective_from", "effective_to")


@admin.register(HouseRule)
class HouseRuleAdmin(CatalogueAdmin):
    form = HouseRuleForm
    list_display = ("code", "name", "clause", "effective_from", "effective_to")
    search_fields = ("code", "name", "clause")


# --- permit-type rules ----------------------------------------------------------------------


class PermitRuleForm(EffectiveDatesForm):
    class Meta:
        model = PermitRule
        fields = "__all__"

    def clean_form_schema(self):
        schema = self.cleaned_data.get("form_schema") or {}
        if schema and (problem := schema_problem(schema)):
            raise ValidationError(problem, code="schema.invalid")
        return schema

    def clean(self):
        cleaned = super().clean()
        work_type, level = cleaned.get("work_type"), cleaned.get("level")
        if level is not None and work_type is not None and level.work_type_id != work_type.pk:
            self.add_error("level", _("This level belongs to another work type."))
        return cleaned


@admin.register(PermitRule)
class PermitRuleAdmin(CatalogueAdmin):
    form = PermitRuleForm
    list_display = (
        "work_type",
        "level",
        "max_minutes",
        "gas_test_required",
        "plan_required",
        "effective_from",
        "effective_to",
    )
    list_filter = ("work_type",)
    list_select_related = ("work_type", "level")


class PermitFieldSchemaForm(forms.ModelForm):
    class Meta:
        model = PermitFieldSchema
        fields = ("work_type", "code", "name", "schema", "clause", "is_active")

    def clean_schema(self):
        schema = self.cleaned_data.get("schema")
        if problem := schema_problem(schema):
            raise ValidationError(problem, code="schema.invalid")
        return schema


@admin.register(PermitFieldSchema)
class PermitFieldSchemaAdmin(CatalogueAdmin):
    form = PermitFieldSchemaForm
    list_display = ("work_type", "code", "name", "is_active")
    list_filter = ("work_type", "is_active")
    list_select_related = ("work_type",)


class WeatherStopForm(EffectiveDatesForm):
    class Meta:
        model = WeatherStop
        fields = "__all__"

    def clean_conditions(self):
        conditions = self.cleaned_data.get("conditions") or []
        if not isinstance(conditions, list) or not set(conditions) <= set(WeatherCondition.values):
            raise ValidationError(
                _("A list of: %(codes)s.") % {"codes": ", ".join(WeatherCondition.values)},
                code="conditions.invalid",
            )
        return conditions


@admin.register(WeatherStop)
class WeatherStopAdmin(CatalogueAdmin):
    form = WeatherStopForm
    list_display = ("work_type", "min_wind_force", "conditions", "unless_upgraded", "clause")
    list_select_related = ("work_type",)


@admin.register(HeightHazard)
class HeightHazardAdmin(CatalogueAdmin):
    list_display = ("code", "name", "clause", "order")


class GasLimitForm(EffectiveDatesForm):
    class Meta:
        model = GasLimit
        fields = "__all__"


@admin.register(GasLimit)
class GasLimitAdmin(CatalogueAdmin):
    form = GasLimitForm
    list_display = ("code", "name", "kind", "unit", "min_value", "max_value", "clause")
    list_filter = ("kind",)


class CombustibleCriterionForm(EffectiveDatesForm):
    class Meta:
        model = CombustibleCriterion
        fields = "__all__"


@admin.register(CombustibleCriterion)
class CombustibleCriterionAdmin(CatalogueAdmin):
    form = CombustibleCriterionForm
    list_display = ("lel_at_least", "max_value", "unit", "clause", "effective_from")


class CalendarDayInline(ScopedTabularInline):
    model = CalendarDay
    fields = ("date", "kind", "name")
    deletable = True


@admin.register(CalendarYear)
class CalendarYearAdmin(CatalogueAdmin):
    list_display = ("year", "source", "loaded_at")
    inlines = (CalendarDayInline,)


@admin.register(CalendarDay)
class CalendarDayAdmin(CatalogueAdmin):
    list_display = ("date", "kind", "name", "calendar_year")
    list_filter = ("kind", "calendar_year")
    list_select_related = ("calendar_year",)


@admin.register(SpecialPeriod)
class SpecialPeriodAdmin(CatalogueAdmin):
    list_display = ("name", "site", "starts_at", "ends_at", "clause")
    list_select_related = ("site",)


def _check_roles(roles) -> list:
    from safework.accounts.models import Role

    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        raise ValidationError(
            _("Unknown account role: %(roles)s.") % {"roles": ", ".join(unknown)},
            code="roles.unknown",
        )
    return roles


@admin.register(UpgradePolicy)
class UpgradePolicyAdmin(CatalogueAdmin):
    list_display = ("work_type", "levels_up", "at_top_extra_role", "clause")
    list_select_related = ("work_type",)


class RouteStepForm(EffectiveDatesForm):
    class Meta:
        model = RouteStep
        fields = (
            "code",
            "work_type",
            "order",
            "label",
            "roles",
            "condition",
            "time_limit_minutes",
            "stage",
            "on_site_required",
            "clause",
            "effective_from",
            "effective_to",
        )

    def clean_roles(self):
        roles = self.cleaned_data.get("roles")
        if problem := role_problems(roles):
            raise ValidationError(problem, code="roles.invalid")
        return _check_roles(roles)

    def clean(self):
        cleaned = super().clean()
        text = (cleaned.get("condition") or "").strip()
        if text:
            try:
                compile_condition(text, cleaned.get("work_type"))
            except ConditionError as exc:
                self.add_error("condition", ValidationError(str(exc), code="condition.invalid"))
        return cleaned


@admin.register(RouteStep)
class RouteStepAdmin(CatalogueAdmin):
    form = RouteStepForm
    list_display = ("work_type", "stage", "order", "label", "roles", "condition", "effective_from")
    list_filter = ("work_type", "stage")
    list_select_related = ("work_type",)

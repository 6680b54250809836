"""Admin of the work vocabulary: work types, levels, crew roles, position permissions, house
rules."""

from django.contrib import admin

from safework.accounts.admin_mixins import (
    ScopedTabularInline,
)
from safework.accounts.admin_shared import (
    CatalogueAdmin,
    EffectiveDatesForm,
)
from safework.work.models import CrewRole, HouseRule, PositionPermission, WorkLevel, WorkType


class WorkLevelInline(ScopedTabularInline):
    model = WorkLevel
    fields = ("code", "name", "rank", "clause")
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

"""Admin of permits (read-only: a permit changes only through its services, with its gates and
signatures), alarms (read-only; handled through the API and pages), alarm types (catalogue) and
delegations (read-only)."""

from django.contrib import admin

from safework.accounts.admin_mixins import ScopedAdmin
from safework.accounts.admin_shared import CatalogueAdmin
from safework.permits import queries
from safework.permits.models import Alarm, AlarmType, Permit
from safework.permits.permissions import ALARMS, PERMITS


@admin.register(Permit)
class PermitAdmin(ScopedAdmin):
    resource = PERMITS
    read_only = True
    deletable = False
    list_display = (
        "number",
        "work_type",
        "level",
        "site",
        "status",
        "planned_start",
        "planned_end",
        "applicant",
    )
    list_filter = ("status", "work_type", "site", "upgraded", "is_emergency")
    list_select_related = ("work_type", "level", "site", "applicant")
    search_fields = ("number", "place", "content")
    date_hierarchy = "planned_start"
    # No inlines: the permit page (web) and GET /api/v1/permits/{id} show its parts and timeline.

    def visible(self, request, scope):
        return queries.permits_visible_to(scope, request.user)


@admin.register(Alarm)
class AlarmAdmin(ScopedAdmin):
    resource = ALARMS
    read_only = True
    deletable = False
    list_display = ("alarm_type", "source_label", "site", "status", "raised_at", "handled_at")
    list_filter = ("alarm_type", "status", "site")
    list_select_related = ("alarm_type", "site")
    search_fields = ("source_label", "message")

    def visible(self, request, scope):
        return queries.alarms_visible_to(scope, request.user)


@admin.register(AlarmType)
class AlarmTypeAdmin(CatalogueAdmin):
    list_display = ("code", "name", "clause", "is_active")
    search_fields = ("code", "name")

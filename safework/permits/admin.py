"""Admin of permits (read-only: a permit changes only through its services, with its gates and
signatures), alarms (read-only; handled through the API and pages), alarm types (catalogue) and
delegations (read-only)."""

from django.contrib import admin

from safework.accounts.admin_mixins import ScopedAdmin
from safework.accounts.admin_shared import CatalogueAdmin
from safework.accounts.matrix import SETTINGS
from safework.permits import queries
from safework.permits.models import (
    Alarm,
    AlarmType,
    ApprovalStep,
    Attachment,
    Blind,
    Briefing,
    CrewAssignment,
    Delegation,
    GasTest,
    MeasureItem,
    ParkPush,
    Permit,
    PermitEvent,
    PermitNumberCounter,
    Presence,
    RiskItem,
    Signature,
)
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


# --- the permit's parts: read-only views of what the services wrote -----------------------------


class PermitPartAdmin(ScopedAdmin):
    """A part of permits (written only by `permits.services`), shown as the permits are."""

    resource = PERMITS
    read_only = True
    deletable = False
    list_select_related = ("permit",)

    def visible(self, request, scope):
        return queries.permit_parts_visible_to(self.model, scope, request.user)


def _part(model, *columns):
    admin.site.register(
        model,
        type(f"{model.__name__}Admin", (PermitPartAdmin,), {"list_display": ("permit", *columns)}),
    )


_part(CrewAssignment, "person", "role", "added_at", "removed_at")
_part(ApprovalStep, "round", "order", "label", "status", "due_at")
_part(Signature, "action", "role", "signer_label", "at", "on_site")
_part(MeasureItem, "order", "text", "involved", "confirmed_at")
_part(RiskItem, "order", "hazard")
_part(Briefing, "briefer", "at")
_part(GasTest, "taken_at", "point", "gas", "value", "unit", "passed")
_part(Presence, "person", "kind", "at")
_part(Blind, "line", "number", "action")
_part(Attachment, "name", "kind", "at")
_part(PermitEvent, "at", "kind", "actor_label")


@admin.register(Delegation)
class DelegationAdmin(ScopedAdmin):
    resource = PERMITS
    read_only = True
    deletable = False
    list_display = ("delegator", "delegate", "role", "site", "starts_at", "ends_at")

    def visible(self, request, scope):
        return queries.delegations_visible_to(scope, request.user)


@admin.register(PermitNumberCounter)
class PermitNumberCounterAdmin(ScopedAdmin):
    """The serial drawn per prefix and day (bookkeeping of the numbers; never edited)."""

    resource = PERMITS
    read_only = True
    deletable = False
    global_data = True
    list_display = ("prefix", "day", "last")


@admin.register(ParkPush)
class ParkPushAdmin(ScopedAdmin):
    """The park exchange's outbox: whole to whoever reads the database settings, as the
    notification outbox is (`safework park status|retry` act on it)."""

    resource = SETTINGS
    read_only = True
    deletable = False
    global_data = True
    list_display = ("kind", "object_uuid", "version", "state", "attempts", "next_attempt_at")
    list_filter = ("kind", "state")

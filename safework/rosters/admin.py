"""Admin of rosters and their entries."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from safework.accounts.admin_mixins import (
    ScopedAdmin,
    ScopedTabularInline,
)
from safework.accounts.matrix import ROSTER
from safework.rosters import queries
from safework.rosters.models import Roster, RosterEntry

# --- rosters ---------------------------------------------------------------------------------


class RosterEntryForm(forms.ModelForm):
    class Meta:
        model = RosterEntry
        fields = ("person", "on", "work_type", "level", "crew_role", "site", "attrs")

    def clean(self):
        cleaned = super().clean()
        work_type, level = cleaned.get("work_type"), cleaned.get("level")
        if level is not None and work_type is not None and level.work_type_id != work_type.pk:
            self.add_error("level", _("This level belongs to another work type."))
        return cleaned


class RosterEntryInline(ScopedTabularInline):
    model = RosterEntry
    form = RosterEntryForm
    fields = RosterEntryForm.Meta.fields
    autocomplete_fields = ("person",)
    deletable = True


@admin.register(Roster)
class RosterAdmin(ScopedAdmin):
    """Work schedules for a forward qualification check: a site's rosters and one's own, as the
    API shows them; entries name persons in the writer's scope."""

    resource = ROSTER
    list_display = ("name", "site", "author", "created_at")
    list_select_related = ("site", "author")
    search_fields = ("name",)
    fields = ("name", "site", "author")
    readonly_fields = ("author",)
    inlines = (RosterEntryInline,)

    def visible(self, request, scope):
        return queries.rosters_visible_to(scope, request.user)

    def save_model(self, request, obj, form, change):
        if not change and obj.author_id is None:
            obj.author = request.user
        super().save_model(request, obj, form, change)


@admin.register(RosterEntry)
class RosterEntryAdmin(ScopedAdmin):
    resource = ROSTER
    form = RosterEntryForm
    list_display = ("roster", "on", "person", "work_type", "level", "crew_role", "site")
    list_filter = ("work_type", "crew_role", "on")
    list_select_related = ("roster", "person", "work_type", "level", "crew_role", "site")
    search_fields = ("person__name", "roster__name")
    autocomplete_fields = ("person", "roster")

    def visible(self, request, scope):
        return queries.roster_entries_visible_to(scope, request.user)

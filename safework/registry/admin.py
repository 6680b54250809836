"""Admin of registry verification batches and look-ups (read-only)."""

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from safework.accounts.admin_mixins import (
    ScopedAdmin,
    ScopedTabularInline,
)
from safework.accounts.admin_shared import (
    progress_bar,
)
from safework.accounts.matrix import CERTIFICATES
from safework.people.masking import masked
from safework.registry import queries
from safework.registry.models import VerificationBatch, VerificationLookup


class VerificationLookupInline(ScopedTabularInline):
    model = VerificationLookup
    editable = False
    fields = ("certificate", "number", "outcome", "name_match", "attempts", "checked_at")
    readonly_fields = fields
    show_change_link = True
    max_num = 0


@admin.register(VerificationBatch)
class VerificationBatchAdmin(ScopedAdmin):
    resource = CERTIFICATES
    read_only = True
    deletable = False
    list_display = ("__str__", "status", "progress_shown", "source", "created_by", "created_at")
    list_filter = ("status",)
    list_select_related = ("created_by",)
    fields = ("status", "progress_shown", "source", "created_by", "created_at", "finished_at")
    readonly_fields = ("progress_shown",)
    inlines = (VerificationLookupInline,)

    def visible(self, request, scope):
        return queries.batches_visible_to(scope, request.user)

    @admin.display(description=gettext_lazy("progress"))
    def progress_shown(self, obj):
        return progress_bar(obj.done, obj.total)


@admin.register(VerificationLookup)
class VerificationLookupAdmin(ScopedAdmin):
    resource = CERTIFICATES
    read_only = True
    deletable = False
    id_fields = {"id_number": "masked_id_number", "response": "response_shown"}
    id_search_fields = ("id_number",)
    list_display = ("batch", "certificate", "id_number", "number", "outcome", "name_match")
    list_filter = ("outcome", "name_match")
    list_select_related = ("batch", "certificate__item")
    search_fields = ("=number", "registry_name")

    def visible(self, request, scope):
        return queries.lookups_visible_to(scope)

    @admin.display(description=gettext_lazy("registry answer"))
    def response_shown(self, obj):
        shown = json.dumps(masked(obj.response), ensure_ascii=False, indent=2, sort_keys=True)
        return format_html('<pre class="sw-payload">{}</pre>', shown)

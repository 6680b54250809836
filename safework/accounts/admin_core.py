"""Admin of the audit chain (read-only) and of the administrators' settings; the site's titles."""

import json

from django import forms
from django.apps import apps
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.admin_mixins import ScopedAdmin, shows_full_id_numbers
from safework.accounts.matrix import AUDIT, SETTINGS, WRITE
from safework.core import queries
from safework.core.models import AuditRecord, Setting
from safework.core.scope import Scope
from safework.core.settings_registry import DEFAULTS, get_setting
from safework.people.masking import masked

# Chinese by default (decisions.md): the admin is the UI of this phase.
admin.site.site_header = "SafeWork 特殊作业安全管理"
admin.site.site_title = "SafeWork"
admin.site.index_title = "特殊作业安全管理"


@admin.register(AuditRecord)
class AuditRecordAdmin(ScopedAdmin):
    """The chain as it is: nobody adds, changes or deletes a record here. A reader sees the
    records the API shows them (`audit_visible_to`)."""

    resource = AUDIT
    read_only = True
    deletable = False
    list_display = ("seq", "at", "actor_label", "action", "object_type", "object_label")
    list_filter = ("action", "object_type")
    search_fields = ("action", "object_label", "actor_label", "=object_id")
    date_hierarchy = "at"
    fields = (
        ("seq", "at"),
        ("actor_id", "actor_label", "client_addr"),
        "action",
        ("object_type", "object_id", "object_label"),
        "payload_shown",
        ("prev_hash", "hash"),
    )
    readonly_fields = ("payload_shown",)
    show_full_result_count = False

    def visible(self, request, scope):
        return queries.audit_visible_to(scope, user_id=request.user.pk)

    def get_search_fields(self, request):
        # Labels may carry ID numbers (a blacklist entry): searching parts of them would let
        # someone who sees only masked numbers probe their digits.
        if shows_full_id_numbers(request):
            return self.search_fields
        return ("action", "actor_label", "=object_id")

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj.sw_full_ids = shows_full_id_numbers(request)
        return obj

    @admin.display(description=gettext_lazy("canonical payload"))
    def payload_shown(self, obj):
        """The payload as stored, or with ID numbers and birth dates masked (`people.masking`)
        for users who may not see them (the record itself is never changed)."""
        full = getattr(obj, "sw_full_ids", False)
        try:
            data = json.loads(obj.payload)
        except ValueError:
            text = obj.payload if full else masked(obj.payload)
        else:
            shown = data if full else masked(data)
            text = json.dumps(shown, ensure_ascii=False, indent=2, sort_keys=True)
        return format_html('<pre class="sw-payload">{}</pre>', text)


def _site_model():
    # core sits below org: look the model up at run time instead of importing it.
    return apps.get_model("org", "Site")


def _value_matches_default(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    return isinstance(value, type(default))


class SettingForm(forms.ModelForm):
    key = forms.ChoiceField(label=gettext_lazy("key"))
    site = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=gettext_lazy("site"),
        help_text=gettext_lazy("Empty: the value for every site without its own."),
    )

    class Meta:
        model = Setting
        fields = ("key", "value", "note")

    sites_allowed = None  # set by SettingAdmin.get_form: the writer's sites
    group_wide = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [
            (key, f"{key} — {spec.help}") for key, spec in sorted(DEFAULTS.items())
        ]
        self.fields["site"].queryset = self.sites_allowed
        self.fields["site"].required = not self.group_wide
        if self.instance.site_id:
            self.initial["site"] = self.instance.site_id
        if "value" in self.fields:  # not on a view-only page
            self.fields["value"].help_text = _(
                "JSON: true/false for a switch, a whole number for days."
            )

    def clean(self):
        cleaned = super().clean()
        key, value = cleaned.get("key"), cleaned.get("value")
        site = cleaned.get("site")
        if key in DEFAULTS and "value" in cleaned:
            default = DEFAULTS[key].default
            if not _value_matches_default(value, default):
                self.add_error(
                    "value",
                    _("This setting takes a value like its default, %(default)s.")
                    % {"default": json.dumps(default)},
                )
        if key:
            twins = Setting.objects.filter(key=key, site_id=site.pk if site else None)
            if twins.exclude(pk=self.instance.pk).exists():
                self.add_error("key", _("This setting already has a value here; change that one."))
        return cleaned

    def save(self, commit=True):
        site = self.cleaned_data.get("site")
        self.instance.site_id = site.pk if site else None
        return super().save(commit)


@admin.register(Setting)
class SettingAdmin(ScopedAdmin):
    """The settings that administrators change, with their meaning and defaults.

    A site-scoped writer (a site's head of safety) sets values for their sites only; the global
    value belongs to group-wide writers.
    """

    resource = SETTINGS
    form = SettingForm
    list_display = ("key", "site_shown", "value", "default_shown", "help_shown", "updated_at")
    list_filter = ("key",)
    fields = ("key", "site", "value", "note")
    change_list_template = "admin/core/setting/change_list.html"

    def visible(self, request, scope):
        return queries.settings_visible_to(scope)

    def in_scope(self, request, obj, scope):
        # Reading a global value is fine; changing it is for group-wide writers.
        if scope is None:
            return False
        return scope.group_wide or obj.site_id in scope.site_ids

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        scope = self.scope(request, WRITE) or Scope.nothing()
        sites = _site_model().objects.all()
        if not scope.group_wide:
            sites = sites.filter(pk__in=scope.site_ids)
        return type(
            form.__name__, (form,), {"sites_allowed": sites, "group_wide": scope.group_wide}
        )

    @admin.display(description=gettext_lazy("site"))
    def site_shown(self, obj):
        if obj.site_id is None:
            return _("every site")
        site = _site_model().objects.filter(pk=obj.site_id).first()
        return str(site) if site else obj.site_id

    @admin.display(description=gettext_lazy("default"))
    def default_shown(self, obj):
        spec = DEFAULTS.get(obj.key)
        return json.dumps(spec.default) if spec else "—"

    @admin.display(description=gettext_lazy("meaning"))
    def help_shown(self, obj):
        spec = DEFAULTS.get(obj.key)
        return spec.help if spec else _("unknown key: no rule reads it")

    def changelist_view(self, request, extra_context=None):
        known = [
            {
                "key": key,
                "default": json.dumps(spec.default),
                "in_force": json.dumps(get_setting(key)),
                "help": spec.help,
            }
            for key, spec in sorted(DEFAULTS.items())
        ]
        extra_context = {**(extra_context or {}), "known_settings": known}
        return super().changelist_view(request, extra_context)

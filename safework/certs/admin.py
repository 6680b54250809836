"""Admin of certificates and their catalogues.

Certificates are written through certs.services (create, correct, revoke, cancel), which keep the
stored review due date and write the audit record; the list shows each record's status on today
by the one status rule (`rules.certificate_status`).
"""

from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.db import transaction
from django.db.models import F
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.admin_mixins import (
    ScopedAdmin,
    ScopedTabularInline,
    shows_full_id_numbers,
)
from safework.accounts.admin_shared import (
    CatalogueAdmin,
    EffectiveDatesForm,
    scoped_file,
)
from safework.accounts.matrix import CERTIFICATES
from safework.certs import queries, services
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateEvent,
    CertificateFile,
    CertificateItem,
    CertState,
    LegacyCode,
    RevocationGround,
    Scheme,
)
from safework.certs.queries import reapply_bars, status_of, status_settings
from safework.certs.rules import (
    RuleBook,
    Status,
    capped_message,
    certificate_status,
    validity_limit,
)


def status_badge(status):
    """The status in its colour, with the days left while the record is usable."""
    label = Status(status.status).label
    if status.usable and status.days_left is not None:
        label = _("%(status)s, %(days)s days left") % {"status": label, "days": status.days_left}
    return format_html(
        '<span class="sw-status sw-{}" title="{}">{}</span>', status.colour, status.clause, label
    )


@admin.register(Scheme)
class SchemeAdmin(CatalogueAdmin):
    list_display = ("code", "name", "authority", "basis", "catalogue_version")
    search_fields = ("code", "name")


@admin.register(CertificateItem)
class CertificateItemAdmin(CatalogueAdmin):
    list_display = ("code", "name", "scheme", "category", "catalogue_version", "is_active")
    list_filter = ("scheme", "is_active", "calendar_year")
    list_select_related = ("scheme",)
    search_fields = ("code", "name", "category")


@admin.register(CatalogueRule)
class CatalogueRuleAdmin(CatalogueAdmin):
    form = EffectiveDatesForm
    list_display = (
        "code",
        "scheme",
        "item",
        "validity_months",
        "review_interval_months",
        "extension_months",
        "effective_from",
        "effective_to",
        "clause",
    )
    list_filter = ("scheme",)
    list_select_related = ("scheme", "item")
    search_fields = ("code", "clause", "note")

    # Review due dates are stored on each certificate: after a rule is saved or deleted, every
    # one is recomputed under the rules now in force, audited per change, as the last write.
    def save_related(self, request, form, formsets, change):
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            services.recompute_review_dues(by=request.user)

    def delete_model(self, request, obj):
        with transaction.atomic():
            super().delete_model(request, obj)
            services.recompute_review_dues(by=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            super().delete_queryset(request, queryset)
            services.recompute_review_dues(by=request.user)


@admin.register(RevocationGround)
class RevocationGroundAdmin(CatalogueAdmin):
    list_display = ("code", "name", "scheme", "clause", "reapply_bar_months", "bar_clause")
    list_filter = ("scheme",)
    list_select_related = ("scheme",)


@admin.register(LegacyCode)
class LegacyCodeAdmin(CatalogueAdmin):
    list_display = ("old_code", "old_version", "scheme", "new_item", "restriction", "note")
    list_filter = ("scheme",)
    list_select_related = ("scheme", "new_item")
    search_fields = ("old_code", "note")


# --- certificates ----------------------------------------------------------------------------


class CertificateForm(forms.ModelForm):
    """Printed facts of a record; an optional revocation or cancellation on a change."""

    END_CHOICES = [
        ("", "---------"),
        ("revoke", gettext_lazy("revoke (撤销)")),
        ("cancel", gettext_lazy("cancel (注销)")),
    ]
    end_action = forms.ChoiceField(
        label=gettext_lazy("revoke or cancel"), choices=END_CHOICES, required=False
    )
    end_ground = forms.ModelChoiceField(
        label=gettext_lazy("ground of revocation"),
        queryset=RevocationGround.objects.none(),
        required=False,
        help_text=gettext_lazy("Required to revoke (Order No. 30 Art. 30)."),
    )
    end_reason = forms.CharField(label=gettext_lazy("reason"), required=False, max_length=300)
    end_on = forms.DateField(
        label=gettext_lazy("from"),
        required=False,
        widget=AdminDateWidget,
        help_text=gettext_lazy("Empty: today."),
    )

    class Meta:
        model = Certificate
        fields = (
            "person",
            "scheme",
            "item",
            "number",
            "restriction",
            "first_issued_on",
            "issued_on",
            "valid_from",
            "valid_until",
            "long_review_interval",
            "issuing_authority",
            "last_practised_on",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("valid_from", "valid_until"):
            if name in self.fields:
                self.fields[name].required = False
                self.fields[name].help_text = _("Empty: from the catalogue rule in force.")
        if "end_ground" in self.fields and self.instance.scheme_id:
            self.fields["end_ground"].queryset = services.grounds_for(self.instance.scheme_id)

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("end_action")
        if action:
            if not (cleaned.get("end_reason") or "").strip():
                self.add_error("end_reason", _("Give the reason."))
            corrected = set(self.changed_data) & set(services.EDITABLE)
            if corrected:
                self.add_error(
                    "end_action",
                    _("Save the corrections first, then revoke or cancel the record."),
                )
            state = self.instance.state
            if action == "revoke" and state != CertState.ACTIVE:
                self.add_error("end_action", _("Only a record in force can be revoked."))
            if action == "revoke" and cleaned.get("end_ground") is None:
                self.add_error("end_ground", _("Choose the ground of revocation."))
            if action == "cancel" and state == CertState.CANCELLED:
                self.add_error("end_action", _("The record is already cancelled."))
        item, scheme = cleaned.get("item"), cleaned.get("scheme")
        if item is not None and scheme is not None and item.scheme_id != scheme.pk:
            self.add_error("item", _("This item belongs to another scheme."))
        return cleaned


class CertificateEventInline(ScopedTabularInline):
    model = CertificateEvent
    editable = False
    fields = (
        "kind",
        "on",
        "due_on",
        "passed",
        "previous_valid_until",
        "new_valid_until",
        "reason",
        "actor_label",
    )
    readonly_fields = fields


class CertificateFileInline(ScopedTabularInline):
    model = CertificateFile
    fields = ("file", "download", "uploaded_at")
    readonly_fields = ("download", "uploaded_at")
    deletable = True

    @admin.display(description=gettext_lazy("download"))
    def download(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:certs_certificatefile_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, Path(obj.file.name).name)


@admin.register(Certificate)
class CertificateAdmin(ScopedAdmin):
    """Certificate records of the persons in scope, each with its status on today."""

    resource = CERTIFICATES
    form = CertificateForm
    deletable = False  # revoke or cancel instead
    id_fields = {
        "person__id_number": "masked_person_id_number",
        "number": "masked_number",
    }
    id_search_fields = ("person__id_number",)
    list_display = (
        "person",
        "person__id_number",
        "item",
        "number",
        "valid_until",
        "verification",
    )
    list_display_links = ("person", "item")
    list_filter = ("scheme", "verification", "state", "valid_until")
    list_select_related = ("person", "item", "scheme")
    search_fields = ("number", "person__name")
    autocomplete_fields = ("person",)
    inlines = (CertificateEventInline, CertificateFileInline)
    readonly_fields = (
        "status_shown",
        "next_review_due",
        "state",
        "state_reason",
        "state_changed_on",
        "revocation_ground",
        "revoked_on",
        "reapply_allowed_from",
        "verification",
        "verified_at",
        "verification_source",
        "catalogue_version",
        "legacy_code",
        "predecessor",
        "created_at",
        "updated_at",
    )

    def visible(self, request, scope):
        return queries.certificates_visible_to(scope)

    def get_queryset(self, request):
        # The status needs the end of the record this one renews: one join, not a query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(predecessor_valid_until=F("predecessor__valid_until"))
        )

    def get_search_fields(self, request):
        # A certificate number may be the holder's ID number: no partial search for those who
        # may not see full numbers.
        if shows_full_id_numbers(request):
            return self.search_fields
        return ("=number", "person__name")

    def get_list_display(self, request):
        # Loaded once for the whole list, then used for every row.
        book, settings, today = RuleBook.load(), status_settings(), timezone.localdate()
        bars = reapply_bars()

        @admin.display(description=gettext_lazy("status today"))
        def status_today(cert):
            return status_badge(
                certificate_status(
                    cert,
                    on=today,
                    book=book,
                    next_review_due=cert.next_review_due,
                    predecessor_valid_until=getattr(cert, "predecessor_valid_until", None),
                    bars=bars.get((cert.person_id, cert.item_id), ()),
                    settings=settings,
                )
            )

        return [*super().get_list_display(request), status_today]

    def get_fieldsets(self, request, obj=None):
        record = ["person", "scheme", "item", "number", "restriction"]
        dates = [
            ("first_issued_on", "issued_on"),
            ("valid_from", "valid_until"),
            "long_review_interval",
            "last_practised_on",
            "issuing_authority",
        ]
        if obj is None:
            return self.mask_fieldsets(
                request, [(None, {"fields": record}), (_("dates"), {"fields": dates})]
            )
        state = [
            "state",
            "state_reason",
            "state_changed_on",
            "revocation_ground",
            "revoked_on",
            "reapply_allowed_from",
        ]
        verification = ["verification", "verified_at", "verification_source"]
        more = ["catalogue_version", "legacy_code", "predecessor", "created_at", "updated_at"]
        fieldsets = [
            (None, {"fields": ["status_shown", *record]}),
            (_("dates"), {"fields": [*dates, "next_review_due"]}),
            (_("state"), {"fields": state}),
            (_("registry"), {"fields": verification}),
            (None, {"classes": ["collapse"], "fields": more}),
        ]
        if self.has_change_permission(request, obj):
            fieldsets.append(
                (
                    _("revoke or cancel"),
                    {
                        "classes": ["collapse"],
                        "fields": ["end_action", "end_ground", "end_reason", "end_on"],
                    },
                )
            )
        return self.mask_fieldsets(request, fieldsets)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["person", "scheme"]  # another person or scheme is another record
        return readonly

    @admin.display(description=gettext_lazy("status today"))
    def status_shown(self, obj):
        return status_badge(status_of(obj)) if obj.pk else "—"

    @admin.display(description=gettext_lazy("number as printed"))
    def masked_number(self, obj):
        return self.masked_certificate_number(obj)

    def save_with_service(self, request, obj, form, change):
        saved = self._save_with_service(request, obj, form, change)
        given = form.cleaned_data.get("valid_until")
        if given and given > saved.valid_until:
            # The service capped the end at the item's rule (internal qualifications): say so.
            limit = validity_limit(RuleBook.load(), saved.item, saved.issued_on)
            if limit is not None:
                messages.warning(request, capped_message(given, saved.valid_until, limit))
        return saved

    def _save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            return services.create_certificate(
                by=request.user,
                person=data["person"],
                scheme=data["scheme"],
                item=data["item"],
                number=data["number"],
                issued_on=data["issued_on"],
                valid_from=data.get("valid_from"),
                valid_until=data.get("valid_until"),
                first_issued_on=data.get("first_issued_on"),
                restriction=data.get("restriction") or "",
                long_review_interval=bool(data.get("long_review_interval")),
                issuing_authority=data.get("issuing_authority") or "",
                last_practised_on=data.get("last_practised_on"),
            )
        saved = Certificate.objects.get(pk=obj.pk)
        changes = {n: data[n] for n in services.EDITABLE if n in form.changed_data}
        if changes:
            saved = services.update_certificate(by=request.user, cert=saved, **changes)
        action = data.get("end_action")
        if action == "revoke":
            saved = services.revoke_certificate(
                by=request.user,
                cert=saved,
                ground=data["end_ground"],
                reason=data["end_reason"],
                on=data.get("end_on"),
            )
        elif action:
            saved = services.cancel_certificate(
                by=request.user, cert=saved, reason=data["end_reason"], on=data.get("end_on")
            )
        return saved


class CertificateChildAdmin(ScopedAdmin):
    resource = CERTIFICATES


@admin.register(CertificateEvent)
class CertificateEventAdmin(CertificateChildAdmin):
    """History written by the certificate services (reviews, extensions, revocations, …)."""

    read_only = True
    deletable = False
    list_display = ("certificate", "kind", "on", "due_on", "passed", "new_valid_until")
    list_filter = ("kind", "passed")
    list_select_related = ("certificate__item",)
    date_hierarchy = "on"

    def visible(self, request, scope):
        return queries.certificate_events_visible_to(scope)


@admin.register(CertificateFile)
class CertificateFileAdmin(CertificateChildAdmin):
    list_display = ("certificate", "file_name", "uploaded_at")
    list_select_related = ("certificate__item",)
    autocomplete_fields = ("certificate",)
    readonly_fields = ("uploaded_at",)

    def visible(self, request, scope):
        return queries.certificate_files_visible_to(scope)

    @admin.display(description=gettext_lazy("file"))
    def file_name(self, obj):
        url = reverse("admin:certs_certificatefile_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, Path(obj.file.name).name)

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<path:object_id>/download/", download, name="certs_certificatefile_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, object_id):
        return scoped_file(self, request, object_id, "file")

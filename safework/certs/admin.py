"""Admin of certificates and their catalogues, import jobs, registry look-ups and rosters.

Certificates are written through certs.services (create, correct, revoke, cancel), which keep the
stored review due date and write the audit record; the list shows each record's status on today
by the one status rule (`rules.certificate_status`). Jobs and look-ups are read-only here: the
import and verification services write them.
"""

import json
from pathlib import Path

import rule_engine
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.admin_mixins import (
    ScopedAdmin,
    ScopedTabularInline,
    shows_full_id_numbers,
)
from safework.accounts.matrix import CATALOGUE, CERTIFICATES, ROSTER
from safework.certs import services
from safework.certs.imports import report_jobs
from safework.certs.imports import services as import_services
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateEvent,
    CertificateFile,
    CertificateItem,
    CertState,
    CrewRole,
    ImportJob,
    LegacyCode,
    PositionPermission,
    ReportJob,
    Requirement,
    RevocationGround,
    Roster,
    RosterEntry,
    Scheme,
    VerificationBatch,
    VerificationLookup,
    WorkLevel,
    WorkType,
)
from safework.certs.queries import reapply_bars, status_of, status_settings
from safework.certs.rules import RuleBook, Status, certificate_status
from safework.people.masking import masked
from safework.people.queries import person_scope_q


def progress_bar(done: int, total: int):
    """A progress bar with its percentage and counts ("45% (450/1000)")."""
    if not total:
        return "—"
    percent = min(100, round(100 * done / total))
    return format_html(
        '<span class="sw-progress"><progress value="{}" max="100">{}%</progress>'
        " {}% ({}/{})</span>",
        percent,
        percent,
        percent,
        done,
        total,
    )


def status_badge(status):
    """The status in its colour, with the days left while the record is usable."""
    label = Status(status.status).label
    if status.usable and status.days_left is not None:
        label = _("%(status)s, %(days)s days left") % {"status": label, "days": status.days_left}
    return format_html(
        '<span class="sw-status sw-{}" title="{}">{}</span>', status.colour, status.clause, label
    )


def scoped_file(model_admin, request, object_id, field: str):
    """A stored file of a row the user may see (uploads are not served from MEDIA_URL)."""
    obj = model_admin.get_object(request, object_id)
    if obj is None:
        raise Http404
    stored = getattr(obj, field)
    if not stored:
        raise Http404
    return FileResponse(stored.open("rb"), as_attachment=True, filename=Path(stored.name).name)


# --- the catalogue ---------------------------------------------------------------------------


class CatalogueAdmin(ScopedAdmin):
    """Catalogue rows: reference data every reader sees, changed by CATALOGUE writers (a later
    `catalogue update` shows where they differ from the shipped rows)."""

    resource = CATALOGUE
    global_data = True


class EffectiveDatesForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("effective_from"), cleaned.get("effective_to")
        if start and end and end <= start:
            self.add_error("effective_to", _("The row must end after it starts."))
        return cleaned


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


class RequirementForm(EffectiveDatesForm):
    class Meta:
        model = Requirement
        fields = (
            "code",
            "description",
            "work_type",
            "min_level",
            "crew_role",
            "kind",
            "items",
            "match_restriction",
            "condition",
            "clause",
            "effective_from",
            "effective_to",
            "is_active",
        )

    def clean_condition(self):
        text = (self.cleaned_data.get("condition") or "").strip()
        if text:
            try:
                rule_engine.Rule(text)
            except rule_engine.errors.EngineError as exc:
                raise ValidationError(
                    _("Not a valid rule-engine condition: %(problem)s")
                    % {"problem": getattr(exc, "message", str(exc))},
                    code="condition.invalid",
                )
        return text

    def clean_items(self):
        items = self.cleaned_data.get("items") or []
        if not isinstance(items, list) or not all(
            isinstance(i, str) and ":" in i and all(i.split(":", 1)) for i in items
        ):
            raise ValidationError(
                _('A list of "scheme:code" or "scheme:prefix*", e.g. ["special_operation:2.1"].'),
                code="items.invalid",
            )
        return items

    def clean(self):
        cleaned = super().clean()
        work_type, level = cleaned.get("work_type"), cleaned.get("min_level")
        if level is not None and work_type is not None and level.work_type_id != work_type.pk:
            self.add_error("min_level", _("This level belongs to another work type."))
        return cleaned


@admin.register(Requirement)
class RequirementAdmin(CatalogueAdmin):
    form = RequirementForm
    list_display = (
        "code",
        "description",
        "work_type",
        "min_level",
        "crew_role",
        "kind",
        "condition",
        "effective_from",
        "effective_to",
        "is_active",
    )
    list_filter = ("kind", "work_type", "crew_role", "is_active")
    list_select_related = ("work_type", "min_level", "crew_role")
    search_fields = ("code", "description", "condition", "clause")


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

    def scope_queryset(self, request, qs, scope):
        return qs.filter(person_scope_q(scope, "person__"))

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

    def scope_queryset(self, request, qs, scope):
        return qs.filter(person_scope_q(scope, "certificate__person__"))


@admin.register(CertificateEvent)
class CertificateEventAdmin(CertificateChildAdmin):
    """History written by the certificate services (reviews, extensions, revocations, …)."""

    read_only = True
    deletable = False
    list_display = ("certificate", "kind", "on", "due_on", "passed", "new_valid_until")
    list_filter = ("kind", "passed")
    list_select_related = ("certificate__item",)
    date_hierarchy = "on"


@admin.register(CertificateFile)
class CertificateFileAdmin(CertificateChildAdmin):
    list_display = ("certificate", "file_name", "uploaded_at")
    list_select_related = ("certificate__item",)
    autocomplete_fields = ("certificate",)
    readonly_fields = ("uploaded_at",)

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


# --- import jobs and registry look-ups -------------------------------------------------------


@admin.register(ReportJob)
class ReportJobAdmin(ScopedAdmin):
    """Export and report jobs: read-only; each holds what its requester may see, so the admin
    shows a user their own jobs only (`reports_visible_to`, as the API)."""

    resource = CERTIFICATES
    read_only = True
    deletable = False
    list_display = ("kind", "status", "done", "total", "filename", "created_by", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("created_by",)
    fields = (
        ("kind", "status"),
        ("done", "total"),
        "filename",
        "message",
        ("created_by", "created_at", "started_at", "finished_at"),
    )

    def scope_queryset(self, request, qs, scope):
        return qs.filter(pk__in=report_jobs.reports_visible_to(request.user).values("pk"))


@admin.register(ImportJob)
class ImportJobAdmin(ScopedAdmin):
    """Import jobs as the import service leaves them: status, progress, counts, findings."""

    resource = CERTIFICATES
    read_only = True
    deletable = False
    list_display = (
        "original_name",
        "kind",
        "status",
        "progress_shown",
        "error_rows",
        "error_file_link",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("created_by", "site", "contractor")
    search_fields = ("original_name", "=file_sha256")
    fields = (
        ("original_name", "kind", "status"),
        "progress_shown",
        ("total_rows", "processed_rows", "error_rows"),
        ("created_count", "updated_count", "unchanged_count"),
        ("valid_rows_only", "site", "contractor"),
        "message",
        "error_file_link",
        "findings",
        ("created_by", "created_at", "started_at", "finished_at"),
        ("reviewed_by", "reviewed_at"),
        "file_sha256",
    )
    readonly_fields = ("progress_shown", "error_file_link", "findings")

    def scope_queryset(self, request, qs, scope):
        """The jobs the API shows (`imports_visible_to`): group-wide all; a site its jobs and
        the uploads of contractors engaged there (they wait for its safety officer); a
        contractor manager their company's uploads; everyone their own."""
        if scope.group_wide:
            return qs
        visible = import_services.imports_visible_to(scope, request.user)
        return qs.filter(pk__in=visible.values("pk"))

    @admin.display(description=gettext_lazy("progress"))
    def progress_shown(self, obj):
        return progress_bar(obj.processed_rows, obj.total_rows)

    @admin.display(description=gettext_lazy("error file"))
    def error_file_link(self, obj):
        if not obj.error_file:
            return "—"
        url = reverse("admin:certs_importjob_errors", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("download"))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # A contractor manager never reads the findings held for the reviewer (issue 17).
            issues = obj.errors if isinstance(obj.errors, list) else []
            obj.sw_findings = import_services.findings_for(request.user, issues)
        return obj

    @admin.display(description=gettext_lazy("findings"))
    def findings(self, obj):
        issues = getattr(obj, "sw_findings", [])
        if not issues:
            return "—"
        columns = ("row", "column", "value", "code", "message")
        head = format_html_join("", "<th>{}</th>", ((_(c),) for c in columns))
        rows = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", ((_cell(i, c),) for c in columns)),)
                for i in issues[:200]
            ),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows)

    def get_urls(self):
        errors = self.admin_site.admin_view(self.error_file_view)
        return [
            path("<path:object_id>/errors/", errors, name="certs_importjob_errors"),
            *super().get_urls(),
        ]

    def error_file_view(self, request, object_id):
        # The findings quote the ledger's cells, ID numbers included.
        # It also holds the findings for the reviewer, which a contractor manager never reads.
        if not shows_full_id_numbers(request) or not import_services.sees_review_findings(
            request.user
        ):
            raise PermissionDenied
        return scoped_file(self, request, object_id, "error_file")


def _cell(issue, column: str) -> str:
    value = issue.get(column, "") if isinstance(issue, dict) else ""
    return "" if value is None else str(value)


class VerificationLookupInline(ScopedTabularInline):
    model = VerificationLookup
    editable = False
    fields = ("certificate", "number", "outcome", "name_match", "attempts", "checked_at")
    readonly_fields = fields
    show_change_link = True
    max_num = 0


def _lookup_scope(scope, prefix: str = ""):
    """Look-ups of certificates in scope."""
    return person_scope_q(scope, f"{prefix}certificate__person__")


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

    def scope_queryset(self, request, qs, scope):
        if scope.group_wide:
            return qs
        lookups = VerificationLookup.objects.filter(_lookup_scope(scope), batch=OuterRef("pk"))
        return qs.filter(Q(created_by=request.user) | Q(Exists(lookups)))

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

    def scope_queryset(self, request, qs, scope):
        if scope.group_wide:
            return qs
        return qs.filter(_lookup_scope(scope) | Q(batch__created_by=request.user))

    @admin.display(description=gettext_lazy("registry answer"))
    def response_shown(self, obj):
        shown = json.dumps(masked(obj.response), ensure_ascii=False, indent=2, sort_keys=True)
        return format_html('<pre class="sw-payload">{}</pre>', shown)


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
    """Work schedules for a forward qualification check; entries name persons in scope."""

    resource = ROSTER
    list_display = ("name", "site", "author", "created_at")
    list_select_related = ("site", "author")
    search_fields = ("name",)
    fields = ("name", "site", "author")
    readonly_fields = ("author",)
    inlines = (RosterEntryInline,)

    def scope_queryset(self, request, qs, scope):
        if scope.group_wide:
            return qs
        entries = RosterEntry.objects.filter(
            person_scope_q(scope, "person__"), roster=OuterRef("pk")
        )
        # A site's rosters, the user's own, and those naming someone the user sees.
        return qs.filter(
            Q(author=request.user) | Q(site_id__in=scope.site_ids) | Q(Exists(entries))
        )

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

    def scope_queryset(self, request, qs, scope):
        if scope.group_wide:
            return qs
        return qs.filter(person_scope_q(scope, "person__") | Q(roster__author=request.user))

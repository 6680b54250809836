"""Admin of import jobs and report jobs: read-only here; the ledger services write them."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.admin_mixins import (
    ScopedAdmin,
    shows_full_id_numbers,
)
from safework.accounts.admin_shared import (
    progress_bar,
    scoped_file,
)
from safework.accounts.matrix import CERTIFICATES
from safework.ledger import queries
from safework.ledger import services as import_services
from safework.ledger.models import ImportJob, ReportJob

# --- import jobs and registry look-ups -------------------------------------------------------


@admin.register(ReportJob)
class ReportJobAdmin(ScopedAdmin):
    """Export and report jobs: read-only; each holds what its requester may see, so the admin
    shows a user their own jobs only, as the API does."""

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

    def visible(self, request, scope):
        return queries.reports_visible_to(request.user)


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

    def visible(self, request, scope):
        return queries.imports_visible_to(scope, request.user)

    @admin.display(description=gettext_lazy("progress"))
    def progress_shown(self, obj):
        return progress_bar(obj.processed_rows, obj.total_rows)

    @admin.display(description=gettext_lazy("error file"))
    def error_file_link(self, obj):
        if not obj.error_file:
            return "—"
        url = reverse("admin:ledger_importjob_errors", args=[obj.pk])
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
            path("<path:object_id>/errors/", errors, name="ledger_importjob_errors"),
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

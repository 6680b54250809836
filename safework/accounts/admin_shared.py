"""Admin pieces shared by the domain apps: progress bars, scoped file downloads, catalogue rows."""

from pathlib import Path

from django import forms
from django.http import FileResponse, Http404
from django.utils.html import format_html
from django.utils.translation import gettext as _

from safework.accounts.admin_mixins import (
    ScopedAdmin,
)
from safework.accounts.matrix import CATALOGUE


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

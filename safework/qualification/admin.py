"""Admin of requirements (rule rows of the qualification engine)."""

import rule_engine
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from safework.accounts.admin_shared import (
    CatalogueAdmin,
    EffectiveDatesForm,
)
from safework.qualification.models import Requirement


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

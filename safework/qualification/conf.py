"""The administrators' settings the qualification engine reads, registered in
`QualificationConfig.ready()`. The keys keep their `cert.` prefix: stored rows use them."""

from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

CONSTRUCTION_COUNTS_AS_ORDER30 = SettingSpec(
    "cert.construction_counts_as_order30",
    False,
    _("Construction electrical/height items count as Order-30 electrical/height items."),
)
ABSENCE_RULE_ENABLED = SettingSpec(
    "cert.absence_rule_enabled",
    True,
    _("Away from the operation for 6 months or more needs a practical re-examination."),
)
ABSENCE_MONTHS = SettingSpec(
    "cert.absence_months", 6, _("Months away that trigger the re-examination (Art. 32).")
)

SETTINGS = (CONSTRUCTION_COUNTS_AS_ORDER30, ABSENCE_RULE_ENABLED, ABSENCE_MONTHS)

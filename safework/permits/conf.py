"""The administrators' settings of permits, registered in `PermitsConfig.ready()`."""

from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

ESCALATE_AFTER_MINUTES = SettingSpec(
    "permits.escalate_after_minutes",
    60,
    _("Minutes an overdue approval step waits before it is escalated to the next level."),
    "AQ 3064.2-2025 5.2",
)

SETTINGS = (ESCALATE_AFTER_MINUTES,)

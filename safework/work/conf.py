"""The administrators' settings of the permit-type rules, registered in `WorkConfig.ready()`;
each may be overridden per site (`core.models.Setting` with a site)."""

from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

NIGHT_START = SettingSpec(
    "work.night_start",
    "22:00",
    _("Night begins at this local time (HH:MM, inclusive)."),
    "GB 30871-2022 5.1.1",
)
NIGHT_END = SettingSpec(
    "work.night_end",
    "06:00",
    _("Night ends at this local time (HH:MM, exclusive)."),
    "GB 30871-2022 5.1.1",
)
CALENDAR_MISSING_YEAR = SettingSpec(
    "work.calendar_missing_year",
    "weekends",
    _(
        'A year with no official calendar loaded: "weekends" (weekends are rest days, no holidays '
        'known) or "every_day_upgraded" (every day counts as a rest day).'
    ),
)
POSITION_ACCURACY_M = SettingSpec(
    "work.position_accuracy_m",
    50,
    _("A position less accurate than this (m) counts as unknown."),
    "AQ 3064.2-2025 5.5.2",
)
ONSITE_SIGNING = SettingSpec(
    "work.onsite_signing",
    True,
    _("Approvers sign only when their position shows them at the work site."),
    "GB 30871-2022 4.11 a; AQ 3064.2-2025 5.5.2",
)

SETTINGS = (NIGHT_START, NIGHT_END, CALENDAR_MISSING_YEAR, POSITION_ACCURACY_M, ONSITE_SIGNING)

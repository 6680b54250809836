"""The administrators' settings of notifications, registered in `NotifyConfig.ready()`."""

from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

MAX_ATTEMPTS = SettingSpec(
    "notify.max_attempts",
    5,
    _("A message not delivered after this many attempts is given up and the administrator told."),
)
RETRY_BASE_SECONDS = SettingSpec(
    "notify.retry_base_seconds",
    60,
    _("Wait before the first retry of a message; doubled after each failed attempt."),
)
EXPIRED_LOOKBACK_DAYS = SettingSpec(
    "notify.expired_lookback_days",
    7,
    _("Certificates that expired at most this many days ago are reported as expired."),
)

ROSTER_LOOKAHEAD_DAYS = SettingSpec(
    "notify.roster_lookahead_days",
    30,
    _("Roster entries up to this many days ahead are checked, and their authors told."),
)

SETTINGS = (MAX_ATTEMPTS, RETRY_BASE_SECONDS, EXPIRED_LOOKBACK_DAYS, ROSTER_LOOKAHEAD_DAYS)

"""The administrators' settings certificate status reads, registered in `CertsConfig.ready()`."""

from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

YELLOW_DAYS = SettingSpec(
    "cert.yellow_days", 60, _("Usable certificates with this many days or fewer left are yellow.")
)
UNVERIFIED_BLOCKING = SettingSpec(
    "cert.unverified_blocking", False, _("Unverified certificates refuse work instead of warning.")
)

SETTINGS = (YELLOW_DAYS, UNVERIFIED_BLOCKING)

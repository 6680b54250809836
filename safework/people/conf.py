"""The administrators' settings about people, registered in `PeopleConfig.ready()`."""

from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

CONTRACTOR_MEDICAL_MAX_AGE_MONTHS = SettingSpec(
    "people.contractor_medical_max_age_months",
    3,
    _("Contractor staff need a medical check dated at most this many months before the date."),
)
MINIMUM_WORKING_AGE = SettingSpec(
    "people.minimum_working_age",
    16,
    _("No employment may start before the person is this many years old."),
    clause=_("Labour Law of the PRC, Art. 15: employers may not recruit minors under 16"),
)

SETTINGS = (CONTRACTOR_MEDICAL_MAX_AGE_MONTHS, MINIMUM_WORKING_AGE)

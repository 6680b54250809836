"""Settings that administrators change, with their defaults and meaning.

A `core.models.Setting` row overrides a default, per site where `site_id` is set. Deployment limits
(upload size, URLs) are environment settings instead (safework/settings.py).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class SettingSpec:
    default: object
    help: object  # a lazy translated string
    clause: object = ""  # the regulation that sets the default, where one does


DEFAULTS: dict[str, SettingSpec] = {
    "cert.yellow_days": SettingSpec(
        60, _("Usable certificates with this many days or fewer left are yellow.")
    ),
    "cert.unverified_blocking": SettingSpec(
        False, _("Unverified certificates refuse work instead of warning.")
    ),
    "cert.construction_counts_as_order30": SettingSpec(
        False, _("Construction electrical/height items count as Order-30 electrical/height items.")
    ),
    "people.contractor_medical_max_age_months": SettingSpec(
        3,
        _("Contractor staff need a medical check dated at most this many months before the date."),
    ),
    "cert.absence_rule_enabled": SettingSpec(
        True, _("Away from the operation for 6 months or more needs a practical re-examination.")
    ),
    "cert.absence_months": SettingSpec(
        6, _("Months away that trigger the re-examination (Art. 32).")
    ),
    "people.minimum_working_age": SettingSpec(
        16,
        _("No employment may start before the person is this many years old."),
        clause=_("Labour Law of the PRC, Art. 15: employers may not recruit minors under 16"),
    ),
}


def get_setting(key: str, *, site_id: int | None = None):
    """The value in force: the site's override, else the global row, else the default."""
    from django.db.models import Q

    from safework.core.models import Setting

    spec = DEFAULTS[key]
    wanted = (
        Q(site_id__isnull=True) if site_id is None else Q(site_id__isnull=True) | Q(site_id=site_id)
    )
    rows = dict(Setting.objects.filter(wanted, key=key).values_list("site_id", "value"))
    if site_id is not None and site_id in rows:
        return rows[site_id]
    return rows.get(None, spec.default)

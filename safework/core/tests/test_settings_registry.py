"""Settings are registered by the apps that read them (`AppConfig.ready()`), not listed in core;
the keys and defaults stay what they were."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from safework.core.models import Setting
from safework.core.settings_registry import (
    DEFAULTS,
    SettingSpec,
    get_setting,
    register_setting,
    setting_spec,
)

# The keys and defaults as they were before each app registered its own (issue 13 #6).
KNOWN = {
    "cert.yellow_days": 60,
    "cert.unverified_blocking": False,
    "cert.construction_counts_as_order30": False,
    "people.contractor_medical_max_age_months": 3,
    "cert.absence_rule_enabled": True,
    "cert.absence_months": 6,
    "people.minimum_working_age": 16,
    # Permit-type rules (work/conf.py), added with the second wave.
    "work.night_start": "22:00",
    "work.night_end": "06:00",
    "work.calendar_missing_year": "weekends",
    "work.position_accuracy_m": 50,
    "work.onsite_signing": True,
    # notifications (issue 15)
    "notify.max_attempts": 5,
    "notify.retry_base_seconds": 60,
    "notify.expired_lookback_days": 7,
    "notify.roster_lookahead_days": 30,
    # permits (issue 14)
    "permits.calibration_check": True,
    "permits.calibration_days": 365,
}


def test_every_app_registered_its_settings_with_unchanged_defaults():
    assert {key: spec.default for key, spec in DEFAULTS.items()} == KNOWN


def test_registering_the_same_setting_again_is_harmless_and_a_different_one_is_refused():
    spec = setting_spec("cert.yellow_days")
    assert register_setting(spec) is spec
    with pytest.raises(ImproperlyConfigured, match="cert.yellow_days"):
        register_setting(SettingSpec("cert.yellow_days", 30, "another meaning"))
    assert setting_spec("cert.yellow_days").default == 60


def test_an_unregistered_key_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="no.such_key"):
        get_setting("no.such_key")


def test_a_site_value_overrides_the_global_one_which_overrides_the_default(db):
    assert get_setting("cert.absence_months", site_id=7) == 6
    Setting.objects.create(key="cert.absence_months", value=9)
    Setting.objects.create(key="cert.absence_months", site_id=7, value=12)
    assert get_setting("cert.absence_months") == 9
    assert get_setting("cert.absence_months", site_id=7) == 12
    assert get_setting("cert.absence_months", site_id=8) == 9


def test_in_a_unit_of_work_settings_are_read_once_and_again_after_a_save(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.core import memo

    with memo.unit():
        with CaptureQueriesContext(connection) as reads:
            first = get_setting("work.position_accuracy_m")
            assert get_setting("work.onsite_signing") is True
            assert get_setting("work.position_accuracy_m") == first == 50
        assert len(reads) == 1  # every key of the (global) settings at once
        Setting.objects.create(key="work.position_accuracy_m", value=20)
        assert get_setting("work.position_accuracy_m") == 20  # the save emptied the memo
    assert get_setting("work.position_accuracy_m") == 20

from django.apps import AppConfig


class PermitsConfig(AppConfig):
    name = "safework.permits"
    verbose_name = "作业票"

    def ready(self):
        from safework.core.catalogue import register_catalogue
        from safework.core.settings_registry import register_setting
        from safework.permits import (
            conf,
            permissions,  # noqa: F401  declares the permits and alarms resources
            shipped,
            tasks,  # noqa: F401  the park push task registers itself for ParkPush (core.jobs)
        )

        register_catalogue(self.label, shipped.rows)
        # A certificate turned red: the holder's open permits, to applicant and work leader.
        from safework.certs.disqualification import register_lister
        from safework.permits.notices import open_permits

        register_lister("permits", open_permits)
        for spec in conf.SETTINGS:
            register_setting(spec)

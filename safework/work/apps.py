from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "safework.work"
    verbose_name = "作业"

    def ready(self):
        from safework.core.catalogue import register_catalogue
        from safework.core.settings_registry import register_setting
        from safework.work import (
            permissions,  # noqa: F401  declares the catalogue resource
            shipped,
        )
        from safework.work.conf import SETTINGS

        register_catalogue(self.label, shipped.rows)
        for spec in SETTINGS:
            register_setting(spec)

from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "safework.notify"
    verbose_name = "通知"

    def ready(self):
        from safework.core.catalogue import register_catalogue
        from safework.core.settings_registry import register_setting
        from safework.notify import (
            permissions,  # noqa: F401  declares the inbox and the diagnosis
            scan,  # noqa: F401  registers the health-check scanner
            shipped,
            tasks,  # noqa: F401  the delivery task and the periodic jobs
        )
        from safework.notify.conf import SETTINGS

        for spec in SETTINGS:
            register_setting(spec)
        register_catalogue(self.label, shipped.rows)

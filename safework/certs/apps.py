from django.apps import AppConfig


class CertsConfig(AppConfig):
    name = "safework.certs"
    verbose_name = "证书与资格"

    def ready(self):
        from safework.certs.conf import SETTINGS
        from safework.core.settings_registry import register_setting

        for spec in SETTINGS:
            register_setting(spec)

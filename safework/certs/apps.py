from django.apps import AppConfig


class CertsConfig(AppConfig):
    name = "safework.certs"
    verbose_name = "证书与资格"

    def ready(self):
        from safework.certs import (
            permissions,  # noqa: F401  declares certs's resources
            shipped,
        )
        from safework.certs.conf import SETTINGS
        from safework.certs.models import CatalogueRule
        from safework.core.catalogue import register_catalogue, register_catalogue_hook
        from safework.core.settings_registry import register_setting

        for spec in SETTINGS:
            register_setting(spec)
        register_catalogue(self.label, shipped.rows)
        # Certificates store their next review due date: it follows the rules as shipped.
        register_catalogue_hook(shipped.rules_written, models=[CatalogueRule])
        # The date-driven certificate events (warning stages, reviews, expiry) for notify's scan.
        from safework.certs.notices import scan_certificates, scan_windows
        from safework.notify.scan import register_scanner

        register_scanner("certificates", scan_certificates)
        # Review, extension and renewal windows opening; a vacuum ahead before a late renewal.
        register_scanner("windows", scan_windows)
        # On the day a certificate turns red: the holder's planned work, to those responsible.
        from safework.certs.disqualification import scan_disqualified

        register_scanner("disqualified", scan_disqualified)

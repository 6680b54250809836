from django.apps import AppConfig


class CertsConfig(AppConfig):
    name = "safework.certs"
    verbose_name = "证书与资格"

    def ready(self):
        from safework.certs import permissions  # noqa: F401  declares certs's resources

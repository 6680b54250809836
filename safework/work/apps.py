from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "safework.work"
    verbose_name = "作业"

    def ready(self):
        from safework.core.catalogue import register_catalogue
        from safework.work import (
            permissions,  # noqa: F401  declares the catalogue resource
            shipped,
        )

        register_catalogue(self.label, shipped.rows)

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "safework.core"
    verbose_name = "核心"

    def ready(self):
        from safework.core import pdf, permissions  # noqa: F401  resources; the PDF font check

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "safework.core"
    verbose_name = "核心"

    def ready(self):
        from safework.core import memo, pdf, permissions  # noqa: F401  resources; the PDF font check
        from safework.core.models import Setting

        memo.forget_on_change(Setting)

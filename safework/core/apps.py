from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "safework.core"
    verbose_name = "核心"

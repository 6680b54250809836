from django.apps import AppConfig


class RostersConfig(AppConfig):
    name = "safework.rosters"
    verbose_name = "排班"

    def ready(self):
        from safework.rosters import permissions  # noqa: F401  declares the roster resource

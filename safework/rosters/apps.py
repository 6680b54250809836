from django.apps import AppConfig


class RostersConfig(AppConfig):
    name = "safework.rosters"
    verbose_name = "排班"

    def ready(self):
        from safework.notify.scan import register_scanner
        from safework.rosters import permissions  # noqa: F401  declares the roster resource
        from safework.rosters.notices import scan_rosters

        # Entries that will not be qualified on their day, told to the roster's author.
        register_scanner("rosters", scan_rosters)

from django.apps import AppConfig


class RostersConfig(AppConfig):
    name = "safework.rosters"
    verbose_name = "排班"

    def ready(self):
        from safework.certs.disqualification import register_lister
        from safework.notify.scan import register_scanner
        from safework.rosters import permissions  # noqa: F401  declares the roster resource
        from safework.rosters.notices import planned_entries, scan_rosters

        # Entries that will not be qualified on their day, told to the roster's author.
        register_scanner("rosters", scan_rosters)
        # A certificate turned red: the holder's entries from that day, to the roster's author.
        register_lister("rosters", planned_entries)

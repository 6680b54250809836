from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "safework.people"
    verbose_name = "人员"

    def ready(self):
        from safework.core.settings_registry import register_setting
        from safework.org.services import department_sites_changed
        from safework.people import permissions  # noqa: F401  declares people's resources
        from safework.people.conf import SETTINGS
        from safework.people.services import sync_employment_sites

        for spec in SETTINGS:
            register_setting(spec)

        # Employment.site follows its department when the tree moves.
        department_sites_changed.connect(sync_employment_sites, dispatch_uid="employment_sites")

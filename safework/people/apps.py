from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "safework.people"
    verbose_name = "人员"

    def ready(self):
        from safework.org.services import department_sites_changed
        from safework.people import permissions  # noqa: F401  declares people's resources
        from safework.people.services import sync_employment_sites

        # Employment.site follows its department when the tree moves.
        department_sites_changed.connect(sync_employment_sites, dispatch_uid="employment_sites")

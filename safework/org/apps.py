from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "safework.org"
    verbose_name = "组织"

    def ready(self):
        from safework.org import permissions  # noqa: F401  declares org's resources

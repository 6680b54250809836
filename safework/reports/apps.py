from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "safework.reports"
    verbose_name = "报表"

    def ready(self):
        from safework.reports import (
            permissions,  # noqa: F401  declares who reads the reports
            tasks,  # noqa: F401  the monthly job
        )

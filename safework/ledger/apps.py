from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "safework.ledger"
    verbose_name = "台账导入导出"

    def ready(self):
        # The tasks register themselves for their models (core.jobs.runner): services queue
        # them by model, without importing the tasks module that imports them.
        from safework.ledger import (
            permissions,  # noqa: F401  (its models under certificates)
            tasks,  # noqa: F401
        )

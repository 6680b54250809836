from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "safework.ledger"
    verbose_name = "台账导入导出"

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "safework.demo"
    verbose_name = "演示与压测数据"

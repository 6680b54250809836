from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "safework.work"
    verbose_name = "作业"

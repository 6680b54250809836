from django.apps import AppConfig


class PermitsConfig(AppConfig):
    name = "safework.permits"
    verbose_name = "作业票"

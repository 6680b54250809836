from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "safework.notify"
    verbose_name = "通知"

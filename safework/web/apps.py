from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "safework.web"
    verbose_name = "网页"

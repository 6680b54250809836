from django.apps import AppConfig


class RostersConfig(AppConfig):
    name = "safework.rosters"
    verbose_name = "排班"

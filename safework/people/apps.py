from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "safework.people"
    verbose_name = "人员"

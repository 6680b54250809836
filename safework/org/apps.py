from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "safework.org"
    verbose_name = "组织"

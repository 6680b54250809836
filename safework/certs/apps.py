from django.apps import AppConfig


class CertsConfig(AppConfig):
    name = "safework.certs"
    verbose_name = "证书与资格"

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "safework.accounts"
    verbose_name = "账号与角色"

    def ready(self):
        from safework.accounts import lockout, permissions  # noqa: F401  rules predicates; the audit of lockouts

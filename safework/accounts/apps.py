from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "safework.accounts"
    verbose_name = "账号与角色"

    def ready(self):
        # The rules predicates, and the audit of login lockouts (an axes signal receiver).
        from safework.accounts import lockout, permissions  # noqa: F401

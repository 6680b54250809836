from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "safework.accounts"
    verbose_name = "账号与角色"

    def ready(self):
        # Accounts' resources; the permission checks (guard: every declared permission becomes a
        # rules permission); the policy's system check; the audit of login lockouts (axes).
        from safework.accounts import checks, guard, lockout, permissions  # noqa: F401

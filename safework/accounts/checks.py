"""System checks of the permission policy that only accounts can make: core names roles as
plain strings, so a misspelt role would silently grant nobody."""

from django.core import checks

from safework.accounts.models import Role
from safework.core import policy


@checks.register()
def policy_names_known_roles(app_configs, **kwargs):
    unknown = policy.roles_named() - set(Role.values) - {policy.EVERY_ROLE}
    return [
        checks.Error(f"The permission policy names an unknown role {role!r}.", id="safework.E101")
        for role in sorted(unknown)
    ]

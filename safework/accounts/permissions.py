"""Accounts' resources: users and their role grants, and API tokens."""

from safework.accounts.matrix import ACCOUNTS, TOKENS
from safework.accounts.models import Role
from safework.core.policy import EVERY_ROLE, READ, WRITE, declare

declare(
    ACCOUNTS,
    app="accounts",
    cells={READ: {Role.ADMINISTRATOR}, WRITE: {Role.ADMINISTRATOR}},
    objects={
        "accounts.user": "safework.accounts.api.users_visible_to",
        "accounts.rolegrant": "safework.accounts.api.grants_visible_to",
    },
)

# Any role may give its scripts a token of its own (a credential, not a record); which tokens a
# user sees is theirs, or everyone's for an administrator (accounts.api.tokens_visible_to).
declare(TOKENS, app="accounts", cells={READ: {EVERY_ROLE}, WRITE: {EVERY_ROLE}})

"""Names of the resources of the first issues, and who sees full ID numbers.

The permission matrix itself is no longer here: each app declares its resources, their actions
and the default cells in its own `permissions.py` (the registry is `core.policy`; enforcement is
`accounts.guard.require`). These names stay importable from one module because apps below certs
use certs' names (org's admin shows positions under the catalogue); each owner's permissions.py
declares its resources under these names. A new app names its resources in its own
permissions.py.
"""

from safework.accounts.models import Role
from safework.core.permissions import AUDIT, SETTINGS  # noqa: F401  core names its own
from safework.core.policy import READ, WRITE  # noqa: F401  re-exported for doors
from safework.core.policy import allows as _allows

ORG = "org"  # group, sites, areas, departments, positions (org/permissions.py)
PEOPLE = "people"  # persons, employment (people/permissions.py, as the next three)
CONTRACTORS = "contractors"  # contractors, engagements
HEALTH = "health"  # health checks
BLACKLIST = "blacklist"
CERTIFICATES = "certificates"  # certificate records, events, verification, imports (certs)
CATALOGUE = "catalogue"  # schemes, items, rules, requirements, position matrix (certs)
ROSTER = "roster"  # roster uploads and their checks (certs)
ACCOUNTS = "accounts"  # users and role grants (accounts/permissions.py)
TOKENS = "tokens"  # API tokens: every role manages its own (administrators everyone's)

# Who sees full ID numbers. Workers and contractor managers see full numbers only of the persons
# in their scope (themselves, their own staff), which their scope already guarantees.
FULL_ID_NUMBERS = frozenset(
    {
        Role.ADMINISTRATOR,
        Role.PRINCIPAL,
        Role.SAFETY_HEAD,
        Role.SAFETY_OFFICER,
        Role.WORKER,
        Role.GUARDIAN,
        Role.GAS_TESTER,
        Role.CONTRACTOR_MANAGER,
    }
)


def allows(role: str, resource: str, action: str) -> bool:
    """The default cell (role × resource × action), as declared by the resource's app."""
    return _allows(role, resource, action)

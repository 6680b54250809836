"""The permission matrix: role × resource × action → allowed, as data in one place.

Read by the permission predicates (`accounts.permissions`), the API, the admin and by the
role × endpoint test, which expects every cell. *Where* a permitted role may act is its grant's
scope (`accounts.scope.scope_for`): group-wide or a site for managers, a department subtree for
workshop heads and team leaders, their own person for workers, their contractor's staff for a
contractor manager. Defaults from decisions.md "People, roles and visibility".
"""

from safework.accounts.models import Role

READ, WRITE = "read", "write"

# Resources, as the API and admin name them.
ORG = "org"  # group, sites, areas, departments, positions
PEOPLE = "people"  # persons, employment
CONTRACTORS = "contractors"  # contractors, engagements
HEALTH = "health"  # health checks
BLACKLIST = "blacklist"
CERTIFICATES = "certificates"  # certificate records, events, verification, imports
CATALOGUE = "catalogue"  # schemes, items, rules, requirements, position matrix
ROSTER = "roster"  # roster uploads and their checks
AUDIT = "audit"
ACCOUNTS = "accounts"  # users and role grants
SETTINGS = "settings"
TOKENS = "tokens"  # API tokens: every role manages its own (administrators everyone's)

RESOURCES = (
    ORG,
    PEOPLE,
    CONTRACTORS,
    HEALTH,
    BLACKLIST,
    CERTIFICATES,
    CATALOGUE,
    ROSTER,
    AUDIT,
    ACCOUNTS,
    SETTINGS,
    TOKENS,
)

_ALL = frozenset(RESOURCES)
_STAFF_RECORDS = frozenset({PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES})

MATRIX: dict[str, dict[str, frozenset[str]]] = {
    Role.ADMINISTRATOR: {READ: _ALL, WRITE: _ALL},
    Role.PRINCIPAL: {
        READ: _ALL - {ACCOUNTS},
        WRITE: frozenset({ORG, PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES}),
    },
    Role.SAFETY_HEAD: {
        READ: _ALL - {ACCOUNTS},
        WRITE: frozenset(
            {ORG, PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES, BLACKLIST, CATALOGUE, ROSTER, SETTINGS}
        ),
    },
    Role.SAFETY_OFFICER: {
        READ: _STAFF_RECORDS | {ORG, AUDIT, CATALOGUE, ROSTER, BLACKLIST},
        WRITE: _STAFF_RECORDS | {ROSTER},
    },
    Role.WORKSHOP_HEAD: {
        READ: frozenset({ORG, PEOPLE, HEALTH, CERTIFICATES, CATALOGUE, ROSTER}),
        WRITE: frozenset({ROSTER}),
    },
    Role.TEAM_LEADER: {
        READ: frozenset({ORG, PEOPLE, HEALTH, CERTIFICATES, CATALOGUE, ROSTER}),
        WRITE: frozenset({ROSTER}),
    },
    Role.WORKER: {READ: frozenset({PEOPLE, HEALTH, CERTIFICATES, CATALOGUE}), WRITE: frozenset()},
    Role.GUARDIAN: {READ: frozenset({PEOPLE, HEALTH, CERTIFICATES, CATALOGUE}), WRITE: frozenset()},
    Role.GAS_TESTER: {
        READ: frozenset({PEOPLE, HEALTH, CERTIFICATES, CATALOGUE}),
        WRITE: frozenset(),
    },
    Role.CONTRACTOR_MANAGER: {
        READ: frozenset({PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES, CATALOGUE}),
        WRITE: frozenset({PEOPLE, HEALTH, CERTIFICATES}),
    },
    Role.INSPECTOR: {READ: _ALL - {ACCOUNTS, SETTINGS}, WRITE: frozenset()},
}

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
    if resource == TOKENS:  # any role may give its scripts a token of its own
        return role in MATRIX
    return resource in MATRIX.get(role, {}).get(action, frozenset())

"""Org's resource: the group, its sites, areas, departments and positions."""

from safework.accounts.matrix import ORG
from safework.accounts.models import Role
from safework.core.policy import READ, WRITE, declare

_Q = "safework.org.queries."

declare(
    ORG,
    app="org",
    cells={
        # Workers, gas testers, guardians and contractor managers read no org data (only their
        # own or their staff's records, decisions.md).
        READ: {
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.WORKSHOP_HEAD,
            Role.TEAM_LEADER,
            Role.INSPECTOR,
        },
        WRITE: {Role.ADMINISTRATOR, Role.PRINCIPAL, Role.SAFETY_HEAD},
    },
    objects={
        "org.group": _Q + "groups_visible_to",
        "org.site": _Q + "sites_visible_to",
        "org.area": _Q + "areas_visible_to",
        "org.department": _Q + "departments_visible_to",
        "org.position": _Q + "positions_visible_to",
    },
)

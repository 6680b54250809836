"""People's resources: persons and their employment, contractors and their engagements, health
checks, the blacklist (decisions.md "People, roles and visibility")."""

from safework.accounts.matrix import BLACKLIST, CONTRACTORS, HEALTH, PEOPLE
from safework.accounts.models import Role
from safework.core.policy import READ, WRITE, declare

_Q = "safework.people.queries."

EVERY_READER = {  # every account role reads persons, health and certificates, in its scope
    Role.ADMINISTRATOR,
    Role.PRINCIPAL,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.WORKSHOP_HEAD,
    Role.TEAM_LEADER,
    Role.WORKER,
    Role.GUARDIAN,
    Role.GAS_TESTER,
    Role.CONTRACTOR_MANAGER,
    Role.INSPECTOR,
}
# Who writes staff records: the management in its scope, and a contractor manager for their own
# staff (their registrations go to the site's review).
STAFF_WRITERS = {
    Role.ADMINISTRATOR,
    Role.PRINCIPAL,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.CONTRACTOR_MANAGER,
}

declare(
    PEOPLE,
    app="people",
    cells={READ: EVERY_READER, WRITE: STAFF_WRITERS},
    objects={
        "people.person": _Q + "persons_visible_to",
        "people.employment": _Q + "employments_visible_to",
    },
)

declare(
    CONTRACTORS,
    app="people",
    cells={
        READ: {
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.CONTRACTOR_MANAGER,
            Role.INSPECTOR,
        },
        # A contractor manager reads their company's record; the site registers and engages it.
        WRITE: {Role.ADMINISTRATOR, Role.PRINCIPAL, Role.SAFETY_HEAD, Role.SAFETY_OFFICER},
    },
    objects={
        "people.contractor": _Q + "contractors_visible_to",
        "people.contractorengagement": _Q + "engagements_visible_to",
    },
)

declare(
    HEALTH,
    app="people",
    cells={READ: EVERY_READER, WRITE: STAFF_WRITERS},
    objects={"people.healthcheck": _Q + "health_checks_visible_to"},
)

# The blacklist: editable by the head of safety and administrators (decisions.md).
declare(
    BLACKLIST,
    app="people",
    cells={
        READ: {
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.INSPECTOR,
        },
        WRITE: {Role.ADMINISTRATOR, Role.SAFETY_HEAD},
    },
    objects={"people.blacklistentry": _Q + "blacklist_visible_to"},
)

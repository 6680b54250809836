"""Work's resource: the catalogue (work types, levels, crew roles, the position permission
matrix, and the catalogue rows of the apps above: schemes, items, rules, requirements). Reference
data that every role reads; the head of safety keeps it. Declared here, the lowest app holding
catalogue rows, so every app above can name it."""

from safework.accounts.matrix import CATALOGUE
from safework.accounts.models import Role
from safework.core.policy import READ, WRITE, declare

EVERY_ROLE_READS = {
    Role.ADMINISTRATOR,
    Role.PRINCIPAL,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.TECHNICAL_LEAD,
    Role.WORKSHOP_HEAD,
    Role.TEAM_LEADER,
    Role.WORKER,
    Role.GUARDIAN,
    Role.GAS_TESTER,
    Role.CONTRACTOR_MANAGER,
    Role.INSPECTOR,
}


declare(
    CATALOGUE,
    app="work",
    cells={READ: EVERY_ROLE_READS, WRITE: {Role.ADMINISTRATOR, Role.SAFETY_HEAD}},
)

"""Rosters' resource: rosters and their entries, kept by site managers and team leaders."""

from safework.accounts.matrix import ROSTER
from safework.accounts.models import Role
from safework.core.policy import READ, WRITE, declare

_Q = "safework.rosters.queries."

declare(
    ROSTER,
    app="rosters",
    cells={
        READ: {
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.WORKSHOP_HEAD,
            Role.TEAM_LEADER,
            Role.INSPECTOR,
        },
        WRITE: {
            Role.ADMINISTRATOR,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.WORKSHOP_HEAD,
            Role.TEAM_LEADER,
        },
    },
    objects={
        "rosters.roster": _Q + "rosters_visible_to",
        "rosters.rosterentry": _Q + "roster_entries_visible_to",
    },
)

"""The permits app's resources (issue 14: apply, approve, sign, gas_test, accept, view):

- `permits`: `read` (view: the permit, its timeline, the ledger, exports), `apply` (create, edit a
  draft, submit, change the crew, cancel one's own application), `approve` (approve or reject a
  step, delegate; cancel an approved permit), `sign` (on-site signatures: measures, briefing,
  check-in, start, suspend, resume, complete), `gas_test`, `accept` (acceptance and closing),
  `cancel` (whoever applies or approves; `permits.services.cancel` decides per permit: its
  applicant before approval, an approver of its site at any time before the work starts).
- `alarms`: `read`, `handle` (acknowledge, handle, clear).

Where: the scope of the grant (`permits.queries`). Beyond the scope, object rules: nobody approves
their own permit; an approver holds the step's role at the permit's site (checked per step in
`permits.services`, which knows the step).
"""

from safework.accounts.guard import is_applicant, object_rule
from safework.accounts.models import Role
from safework.core.policy import READ, declare

PERMITS, ALARMS = "permits", "alarms"
APPLY, APPROVE, SIGN, GAS_TEST, ACCEPT, HANDLE, CANCEL = (
    "apply",
    "approve",
    "sign",
    "gas_test",
    "accept",
    "handle",
    "cancel",
)
_Q = "safework.permits.queries."

_EVERYONE = {
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
_APPROVERS = {
    Role.ADMINISTRATOR,
    Role.PRINCIPAL,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.TECHNICAL_LEAD,
    Role.WORKSHOP_HEAD,
    Role.TEAM_LEADER,
}

_APPLICANTS = {
    Role.ADMINISTRATOR,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.WORKSHOP_HEAD,
    Role.TEAM_LEADER,
    Role.CONTRACTOR_MANAGER,
}

declare(
    PERMITS,
    app="permits",
    cells={
        READ: _EVERYONE,
        APPLY: _APPLICANTS,
        APPROVE: _APPROVERS,
        CANCEL: _APPLICANTS | _APPROVERS,
        SIGN: _EVERYONE - {Role.INSPECTOR, Role.PRINCIPAL},
        GAS_TEST: {Role.ADMINISTRATOR, Role.GAS_TESTER, Role.SAFETY_OFFICER},
        ACCEPT: {
            Role.ADMINISTRATOR,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.WORKSHOP_HEAD,
            Role.TEAM_LEADER,
        },
    },
    objects={"permits.permit": _Q + "permits_visible_to"},
)

declare(
    ALARMS,
    app="permits",
    cells={
        READ: _EVERYONE - {Role.WORKER, Role.GAS_TESTER},
        HANDLE: {
            Role.ADMINISTRATOR,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.WORKSHOP_HEAD,
            Role.TEAM_LEADER,
        },
    },
    objects={"permits.alarm": _Q + "alarms_visible_to"},
)

# Separation of duties: the applicant never approves their own permit (GB 30871-2022 4.11).
object_rule(f"{PERMITS}.{APPROVE}", ~is_applicant)

"""Certs' resources: certificates (with their events, verification, imports and reports), the
catalogue, rosters. One file for now: when certs splits into its domain apps, each takes its
declaration (certificates → certs/registry/ledger, catalogue → work, roster → rosters)."""

from safework.accounts.matrix import CATALOGUE, CERTIFICATES, ROSTER
from safework.accounts.models import Role
from safework.core.policy import READ, WRITE, declare

EVERY_ROLE_READS = {
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


def _reports_visible_to(scope, user):
    # A report holds what its requester may see: only they read it, whatever their scope.
    from safework.certs.imports.report_jobs import reports_visible_to

    return reports_visible_to(user)


declare(
    CERTIFICATES,
    app="certs",
    cells={
        READ: EVERY_ROLE_READS,
        # A contractor manager's uploads go to the site's review first.
        WRITE: {
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.CONTRACTOR_MANAGER,
        },
    },
    objects={
        "certs.certificate": "safework.certs.queries.certificates_visible_to",
        "certs.importjob": "safework.certs.imports.services.imports_visible_to",
        "certs.verificationbatch": "safework.certs.verification.batches_visible_to",
        "certs.verificationlookup": "safework.certs.verification.lookups_visible_to",
        "certs.reportjob": _reports_visible_to,
    },
)

# Schemes, items, rules, requirements, the position permission matrix: reference data that every
# role reads; the head of safety keeps it.
declare(
    CATALOGUE,
    app="certs",
    cells={READ: EVERY_ROLE_READS, WRITE: {Role.ADMINISTRATOR, Role.SAFETY_HEAD}},
)

declare(
    ROSTER,
    app="certs",
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
    objects={"certs.roster": "safework.certs.roster.rosters_visible_to"},
)

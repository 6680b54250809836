"""Certs' resource: certificates, with their events and files. The apps above put their own
models under it (`policy.attach`): ledger's import and report jobs, registry's verification."""

from safework.accounts.matrix import CERTIFICATES
from safework.accounts.models import Role
from safework.core.policy import READ, WRITE, declare
from safework.work.permissions import EVERY_ROLE_READS

_Q = "safework.certs.queries."

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
        "certs.certificate": _Q + "certificates_visible_to",
        "certs.certificateevent": _Q + "certificate_events_visible_to",
        "certs.certificatefile": _Q + "certificate_files_visible_to",
    },
)

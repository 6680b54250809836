"""Ledger's models belong to the certificates resource (declared by certs): an import writes
certificates, an export or report reads them."""

from safework.accounts.matrix import CERTIFICATES
from safework.core.policy import attach


def _reports_visible_to(scope, user):
    # A report holds what its requester may see: only they read it, whatever their scope.
    from safework.ledger.queries import reports_visible_to

    return reports_visible_to(user)


attach(
    CERTIFICATES,
    objects={
        "ledger.importjob": "safework.ledger.queries.imports_visible_to",
        "ledger.reportjob": _reports_visible_to,
    },
)

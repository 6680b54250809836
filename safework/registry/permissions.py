"""Registry's models belong to the certificates resource (declared by certs): verifying is
reading and annotating certificates."""

from safework.accounts.matrix import CERTIFICATES
from safework.core.policy import attach

attach(
    CERTIFICATES,
    objects={
        "registry.verificationbatch": "safework.registry.queries.batches_visible_to",
        "registry.verificationlookup": "safework.registry.queries.lookups_visible_to",
    },
)

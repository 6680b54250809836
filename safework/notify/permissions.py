"""Notify's resources: every user's own inbox, and the diagnosis of who was (not) told."""

from safework.accounts.models import Role
from safework.core.policy import EVERY_ROLE, READ, WRITE, declare

INBOX = "inbox"  # one's own notices: list, read, acknowledge
NOTIFY_DIAGNOSIS = "notify_diagnosis"  # why a person was or wasn't told

declare(INBOX, app="notify", cells={READ: {EVERY_ROLE}, WRITE: {EVERY_ROLE}})
declare(
    NOTIFY_DIAGNOSIS,
    app="notify",
    cells={
        READ: {
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.INSPECTOR,
        },
        WRITE: {Role.ADMINISTRATOR},  # nothing writes it yet; the administrator may all
    },
)

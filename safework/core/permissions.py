"""Core's resources: the audit chain and the database settings (decisions.md "People, roles and
visibility"). Core imports no other app, so roles are named by their stored values here."""

from safework.core.policy import READ, WRITE, declare

ADMINISTRATOR, PRINCIPAL, SAFETY_HEAD = "administrator", "principal", "safety_head"
SAFETY_OFFICER, INSPECTOR = "safety_officer", "inspector"

# Reading the audit trail: the site's safety officer and the inspector (incl. export) too. Nobody
# writes it through a door: services append to it; the cell is the administrator's for the admin.
AUDIT = declare(
    "audit",
    app="core",
    cells={
        READ: {ADMINISTRATOR, PRINCIPAL, SAFETY_HEAD, SAFETY_OFFICER, INSPECTOR},
        WRITE: {ADMINISTRATOR},
    },
)

# Settings administrators change (colour thresholds, unverified-is-blocking, medical age).
SETTINGS = declare(
    "settings",
    app="core",
    cells={
        READ: {ADMINISTRATOR, PRINCIPAL, SAFETY_HEAD},
        WRITE: {ADMINISTRATOR, SAFETY_HEAD},
    },
)

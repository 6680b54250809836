"""Reports' resource: the monthly certificate health report (NOTIFY-05) and the contractor
compliance report (CONTRACTOR-03), each an action of one resource. Where a reader may is their
grant's scope: a site's safety officer their site's rows, a contractor manager their own
contractor's compliance (not the health report, which spans the enterprise)."""

from safework.accounts.models import Role
from safework.core.policy import declare

REPORTS = "reports"
HEALTH = "certificate_health"
COMPLIANCE = "contractor_compliance"

_SAFETY = {
    Role.ADMINISTRATOR,
    Role.PRINCIPAL,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.INSPECTOR,
}

declare(
    REPORTS,
    app="reports",
    cells={
        HEALTH: _SAFETY,
        COMPLIANCE: _SAFETY | {Role.CONTRACTOR_MANAGER},
    },
)

"""Reports' resources: the monthly certificate health report (NOTIFY-05) and the contractor
compliance report (CONTRACTOR-03), each read-only (a read-only API token may fetch them). Where a
reader may is their grant's scope: a site's safety officer their site's rows, a contractor
manager their own contractor's compliance (not the health report, which spans the enterprise)."""

from safework.accounts.models import Role
from safework.core.policy import READ, declare

HEALTH_REPORT = "certificate_health_report"
COMPLIANCE_REPORT = "contractor_compliance_report"

_SAFETY = {
    Role.ADMINISTRATOR,
    Role.PRINCIPAL,
    Role.SAFETY_HEAD,
    Role.SAFETY_OFFICER,
    Role.INSPECTOR,
}

declare(HEALTH_REPORT, app="reports", cells={READ: _SAFETY})
declare(COMPLIANCE_REPORT, app="reports", cells={READ: _SAFETY | {Role.CONTRACTOR_MANAGER}})

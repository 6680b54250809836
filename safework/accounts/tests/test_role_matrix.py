"""Role × endpoint: every operation of /api/v1/openapi.json, called as every role, against the
policy pinned in this file.

POLICY below is written from decisions.md "People, roles and visibility" (and the choices made
where that table is coarse, each said in a comment); it is not read from the apps' declarations,
so a change of a declared cell fails here until the policy is changed on purpose. The operations
are read from the OpenAPI schema, so an endpoint added anywhere is covered the day it is
registered, and it must bring a REQUEST recipe: a valid request as each role would make it (an
object inside that role's scope, a valid body). A cell the policy allows must answer 2xx, so a
door answering 404 everywhere fails; a denied cell answers 403. The few allowed cells that cannot
succeed for a reason beyond the permission (a site-scoped writer creating a new site lies outside
its own scope; nobody reviews their own upload) are listed in REFUSED with their exact status and
code, each with its why.
"""

import datetime as dt
import io
import re
import uuid
import zoneinfo

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import Client

from safework.accounts import services as account_services
from safework.accounts.access import GROUP_WIDE_KEY, PERMISSION_KEY
from safework.accounts.models import Role
from safework.accounts.tests.world import API, client_for, grant, make_user, world_fixture
from safework.api import api
from safework.certs import services as cert_services
from safework.certs.models import CertificateItem
from safework.core import policy
from safework.ledger import report_jobs
from safework.ledger import services as import_services
from safework.ledger.models import JobStatus
from safework.ledger.testing import identities, xlsx_bytes
from safework.notify import services as notify_services
from safework.notify.models import Delivery
from safework.people.models import ContractorEngagement
from safework.people.tests.factories import (
    HealthCheckFactory,
    PersonFactory,
    fresh_uscc,
)
from safework.permits import services as permit_services
from safework.permits.models import (
    Alarm,
    AlarmType,
    ApprovalStep,
    Attachment,
    Briefing,
    CrewAssignment,
    MeasureItem,
    Permit,
    Presence,
)
from safework.permits.tests.api_flow import END as FLOW_END
from safework.permits.tests.api_flow import ON_SITE, make_crew
from safework.permits.tests.api_flow import START as FLOW_START
from safework.permits.tests.api_flow import body as flow_body
from safework.registry import verification
from safework.registry.models import LookupOutcome
from safework.rosters.models import Roster
from safework.work.models import CrewRole, WorkType

api_world = world_fixture(catalogue=True)

# --- the policy, pinned (decisions.md "People, roles and visibility") --------------------------

ORG, PEOPLE, CONTRACTORS, HEALTH = "org", "people", "contractors", "health"
BLACKLIST, CERTIFICATES, CATALOGUE, ROSTER = "blacklist", "certificates", "catalogue", "roster"
AUDIT, ACCOUNTS, SETTINGS, TOKENS = "audit", "accounts", "settings", "tokens"
INBOX, NOTIFY_DIAGNOSIS = "inbox", "notify_diagnosis"
EVERYTHING = {
    ORG,
    PEOPLE,
    CONTRACTORS,
    HEALTH,
    BLACKLIST,
    CERTIFICATES,
    CATALOGUE,
    ROSTER,
    AUDIT,
    ACCOUNTS,
    SETTINGS,
    NOTIFY_DIAGNOSIS,
}
OWN_RECORDS = {PEOPLE, HEALTH, CERTIFICATES, CATALOGUE}  # the catalogue is everyone's reference

# role → (reads, writes). Where each may is its grant's scope (site, department subtree, self,
# own contractor's staff), tested by the visibility tests; here: whether at all.
POLICY: dict[str, tuple[set[str], set[str]]] = {
    # all, all
    "administrator": (EVERYTHING, EVERYTHING),
    # all in their scope; writes org, people (and their contractors), certificates, health checks.
    # Accounts are the administrator's.
    "principal": (EVERYTHING - {ACCOUNTS}, {ORG, PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES}),
    # as the principal, and keeps the blacklist (decisions: "editable by the head of safety"),
    # the catalogue, rosters and the database settings.
    "safety_head": (
        EVERYTHING - {ACCOUNTS},
        {ORG, PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES, BLACKLIST, CATALOGUE, ROSTER, SETTINGS},
    ),
    # site: people, contractors engaged there, certificates, health checks, audit; the same
    # writes, and rosters. Reads the org (its site), catalogue, rosters and the blacklist.
    "safety_officer": (
        {
            ORG,
            PEOPLE,
            CONTRACTORS,
            HEALTH,
            CERTIFICATES,
            AUDIT,
            CATALOGUE,
            ROSTER,
            BLACKLIST,
            NOTIFY_DIAGNOSIS,
        },
        {PEOPLE, CONTRACTORS, HEALTH, CERTIFICATES, ROSTER},
    ),
    # countersigns permits (the permit issue's cells); reads the catalogue, its own certificates.
    "technical_lead": ({CATALOGUE, CERTIFICATES}, set()),
    # their department subtree / team; writes roster entries.
    "workshop_head": (OWN_RECORDS | {ORG, ROSTER}, {ROSTER}),
    "team_leader": (OWN_RECORDS | {ORG, ROSTER}, {ROSTER}),
    # themselves; no writes.
    "worker": (OWN_RECORDS, set()),
    "guardian": (OWN_RECORDS, set()),
    "gas_tester": (OWN_RECORDS, set()),
    # own contractor's staff, certificates, health checks (and their company's record); the
    # same writes (uploads go to review).
    "contractor_manager": (OWN_RECORDS | {CONTRACTORS}, {PEOPLE, HEALTH, CERTIFICATES}),
    # all in their scope incl. audit export (not accounts, not settings); no writes.
    "inspector": (EVERYTHING - {ACCOUNTS, SETTINGS}, set()),
}
# Every role manages its own API tokens (a credential, not a record) and reads and acknowledges
# its own notices (the inbox).
for _reads, _writes in POLICY.values():
    _reads.update({TOKENS, INBOX})
    _writes.update({TOKENS, INBOX})

ROLES = [*POLICY, "other_manager", "stranger"]

# Permits and their alarms (issue 14 item 11) have actions beyond read and write: who may, written
# out role by role (permits/permissions.py says what each action covers). Everyone with an
# account role reads permits (a worker their own: the scope); applying is for the roles that
# organise work (a contractor manager for their company); approving for the roles that sign
# approval steps (which step, and not one's own permit, are object rules); on-site signatures
# (measures, briefing, check-in, start, suspend, resume, complete) for everyone on site but the
# inspector and the principal; gas tests for gas testers (and the safety officer); acceptance and
# closing for the owner's side. Alarms: read by all but a worker and a gas tester; handled by
# the site's safety and line management.
PERMITS, ALARMS = "permits", "alarms"
# The monthly reports (issue 15 item 9): the certificate health report for the safety side and
# the inspector, who read every certificate of their scope; the contractor compliance report
# also for a contractor manager (their own contractor: the scope). A report is only read.
SAFETY_READERS = {"administrator", "principal", "safety_head", "safety_officer", "inspector"}
ACTION_POLICY: dict[str, dict[str, set[str]]] = {
    "certificate_health_report": {"read": SAFETY_READERS},
    "contractor_compliance_report": {"read": SAFETY_READERS | {"contractor_manager"}},
    PERMITS: {
        "read": {
            "administrator",
            "principal",
            "safety_head",
            "safety_officer",
            "technical_lead",
            "workshop_head",
            "team_leader",
            "worker",
            "guardian",
            "gas_tester",
            "contractor_manager",
            "inspector",
        },
        "apply": {
            "administrator",
            "safety_head",
            "safety_officer",
            "workshop_head",
            "team_leader",
            "contractor_manager",
        },
        "approve": {
            "administrator",
            "principal",
            "safety_head",
            "safety_officer",
            "technical_lead",
            "workshop_head",
            "team_leader",
        },
        "sign": {
            "administrator",
            "safety_head",
            "safety_officer",
            "technical_lead",
            "workshop_head",
            "team_leader",
            "worker",
            "guardian",
            "gas_tester",
            "contractor_manager",
        },
        "gas_test": {"administrator", "safety_officer", "gas_tester"},
        # whoever applies or approves; per permit: its applicant before approval, an approver of
        # its site (REFUSED below: a contractor manager cancelling another's permit).
        "cancel": {
            "administrator",
            "principal",
            "safety_head",
            "safety_officer",
            "technical_lead",
            "workshop_head",
            "team_leader",
            "contractor_manager",
        },
        "accept": {
            "administrator",
            "safety_head",
            "safety_officer",
            "workshop_head",
            "team_leader",
        },
    },
    ALARMS: {
        "read": {
            "administrator",
            "principal",
            "safety_head",
            "safety_officer",
            "technical_lead",
            "workshop_head",
            "team_leader",
            "guardian",
            "contractor_manager",
            "inspector",
        },
        "handle": {
            "administrator",
            "safety_head",
            "safety_officer",
            "workshop_head",
            "team_leader",
        },
    },
}


def pinned_allows(role: str, resource: str, action: str) -> bool:
    if role == "stranger":  # logged in, no grant
        return False
    role = Role.CONTRACTOR_MANAGER if role == "other_manager" else role
    if resource in ACTION_POLICY:
        return role in ACTION_POLICY[resource][action]
    reads, writes = POLICY[role]
    return resource in (reads if action == "read" else writes)


def test_the_declared_cells_are_the_pinned_policy():
    assert set(POLICY) == set(Role.values)
    assert set(policy.resources()) == EVERYTHING | {TOKENS, INBOX} | set(ACTION_POLICY)
    for resource in policy.resources():
        actions = set(ACTION_POLICY[resource]) if resource in ACTION_POLICY else {"read", "write"}
        assert set(policy.resource(resource).actions) == actions, resource
        for role in Role.values:
            for action in actions:
                expected = pinned_allows(role, resource, action)
                assert policy.allows(role, resource, action) == expected, (role, resource, action)


# --- the operations --------------------------------------------------------------------------

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations() -> list[tuple[str, str, dict]]:
    schema = api.get_openapi_schema()
    return [
        (method.upper(), path.removeprefix(API), op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


OPERATIONS = _operations()
LEDGER_HEADER = [
    "序号",
    "姓名",
    "身份证号码",
    "部门",
    "操作项目",
    "证书编号",
    "初领日期",
    "有效期至",
]
NOW = dt.datetime(2026, 5, 20, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
TODAY = "2026-05-20"
D = dt.date


class Cell:
    """What a valid request of one role needs: objects inside its scope, made on demand (each
    test rolls back to the world)."""

    def __init__(self, world, role: str):
        self.w, self.role, self.user = world, role, world.users[role]
        self.manager = role in (Role.CONTRACTOR_MANAGER, "other_manager")
        self.personal = role in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER)

    # objects of the role's scope
    @property
    def contractor(self):
        return self.w.contractor_y if self.role == "other_manager" else self.w.contractor_x

    @property
    def person(self):
        """A person the role sees (and, if it writes people, may change)."""
        if self.personal:
            return self.w.person_of(self.role)
        if self.manager:
            return self.w.p_y if self.role == "other_manager" else self.w.p_x
        return self.w.p_own  # team T of workshop W at site A: every site and department role

    @property
    def engagement(self):
        return ContractorEngagement.objects.get(contractor=self.contractor, site=self.w.site_a)

    def health_check(self):
        return HealthCheckFactory(person=self.person, checked_on=D(2026, 1, 5))

    def certificate(self, code="2.1", **fields):
        item = CertificateItem.objects.select_related("scheme").get(code=code)
        values = {"number": f"T-{uuid.uuid4().hex[:8]}", "issued_on": D(2023, 5, 31)} | fields
        return cert_services.create_certificate(
            person=self.person, scheme=item.scheme, item=item, **values
        )

    def tsg_certificate(self):
        # Its expiry more than a month away: an extension may be applied for (TSG Z6001).
        return self.certificate("N1", issued_on=D(2022, 8, 1), valid_until=D(2026, 7, 31))

    def batch(self, outcome=None):
        cert = self.certificate()
        batch = verification.start_verification(by=None, certificate_ids=[cert.pk])
        if outcome:
            batch.lookups.update(outcome=outcome)
        return batch

    def import_job(self):
        # Site roles see their site's uploads (the officer's); the others only their own.
        by = self.w.users[Role.SAFETY_OFFICER] if self.site_scoped else self.user
        return import_services.start_import(
            by=by, file_obj=io.BytesIO(b"a,b\n1,2\n"), original_name="t.csv", enqueue=False
        )

    @property
    def site_scoped(self):
        return self.role in (
            Role.ADMINISTRATOR,
            Role.PRINCIPAL,
            Role.SAFETY_HEAD,
            Role.SAFETY_OFFICER,
            Role.INSPECTOR,
        )

    def pending_upload(self):
        """A contractor's self-service upload waiting for the site's review (CONTRACTOR-01)."""
        key = "other_manager" if self.role == "other_manager" else Role.CONTRACTOR_MANAGER
        manager = self.w.users[key]
        number = identities(1, seed=uuid.uuid4().int % 1000)[0][0]
        cert_number = f"C-{uuid.uuid4().hex[:6]}"
        row = [1, "承包工", number, "", "2.1", cert_number, "2024.01.10", "2030.01.09"]
        content = xlsx_bytes([["承包商人员持证台账"], LEDGER_HEADER, row])
        job = import_services.start_import(
            by=manager, file_obj=io.BytesIO(content), original_name="台账.xlsx", enqueue=False
        )
        job = import_services.run_import(job.pk)
        assert job.status == JobStatus.PENDING_REVIEW, job.errors
        return job

    def report(self, *, finished=False):
        job = report_jobs.start_report(
            by=self.user, kind="certificates", params={"on": TODAY}, enqueue=False
        )
        if finished:
            job.file.save("report.xlsx", ContentFile(b"PK"))
            # A finished job as the worker leaves it (status moves only by the workflow's
            # transitions on the model; the fixture sets the end state directly).
            type(job).objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
            job.refresh_from_db()
        return job

    def roster(self):
        # Site roles see their site's rosters; department roles the ones they wrote.
        by = self.w.users[Role.SAFETY_OFFICER] if self.site_scoped else self.user
        return Roster.objects.create(name="排班", author=by, site=self.w.site_a)

    # permits: a road closure at site A (no gas test, no weather stop), applied for by someone
    # else (nobody approves their own), of the manager's contractor, with the role's own person
    # in the crew (a worker sees the permits they are on).
    @property
    def step_role(self) -> str:
        return Role.CONTRACTOR_MANAGER if self.role == "other_manager" else self.role

    @property
    def crew_person(self):
        return self.person if (self.personal or self.manager) else self.w.p_own

    def permit(self, status="draft", *, running=False, **fields):
        start = NOW - dt.timedelta(hours=1) if running else NOW + dt.timedelta(days=1)
        permit = Permit.objects.create(
            work_type=WorkType.objects.get(code="road_closure"),
            site=self.w.site_a,
            area=self.w.area_a,
            place="厂区一路",
            content="断路施工",
            planned_start=start,
            planned_end=start + dt.timedelta(hours=8),
            applicant=self.w.target_user,
            work_unit=self.w.dept_t,
            contractor=self.contractor if self.manager else None,
            work_leader=self.w.p_own,
            fields={"section": "一路"},
            created_at=NOW - dt.timedelta(days=1),
        )
        CrewAssignment.objects.create(
            permit=permit,
            person=self.crew_person,
            role=CrewRole.objects.get(code="worker"),
            added_at=NOW - dt.timedelta(days=1),
        )
        if status != "draft":  # the state as the workflow leaves it (status is protected)
            number = f"DL-{uuid.uuid4().hex[:8]}"
            Permit.objects.filter(pk=permit.pk).update(status=status, number=number, **fields)
        permit.refresh_from_db()
        return permit

    def attachment(self):
        permit = self.permit()
        return Attachment.objects.create(
            permit=permit,
            name="盲板位置图",
            file=ContentFile(b"%PDF-1.4 drawing", name="drawing.pdf"),
            uploaded_by=self.w.target_user,
            at=NOW,
        )

    def pending(self, status: str, stage: str):
        permit = self.permit(status)
        ApprovalStep.objects.create(
            permit=permit,
            order=1,
            stage=stage,
            label="审批",
            roles=[self.step_role],
            status="pending",
            on_site_required=True,
        )
        return permit

    def running(self, status="approved", **fields):
        """Briefed and checked in, its planned start an hour ago."""
        permit = self.permit(status, running=True, **fields)
        briefing = Briefing.objects.create(
            permit=permit, briefer=self.w.p_own, at=NOW, recorded_by=self.w.target_user
        )
        briefing.recipients.set([self.crew_person])
        Presence.objects.create(
            permit=permit, person=self.crew_person, at=NOW, recorded_by=self.w.target_user
        )
        return permit

    def measure(self):
        permit = self.permit("approved")
        return permit, MeasureItem.objects.create(permit=permit, order=1, text="设置警示牌")

    def submittable(self):
        """A hot-work draft with a qualified crew that passes every submission gate."""
        crew = make_crew(self.w)
        data = flow_body(self.w, crew, planned_start=FLOW_START, planned_end=FLOW_END)
        if self.manager:
            data["contractor_id"] = self.contractor.pk
        return permit_services.create_permit(self.w.target_user, data, at=NOW)

    def alarm(self, status="raised"):
        alarm = Alarm.objects.create(
            alarm_type=AlarmType.objects.get(code="10"),
            key=f"test:{uuid.uuid4()}",
            permit=self.permit("active"),
            site=self.w.site_a,
            message="作业票超期",
            raised_at=NOW - dt.timedelta(hours=1),
        )
        if status != "raised":
            Alarm.objects.filter(pk=alarm.pk).update(status=status)
        return alarm

    def delegate(self):
        to = make_user(f"delegate-{uuid.uuid4().hex[:6]}")
        grant(to, self.step_role, site=self.w.site_a)
        return to

    def permit_body(self) -> dict:
        start = NOW + dt.timedelta(days=1)
        body = {
            "work_type": "road_closure",
            "site_id": self.w.site_a.pk,
            "area_id": self.w.area_a.pk,
            "place": "厂区二路",
            "content": "断路施工",
            "planned_start": start.isoformat(),
            "planned_end": (start + dt.timedelta(hours=8)).isoformat(),
            "fields": {"section": "二路"},
        }
        if self.manager:
            body["contractor_id"] = self.contractor.pk
        else:
            body["work_unit_id"] = self.w.dept_t.pk
        return body


def _notice(c: Cell):
    """A notice in the role's own inbox."""
    event = notify_services.emit(
        "permit.approval_waiting",
        key=f"matrix:{c.role}",
        subject_label="DH20260520-001",
        payload={"number": "DH20260520-001", "roles": [], "url": "/"},
        site_id=c.w.site_a.pk,
        at=NOW,
        recipients_hint={"approver": [c.user.pk]},
    )
    notify_services.fan_out(now=NOW)
    return Delivery.objects.get(event=event, user=c.user, channel="inbox")


def new_id_number() -> str:
    return PersonFactory.build().id_number


def GET(path):
    return ("get", path, None)


def POST(path, body=None):
    return ("post", path, {} if body is None else body)


def PATCH(path, body):
    return ("patch", path, body)


def UPLOAD(path, data):
    return ("upload", path, data)


def _employment(c: Cell, started_on: str) -> dict:
    if c.manager:
        return {
            "employer_kind": "contractor",
            "contractor_id": c.contractor.pk,
            "started_on": started_on,
        }
    return {"employer_kind": "own", "department_id": c.w.dept_t.pk, "started_on": started_on}


# (METHOD, path) → the request a role makes. Writes change rows inside the test's transaction.
REQUEST = {
    # audit
    ("GET", "/audit"): lambda c: GET("/audit"),
    ("GET", "/audit/verify"): lambda c: GET("/audit/verify"),
    # org
    ("GET", "/groups"): lambda c: GET("/groups"),
    ("POST", "/groups"): lambda c: POST("/groups", {"name": "新集团", "code": "group-new"}),
    ("GET", "/groups/{group_id}"): lambda c: GET(f"/groups/{c.w.group.pk}"),
    ("PATCH", "/groups/{group_id}"): lambda c: PATCH(f"/groups/{c.w.group.pk}", {"name": "集团"}),
    ("POST", "/groups/{group_id}/deactivate"): lambda c: POST(f"/groups/{c.w.group.pk}/deactivate"),
    ("GET", "/sites"): lambda c: GET("/sites"),
    ("POST", "/sites"): lambda c: POST(
        "/sites",
        {
            "group_id": c.w.group.pk,
            "name": "丙厂区",
            "code": "site-c",
            "latitude": 31.2,
            "longitude": 121.4,
        },
    ),
    ("GET", "/sites/{site_id}"): lambda c: GET(f"/sites/{c.w.site_a.pk}"),
    ("PATCH", "/sites/{site_id}"): lambda c: PATCH(f"/sites/{c.w.site_a.pk}", {"address": "一路"}),
    ("POST", "/sites/{site_id}/deactivate"): lambda c: POST(f"/sites/{c.w.site_a.pk}/deactivate"),
    ("GET", "/areas"): lambda c: GET("/areas"),
    ("POST", "/areas"): lambda c: POST(
        "/areas", {"site_id": c.w.site_a.pk, "name": "罐区", "code": "area-tank"}
    ),
    ("GET", "/areas/{area_id}"): lambda c: GET(f"/areas/{c.w.area_a.pk}"),
    ("PATCH", "/areas/{area_id}"): lambda c: PATCH(f"/areas/{c.w.area_a.pk}", {"name": "装置区"}),
    ("POST", "/areas/{area_id}/deactivate"): lambda c: POST(f"/areas/{c.w.area_a.pk}/deactivate"),
    ("GET", "/departments"): lambda c: GET("/departments"),
    ("POST", "/departments"): lambda c: POST(
        "/departments",
        {"name": "二班", "code": "dept-t2", "kind": "team", "parent_id": c.w.dept_w.pk},
    ),
    ("GET", "/departments/{department_id}"): lambda c: GET(f"/departments/{c.w.dept_t.pk}"),
    ("PATCH", "/departments/{department_id}"): lambda c: PATCH(
        f"/departments/{c.w.dept_t.pk}", {"name": "一班"}
    ),
    ("POST", "/departments/{department_id}/deactivate"): lambda c: POST(
        f"/departments/{c.w.dept_t.pk}/deactivate"
    ),
    ("GET", "/positions"): lambda c: GET("/positions"),
    ("POST", "/positions"): lambda c: POST("/positions", {"name": "焊工", "code": "welder-new"}),
    ("GET", "/positions/{position_id}"): lambda c: GET(f"/positions/{c.w.position.pk}"),
    ("PATCH", "/positions/{position_id}"): lambda c: PATCH(
        f"/positions/{c.w.position.pk}", {"name": "电焊工"}
    ),
    ("POST", "/positions/{position_id}/deactivate"): lambda c: POST(
        f"/positions/{c.w.position.pk}/deactivate"
    ),
    # people
    ("GET", "/persons"): lambda c: GET("/persons"),
    ("POST", "/persons"): lambda c: POST(
        "/persons",
        {
            "id_number": new_id_number(),
            "name": "新员工",
            "employment": _employment(c, "2026-05-01"),
        },
    ),
    ("GET", "/persons/{person_id}"): lambda c: GET(f"/persons/{c.person.pk}"),
    ("PATCH", "/persons/{person_id}"): lambda c: PATCH(
        f"/persons/{c.person.pk}", {"phone": "13800000000"}
    ),
    ("POST", "/persons/{person_id}/deactivate"): lambda c: POST(
        f"/persons/{c.person.pk}/deactivate"
    ),
    ("POST", "/persons/{person_id}/employments"): lambda c: POST(
        f"/persons/{c.person.pk}/employments", {"employment": _employment(c, "2026-05-01")}
    ),
    ("GET", "/employments"): lambda c: GET("/employments"),
    ("GET", "/employments/{employment_id}"): lambda c: GET(
        f"/employments/{c.person.current_employment_id}"
    ),
    ("PATCH", "/employments/{employment_id}"): lambda c: PATCH(
        f"/employments/{c.person.current_employment_id}", {"status": "suspended"}
    ),
    ("POST", "/employments/{employment_id}/deactivate"): lambda c: POST(
        f"/employments/{c.person.current_employment_id}/deactivate"
    ),
    ("GET", "/contractors"): lambda c: GET("/contractors"),
    ("POST", "/contractors"): lambda c: POST(
        "/contractors",
        {
            "name": "承包商W",
            "uscc": fresh_uscc(987654),
            "engagement": {"site_id": c.w.site_a.pk, "starts_on": "2026-05-01"},
        },
    ),
    ("GET", "/contractors/{contractor_id}"): lambda c: GET(f"/contractors/{c.contractor.pk}"),
    ("PATCH", "/contractors/{contractor_id}"): lambda c: PATCH(
        f"/contractors/{c.contractor.pk}", {"contact_name": "王工"}
    ),
    ("POST", "/contractors/{contractor_id}/deactivate"): lambda c: POST(
        f"/contractors/{c.contractor.pk}/deactivate"
    ),
    ("GET", "/engagements"): lambda c: GET("/engagements"),
    ("POST", "/engagements"): lambda c: POST(
        "/engagements",
        {"contractor_id": c.w.contractor_z.pk, "site_id": c.w.site_a.pk, "starts_on": TODAY},
    ),
    ("GET", "/engagements/{engagement_id}"): lambda c: GET(f"/engagements/{c.engagement.pk}"),
    ("PATCH", "/engagements/{engagement_id}"): lambda c: PATCH(
        f"/engagements/{c.engagement.pk}", {"ends_on": "2027-12-31"}
    ),
    ("POST", "/engagements/{engagement_id}/deactivate"): lambda c: POST(
        f"/engagements/{c.engagement.pk}/deactivate"
    ),
    ("GET", "/health-checks"): lambda c: GET("/health-checks"),
    ("POST", "/health-checks"): lambda c: POST(
        "/health-checks",
        {"person_id": c.person.pk, "checked_on": "2026-05-10", "conclusion": "fit"},
    ),
    ("GET", "/health-checks/{check_id}"): lambda c: GET(f"/health-checks/{c.health_check().pk}"),
    ("PATCH", "/health-checks/{check_id}"): lambda c: PATCH(
        f"/health-checks/{c.health_check().pk}", {"institution": "职业病防治院"}
    ),
    ("GET", "/blacklist"): lambda c: GET("/blacklist"),
    ("POST", "/blacklist"): lambda c: POST(
        "/blacklist", {"id_number": new_id_number(), "reason": "违章动火", "starts_on": TODAY}
    ),
    ("GET", "/blacklist/{entry_id}"): lambda c: GET(f"/blacklist/{c.w.bar_x.pk}"),
    ("PATCH", "/blacklist/{entry_id}"): lambda c: PATCH(
        f"/blacklist/{c.w.bar_x.pk}", {"reason": "违章动火作业"}
    ),
    ("POST", "/blacklist/{entry_id}/deactivate"): lambda c: POST(
        f"/blacklist/{c.w.bar_x.pk}/deactivate"
    ),
    # accounts
    ("GET", "/users"): lambda c: GET("/users"),
    ("POST", "/users"): lambda c: POST("/users", {"username": "new-user"}),
    ("GET", "/users/{user_id}"): lambda c: GET(f"/users/{c.w.target_user.pk}"),
    ("PATCH", "/users/{user_id}"): lambda c: PATCH(
        f"/users/{c.w.target_user.pk}", {"first_name": "三"}
    ),
    ("POST", "/users/{user_id}/deactivate"): lambda c: POST(
        f"/users/{c.w.target_user.pk}/deactivate"
    ),
    ("POST", "/users/{user_id}/unlock"): lambda c: POST(f"/users/{c.w.target_user.pk}/unlock"),
    ("GET", "/role-grants"): lambda c: GET("/role-grants"),
    ("POST", "/role-grants"): lambda c: POST(
        "/role-grants",
        {"user_id": c.w.target_user.pk, "role": "inspector", "site_id": c.w.site_a.pk},
    ),
    ("GET", "/role-grants/{grant_id}"): lambda c: GET(f"/role-grants/{c.w.target_grant.pk}"),
    ("PATCH", "/role-grants/{grant_id}"): lambda c: PATCH(
        f"/role-grants/{c.w.target_grant.pk}", {"site_id": c.w.site_a.pk}
    ),
    ("POST", "/role-grants/{grant_id}/revoke"): lambda c: POST(
        f"/role-grants/{c.w.target_grant.pk}/revoke"
    ),
    ("GET", "/tokens"): lambda c: GET("/tokens"),
    ("POST", "/tokens"): lambda c: POST("/tokens", {"name": "脚本"}),
    ("POST", "/tokens/{token_id}/revoke"): lambda c: POST(
        f"/tokens/{account_services.create_token(by=c.user, name='脚本')[0].pk}/revoke"
    ),
    # certificates
    ("GET", "/certificates"): lambda c: GET("/certificates"),
    ("POST", "/certificates"): lambda c: POST(
        "/certificates",
        {
            "person_id": c.person.pk,
            "scheme": "special_operation",
            "item": "2.1",
            "number": "NEW-0001",
            "issued_on": "2026-01-10",
        },
    ),
    ("GET", "/persons/{person_id}/certificates"): lambda c: GET(
        f"/persons/{c.person.pk}/certificates"
    ),
    ("GET", "/certificates/{cert_id}"): lambda c: GET(f"/certificates/{c.certificate().pk}"),
    ("PATCH", "/certificates/{cert_id}"): lambda c: PATCH(
        f"/certificates/{c.certificate().pk}", {"issuing_authority": "上海市应急管理局"}
    ),
    # Order No. 30: issued 2023-05-31, review due 2026-05-31; reviewed 11 days before.
    ("POST", "/certificates/{cert_id}/review"): lambda c: POST(
        f"/certificates/{c.certificate().pk}/review", {"on": TODAY}
    ),
    # TSG Z6001: applied for more than a month before the expiry.
    ("POST", "/certificates/{cert_id}/extend"): lambda c: POST(
        f"/certificates/{c.tsg_certificate().pk}/extend", {"on": TODAY}
    ),
    ("POST", "/certificates/{cert_id}/renew"): lambda c: POST(
        f"/certificates/{c.certificate().pk}/renew",
        {"number": "RENEWED-1", "issued_on": "2026-05-10"},
    ),
    ("POST", "/certificates/{cert_id}/revoke"): lambda c: POST(
        f"/certificates/{c.certificate().pk}/revoke",
        {"reason": "伪造", "ground": "false_entries", "on": TODAY},
    ),
    ("POST", "/certificates/{cert_id}/cancel"): lambda c: POST(
        f"/certificates/{c.certificate().pk}/cancel", {"reason": "本人申请"}
    ),
    ("GET", "/catalogue/schemes"): lambda c: GET("/catalogue/schemes"),
    ("GET", "/catalogue/items"): lambda c: GET("/catalogue/items"),
    ("GET", "/catalogue/rules"): lambda c: GET("/catalogue/rules"),
    ("GET", "/catalogue/work-types"): lambda c: GET("/catalogue/work-types"),
    ("GET", "/catalogue/requirements"): lambda c: GET("/catalogue/requirements"),
    ("GET", "/catalogue/revocation-grounds"): lambda c: GET("/catalogue/revocation-grounds"),
    ("POST", "/qualifications/check"): lambda c: POST(
        "/qualifications/check",
        {
            "person_id": c.person.pk,
            "role": "worker",
            "work_type": "hot_work",
            "level": "level1",
            "site_id": c.w.site_a.pk,
        },
    ),
    ("GET", "/rosters/template"): lambda c: GET("/rosters/template"),
    ("POST", "/rosters"): lambda c: POST(
        "/rosters",
        {
            "name": "五月排班",
            "site_id": c.w.site_a.pk,
            "entries": [
                {
                    "person_id": c.person.pk,
                    "on": "2026-05-21",
                    "work_type": "hot_work",
                    "level": "level1",
                    "role": "worker",
                }
            ],
        },
    ),
    ("GET", "/rosters/{roster_id}/problems"): lambda c: GET(f"/rosters/{c.roster().pk}/problems"),
    ("POST", "/verifications"): lambda c: POST(
        "/verifications", {"certificate_ids": [c.certificate().pk]}
    ),
    ("GET", "/verifications"): lambda c: GET("/verifications"),
    ("GET", "/verifications/{batch_id}"): lambda c: GET(f"/verifications/{c.batch().pk}"),
    ("GET", "/verifications/{batch_id}/lookups"): lambda c: GET(
        f"/verifications/{c.batch().pk}/lookups"
    ),
    ("POST", "/verifications/{batch_id}/retry"): lambda c: POST(
        f"/verifications/{c.batch(LookupOutcome.RETRY_LATER).pk}/retry"
    ),
    # notify: one's own inbox; the diagnosis of a person the role sees
    ("GET", "/notify/inbox"): lambda c: GET("/notify/inbox"),
    ("POST", "/notify/inbox/{notice_id}/read"): lambda c: POST(
        f"/notify/inbox/{_notice(c).pk}/read"
    ),
    ("POST", "/notify/inbox/{notice_id}/acknowledge"): lambda c: POST(
        f"/notify/inbox/{_notice(c).pk}/acknowledge"
    ),
    ("GET", "/notify/explain"): lambda c: GET(f"/notify/explain?person_id={c.person.pk}"),
    ("GET", "/imports/template"): lambda c: GET("/imports/template"),
    ("POST", "/imports"): lambda c: UPLOAD(
        "/imports", {"file": ContentFile(b"a,b\n1,2\n", name="台账.csv")}
    ),
    ("GET", "/imports"): lambda c: GET("/imports"),
    ("GET", "/imports/{job_id}"): lambda c: GET(f"/imports/{c.import_job().pk}"),
    ("GET", "/imports/{job_id}/errors"): lambda c: GET(f"/imports/{c.import_job().pk}/errors"),
    ("POST", "/imports/{job_id}/approve"): lambda c: POST(
        f"/imports/{c.pending_upload().pk}/approve"
    ),
    ("POST", "/imports/{job_id}/reject"): lambda c: POST(
        f"/imports/{c.pending_upload().pk}/reject", {"reason": "缺少证书复印件"}
    ),
    ("POST", "/exports/certificates"): lambda c: POST("/exports/certificates"),
    ("POST", "/reports/coverage"): lambda c: POST("/reports/coverage"),
    ("GET", "/report-jobs"): lambda c: GET("/report-jobs"),
    ("GET", "/report-jobs/{job_id}"): lambda c: GET(f"/report-jobs/{c.report().pk}"),
    ("GET", "/report-jobs/{job_id}/file"): lambda c: GET(
        f"/report-jobs/{c.report(finished=True).pk}/file"
    ),
    # permits
    ("GET", "/permits"): lambda c: GET("/permits?status=draft&contractor=own"),
    ("GET", "/permits/export.xlsx"): lambda c: GET("/permits/export.xlsx"),
    ("POST", "/permits/preview-level"): lambda c: POST(
        "/permits/preview-level",
        {
            "work_type": "hot_work",
            "site_id": c.w.site_a.pk,
            "area_id": c.w.area_a.pk,
            "planned_start": (NOW + dt.timedelta(days=1)).isoformat(),
            "planned_end": (NOW + dt.timedelta(days=1, hours=8)).isoformat(),
        },
    ),
    ("POST", "/permits"): lambda c: POST("/permits", c.permit_body()),
    ("GET", "/permits/{permit_id}"): lambda c: GET(f"/permits/{c.permit().pk}"),
    ("PATCH", "/permits/{permit_id}"): lambda c: PATCH(
        f"/permits/{c.permit().pk}", {"place": "厂区三路"}
    ),
    ("POST", "/permits/{permit_id}/submit"): lambda c: POST(
        f"/permits/{c.submittable().pk}/submit"
    ),
    ("POST", "/permits/{permit_id}/revise"): lambda c: POST(
        f"/permits/{c.permit('rejected').pk}/revise"
    ),
    ("POST", "/permits/{permit_id}/crew"): lambda c: POST(
        f"/permits/{c.permit().pk}/crew", {"add": [{"person_id": c.w.p_b.pk, "role": "guardian"}]}
    ),
    ("POST", "/permits/{permit_id}/cancel"): lambda c: POST(
        f"/permits/{c.permit().pk}/cancel", {"reason": "计划取消"}
    ),
    ("POST", "/permits/{permit_id}/change"): lambda c: POST(
        f"/permits/{c.permit('approved').pk}/change",
        {"reason": "地点变更", "changes": {"place": "厂区四路"}},
    ),
    ("POST", "/permits/{permit_id}/approve"): lambda c: POST(
        f"/permits/{c.pending('in_approval', 'approval').pk}/approve", {"position": ON_SITE}
    ),
    ("POST", "/permits/{permit_id}/reject"): lambda c: POST(
        f"/permits/{c.pending('in_approval', 'approval').pk}/reject", {"reason": "措施不全"}
    ),
    ("POST", "/permits/{permit_id}/sign"): lambda c: POST(
        f"/permits/{c.pending('approved', 'before_start').pk}/sign", {"position": ON_SITE}
    ),
    ("POST", "/delegations"): lambda c: POST(
        "/delegations",
        {
            "to_user_id": c.delegate().pk,
            "role": c.step_role,
            "site_id": c.w.site_a.pk,
            "starts_at": NOW.isoformat(),
            "ends_at": (NOW + dt.timedelta(days=1)).isoformat(),
        },
    ),
    ("POST", "/permits/{permit_id}/measures/{measure_id}/confirm"): lambda c: POST(
        "/permits/{}/measures/{}/confirm".format(*(x.pk for x in c.measure()))
    ),
    ("POST", "/permits/{permit_id}/measures/confirm"): lambda c: (
        lambda pm: POST(f"/permits/{pm[0].pk}/measures/confirm", {"items": [{"id": pm[1].pk}]})
    )(c.measure()),
    ("POST", "/permits/{permit_id}/briefings"): lambda c: POST(
        f"/permits/{c.permit('approved').pk}/briefings",
        {"briefer_id": c.w.p_own.pk, "recipient_ids": [c.crew_person.pk]},
    ),
    ("POST", "/permits/{permit_id}/gas-tests"): lambda c: POST(
        f"/permits/{c.permit('approved').pk}/gas-tests",
        {
            "taken_at": (NOW - dt.timedelta(minutes=5)).isoformat(),
            "point": "路口",
            "gas": "o2",
            "value": "20.9",
            "unit": "%vol",
            "instrument": "O2-01",
            "calibrated_on": (NOW - dt.timedelta(days=30)).date().isoformat(),
            "tester_id": c.crew_person.pk,
        },
    ),
    ("POST", "/permits/{permit_id}/check-in"): lambda c: POST(
        f"/permits/{c.permit('approved').pk}/check-in",
        {"person_id": c.crew_person.pk, "position": ON_SITE},
    ),
    ("POST", "/permits/{permit_id}/start"): lambda c: POST(
        f"/permits/{c.running().pk}/start",
        {"weather": {"wind_force": 2, "conditions": []}, "position": ON_SITE},
    ),
    ("POST", "/permits/{permit_id}/suspend"): lambda c: POST(
        f"/permits/{c.running('active').pk}/suspend", {"reason": "交叉作业"}
    ),
    ("POST", "/permits/{permit_id}/resume"): lambda c: POST(
        f"/permits/{c.running('suspended', suspended_at=NOW).pk}/resume"
    ),
    ("POST", "/permits/{permit_id}/complete"): lambda c: POST(
        f"/permits/{c.running('active').pk}/complete", {"cleaned_up": True}
    ),
    ("POST", "/permits/{permit_id}/accept"): lambda c: POST(
        f"/permits/{c.permit('completed').pk}/accept", {"note": "验收合格"}
    ),
    ("POST", "/permits/{permit_id}/close"): lambda c: POST(
        f"/permits/{c.permit('accepted').pk}/close"
    ),
    ("POST", "/permits/{permit_id}/attachments"): lambda c: UPLOAD(
        f"/permits/{c.permit().pk}/attachments",
        {"file": ContentFile(b"%PDF-1.4 plan", name="吊装方案.pdf"), "kind": "plan"},
    ),
    ("GET", "/permits/{permit_id}/attachments"): lambda c: GET(
        f"/permits/{c.permit().pk}/attachments"
    ),
    ("GET", "/permits/{permit_id}/attachments/{attachment_id}"): lambda c: (
        lambda a: GET(f"/permits/{a.permit_id}/attachments/{a.pk}")
    )(c.attachment()),
    ("GET", "/permits/{permit_id}/history"): lambda c: GET(f"/permits/{c.permit().pk}/history"),
    ("GET", "/permits/{permit_id}/history.xlsx"): lambda c: GET(
        f"/permits/{c.permit().pk}/history.xlsx"
    ),
    # monthly reports
    ("GET", "/reports/certificate-health"): lambda c: GET(
        "/reports/certificate-health?month=2026-04&format=xlsx"
    ),
    ("GET", "/reports/contractor-compliance"): lambda c: GET(
        "/reports/contractor-compliance?month=2026-04&format=xlsx"
    ),
    # alarms
    ("GET", "/alarms"): lambda c: GET("/alarms?status=raised"),
    ("POST", "/alarms/{alarm_id}/acknowledge"): lambda c: POST(
        f"/alarms/{c.alarm().pk}/acknowledge"
    ),
    ("POST", "/alarms/{alarm_id}/handle"): lambda c: POST(
        f"/alarms/{c.alarm().pk}/handle", {"note": "已通知停止作业"}
    ),
    ("POST", "/alarms/{alarm_id}/clear"): lambda c: POST(f"/alarms/{c.alarm('handled').pk}/clear"),
}

# Allowed cells that cannot answer 2xx for this world's user, and why: (status, code).
REFUSED = {
    # Someone else's permit is cancelled by an approver of its site, not by another applicant.
    **{
        ("POST", "/permits/{permit_id}/cancel", role): (409, "cancel.not_allowed")
        for role in (Role.CONTRACTOR_MANAGER, "other_manager")
    },
    # A new site lies outside a site-scoped writer's own scope (they may change their site).
    ("POST", "/sites", Role.PRINCIPAL): (422, "out_of_scope"),
    ("POST", "/sites", Role.SAFETY_HEAD): (422, "out_of_scope"),
    # A contractor's upload is reviewed by a safety officer of a site where it works
    # (CONTRACTOR-01); its manager sees only their company's uploads.
    **{
        ("POST", f"/imports/{{job_id}}/{verb}", role): (409, "import.review.not_site_officer")
        for verb in ("approve", "reject")
        for role in (Role.CONTRACTOR_MANAGER, "other_manager")
    },
}


def _expected_403(role: str, op: dict) -> bool:
    perm = op[PERMISSION_KEY]
    if not pinned_allows(role, perm["resource"], perm["action"]):
        return True
    # A group-wide object (the group, positions, a contractor's own record): only a group-wide
    # grant; every grant of this world but the administrator's is on site A or narrower.
    return bool(op.get(GROUP_WIDE_KEY)) and role != Role.ADMINISTRATOR


MISSING_ID = 987654321


def _bare(method: str, path: str):
    """The request without objects: every path id unknown, an empty body. Enough where the
    answer comes before any object is looked up (403, 401)."""
    url = re.sub(r"\{[^}]+\}", str(MISSING_ID), path)
    return (method.lower(), url, None if method == "GET" else {})


def _send(client, request):
    method, path, body = request
    url = f"{API}{path}"
    if method == "get":
        response = client.get(url)
    elif method == "upload":  # multipart, as a browser form sends a file
        response = Client.post(client, url, body)
    else:
        response = getattr(client, method)(url, body)
    if response.streaming:  # a file: reading it to the end closes it (the test client's wrapper)
        b"".join(response.streaming_content)
    return response


CELLS = [
    pytest.param(method, path, op, role, id=f"{method} {path} × {role}")
    for method, path, op in OPERATIONS
    for role in ROLES
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_every_operation_declares_its_permission_and_has_a_request(db):
    response = client_for().get(f"{API}/openapi.json")
    assert response.status_code == 200
    served = {
        (m.upper(), p.removeprefix(API)): op
        for p, ops in response.json()["paths"].items()
        for m, op in ops.items()
        if m in METHODS
    }
    assert [key for key, op in served.items() if PERMISSION_KEY not in op] == []
    declared = set(policy.perms())
    for key, op in served.items():
        perm = op[PERMISSION_KEY]
        assert f"{perm['resource']}.{perm['action']}" in declared, key
    # The cells below are generated from the same list the server serves, each with a request.
    assert set(served) == {(m, p) for m, p, _op in OPERATIONS}
    assert set(REQUEST) == set(served)


def test_the_foundation_endpoints_are_covered():
    paths = {p for _m, p, _op in OPERATIONS}
    for expected in (
        "/groups",
        "/sites/{site_id}",
        "/areas/{area_id}/deactivate",
        "/departments/{department_id}",
        "/positions",
        "/persons/{person_id}",
        "/persons/{person_id}/employments",
        "/employments/{employment_id}/deactivate",
        "/contractors/{contractor_id}",
        "/engagements",
        "/health-checks/{check_id}",
        "/blacklist/{entry_id}/deactivate",
        "/users/{user_id}",
        "/role-grants/{grant_id}/revoke",
        "/audit",
        "/audit/verify",
    ):
        assert expected in paths


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(("method", "path", "op", "role"), CELLS)
def test_role_endpoint_cell(api_world, db, method, path, op, role):
    client = api_world.clients[role]
    if _expected_403(role, op):
        # No object needed: the permission is checked before the path's object is looked up.
        response = _send(client, _bare(method, path))
        assert response.status_code == 403, response.content
        assert response.json()["errors"][0]["code"] == "forbidden"
        return
    response = _send(client, REQUEST[(method, path)](Cell(api_world, role)))
    refused = REFUSED.get((method, path, role))
    if refused is not None:
        status, code = refused
        body = response.json()
        codes = [e["code"] for e in body.get("errors", body.get("reasons", []))]
        assert (response.status_code, code in codes) == (status, True), response.content
    else:
        assert 200 <= response.status_code < 300, response.content


@pytest.mark.parametrize(
    ("method", "path", "op"),
    [pytest.param(m, p, op, id=f"{m} {p}") for m, p, op in OPERATIONS],
)
def test_unauthenticated_is_401(api_world, db, method, path, op):
    response = _send(client_for(None), _bare(method, path))
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["code"] == "unauthenticated"


# --- scopes and masking through the API ------------------------------------------------------


def test_http_basic_auth_logs_in(api_world, db):
    import base64

    user = make_user("basic-officer", password="a-Long-pass-4-tests")
    grant(user, Role.SAFETY_OFFICER, site=api_world.site_a)
    token = base64.b64encode(b"basic-officer:a-Long-pass-4-tests").decode()
    ok = Client(HTTP_AUTHORIZATION=f"Basic {token}").get(f"{API}/persons")
    assert ok.status_code == 200
    bad = base64.b64encode(b"basic-officer:wrong").decode()
    assert Client(HTTP_AUTHORIZATION=f"Basic {bad}").get(f"{API}/persons").status_code == 401


def test_contractor_manager_sees_own_staff_and_404_for_another_contractors(api_world, db):
    client = client_for(api_world.users[Role.CONTRACTOR_MANAGER])
    assert client.get(f"{API}/persons/{api_world.p_x.pk}").status_code == 200
    other = client.get(f"{API}/persons/{api_world.p_y.pk}")
    assert other.status_code == 404
    assert other.json()["errors"][0]["code"] == "not_found"
    listed = client.get(f"{API}/persons").json()
    assert [p["id"] for p in listed["items"]] == [api_world.p_x.pk]
    # the other contractor's manager sees the mirror image
    client = client_for(api_world.users["other_manager"])
    assert client.get(f"{API}/persons/{api_world.p_x.pk}").status_code == 404
    assert client.get(f"{API}/persons/{api_world.p_y.pk}").status_code == 200
    assert client.get(f"{API}/health-checks/{api_world.check_x.pk}").status_code == 404


def test_a_manager_of_two_contractors_sees_both_staffs_and_not_a_third(api_world, db):
    w = api_world
    user = make_user("two-companies")
    grant(user, Role.CONTRACTOR_MANAGER, contractor=w.contractor_x)
    grant(user, Role.CONTRACTOR_MANAGER, contractor=w.contractor_z)  # engaged at site B
    client = client_for(user)
    listed = client.get(f"{API}/persons?limit=500").json()
    assert {p["id"] for p in listed["items"]} == {w.p_x.pk, w.p_z.pk}
    assert client.get(f"{API}/persons/{w.p_z.pk}").status_code == 200
    assert client.get(f"{API}/persons/{w.p_y.pk}").status_code == 404
    companies = client.get(f"{API}/contractors").json()["items"]
    assert {c["id"] for c in companies} == {w.contractor_x.pk, w.contractor_z.pk}
    checks = {h["person_id"] for h in client.get(f"{API}/health-checks").json()["items"]}
    assert checks == {w.p_x.pk}  # Z's staff have no check in this world; Y's are not seen
    # Registering staff names the company; a third one is refused.
    body = {
        "id_number": new_id_number(),
        "name": "新工",
        "employment": {
            "employer_kind": "contractor",
            "contractor_id": w.contractor_y.pk,
            "started_on": "2026-05-01",
        },
    }
    refused = client.post(f"{API}/persons", body)
    assert refused.status_code == 422, refused.content
    assert refused.json()["errors"][0]["field"] == "employment.contractor_id"
    body["employment"]["contractor_id"] = w.contractor_z.pk
    accepted = client.post(f"{API}/persons", body)
    assert accepted.status_code == 202, accepted.content
    job = client.get(f"{API}/imports/{accepted.json()['import_id']}").json()
    assert (job["kind"], job["contractor_id"]) == ("contractor", w.contractor_z.pk)


def test_a_manager_of_two_contractors_names_the_company_of_an_upload(api_world, db):
    w = api_world
    user = make_user("two-uploads")
    grant(user, Role.CONTRACTOR_MANAGER, contractor=w.contractor_x)
    grant(user, Role.CONTRACTOR_MANAGER, contractor=w.contractor_y)
    client = client_for(user)

    def upload(**fields):
        data = {"file": ContentFile(b"a,b\n1,2\n", name="台账.csv"), **fields}
        return Client.post(client, f"{API}/imports", data)

    unnamed = upload()
    assert unnamed.status_code == 422, unnamed.content
    assert unnamed.json()["errors"][0] == unnamed.json()["errors"][0] | {
        "field": "contractor_id",
        "code": "required",
    }
    third = upload(contractor_id=w.contractor_z.pk)
    assert third.status_code == 422
    named = upload(contractor_id=w.contractor_y.pk)
    assert named.status_code == 202, named.content
    assert (named.json()["kind"], named.json()["contractor_id"]) == (
        "contractor",
        w.contractor_y.pk,
    )


def test_inspector_is_refused_every_write(api_world, db):
    client = client_for(api_world.users[Role.INSPECTOR])
    # by the declared action: a question asked with POST (a qualification check) is a read.
    # Their own API tokens are every role's to manage (a credential, not a record), and so is
    # acknowledging their own notices (the inbox).
    writes = [
        (m, p)
        for m, p, op in OPERATIONS
        if op[PERMISSION_KEY]["action"] != "read"
        and op[PERMISSION_KEY]["resource"] not in (TOKENS, INBOX)
    ]
    assert len(writes) > 30
    statuses = {f"{m} {p}": _send(client, _bare(m, p)).status_code for m, p in writes}
    assert set(statuses.values()) == {403}, statuses
    # …while reading works
    assert client.get(f"{API}/persons").status_code == 200
    assert client.get(f"{API}/audit").status_code == 200


def test_id_numbers_masked_for_workshop_head_full_for_safety_officer(api_world, db):
    number = api_world.p_own.id_number
    masked = number[:6] + "********" + number[-4:]
    head = client_for(api_world.users[Role.WORKSHOP_HEAD])
    assert head.get(f"{API}/persons/{api_world.p_own.pk}").json()["id_number"] == masked
    listed = head.get(f"{API}/persons").json()["items"]
    assert listed and all("*" * 8 in p["id_number"] for p in listed)
    officer = client_for(api_world.users[Role.SAFETY_OFFICER])
    assert officer.get(f"{API}/persons/{api_world.p_own.pk}").json()["id_number"] == number
    inspector = client_for(api_world.users[Role.INSPECTOR])
    bar = inspector.get(f"{API}/blacklist/{api_world.bar_x.pk}").json()
    x_number = api_world.p_x.id_number
    assert bar["id_number"] == x_number[:6] + "********" + x_number[-4:]
    # a worker sees their own full number
    worker = client_for(api_world.users[Role.WORKER])
    me = api_world.person_of(Role.WORKER)
    assert worker.get(f"{API}/persons/{me.pk}").json()["id_number"] == me.id_number


def test_scopes_of_the_roles_on_persons(api_world, db):
    def seen(role):
        client = client_for(api_world.users[role])
        return {p["id"] for p in client.get(f"{API}/persons?limit=500").json()["items"]}

    w = api_world
    site_a_staff = {w.p_own.pk, w.p_x.pk, w.p_y.pk} | {
        w.person_of(r).pk for r in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER)
    }
    assert seen(Role.SAFETY_OFFICER) == site_a_staff
    assert seen(Role.INSPECTOR) == site_a_staff
    team = {w.p_own.pk} | {w.person_of(r).pk for r in (Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER)}
    assert seen(Role.TEAM_LEADER) == team
    assert seen(Role.WORKSHOP_HEAD) == team  # T is W's only team
    assert seen(Role.WORKER) == {w.person_of(Role.WORKER).pk}
    assert w.p_b.pk in seen(Role.ADMINISTRATOR)
    assert w.p_z.pk not in seen(Role.PRINCIPAL)

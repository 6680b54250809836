"""The admin shows what the API shows: one visibility query per resource.

For every demo user (one per role, plus the second contractor's manager) and every model the
admin registers, the changelist's queryset (`ModelAdmin.get_queryset`) holds exactly the rows of
the resource's visibility query (`<app>.queries.…_visible_to`) in the user's READ scope, and so
does each inline's; catalogue models show every row. Which query and which resource belong to
which model is pinned here, not read from the admins, so an admin that filters by anything else
(or a new admin nobody pinned) fails.

The demo has no jobs, rosters, registry batches, tokens, settings or scanned files, and one group
and one bar; the fixture adds a few of each, placed so that every scope sees some and not all.
A few answers are then pinned literally where the admin used to differ from the API (a roster
at another site naming one's staff, a look-up of someone else's certificate in one's own batch)
or where the issue saw them drift (a contractor manager and a site's ledger naming their
company).
"""

import datetime as dt

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import RequestFactory, override_settings

from safework.accounts import matrix
from safework.accounts.models import ApiToken, RoleGrant, User
from safework.accounts.queries import grants_visible_to, tokens_visible_to, users_visible_to
from safework.accounts.scope import scope_for
from safework.accounts.tests.world import API, client_for
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateEvent,
    CertificateFile,
    CertificateItem,
    LegacyCode,
    RevocationGround,
    Scheme,
)
from safework.certs.queries import (
    certificate_events_visible_to,
    certificate_files_visible_to,
    certificates_visible_to,
)
from safework.core import audit
from safework.core.models import AuditRecord, Setting
from safework.core.queries import audit_visible_to, settings_visible_to
from safework.demo.tests.conftest import AFTER_ORDER_19
from safework.ledger.models import KIND_CONTRACTOR, KIND_LEDGER, ImportJob, ReportJob, ReportKind
from safework.ledger.queries import imports_visible_to, reports_visible_to
from safework.notify.models import (
    Attempt,
    Channel,
    ChannelBinding,
    Delivery,
    Event,
    NotifyRule,
    RunLock,
)
from safework.org.models import Area, Department, Group, Position, Site
from safework.org.queries import (
    areas_visible_to,
    departments_visible_to,
    groups_visible_to,
    sites_visible_to,
)
from safework.people.models import (
    BlacklistEntry,
    Contractor,
    ContractorEngagement,
    Employment,
    HealthCheck,
    Person,
)
from safework.people.queries import (
    blacklist_visible_to,
    contractors_visible_to,
    employments_visible_to,
    engagements_visible_to,
    health_checks_visible_to,
    persons_visible_to,
)
from safework.permits.models import (
    Alarm,
    AlarmType,
    ApprovalStep,
    Attachment,
    Blind,
    Briefing,
    CrewAssignment,
    Delegation,
    GasTest,
    MeasureItem,
    ParkPush,
    Permit,
    PermitEvent,
    PermitNumberCounter,
    Presence,
    RiskItem,
    Signature,
)
from safework.permits.queries import (
    alarms_visible_to,
    delegations_visible_to,
    permit_parts_visible_to,
    permits_visible_to,
)
from safework.qualification.models import Requirement
from safework.registry.models import VerificationBatch, VerificationLookup
from safework.registry.queries import batches_visible_to, lookups_visible_to
from safework.rosters.models import Roster, RosterEntry
from safework.rosters.queries import roster_entries_visible_to, rosters_visible_to
from safework.work.models import (
    CalendarDay,
    CalendarYear,
    CombustibleCriterion,
    CrewRole,
    GasLimit,
    HeightHazard,
    HouseRule,
    PermitFieldSchema,
    PermitRule,
    PositionPermission,
    RouteStep,
    SpecialPeriod,
    UpgradePolicy,
    WeatherStop,
    WorkLevel,
    WorkType,
)

# model → (resource whose READ scope the admin applies, the resource's visibility query)
QUERIES = {
    Group: (matrix.ORG, lambda scope, user: groups_visible_to(scope)),
    Site: (matrix.ORG, lambda scope, user: sites_visible_to(scope)),
    Area: (matrix.ORG, lambda scope, user: areas_visible_to(scope)),
    Department: (matrix.ORG, lambda scope, user: departments_visible_to(scope)),
    Person: (matrix.PEOPLE, lambda scope, user: persons_visible_to(scope)),
    Employment: (matrix.PEOPLE, lambda scope, user: employments_visible_to(scope)),
    Contractor: (matrix.CONTRACTORS, lambda scope, user: contractors_visible_to(scope)),
    ContractorEngagement: (matrix.CONTRACTORS, lambda scope, user: engagements_visible_to(scope)),
    HealthCheck: (matrix.HEALTH, lambda scope, user: health_checks_visible_to(scope)),
    BlacklistEntry: (matrix.BLACKLIST, lambda scope, user: blacklist_visible_to(scope)),
    User: (matrix.ACCOUNTS, lambda scope, user: users_visible_to(scope)),
    RoleGrant: (matrix.ACCOUNTS, lambda scope, user: grants_visible_to(scope)),
    ApiToken: (matrix.ACCOUNTS, lambda scope, user: tokens_visible_to(user)),
    AuditRecord: (matrix.AUDIT, lambda scope, user: audit_visible_to(scope, user_id=user.pk)),
    Setting: (matrix.SETTINGS, lambda scope, user: settings_visible_to(scope)),
    Certificate: (matrix.CERTIFICATES, lambda scope, user: certificates_visible_to(scope)),
    CertificateEvent: (
        matrix.CERTIFICATES,
        lambda scope, user: certificate_events_visible_to(scope),
    ),
    CertificateFile: (matrix.CERTIFICATES, lambda scope, user: certificate_files_visible_to(scope)),
    VerificationBatch: (matrix.CERTIFICATES, lambda scope, user: batches_visible_to(scope, user)),
    VerificationLookup: (matrix.CERTIFICATES, lambda scope, user: lookups_visible_to(scope)),
    ImportJob: (matrix.CERTIFICATES, lambda scope, user: imports_visible_to(scope, user)),
    ReportJob: (matrix.CERTIFICATES, lambda scope, user: reports_visible_to(user)),
    Roster: (matrix.ROSTER, lambda scope, user: rosters_visible_to(scope, user)),
    RosterEntry: (matrix.ROSTER, lambda scope, user: roster_entries_visible_to(scope, user)),
    Permit: ("permits", lambda scope, user: permits_visible_to(scope, user)),
    Alarm: ("alarms", lambda scope, user: alarms_visible_to(scope, user)),
    # a permit's parts: those of the permits the scope sees
    **{
        model: (
            "permits",
            lambda scope, user, model=model: permit_parts_visible_to(model, scope, user),
        )
        for model in (
            CrewAssignment,
            ApprovalStep,
            Signature,
            MeasureItem,
            RiskItem,
            Briefing,
            GasTest,
            Presence,
            Blind,
            Attachment,
            PermitEvent,
        )
    },
    Delegation: ("permits", lambda scope, user: delegations_visible_to(scope, user)),
    PermitNumberCounter: ("permits", lambda scope, user: PermitNumberCounter.objects.all()),
    ParkPush: (matrix.SETTINGS, lambda scope, user: ParkPush.objects.all()),
    # notify: configuration and the outbox, whole to whoever reads the database settings
    **{
        model: (matrix.SETTINGS, lambda scope, user, model=model: model.objects.all())
        for model in (NotifyRule, Channel, ChannelBinding, Event, Delivery, Attempt, RunLock)
    },
}
# Reference data every role reads whole (decisions.md: the catalogue is the same everywhere).
CATALOGUE = {
    Position,
    WorkType,
    WorkLevel,
    CrewRole,
    PositionPermission,
    HouseRule,
    PermitRule,
    PermitFieldSchema,
    WeatherStop,
    HeightHazard,
    GasLimit,
    CombustibleCriterion,
    CalendarYear,
    CalendarDay,
    SpecialPeriod,
    UpgradePolicy,
    RouteStep,
    Scheme,
    CertificateItem,
    CatalogueRule,
    RevocationGround,
    LegacyCode,
    Requirement,
    AlarmType,
}
# Shown whole or not at all by design (administrators' business; group-wide readers' settings).
ALL_OR_NOTHING = {User, RoleGrant, ApiToken, Setting, PermitNumberCounter, ParkPush}
# notify's configuration and outbox: whole to readers of the database settings, else nothing.
ALL_OR_NOTHING |= {NotifyRule, Channel, ChannelBinding, Event, Delivery, Attempt, RunLock}

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo enterprise plus jobs, rosters, batches, tokens, settings and files, made once
    for the module inside a transaction rolled back after it."""
    from safework.demo.enterprise import seed_demo
    from safework.demo.permits import load_calendars, seed_permits

    settings = override_settings(
        VAR_DIR=tmp_path_factory.mktemp("var"), PASSWORD_HASHERS=FAST_HASHERS
    )
    with django_db_blocker.unblock(), settings:
        outer = transaction.atomic()
        # The seed runs in a durable transaction of its own; like Django's TestCase, mark the
        # outer one as the test's so that the seed may nest inside it.
        outer._from_testcase = True
        outer.__enter__()
        try:
            seed_demo(today=AFTER_ORDER_19)
            load_calendars()
            seed_permits(now=dt.datetime.combine(AFTER_ORDER_19, dt.time(2), tzinfo=dt.UTC))
            yield _add_rows()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _add_rows() -> dict:
    users = {u.username: u for u in User.objects.filter(username__startswith="demo_")}
    officer, principal = users["demo_safety_officer"], users["demo_principal"]
    manager_1, manager_2 = users["demo_contractor_manager"], users["demo_contractor_manager_2"]
    team_leader, workshop_head = users["demo_team_leader"], users["demo_workshop_head"]
    nj, zb = Site.objects.get(code="demo-nanjing"), Site.objects.get(code="demo-zibo")
    c1 = Contractor.objects.get(pk=manager_1.grants.get().contractor_id)
    c2 = Contractor.objects.get(pk=manager_2.grants.get().contractor_id)
    nj_own = users["demo_worker"].person
    team_mate = team_leader.person
    zb_own = Person.objects.filter(
        current_employment__employer_kind="own", current_employment__site=zb
    ).first()
    nj_cert = Certificate.objects.filter(person=nj_own).first()
    c1_cert = Certificate.objects.filter(person__current_employment__contractor=c1).first()
    zb_cert = Certificate.objects.filter(person=zb_own).first()
    assert None not in (zb_own, nj_cert, c1_cert, zb_cert)

    def job(by, kind, site=None, contractor=None):
        return ImportJob.objects.create(
            kind=kind,
            file=f"imports/{by.username}.xlsx",
            original_name="台账.xlsx",
            file_sha256="0" * 64,
            site=site,
            contractor=contractor,
            created_by=by,
        )

    rows = {
        "nj_ledger": job(officer, KIND_LEDGER, site=nj),
        # A site's ledger naming the contractor: its rows may be anyone at the site.
        "nj_ledger_naming_c1": job(officer, KIND_LEDGER, site=nj, contractor=c1),
        "c1_upload": job(manager_1, KIND_CONTRACTOR, site=nj, contractor=c1),
        "c2_upload": job(manager_2, KIND_CONTRACTOR, site=zb, contractor=c2),
        "zb_ledger": job(principal, KIND_LEDGER, site=zb),
    }
    for user in (officer, manager_1, principal):
        ReportJob.objects.create(kind=ReportKind.CERTIFICATES, params={}, created_by=user)

    work_type = WorkType.objects.order_by("pk").first()
    role = CrewRole.objects.order_by("pk").first()

    def roster(name, by, site, persons):
        r = Roster.objects.create(name=name, author=by, site=site)
        for person in persons:
            RosterEntry.objects.create(
                roster=r, person=person, on=AFTER_ORDER_19, work_type=work_type, crew_role=role
            )
        return r

    rows["zb_own_id_number"] = zb_own.id_number
    rows |= {
        "nj_roster": roster("南京排班", officer, nj, [nj_own]),
        # Another site's roster that names staff of Nanjing.
        "zb_roster": roster("淄博排班", principal, zb, [nj_own, zb_own]),
        "team_roster": roster("班组排班", team_leader, None, [team_mate]),
        "workshop_roster": roster("车间排班", workshop_head, None, [nj_own]),
    }

    batch_1 = VerificationBatch.objects.create(created_by=manager_1, source="fake", total=2)
    rows["c1_lookup"] = VerificationLookup.objects.create(
        batch=batch_1, certificate=c1_cert, number=c1_cert.number
    )
    # Someone else's certificate in the manager's own batch.
    rows["nj_lookup_in_c1_batch"] = VerificationLookup.objects.create(
        batch=batch_1, certificate=nj_cert, number=nj_cert.number
    )
    rows["c1_batch"] = batch_1
    batch_2 = VerificationBatch.objects.create(created_by=principal, source="fake", total=1)
    VerificationLookup.objects.create(batch=batch_2, certificate=zb_cert, number=zb_cert.number)

    for i, user in enumerate((users["demo_worker"], officer, users["demo_admin"])):
        ApiToken.objects.create(user=user, name="脚本", prefix=f"sw_t{i}", digest="0" * 64)
    # Delegations at each site (a site's readers see its own; the people in one, theirs).
    for site in (nj, zb):
        Delegation.objects.create(
            delegator=workshop_head,
            delegate=principal,
            role="workshop_head",
            site=site,
            starts_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            ends_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    Setting.objects.create(key="cert.yellow_days", value=30)
    Setting.objects.create(key="cert.yellow_days", value=20, site_id=nj.pk)
    Setting.objects.create(key="cert.yellow_days", value=40, site_id=zb.pk)
    for cert in (nj_cert, c1_cert, zb_cert):
        CertificateFile.objects.create(certificate=cert, file=f"certificates/{cert.pk}.pdf")

    # Audit records about objects of each kind, by the system and by some of the users.
    # A group without sites (seen group-wide only) and bars on staff of each site.
    Group.objects.create(name="另一集团（测试）", code="other-group")
    for person in (nj_own, zb_own):
        BlacklistEntry.objects.create(
            id_number=person.id_number,
            reason="违章作业",
            starts_on=AFTER_ORDER_19,
            created_by_label="test",
        )

    for target in (nj_own, zb_own, nj_cert, c1_cert, zb_cert, nj, zb, c1, c2):
        audit.record(action="test.touched", target=target, actor="test")
    for target, actor in (
        (rows["nj_ledger"], officer),
        (rows["c1_upload"], manager_1),
        (rows["zb_roster"], principal),
        (zb_own, principal),
    ):
        audit.record(action="test.touched", target=target, actor=actor)
    return rows


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _pks(qs) -> set:
    return set(qs.values_list("pk", flat=True))


def _expected(model, resource, user) -> set:
    scope = scope_for(user, resource, matrix.READ)
    if scope is None:  # no READ permission: the admin shows nothing
        return set()
    return _pks(QUERIES[model][1](scope, user))


def _demo_users():
    return list(User.objects.filter(username__startswith="demo_").order_by("username"))


def test_every_registered_admin_model_is_pinned_here(demo):
    assert set(admin.site._registry) == set(QUERIES) | CATALOGUE


def test_every_admin_queryset_is_the_resource_query_for_every_demo_user(demo):
    users = _demo_users()
    assert len(users) == 13  # one per role, and the second contractor's manager
    mismatches = []
    for user in users:
        for model, model_admin in admin.site._registry.items():
            shown = _pks(model_admin.get_queryset(_request(user)))
            if model in CATALOGUE:
                expected = _pks(model._default_manager.all())
            else:
                expected = _expected(model, QUERIES[model][0], user)
            if shown != expected:
                mismatches.append((user.username, model._meta.label, len(shown), len(expected)))
    assert mismatches == []


def test_every_inline_queryset_is_its_models_query_in_the_parents_scope(demo):
    mismatches = []
    checked = 0
    for user in _demo_users():
        for parent, model_admin in admin.site._registry.items():
            for inline_class in model_admin.inlines:
                inline = inline_class(parent, admin.site)
                shown = _pks(inline.get_queryset(_request(user)))
                if inline.model in CATALOGUE:
                    expected = _pks(inline.model._default_manager.all())
                else:
                    expected = _expected(inline.model, QUERIES[parent][0], user)
                checked += 1
                if shown != expected:
                    mismatches.append((user.username, inline_class.__name__))
    assert checked == 13 * 10  # ten inlines
    assert mismatches == []


def test_the_demo_data_makes_every_scoped_query_choose(demo):
    """Guards the two tests above against a vacuous pass: for each scoped model some demo user
    sees part of the rows, neither none nor all."""
    users = _demo_users()
    never_partial = []
    for model, (resource, _query) in QUERIES.items():
        if model in ALL_OR_NOTHING:
            continue
        everything = _pks(model._default_manager.all())
        seen = [_expected(model, resource, user) for user in users]
        if not any(s and s != everything for s in seen):
            never_partial.append(model._meta.label)
    assert never_partial == []


def _admin_ids(user, model) -> set:
    request = _request(user)
    return _pks(admin.site._registry[model].get_queryset(request))


def test_a_contractor_manager_sees_only_their_companys_uploads_in_admin_and_api(demo):
    manager_1 = User.objects.get(username="demo_contractor_manager")
    manager_2 = User.objects.get(username="demo_contractor_manager_2")
    # Not the site's ledger that names their company (its rows may be anyone at the site).
    assert _admin_ids(manager_1, ImportJob) == {demo["c1_upload"].pk}
    assert _admin_ids(manager_2, ImportJob) == {demo["c2_upload"].pk}
    listed = client_for(manager_1).get(f"{API}/imports").json()
    assert {job["id"] for job in listed["items"]} == {demo["c1_upload"].pk}
    officer = User.objects.get(username="demo_safety_officer")
    assert {
        demo["nj_ledger"].pk,
        demo["nj_ledger_naming_c1"].pk,
        demo["c1_upload"].pk,
    } <= _admin_ids(officer, ImportJob)
    assert demo["zb_ledger"].pk not in _admin_ids(officer, ImportJob)


def test_another_sites_roster_naming_ones_staff_is_not_shown(demo):
    officer = User.objects.get(username="demo_safety_officer")
    assert _admin_ids(officer, Roster) == {demo["nj_roster"].pk}
    assert _admin_ids(officer, RosterEntry) == set(
        demo["nj_roster"].entries.values_list("pk", flat=True)
    )
    team_leader = User.objects.get(username="demo_team_leader")
    # Department-scoped: their own rosters only, not another's naming their team.
    assert _admin_ids(team_leader, Roster) == {demo["team_roster"].pk}


def test_someone_elses_certificate_in_ones_own_batch_is_not_shown(demo):
    manager_1 = User.objects.get(username="demo_contractor_manager")
    assert _admin_ids(manager_1, VerificationBatch) == {demo["c1_batch"].pk}
    assert _admin_ids(manager_1, VerificationLookup) == {demo["c1_lookup"].pk}
    # The batch's page lists the same look-ups as the API.
    url = f"{API}/verifications/{demo['c1_batch'].pk}/lookups"
    listed = client_for(manager_1).get(url).json()
    assert {row["id"] for row in listed["items"]} == {demo["c1_lookup"].pk}
    seen_in_batch = (
        admin.site._registry[VerificationBatch]
        .inlines[0](VerificationBatch, admin.site)
        .get_queryset(_request(manager_1))
    )
    assert _pks(seen_in_batch.filter(batch=demo["c1_batch"])) == {demo["c1_lookup"].pk}
    assert demo["nj_lookup_in_c1_batch"].pk not in _pks(seen_in_batch)


def test_a_site_reader_sees_the_audit_records_of_their_sites_objects_and_their_own(demo):
    officer = User.objects.get(username="demo_safety_officer")
    shown = admin.site._registry[AuditRecord].get_queryset(_request(officer))
    about = {(r.object_type, r.object_id) for r in shown.filter(action="test.touched")}
    nj_own = User.objects.get(username="demo_worker").person
    zb_own = Person.objects.get(id_number=demo["zb_own_id_number"])
    assert ("people.person", str(nj_own.pk)) in about
    assert ("people.person", str(zb_own.pk)) not in about
    # Their own action, on an object of a kind nobody registered for audit visibility.
    assert ("ledger.importjob", str(demo["nj_ledger"].pk)) in about
    assert ("ledger.importjob", str(demo["c1_upload"].pk)) not in about

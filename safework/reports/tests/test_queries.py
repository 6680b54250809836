"""The monthly figures at their boundaries (NOTIFY-05, CONTRACTOR-03): a certificate valid until
the month's last day expires in that month, one valid until the next month's first day does not;
a review passed on its due date is in time, a day later is not; a person in a position that
requires a certificate without one lowers coverage; work on two sites makes a certificate
cross-site. Expected numbers are counted by hand from the rows each test makes."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safework.accounts.tests.world import world_fixture
from safework.certs.models import CertificateEvent, EventKind, Verification
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.scope import Scope
from safework.org.tests.factories import PositionFactory
from safework.people.tests.factories import EngagementFactory
from safework.qualification.models import Requirement, RequirementKind
from safework.reports import queries
from safework.reports.queries import Month
from safework.rosters.models import Roster, RosterEntry
from safework.work.models import CrewRole, PositionPermission, WorkType

world = world_fixture(catalogue=True)
NOV = Month(2026, 11)
ALL = Scope.everything()
D = dt.date


LATER = D(2030, 1, 9)


def cert(person, valid_until=LATER, **fields):
    fields.setdefault("verification", Verification.VERIFIED)
    return CertificateFactory(
        person=person,
        item=item("special_operation", "2.1"),
        issued_on=D(2026, 6, 1),
        valid_until=valid_until,
        **fields,
    )


def row(rows, label):
    return dict(rows)[label]


def test_month_bounds_and_parsing():
    assert (NOV.start, NOV.end, NOV.next_start) == (D(2026, 11, 1), D(2026, 11, 30), D(2026, 12, 1))
    assert Month.before(D(2026, 12, 5)) == NOV
    assert Month.before(D(2027, 1, 5)) == Month(2026, 12)
    assert Month.parse("2026-11") == NOV
    for bad in ("2026-13", "2026-1", "11/2026", ""):
        with pytest.raises(ValueError):
            Month.parse(bad)


def test_expiry_on_the_last_day_counts_in_the_month_the_first_of_the_next_does_not(world, db):
    cert(world.p_own, valid_until=D(2026, 11, 30))  # last valid day in November: expires in it
    cert(world.p_own, valid_until=D(2026, 12, 1))  # still valid on 1 December
    cert(world.p_x, valid_until=D(2026, 10, 31))  # already expired when November began
    cert(world.p_x, valid_until=D(2027, 6, 30))
    report = queries.certificate_health(ALL, NOV)
    assert (report.total.valid_at_start, report.total.expired) == (3, 1)
    assert report.total.expiry_rate == round(1 / 3, 4)
    own = row(report.by_contractor, "本企业")
    assert (own.valid_at_start, own.expired) == (2, 1)
    x = row(report.by_contractor, "承包商X")
    assert (x.valid_at_start, x.expired) == (1, 0)
    # Site A: the own person (team T at A) and contractor X's staff (X engaged at A).
    a = row(report.by_site, "甲厂区")
    assert (a.valid_at_start, a.expired) == (3, 1)
    december = queries.certificate_health(ALL, Month(2026, 12))
    assert december.total.expired == 1  # the one valid until 1 December


def test_two_engagements_at_one_site_count_a_certificate_once(world, db):
    EngagementFactory(contractor=world.contractor_x, site=world.site_a, starts_on=D(2026, 11, 20))
    cert(world.p_x, valid_until=D(2026, 11, 30))
    report = queries.certificate_health(ALL, NOV)
    a = row(report.by_site, "甲厂区")
    assert (a.valid_at_start, a.expired) == (1, 1)


def test_a_revoked_certificate_is_not_an_expiry(world, db):
    c = cert(world.p_own, valid_until=D(2026, 11, 30))
    c.state, c.state_changed_on = "revoked", D(2026, 11, 10)
    c.save()
    report = queries.certificate_health(ALL, NOV)
    assert (report.total.valid_at_start, report.total.expired) == (1, 0)


def review(c, due_on, on, passed=True):
    return CertificateEvent.objects.create(
        certificate=c, kind=EventKind.REVIEW, due_on=due_on, on=on, passed=passed
    )


def test_review_on_its_due_date_is_in_time_a_day_late_is_not(world, db):
    march = Month(2026, 3)  # Order No. 30 reviews: due dates before 2026-06-01
    a, b, c = (cert(world.p_own, next_review_due=None) for _ in range(3))
    review(a, due_on=D(2026, 3, 15), on=D(2026, 3, 15))
    review(b, due_on=D(2026, 3, 15), on=D(2026, 3, 16))
    review(c, due_on=D(2026, 4, 1), on=D(2026, 3, 20))  # due in April: not March's
    cert(world.p_x, next_review_due=D(2026, 3, 31))  # due in March, not recorded
    cert(world.p_x, next_review_due=D(2026, 4, 1))
    report = queries.certificate_health(ALL, march)
    assert (report.total.reviews_due, report.total.reviews_timely) == (3, 1)
    assert report.total.review_timeliness == round(1 / 3, 4)
    x = row(report.by_contractor, "承包商X")
    assert (x.reviews_due, x.reviews_timely) == (1, 0)


def test_a_failed_review_on_time_is_not_in_time(world, db):
    c = cert(world.p_own, next_review_due=None)
    review(c, due_on=D(2026, 3, 15), on=D(2026, 3, 10), passed=False)
    report = queries.certificate_health(ALL, Month(2026, 3))
    assert (report.total.reviews_due, report.total.reviews_timely) == (1, 0)


@pytest.fixture
def welder_position(world, db):
    position = PositionFactory(code="welder-report")
    hot = WorkType.objects.get(code="hot_work")
    PositionPermission.objects.create(
        position=position, work_type=hot, crew_role=CrewRole.objects.get(code="worker")
    )
    Requirement.objects.get_or_create(
        code="report-test-hot-work",
        defaults={
            "description": "测试岗位需持4.1证",
            "work_type": hot,
            "kind": RequirementKind.CERTIFICATE,
            "items": ["special_operation:4.1"],
            "clause": "test",
            "effective_from": D(2020, 1, 1),
        },
    )
    return position


def welding(person, **fields):
    fields.setdefault("verification", Verification.VERIFIED)
    return CertificateFactory(
        person=person, item=item("special_operation", "4.1"), issued_on=D(2026, 6, 1), **fields
    )


def test_coverage_counts_a_person_in_the_position_without_a_certificate(world, welder_position):
    for p in (world.p_own, world.p_b, world.p_x):
        p.position = welder_position
        p.save()
    welding(world.p_own)  # holds one
    welding(world.p_b, valid_until=D(2026, 11, 29))  # expired before the month's last day
    cert(world.p_x)  # holds a certificate, not of a required item
    report = queries.certificate_health(ALL, NOV)
    assert (report.total.in_positions, report.total.covered) == (3, 1)
    assert report.total.coverage == round(1 / 3, 4)
    assert (row(report.by_site, "甲厂区").in_positions, row(report.by_site, "甲厂区").covered) == (
        2,
        1,
    )
    assert row(report.by_site, "乙厂区").covered == 0
    # On the last day a certificate valid until that day still covers.
    welding(world.p_x, valid_until=D(2026, 11, 30))
    assert queries.certificate_health(ALL, NOV).total.covered == 2


def roster_day(person, site, on):
    roster = Roster.objects.first() or Roster.objects.create(name="十一月排班", site=site)
    return RosterEntry.objects.create(
        roster=roster,
        person=person,
        on=on,
        work_type=WorkType.objects.get(code="hot_work"),
        crew_role=CrewRole.objects.get(code="worker"),
        site=site,
    )


def test_cross_site_needs_work_at_two_sites_in_the_month(world, db):
    travelling = cert(world.p_x)
    cert(world.p_y)
    roster_day(world.p_x, world.site_a, D(2026, 11, 3))
    roster_day(world.p_x, world.site_b, D(2026, 11, 30))
    roster_day(world.p_y, world.site_a, D(2026, 11, 3))
    roster_day(world.p_y, world.site_b, D(2026, 12, 1))  # next month
    report = queries.certificate_health(ALL, NOV)
    assert report.total.cross_site == 1
    assert row(report.by_contractor, "承包商X").cross_site == 1
    [line] = report.cross_site_rows
    assert (line.number, line.sites) == (travelling.number, "乙厂区、甲厂区")


def test_site_officer_sees_their_site_only(world, db):
    cert(world.p_b, valid_until=D(2026, 11, 30))  # site B
    cert(world.p_own, valid_until=D(2026, 11, 30))  # site A
    scope = Scope(site_ids=frozenset({world.site_a.pk}))
    report = queries.certificate_health(scope, NOV)
    assert report.total.expired == 1
    assert [label for label, _f in report.by_site] == ["甲厂区"]


def test_compliance_per_contractor_and_a_manager_sees_their_own(world, db):
    cert(world.p_x, valid_until=D(2026, 11, 30))
    cert(world.p_x, verification=Verification.NOT_FOUND)  # an anomaly at month end
    c = cert(world.p_y)
    CertificateEvent.objects.create(
        certificate=c, kind=EventKind.VERIFICATION, on=D(2026, 11, 2), passed=True
    )
    CertificateEvent.objects.create(
        certificate=c, kind=EventKind.VERIFICATION, on=D(2026, 11, 9), passed=False
    )
    report = queries.contractor_compliance(ALL, NOV)
    labels = [label for label, _f in report.by_contractor]
    assert labels == ["承包商X", "承包商Y", "承包商Z"]  # every contractor, no own enterprise
    x = row(report.by_contractor, "承包商X")
    assert (x.staff, x.valid_at_start, x.expired) == (1, 1, 1)  # not found: never usable
    assert (x.unusable_at_end, x.anomalies_at_end) == (1, 1)  # the one not found
    y = row(report.by_contractor, "承包商Y")
    assert (y.spot_checks, y.spot_checks_passed, y.spot_check_pass_rate) == (2, 1, 0.5)
    manager = Scope(contractor_ids=frozenset({world.contractor_x.pk}))
    mine = queries.contractor_compliance(manager, NOV)
    assert [label for label, _f in mine.by_contractor] == ["承包商X"]
    assert mine.total.staff == 1


def test_the_number_of_queries_does_not_grow_with_the_rows(world, welder_position):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            queries.certificate_health(ALL, NOV)
            queries.contractor_compliance(ALL, NOV)
        return len(ctx.captured_queries)

    def add(p):
        p.position = welder_position
        p.save()
        welding(p)
        cert(p, valid_until=D(2026, 11, 15))
        roster_day(p, world.site_a, D(2026, 11, 3))
        roster_day(p, world.site_b, D(2026, 11, 4))

    add(world.p_x)  # one row of each kind, so that every statement has something to read
    few = count()
    for p in (world.p_own, world.p_b, world.p_y, world.p_z):
        add(p)
    assert count() == few

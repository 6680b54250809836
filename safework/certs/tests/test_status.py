"""One status, two implementations: `status_of` (per object, from the database) and
`with_status` (set-based, one SQL statement) agree on every boundary day and on generated
certificates; plus visibility, settings rows and the local date."""

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safework.certs import services
from safework.certs.models import Certificate, CertState, RevocationGround, Verification
from safework.certs.queries import (
    certificates_visible_to,
    passed_reviews_of,
    reapply_bars,
    status_of,
    status_settings,
    statuses_of,
    with_status,
)
from safework.certs.rules import (
    STATUS_TABLE,
    RuleBook,
    Status,
    StatusSettings,
    bar_of,
    certificate_status,
    first_unpassed_review,
)
from safework.certs.tests.factories import CertificateFactory, item
from safework.certs.tests.test_rules import shipped_catalogue_fixture
from safework.core.models import Setting
from safework.core.scope import Scope
from safework.people.tests.factories import PersonFactory

catalogue = shipped_catalogue_fixture()
D = dt.date
DAY = dt.timedelta(days=1)


def make_cases():
    """Certificate records that, between them, reach every status on their boundary days.

    Built through the services, so the stored `next_review_due` is what the services keep.
    """
    p = PersonFactory()
    weld, tsg_q2 = ("special_operation", "2.1"), ("special_equipment", "Q2")
    made = []

    def cert(spec, verification=Verification.VERIFIED, person=p, **kw):
        scheme, code = spec
        it = item(scheme, code)
        kw.setdefault("number", f"N{len(made) + 1:06d}")
        # Entered after every issue date below: an issue date in the future is refused.
        with time_machine.travel(dt.datetime(2030, 1, 1, tzinfo=dt.UTC), tick=False):
            c = services.create_certificate(person=person, scheme=it.scheme, item=it, **kw)
        Certificate.objects.filter(pk=c.pk).update(verification=verification)
        c.refresh_from_db()
        made.append(c)
        return c

    cert(weld, issued_on=D(2023, 5, 31))  # review due 2026-05-31 → overdue from 06-01
    cert(weld, issued_on=D(2023, 6, 1))  # would fall due under Order 19: never overdue
    reviewed = cert(weld, issued_on=D(2020, 9, 1))  # review due 2023-09-01, passed
    services.record_review(cert=reviewed, on=D(2023, 8, 1))
    cert(weld, issued_on=D(2024, 1, 10), verification=Verification.UNVERIFIED)
    cert(weld, issued_on=D(2024, 2, 10), verification=Verification.MISMATCH)
    cert(weld, issued_on=D(2024, 3, 10), verification=Verification.NOT_FOUND)
    cert(weld, issued_on=D(2024, 4, 10), verification=Verification.EXPIRED)
    cert(weld, issued_on=D(2024, 5, 10), verification=Verification.REVOKED)
    revoked = cert(weld, issued_on=D(2024, 6, 10))
    services.revoke_certificate(
        cert=revoked, ground="accident", reason="accident", on=D(2026, 3, 1)
    )
    cancelled = cert(weld, issued_on=D(2024, 7, 10))
    services.cancel_certificate(cert=cancelled, reason="own request", on=D(2026, 4, 1))
    old = cert(tsg_q2, issued_on=D(2022, 3, 11), restriction="tower")  # ends 2026-03-10
    new = services.renew_certificate(
        cert=old, number="N-RENEWED", issued_on=D(2026, 3, 1), valid_from=D(2026, 3, 15)
    )
    Certificate.objects.filter(pk=new.pk).update(verification=Verification.VERIFIED)
    made.append(new)
    cert(tsg_q2, issued_on=D(2026, 5, 1), valid_from=D(2026, 6, 1), restriction="mobile")
    # Revoked for false entries on 2024-08-01: no new 2.1 certificate until 2027-08-01.
    q = PersonFactory()
    fraud = cert(weld, person=q, issued_on=D(2022, 1, 10))
    services.revoke_certificate(
        cert=fraud, ground="false_entries", reason="forged", on=D(2024, 8, 1)
    )
    cert(weld, person=q, issued_on=D(2024, 8, 1))  # the day of revocation: barred
    cert(weld, person=q, issued_on=D(2027, 7, 31))  # the last day of the bar: barred
    cert(weld, person=q, issued_on=D(2027, 8, 1))  # the bar has ended: not barred
    cert(("special_operation", "3.1"), person=q, issued_on=D(2025, 1, 10))  # another item
    # Internal items are in no registry: never "unverified".
    cert(("internal", "GUARDIAN"), verification=Verification.UNVERIFIED, issued_on=D(2025, 1, 5))
    return [Certificate.objects.get(pk=c.pk) for c in made]


def boundary_days(cert, predecessor_end=None):
    """The days where the status can change, and either side of them."""
    days = {cert.valid_until + d * DAY for d in (-61, -60, -1, 0, 1)}
    days |= {cert.valid_from - DAY, cert.valid_from}
    if cert.next_review_due:
        days |= {cert.next_review_due + d * DAY for d in (-61, -60, -1, 0, 1)}
    if cert.state_changed_on:
        days |= {cert.state_changed_on - DAY, cert.state_changed_on}
    if predecessor_end:
        days |= {predecessor_end, predecessor_end + DAY}  # vacuum start, and the day before
    return days


def assert_agree(on, *, settings=None, book=None):
    """with_status vs status_of (from the database) vs certificate_status (fields of the SQL
    row) for every certificate on `on`, and the stored review due date vs the one recomputed
    from the passed reviews; returns the statuses seen."""
    book = book or RuleBook.load()
    rows = {c.pk: c for c in with_status(Certificate.objects.all(), on=on, settings=settings)}
    live = statuses_of(Certificate.objects.filter(pk__in=rows), on=on, book=book, settings=settings)
    reviews = passed_reviews_of(rows)
    bars = reapply_bars()
    seen = set()
    for pk, row in rows.items():
        stored = certificate_status(
            row,
            on=on,
            book=book,
            predecessor_valid_until=row.predecessor_valid_until,
            bars=bars.get((row.person_id, row.item_id), ()),
            settings=settings or status_settings(),
        )
        got = (row.status, row.usable, row.colour, row.days_left)
        assert got == (live[pk].status, live[pk].usable, live[pk].colour, live[pk].days_left), (
            f"{row.number} on {on}: SQL {got} != per object {live[pk]}"
        )
        assert stored == live[pk], f"{row.number} on {on}: {stored} != {live[pk]}"
        due = first_unpassed_review(row, book, reviews.get(pk, ()))
        assert row.next_review_due == (due[0] if due else None), f"{row.number}: stale due"
        seen.add(row.status)
    return seen


@pytest.mark.django_db
def test_set_based_and_per_object_agree_on_every_boundary_day(catalogue):
    cases = make_cases()
    ends = dict(Certificate.objects.values_list("pk", "valid_until"))
    days = set()
    for c in cases:
        days |= boundary_days(c, ends.get(c.predecessor_id))
    seen = set()
    book = RuleBook.load()
    for on in sorted(days):
        seen |= assert_agree(on, book=book)
    assert seen == set(STATUS_TABLE), f"not reached: {set(STATUS_TABLE) - seen}"


@pytest.mark.django_db
def test_agreement_with_unverified_blocking_and_a_changed_threshold(catalogue):
    cases = make_cases()
    strict = StatusSettings(yellow_days=15, unverified_blocking=True)
    book = RuleBook.load()
    for c in cases:
        for on in (c.valid_until - 16 * DAY, c.valid_until - 15 * DAY, c.valid_from):
            assert_agree(on, settings=strict, book=book)


@pytest.mark.django_db
def test_yellow_threshold_from_a_setting_row(catalogue):
    cert = CertificateFactory(
        item=item("special_operation", "2.1"), verification=Verification.VERIFIED
    )
    on_31, on_30 = cert.valid_until - 31 * DAY, cert.valid_until - 30 * DAY
    assert status_of(cert, on=on_31).status == Status.EXPIRING  # default: 60 days
    Setting.objects.create(key="cert.yellow_days", value=30)
    for on, expected in ((on_31, Status.VALID), (on_30, Status.EXPIRING)):
        row = with_status(Certificate.objects.filter(pk=cert.pk), on=on).get()
        assert row.status == status_of(cert, on=on).status == expected
    Setting.objects.create(key="cert.unverified_blocking", value=True)
    Certificate.objects.filter(pk=cert.pk).update(verification=Verification.UNVERIFIED)
    row = with_status(Certificate.objects.filter(pk=cert.pk), on=on_31).get()
    assert (row.status, row.usable, row.colour) == ("unverified", False, "red")
    assert status_settings() == StatusSettings(yellow_days=30, unverified_blocking=True)


# --- generated certificates ------------------------------------------------------------------

dates = st.dates(min_value=D(2016, 1, 1), max_value=D(2034, 12, 31))


@st.composite
def cert_specs(draw):
    valid_from = draw(dates)
    valid_until = valid_from + draw(st.integers(0, 3000)) * DAY
    issued_on = valid_from - draw(st.integers(0, 30)) * DAY
    has_review = draw(st.booleans())
    review = valid_from + draw(st.integers(-10, 2500)) * DAY if has_review else None
    gap = draw(st.one_of(st.integers(-8, 3), st.integers(-400, 30)))
    predecessor_end = valid_from + gap * DAY if draw(st.booleans()) else None
    # Mostly records in force, so that the later statuses of the table are reached too.
    state = draw(st.sampled_from([CertState.ACTIVE] * 4 + [CertState.REVOKED, CertState.CANCELLED]))
    changed = draw(st.one_of(st.none(), dates)) if state != CertState.ACTIVE else draw(st.none())
    # A sibling record of the same item revoked on a ground that bars reapplying, its revocation
    # and the end of its bar near this record's issue date (the bar's boundaries).
    near = st.one_of(st.sampled_from([-1, 0, 1]), st.integers(-1200, 400))
    bar = None
    if draw(st.booleans()):
        revoked = issued_on + draw(near) * DAY
        bar = (revoked, max(revoked + DAY, issued_on + draw(near) * DAY))
    return {
        "internal": draw(st.sampled_from([False] * 3 + [True])),
        "bar": bar,
        "issued_on": issued_on,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "next_review_due": review,
        "state": state,
        "state_changed_on": changed,
        "verification": draw(st.sampled_from([Verification.VERIFIED] * 4 + Verification.values)),
        "predecessor_end": predecessor_end,
    }


@st.composite
def question(draw):
    """Generated certificates and a day near one of their boundaries."""
    specs = draw(st.lists(cert_specs(), min_size=1, max_size=6))
    anchor_of = draw(st.sampled_from(specs))
    anchors = [
        anchor_of[k]
        for k in ("valid_from", "valid_until", "next_review_due", "predecessor_end")
        if anchor_of[k] is not None
    ]
    offset = draw(st.one_of(st.sampled_from([-61, -60, -1, 0, 1]), st.integers(-62, 62)))
    on = draw(st.sampled_from(anchors)) + offset * DAY
    yellow = draw(st.one_of(st.just(60), st.integers(0, 120)))
    return specs, on, StatusSettings(yellow_days=yellow, unverified_blocking=draw(st.booleans()))


@pytest.mark.django_db
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(q=question())
def test_generated_certificates_agree(catalogue, q):
    specs, on, status_settings_ = q
    weld, guardian = item("special_operation", "2.1"), item("internal", "GUARDIAN")
    book = RuleBook.load()
    ground = RevocationGround.objects.get(code="false_entries")
    with transaction.atomic():
        person = PersonFactory()
        bars = {weld.pk: [], guardian.pk: []}
        for n, spec in enumerate(specs):
            if spec["bar"] is not None:
                it = guardian if spec["internal"] else weld
                revoked_on, allowed_from = spec["bar"]
                sibling = CertificateFactory(
                    item=it,
                    person=person,
                    number=f"R{n}",
                    issued_on=revoked_on - 3000 * DAY,
                    valid_until=revoked_on,
                    state=CertState.REVOKED,
                    state_changed_on=revoked_on,
                    revocation_ground=ground,
                    revoked_on=revoked_on,
                    reapply_allowed_from=allowed_from,
                )
                bars[it.pk].append(bar_of(sibling))
        expected = {}
        for n, spec in enumerate(specs):
            spec = dict(spec)
            spec.pop("bar")
            cert_item = guardian if spec.pop("internal") else weld
            predecessor_end = spec.pop("predecessor_end")
            predecessor = None
            if predecessor_end is not None:
                predecessor = CertificateFactory(
                    item=weld,
                    person=person,
                    number=f"P{n}",
                    issued_on=predecessor_end - 2000 * DAY,
                    valid_until=predecessor_end,
                )
            cert = CertificateFactory(
                item=cert_item, person=person, number=f"G{n}", predecessor=predecessor, **spec
            )
            expected[cert.pk] = certificate_status(
                cert,
                on=on,
                book=book,
                predecessor_valid_until=predecessor_end,
                bars=bars[cert_item.pk],
                settings=status_settings_,
            )
        rows = with_status(
            Certificate.objects.filter(pk__in=expected), on=on, settings=status_settings_
        )
        for row in rows:
            want = expected[row.pk]
            assert (row.status, row.usable, row.colour, row.days_left) == (
                want.status,
                want.usable,
                want.colour,
                want.days_left,
            ), f"on {on}: {row.__dict__}"
        transaction.set_rollback(True)


# --- one statement, few queries --------------------------------------------------------------


@pytest.mark.django_db
def test_with_status_is_one_query_and_counts_per_status_in_one(catalogue):
    make_cases()
    qs = with_status(Certificate.objects.all(), on=D(2026, 6, 1), settings=StatusSettings())
    with CaptureQueriesContext(connection) as ctx:
        rows = list(qs)
        counts = dict(qs.order_by().values_list("status").annotate(n=Count("id")))
    assert len(ctx.captured_queries) == 2
    assert sum(counts.values()) == len(rows) == Certificate.objects.count()
    assert counts["review_overdue"] >= 1
    filtered = qs.filter(status="review_overdue", colour="red", usable=False)
    assert filtered.count() == counts["review_overdue"]


@pytest.mark.django_db
def test_statuses_of_many_certificates_without_n_plus_1(catalogue):
    make_cases()
    certs = list(Certificate.objects.all())
    book, status_settings_ = RuleBook.load(), status_settings()
    with CaptureQueriesContext(connection) as ctx:
        result = statuses_of(certs, on=D(2026, 6, 1), book=book, settings=status_settings_)
    assert len(result) == len(certs)
    assert len(ctx.captured_queries) <= 1  # predecessors' ends and the holders' bars


@pytest.mark.django_db
def test_local_date_of_an_instant(catalogue):
    """2026-05-31T23:30Z is 2026-06-01 in Shanghai: a record valid through 05-31 has expired."""
    cert = CertificateFactory(
        item=item("special_equipment", "N1"),
        issued_on=D(2022, 6, 1),
        valid_until=D(2026, 5, 31),
        verification=Verification.VERIFIED,
    )
    at = dt.datetime(2026, 5, 31, 23, 30, tzinfo=dt.UTC)
    assert status_of(cert, at=at).status == Status.EXPIRED
    evening = dt.datetime(2026, 5, 31, 15, 59, tzinfo=dt.UTC)  # 23:59 on 05-31 in Shanghai
    assert status_of(cert, at=evening).status == Status.EXPIRING
    row = with_status(Certificate.objects.filter(pk=cert.pk), at=at).get()
    assert (row.status, row.days_left) == (Status.EXPIRED, -1)
    with pytest.raises(TypeError):
        status_of(cert, on=at)


@pytest.mark.django_db
def test_order30_overdue_the_day_after_a_due_date_before_order19_at_local_midnight(catalogue):
    p = PersonFactory()
    weld = item("special_operation", "2.1")
    cert = services.create_certificate(
        person=p, scheme=weld.scheme, item=weld, number="W1", issued_on=D(2023, 5, 31)
    )
    assert cert.next_review_due == D(2026, 5, 31)
    before = dt.datetime(2026, 5, 31, 15, 59, tzinfo=dt.UTC)  # 23:59 in Shanghai, 05-31
    after = dt.datetime(2026, 5, 31, 16, 0, tzinfo=dt.UTC)  # 00:00 in Shanghai, 06-01
    assert status_of(cert, at=before).status == Status.UNVERIFIED
    assert status_of(cert, at=after).status == Status.REVIEW_OVERDUE
    assert with_status(Certificate.objects.filter(pk=cert.pk), at=after).get().status == (
        Status.REVIEW_OVERDUE
    )


# --- visibility -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_certificates_visible_to_a_scope(catalogue):
    from safework.org.tests.factories import DepartmentFactory
    from safework.people.tests.factories import (
        ContractorFactory,
        EmploymentFactory,
        EngagementFactory,
    )

    weld = item("special_operation", "2.1")
    dept_a, dept_b = DepartmentFactory(), DepartmentFactory()
    own_a = EmploymentFactory(department=dept_a).person
    own_b = EmploymentFactory(department=dept_b).person
    contractor = ContractorFactory()
    EngagementFactory(contractor=contractor, site=dept_a.site)
    staff = EmploymentFactory(
        employer_kind="contractor", contractor=contractor, department=None, site=None
    ).person
    certs = {p: CertificateFactory(item=weld, person=p) for p in (own_a, own_b, staff)}

    def visible(scope):
        return set(certificates_visible_to(scope).values_list("pk", flat=True))

    assert visible(Scope.everything()) == {c.pk for c in certs.values()}
    site_a = Scope(site_ids=frozenset({dept_a.site_id}))
    assert visible(site_a) == {certs[own_a].pk, certs[staff].pk}
    assert visible(Scope(contractor_ids=frozenset({contractor.pk}))) == {certs[staff].pk}
    assert visible(Scope(person_id=own_b.pk)) == {certs[own_b].pk}
    assert visible(Scope(department_ids=frozenset({dept_b.pk}))) == {certs[own_b].pk}
    assert visible(Scope.nothing()) == set()


# --- the rules change: stored review due dates follow ----------------------------------------


@pytest.mark.django_db
def test_catalogue_update_recomputes_review_due_dates(catalogue):
    from safework.certs.models import CatalogueRule
    from safework.core.catalogue import apply_catalogue_update
    from safework.core.models import AuditRecord

    p = PersonFactory()
    weld = item("special_operation", "2.1")
    cert = services.create_certificate(
        person=p, scheme=weld.scheme, item=weld, number="W1", issued_on=D(2023, 5, 31)
    )
    assert cert.next_review_due == D(2026, 5, 31)
    # An administrator moves Order 19's start forward; the review would now fall under it.
    CatalogueRule.objects.filter(code="order30-validity-review").update(effective_to=D(2026, 5, 1))
    CatalogueRule.objects.filter(code="order19-validity-renewal").update(
        effective_from=D(2026, 5, 1)
    )
    assert services.recompute_review_dues() == 1
    cert.refresh_from_db()
    assert cert.next_review_due is None
    last = AuditRecord.objects.order_by("-seq").first()
    assert (last.action, last.object_id) == ("certs.review_due_recomputed", str(cert.pk))
    # `catalogue update` restores the shipped rows, and the due date with them.
    apply_catalogue_update()
    cert.refresh_from_db()
    assert cert.next_review_due == D(2026, 5, 31)
    assert AuditRecord.objects.filter(action="certs.review_due_recomputed").count() == 2
    assert services.recompute_review_dues() == 0

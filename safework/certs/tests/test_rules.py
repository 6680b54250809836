"""The pure certificate rules at their boundaries: reviews by effective date, windows, status.

Certificates are `Factory.build()` objects (not saved); the rule book is the shipped catalogue.
"""

import datetime as dt

import pytest
from django.db import transaction

from safework.certs.models import CertState, Verification
from safework.certs.rules import (
    STATUS_TABLE,
    Colour,
    RuleBook,
    Status,
    StatusSettings,
    certificate_status,
    default_valid_until,
    extension_window,
    first_unpassed_review,
    review_due_dates,
    review_window,
)
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.catalogue import load_catalogue

D = dt.date
ORDER30 = "安监总局令第30号 第十九条、第二十一条、第二十二条"
ORDER19 = "应急管理部令第19号（2026-06-01施行）"
TSG = "TSG Z6001-2019 第二十二条、第二十五条"


pytestmark = pytest.mark.django_db


def shipped_catalogue_fixture():
    """A module-scoped `catalogue`: the shipped catalogue loaded once for the module, inside an
    outer transaction rolled back after it; each test's own transaction nests as a savepoint."""

    @pytest.fixture(scope="module")
    def catalogue(django_db_setup, django_db_blocker):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer.__enter__()
            try:
                load_catalogue()
                yield
            finally:
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)

    return catalogue


catalogue = shipped_catalogue_fixture()


@pytest.fixture
def book(catalogue):
    return RuleBook.load()


def order30(issued_on, *, valid_until=None, **kw):
    """A special-operation record (2.1) valid six years from `issued_on`, not saved."""
    kw.setdefault("verification", Verification.VERIFIED)
    return CertificateFactory.build(
        item=item("special_operation", "2.1"),
        issued_on=issued_on,
        valid_until=valid_until or default_until(issued_on, 72),
        **kw,
    )


def default_until(start, months):
    from safework.certs.rules import add_months

    return add_months(start, months) - dt.timedelta(days=1)


# --- Order No. 30 reviews, by effective date -------------------------------------------------


def test_rule_book_answers_by_effective_date(book):
    spec = item("special_operation", "2.1")
    assert book.rule_for(spec.scheme_id, spec.pk, D(2026, 5, 31)).code == "order30-validity-review"
    assert book.rule_for(spec.scheme_id, spec.pk, D(2026, 6, 1)).code == "order19-validity-renewal"
    assert book.rule_for(spec.scheme_id, spec.pk, D(2010, 6, 30)) is None
    internal = item("internal", "GUARDIAN")
    # An item's own row wins over its scheme's.
    assert book.rule_for(internal.scheme_id, internal.pk, D(2026, 1, 1)).code == "internal-guardian"


@pytest.mark.parametrize(
    ("issued_on", "dues"),
    [
        (D(2023, 5, 31), [D(2026, 5, 31)]),  # due the day before Order 19: review required
        (D(2023, 6, 1), []),  # due on 2026-06-01: Order 19 in force that day, no review
        (D(2023, 6, 2), []),
        (D(2020, 3, 1), [D(2023, 3, 1)]),  # the second would be at expiry: renewal instead
        (D(2020, 2, 29), [D(2023, 2, 28)]),
    ],
)
def test_order30_review_every_three_years_until_order19(book, issued_on, dues):
    cert = order30(issued_on)
    assert [due for due, _rule in review_due_dates(cert, book)] == dues
    assert all(rule.clause == ORDER30 for _due, rule in review_due_dates(cert, book))


def test_long_review_interval_flag_means_six_years(book):
    cert = order30(D(2021, 1, 10), long_review_interval=True)
    assert review_due_dates(cert, book) == []  # six years = the whole validity: renewal
    long_record = order30(D(2010, 8, 1), valid_until=D(2024, 7, 31), long_review_interval=True)
    assert [d for d, _ in review_due_dates(long_record, book)] == [D(2016, 8, 1), D(2022, 8, 1)]


def test_next_due_counts_from_the_previous_due_date_not_the_review_day(book):
    # A record with a long validity (old ledger): reviews every 3 years from the due dates.
    cert = order30(D(2010, 8, 1), valid_until=D(2022, 7, 31))
    dues = [d for d, _ in review_due_dates(cert, book)]
    assert dues == [D(2013, 8, 1), D(2016, 8, 1), D(2019, 8, 1)]
    passed_early = [(D(2013, 8, 1), D(2013, 6, 15))]  # 47 days early: the next is still 2016-08-01
    assert first_unpassed_review(cert, book, passed_early)[0] == D(2016, 8, 1)


def test_a_review_passed_after_its_due_date_does_not_cure_it(book):
    cert = order30(D(2020, 3, 1))
    assert first_unpassed_review(cert, book, [(D(2023, 3, 1), D(2023, 3, 1))]) is None
    assert first_unpassed_review(cert, book, [(D(2023, 3, 1), D(2023, 3, 2))])[0] == D(2023, 3, 1)


@pytest.mark.parametrize(
    ("on", "status"),
    [
        (D(2026, 5, 30), Status.EXPIRING),  # due tomorrow: usable, yellow
        (D(2026, 5, 31), Status.EXPIRING),  # the due date itself
        (D(2026, 6, 1), Status.REVIEW_OVERDUE),  # the day after, although Order 19 is in force
    ],
)
def test_review_due_before_order19_not_passed_is_overdue_the_day_after(book, on, status):
    cert = order30(D(2023, 5, 31))
    due, rule = first_unpassed_review(cert, book, [])
    result = certificate_status(
        cert, on=on, book=book, next_review_due=due, review_clause=rule.clause
    )
    assert result.status == status
    if status == Status.REVIEW_OVERDUE:
        assert (result.usable, result.colour, result.clause) == (False, Colour.RED, ORDER30)


def test_overdue_review_names_the_rule_that_required_it_even_without_review_clause(book):
    cert = order30(D(2023, 5, 31), next_review_due=D(2026, 5, 31))  # the stored field
    result = certificate_status(cert, on=D(2026, 7, 1), book=book)
    assert (result.status, result.clause) == (Status.REVIEW_OVERDUE, ORDER30)


def test_review_falling_due_under_order19_never_makes_it_overdue(book):
    cert = order30(D(2023, 6, 1))
    due = first_unpassed_review(cert, book, [])
    assert due is None
    for on in (D(2026, 6, 1), D(2026, 6, 2), D(2029, 5, 31)):
        assert certificate_status(cert, on=on, book=book, next_review_due=None).usable
    assert certificate_status(cert, on=D(2029, 6, 1), book=book).status == Status.EXPIRED


def test_review_window_is_sixty_days_before_due(book):
    cert = order30(D(2023, 5, 31))
    due, rule = first_unpassed_review(cert, book, [])
    window = review_window(due, rule)
    assert (window.opens, window.closes) == (D(2026, 4, 1), D(2026, 5, 31))
    assert not window.contains(D(2026, 3, 31))
    assert window.contains(D(2026, 4, 1)) and window.contains(D(2026, 5, 31))
    assert not window.contains(D(2026, 6, 1))


# --- Extensions (TSG Z6001, construction) ----------------------------------------------------


def test_tsg_extension_window_closes_a_month_before_expiry(book):
    q2 = item("special_equipment", "Q2")
    rule = book.rule_for(q2.scheme_id, q2.pk, D(2026, 1, 1))
    assert (rule.validity_months, rule.extension_months, rule.clause) == (48, 48, TSG)
    window = extension_window(D(2026, 6, 30), rule)
    assert window.closes == D(2026, 5, 31)  # at least 30 days before expiry
    assert window.opens == D(2026, 6, 30) - dt.timedelta(days=rule.extension_window_open_days)


def test_construction_extension_window_is_the_three_months_before_expiry(book):
    electrician = item("construction", "01")
    rule = book.rule_for(electrician.scheme_id, electrician.pk, D(2026, 1, 1))
    window = extension_window(D(2026, 6, 30), rule)
    assert (window.opens, window.closes) == (D(2026, 3, 30), D(2026, 6, 30))
    assert rule.validity_months == rule.extension_months == 24


def test_default_validity_is_inclusive_of_its_last_day(book):
    spec = item("special_operation", "2.1")
    rule = book.rule_for(spec.scheme_id, spec.pk, D(2024, 1, 10))
    assert default_valid_until(D(2024, 1, 10), rule) == D(2030, 1, 9)
    assert default_valid_until(D(2024, 5, 6), None, calendar_year=True) == D(2024, 12, 31)
    assert default_valid_until(D(2024, 5, 6), None) is None


# --- Status on a date -------------------------------------------------------------------------


def test_status_table_is_in_precedence_order():
    precedences = [spec.precedence for spec in STATUS_TABLE.values()]
    assert precedences == sorted(precedences)
    assert set(STATUS_TABLE) == set(Status.values)
    assert [s for s, spec in STATUS_TABLE.items() if spec.usable] == [
        Status.UNVERIFIED,
        Status.EXPIRING,
        Status.VALID,
    ]


@pytest.mark.parametrize(
    ("on", "status", "colour", "days_left"),
    [
        (D(2029, 11, 9), Status.VALID, Colour.GREEN, 61),  # expiry − 61
        (D(2029, 11, 10), Status.EXPIRING, Colour.YELLOW, 60),  # expiry − 60: yellow
        (D(2030, 1, 8), Status.EXPIRING, Colour.YELLOW, 1),
        (D(2030, 1, 9), Status.EXPIRING, Colour.YELLOW, 0),  # valid through the expiry date
        (D(2030, 1, 10), Status.EXPIRED, Colour.RED, -1),  # expired the day after
    ],
)
def test_expiry_boundaries(book, on, status, colour, days_left):
    cert = order30(D(2024, 1, 10))
    assert cert.valid_until == D(2030, 1, 9)
    result = certificate_status(cert, on=on, book=book)
    assert (result.status, result.colour, result.days_left) == (status, colour, days_left)
    assert result.usable == (status != Status.EXPIRED)
    assert result.clause == ORDER19


def test_yellow_threshold_is_a_setting(book):
    cert = order30(D(2024, 1, 10))
    thirty = StatusSettings(yellow_days=30)
    assert certificate_status(cert, on=D(2029, 12, 9), book=book, settings=thirty).status == (
        Status.VALID
    )
    assert certificate_status(cert, on=D(2029, 12, 10), book=book, settings=thirty).status == (
        Status.EXPIRING
    )


def test_days_left_counts_to_the_nearer_of_expiry_and_review(book):
    cert = order30(D(2023, 5, 31), next_review_due=D(2026, 5, 31))
    result = certificate_status(cert, on=D(2026, 4, 1), book=book)
    assert (result.days_left, result.status, result.next_review_due) == (
        60,
        Status.EXPIRING,
        D(2026, 5, 31),
    )
    assert certificate_status(cert, on=D(2026, 3, 31), book=book).status == Status.VALID


@pytest.mark.parametrize(
    ("on", "status"),
    [
        (D(2026, 3, 10), Status.NOT_YET_VALID),  # the old one's last day: it still covers
        (D(2026, 3, 11), Status.VACUUM),  # vacuum starts the day after the old end
        (D(2026, 3, 14), Status.VACUUM),  # … and ends the day before the new start
        (D(2026, 3, 15), Status.VALID),
    ],
)
def test_vacuum_between_old_end_and_new_start(book, on, status):
    new = order30(D(2026, 3, 1), valid_from=D(2026, 3, 15), valid_until=D(2032, 3, 14))
    result = certificate_status(new, on=on, book=book, predecessor_valid_until=D(2026, 3, 10))
    assert result.status == status
    assert result.usable == (status == Status.VALID)


def test_not_yet_valid_without_predecessor(book):
    cert = order30(D(2026, 3, 1), valid_from=D(2026, 3, 15), valid_until=D(2032, 3, 14))
    assert certificate_status(cert, on=D(2026, 3, 14), book=book).status == Status.NOT_YET_VALID
    assert certificate_status(cert, on=D(2026, 3, 15), book=book).status == Status.VALID


@pytest.mark.parametrize(
    ("fields", "status", "usable"),
    [
        ({"state": CertState.CANCELLED}, Status.CANCELLED, False),
        ({"state": CertState.REVOKED}, Status.REVOKED, False),
        ({"verification": Verification.REVOKED}, Status.REVOKED, False),
        ({"state": CertState.CANCELLED, "verification": Verification.REVOKED}, "cancelled", False),
        ({"verification": Verification.EXPIRED}, Status.EXPIRED, False),
        ({"verification": Verification.MISMATCH}, Status.REGISTRY_MISMATCH, False),
        ({"verification": Verification.NOT_FOUND}, Status.REGISTRY_NOT_FOUND, False),
        ({"verification": Verification.UNVERIFIED}, Status.UNVERIFIED, True),
        ({"verification": Verification.VERIFIED}, Status.VALID, True),
        # precedence: expired beats a registry mismatch, a review overdue beats unverified
        ({"verification": Verification.MISMATCH, "valid_until": D(2025, 1, 1)}, "expired", False),
        (
            {"verification": Verification.UNVERIFIED, "next_review_due": D(2025, 12, 31)},
            Status.REVIEW_OVERDUE,
            False,
        ),
    ],
)
def test_precedence_of_the_status_list(book, fields, status, usable):
    cert = order30(D(2024, 1, 10), **fields)
    result = certificate_status(cert, on=D(2026, 1, 5), book=book)
    assert (result.status, result.usable) == (status, usable)
    # decisions.md's table: every unusable status is red; unverified is usable with a warning,
    # yellow; valid is green (the expiry, in 2030, is far beyond the yellow threshold).
    usable_colours = {Status.UNVERIFIED: Colour.YELLOW, Status.VALID: Colour.GREEN}
    assert result.colour == (usable_colours[status] if usable else Colour.RED)


def test_unverified_is_usable_with_a_warning_unless_blocking(book):
    cert = order30(D(2024, 1, 10), verification=Verification.UNVERIFIED)
    warn = certificate_status(cert, on=D(2026, 1, 5), book=book)
    assert (warn.usable, warn.colour) == (True, Colour.YELLOW)
    reason = warn.reason(subject=cert.number)
    assert (reason.code, reason.blocking, reason.subject) == ("cert.unverified", False, cert.number)
    blocking = StatusSettings(unverified_blocking=True)
    refused = certificate_status(cert, on=D(2026, 1, 5), book=book, settings=blocking)
    assert (refused.usable, refused.colour, refused.reason().blocking) == (False, Colour.RED, True)


def test_revocation_counts_from_the_day_it_took_effect(book):
    cert = order30(D(2024, 1, 10), state=CertState.REVOKED, state_changed_on=D(2026, 3, 1))
    assert certificate_status(cert, on=D(2026, 2, 28), book=book).status == Status.VALID
    assert certificate_status(cert, on=D(2026, 3, 1), book=book).status == Status.REVOKED


def test_a_valid_record_has_no_reason_and_a_date_is_required(book):
    cert = order30(D(2024, 1, 10))
    assert certificate_status(cert, on=D(2026, 1, 5), book=book).reason() is None
    with pytest.raises(TypeError):
        certificate_status(cert, on=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), book=book)

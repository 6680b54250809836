"""Issue 15: window events from the certificate rules' window fields, in the set-based scan, at
their boundary days: review (Order 30: 60 days before due), extension (TSG Z6001: from 90 to 30
days before expiry), renewal (Order 19: 60 days before expiry), and a vacuum ahead (a renewal
that starts later than the day after the old certificate ends). The shipped rule rows stage the
windows at 7 and 0 days before they open, the vacuum at 30, 7 and 0 days before the gap."""

import datetime as dt

import pytest

from safework.certs import notices
from safework.certs.models import CatalogueRule
from safework.certs.tests.factories import CertificateFactory, item
from safework.notify import messages
from safework.notify.models import Event
from safework.notify.tests.helpers import SHANGHAI
from safework.people.tests.factories import EmploymentFactory

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _scan(on: dt.date) -> int:
    # 23:30 in Shanghai: the local date is `on` although UTC is still on it too; the scan is
    # given the local date by run_scan, here directly.
    return notices.scan_windows(on=on, at=dt.datetime.combine(on, dt.time(23, 30), SHANGHAI))


def _told(kind) -> list[tuple[str, str]]:
    return sorted(
        (e.stage, e.payload.get("opens") or e.payload.get("gap_from"))
        for e in Event.objects.filter(kind=kind)
    )


def _cert(scheme, code, *, valid_until, **extra):
    return CertificateFactory(
        person=EmploymentFactory().person,
        item=item(scheme, code),
        issued_on=extra.pop("issued_on", dt.date(2024, 1, 10)),
        valid_until=valid_until,
        **extra,
    )


# Order 19 (in force from 2026-06-01): renewal within 60 days before expiry.
EXPIRY = dt.date(2029, 3, 31)
OPENS = EXPIRY - 60 * DAY


@pytest.mark.parametrize(
    ("on", "told"),
    [
        (OPENS - 8 * DAY, []),
        (OPENS - 7 * DAY, [("7", OPENS.isoformat())]),
        (OPENS - DAY, [("7", OPENS.isoformat())]),
        (OPENS, [("0", OPENS.isoformat())]),
        (OPENS + 30 * DAY, [("0", OPENS.isoformat())]),  # open, never told: caught up
        (EXPIRY, [("0", OPENS.isoformat())]),  # the window's last day
        (EXPIRY + DAY, []),
    ],
)
def test_renewal_window_opening_at_its_boundary_days(catalogue, on, told):
    _cert("special_operation", "2.1", valid_until=EXPIRY, next_review_due=None)
    _scan(on)
    assert _told(notices.RENEWAL_WINDOW) == told
    assert _scan(on) == 0  # a second run adds nothing


def test_each_stage_is_told_once_as_the_days_pass(catalogue):
    _cert("special_operation", "2.1", valid_until=EXPIRY, next_review_due=None)
    for day in range(-10, 3):
        _scan(OPENS + day * DAY)
    assert _told(notices.RENEWAL_WINDOW) == [("0", OPENS.isoformat()), ("7", OPENS.isoformat())]
    event = Event.objects.get(kind=notices.RENEWAL_WINDOW, stage="0")
    rule = CatalogueRule.objects.get(code="order19-validity-renewal")
    assert event.payload["clause"] == rule.clause
    assert event.payload["closes"] == EXPIRY.isoformat()
    msg = messages.render(event.kind, subject=event.subject_label, payload=event.payload)
    assert OPENS.isoformat() in msg.title and "换证" in msg.title


def test_a_rule_without_the_window_field_has_no_window_event(catalogue):
    CatalogueRule.objects.filter(code="order19-validity-renewal").update(renewal_window_days=None)
    _cert("special_operation", "2.1", valid_until=EXPIRY, next_review_due=None)
    _scan(OPENS)
    assert _told(notices.RENEWAL_WINDOW) == []


def test_review_window_of_order_30_opens_60_days_before_the_due_date(catalogue):
    due = dt.date(2026, 5, 20)  # before 2026-06-01: Order 30's review still applies
    opens = due - 60 * DAY
    _cert("special_operation", "2.1", valid_until=dt.date(2029, 1, 9), next_review_due=due)
    _scan(opens - DAY)
    assert _told(notices.REVIEW_WINDOW) == [("7", opens.isoformat())]
    _scan(opens)
    assert _told(notices.REVIEW_WINDOW) == [("0", opens.isoformat()), ("7", opens.isoformat())]
    assert Event.objects.get(kind=notices.REVIEW_WINDOW, stage="0").payload["due"] == str(due)


@pytest.mark.parametrize(
    ("before_expiry", "told"),
    [
        (97, ["7"]),  # 7 days before the window opens (90 days before expiry)
        (91, ["7"]),
        (90, ["0"]),
        (30, ["0"]),  # "at least one month before": the last day to apply, caught up
        (29, []),  # closed
    ],
)
def test_tsg_extension_window_from_90_to_30_days_before_expiry(catalogue, before_expiry, told):
    expiry = dt.date(2028, 6, 30)
    _cert("special_equipment", "G1", valid_until=expiry, issued_on=dt.date(2024, 7, 1))
    _scan(expiry - before_expiry * DAY)
    assert [stage for stage, _ in _told(notices.EXTENSION_WINDOW)] == told


# A vacuum: the old certificate ends on V, its renewal starts on V + 5: four days without one.
V = dt.date(2028, 3, 31)
GAP = V + DAY


@pytest.mark.parametrize(
    ("on", "told"),
    [
        (GAP - 31 * DAY, []),
        (GAP - 30 * DAY, [("30", GAP.isoformat())]),
        (GAP - 8 * DAY, [("30", GAP.isoformat())]),
        (GAP - 7 * DAY, [("7", GAP.isoformat())]),
        (GAP, [("0", GAP.isoformat())]),
        (V + 4 * DAY, [("0", GAP.isoformat())]),  # the gap's last day
        (V + 5 * DAY, []),  # the renewal has started
    ],
)
def test_vacuum_ahead_at_its_boundary_days(catalogue, on, told):
    old = _cert("special_operation", "2.1", valid_until=V, next_review_due=None)
    CertificateFactory(
        person=old.person,
        item=old.item,
        predecessor=old,
        issued_on=V + 5 * DAY,
        valid_until=V + 6 * 365 * DAY,
        next_review_due=None,
    )
    _scan(on)
    assert _told(notices.VACUUM_AHEAD) == told
    if told:
        payload = Event.objects.get(kind=notices.VACUUM_AHEAD).payload
        assert (payload["gap_from"], payload["gap_to"]) == (str(GAP), str(V + 4 * DAY))


def test_a_renewal_from_the_next_day_leaves_no_vacuum(catalogue):
    old = _cert("special_operation", "2.1", valid_until=V, next_review_due=None)
    CertificateFactory(
        person=old.person,
        item=old.item,
        predecessor=old,
        issued_on=V + DAY,
        valid_until=V + 6 * 365 * DAY,
        next_review_due=None,
    )
    for on in (GAP - 30 * DAY, GAP - 7 * DAY, GAP):
        _scan(on)
    assert _told(notices.VACUUM_AHEAD) == []

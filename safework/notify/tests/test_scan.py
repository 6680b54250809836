"""The periodic scan: certificate warning stages at their boundaries (days left on the local
date), review due dates, recent expiry, health checks; a second run adds nothing."""

import datetime as dt

import pytest

from safework.certs.models import CertState
from safework.certs.tests.factories import CertificateFactory, item
from safework.notify import scan
from safework.notify.models import Event
from safework.notify.tests.helpers import SHANGHAI
from safework.people.tests.factories import EmploymentFactory, HealthCheckFactory

# 2027-02-28 16:30 UTC is already 2027-03-01 00:30 in Shanghai: the scan's day is 1 March.
AT = dt.datetime(2027, 2, 28, 16, 30, tzinfo=dt.UTC)
ON = dt.date(2027, 3, 1)


def _cert(days_left: int, **extra):
    person = EmploymentFactory().person
    return CertificateFactory(
        person=person,
        item=item("special_operation", "2.1"),
        issued_on=dt.date(2026, 6, 1),
        valid_until=ON + dt.timedelta(days=days_left),
        **({"next_review_due": None} | extra),
    )


# The warning stages and expiry; the application windows (renewal from 60 days before expiry
# under Order 19) are certs/tests/test_window_notices.py's.
STAGED = ("cert.expiring", "cert.expired", "cert.review_due", "person.disqualified")


def _events(cert):
    rows = Event.objects.filter(person_id=cert.person_id, kind__in=STAGED)
    return sorted((e.kind, e.stage) for e in rows)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (91, []),
        (90, [("cert.expiring", "90")]),
        (61, [("cert.expiring", "90")]),
        (60, [("cert.expiring", "60")]),
        (8, [("cert.expiring", "15")]),
        (7, [("cert.expiring", "7")]),
        (1, [("cert.expiring", "7")]),
        (0, [("cert.expiring", "0")]),  # the last day of validity
        # Expired: told as such, and the holder is disqualified (issue 15 item 6).
        (-1, [("cert.expired", "expired"), ("person.disqualified", "expired")]),
        (-7, [("cert.expired", "expired"), ("person.disqualified", "expired")]),  # the look-back
        (-8, []),
    ],
)
def test_certificate_stage_on_the_local_date(catalogue, days_left, expected):
    cert = _cert(days_left)
    scan.run_scan(at=AT)
    assert _events(cert) == expected
    assert AT.astimezone(SHANGHAI).date() == ON


def test_second_scan_of_the_day_adds_nothing(catalogue):
    _cert(30)
    first = scan.run_scan(at=AT)
    again = scan.run_scan(at=AT + dt.timedelta(hours=5))
    assert first["certificates"] == 1
    assert again["certificates"] == 0


def test_extension_starts_the_stages_afresh(catalogue):
    cert = _cert(30)
    scan.run_scan(at=AT)
    cert.valid_until = ON + dt.timedelta(days=30 + 4 * 365)
    cert.save()
    cert.valid_until = ON + dt.timedelta(days=60)  # a later date inside the stages
    cert.save()
    scan.run_scan(at=AT)
    keys = set(
        Event.objects.filter(person_id=cert.person_id, kind__in=STAGED).values_list(
            "key", flat=True
        )
    )
    assert keys == {f"cert:{cert.pk}:2027-03-31:30", f"cert:{cert.pk}:2027-04-30:60"}


def test_revoked_or_renewed_certificates_are_not_warned(catalogue):
    revoked = _cert(30, state=CertState.REVOKED)
    old = _cert(30)
    CertificateFactory(
        person=old.person,
        item=old.item,
        issued_on=dt.date(2027, 2, 1),
        valid_until=dt.date(2033, 1, 31),
        next_review_due=None,
        predecessor=old,
    )
    scan.run_scan(at=AT)
    assert _events(revoked) == []
    assert _events(old) == []


def test_review_due_uses_the_review_date(catalogue):
    cert = _cert(2000, next_review_due=ON + dt.timedelta(days=90))
    scan.run_scan(at=AT)
    assert _events(cert) == [("cert.review_due", "90")]
    event = Event.objects.get(person_id=cert.person_id)
    assert event.payload["due"] == "2027-05-30"


@pytest.mark.parametrize(("days_left", "stage"), [(31, None), (30, "30"), (0, "0")])
def test_health_check_running_out(catalogue, days_left, stage):
    check = HealthCheckFactory(valid_until=ON + dt.timedelta(days=days_left))
    scan.run_scan(at=AT)
    stages = list(
        Event.objects.filter(kind="health.expiring", person_id=check.person_id).values_list(
            "stage", flat=True
        )
    )
    assert stages == ([stage] if stage else [])

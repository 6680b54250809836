"""A certificate issued in the future, or with control characters in its texts, is a 422 (issue
17 item 12). "Today" is the site's date: at 23:30 UTC Shanghai is already on the next day."""

import datetime as dt

import pytest
import time_machine

from safework.certs import services
from safework.certs.models import Certificate
from safework.certs.tests.factories import item
from safework.certs.tests.test_rules import shipped_catalogue_fixture
from safework.core.errors import InvalidInput
from safework.people.tests.factories import PersonFactory

catalogue = shipped_catalogue_fixture()
pytestmark = pytest.mark.django_db

LATE_EVENING_UTC = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 8)  # in Shanghai


def create(person, **kw):
    it = item("special_equipment", "N1")
    kw.setdefault("number", "N1-0001")
    kw.setdefault("issued_on", dt.date(2024, 3, 1))
    return services.create_certificate(person=person, scheme=it.scheme, item=it, **kw)


def errors(exc_info):
    return [(e.field, e.code) for e in exc_info.value.errors]


@pytest.fixture
def person(catalogue):
    return PersonFactory()


def test_issued_today_in_shanghai_is_accepted(person):
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        cert = create(person, issued_on=TODAY)
    assert cert.issued_on == TODAY


def test_issued_tomorrow_is_refused(person):
    with time_machine.travel(LATE_EVENING_UTC, tick=False), pytest.raises(InvalidInput) as caught:
        create(person, issued_on=TODAY + dt.timedelta(days=1))
    assert errors(caught) == [("issued_on", "date.future")]
    assert not Certificate.objects.exists()


def test_a_correction_to_a_future_issue_date_is_refused(person):
    cert = create(person)
    with time_machine.travel(LATE_EVENING_UTC, tick=False), pytest.raises(InvalidInput) as caught:
        services.update_certificate(cert=cert, issued_on=TODAY + dt.timedelta(days=1))
    assert ("issued_on", "date.future") in errors(caught)


@pytest.mark.parametrize(
    ("field", "value"),
    [("number", "N1-\x00001"), ("issuing_authority", "市场\x07监管局")],
)
def test_control_characters_in_certificate_texts_are_refused(person, field, value):
    with pytest.raises(InvalidInput) as caught:
        create(person, **{field: value})
    assert (field, "control_characters") in errors(caught)
    assert not Certificate.objects.exists()

"""On PostgreSQL the certificate scan is one INSERT … SELECT: it writes the same events (kind,
key, stage, payload, site, person) as the query-and-bulk path used elsewhere."""

import datetime as dt

import pytest

from safework.certs import notices
from safework.notify.models import Event
from safework.notify.tests.test_scan import AT, ON, _cert

pytestmark = pytest.mark.postgres


def _stored():
    return sorted(
        (e.kind, e.key, e.stage, e.subject_label, e.payload, e.site_id, e.person_id, e.at)
        for e in Event.objects.all()
    )


def test_insert_select_writes_what_the_python_path_writes(catalogue):
    for days in (91, 90, 61, 60, 8, 7, 0, -1, -7, -8):
        _cert(days)
    _cert(2000, next_review_due=ON + dt.timedelta(days=15))
    expiring = [90, 60, 30, 15, 7, 0]
    added = notices._scan_in_python(on=ON, at=AT, expiring=expiring, review=expiring, lookback=7)
    by_python = _stored()
    Event.objects.all().delete()
    assert notices.scan_certificates(on=ON, at=AT) == added == 9  # 6 warned, 2 expired, 1 review
    assert _stored() == by_python
    assert notices.scan_certificates(on=ON, at=AT) == 0  # a second run adds nothing

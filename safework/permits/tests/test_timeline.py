"""A service call writes its timeline events at its end with its own INSERT: they are stored
exactly as `save()` stores the same events, in the order they happened."""

import datetime as dt

import pytest
from django.db import connection, transaction

from safework.core import audit
from safework.permits import events, services
from safework.permits.models import PermitEvent
from safework.permits.tests.world import D, at, create

pytestmark = pytest.mark.django_db
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def stored(ids):
    """The events' columns as the database holds them (no ORM conversion), in id order."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT permit_id, at, kind, actor_id, actor_label, details FROM permits_permitevent"
            f" WHERE id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id",
            list(ids),
        )
        return cur.fetchall()


def test_a_service_calls_events_are_stored_as_save_stores_them(w):
    permit = create(w)
    signer = w.user("applicant")
    signer.first_name, signer.last_name = "张", "三"
    signer.save()
    details = {
        "step": "安全部门审批",
        "roles": ["safety_head"],
        "nested": {"list": [1, 2.5, None, True, "二"], "map": {"empty": {}, "none": None}},
    }
    moments = [
        dt.datetime(2026, 3, 9, 8, 0, 0, 123456, tzinfo=SHANGHAI),  # 00:00 UTC
        dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=dt.UTC),
    ]

    def happen():
        events.permit_event(permit, "signed", at=moments[0], by=signer, **details)
        events.permit_event(permit, "measure.confirmed", at=moments[1], by=None, measures=[])

    before = set(PermitEvent.objects.values_list("pk", flat=True))
    with transaction.atomic(), events.one_push_per_permit():
        happen()
        assert set(PermitEvent.objects.values_list("pk", flat=True)) == before  # not yet
    at_the_end = sorted(set(PermitEvent.objects.values_list("pk", flat=True)) - before)
    with transaction.atomic():
        happen()  # outside a service call: each event saved by the ORM at once
    by_save = sorted(set(PermitEvent.objects.values_list("pk", flat=True)) - before)[2:]

    assert len(at_the_end) == 2 and at_the_end < by_save
    assert stored(at_the_end) == stored(by_save)
    mine = list(PermitEvent.objects.filter(pk__in=at_the_end).order_by("pk"))
    assert [e.kind for e in mine] == ["signed", "measure.confirmed"]
    assert [e.at for e in mine] == moments
    assert mine[0].at == dt.datetime(2026, 3, 9, 0, 0, 0, 123456, tzinfo=dt.UTC)
    assert (mine[0].actor_id, mine[0].actor_label) == (signer.pk, "张 三")
    assert (mine[1].actor_id, mine[1].actor_label) == (None, "")
    assert mine[0].details == details and mine[1].details == {"measures": []}


def test_a_submission_writes_its_events_in_order_and_its_audit_chain_verifies(w):
    permit = create(w)
    seen = set(PermitEvent.objects.values_list("pk", flat=True))
    permit = services.submit(permit, w.user("applicant"), at=at(D - dt.timedelta(days=1), 10))
    written = PermitEvent.objects.exclude(pk__in=seen).order_by("pk")
    # In the order they happened: the first step opens while the route is built.
    assert [e.kind for e in written] == ["submitted", "step.waiting", "routed"]
    assert written[0].details == {"number": permit.number}
    assert written[2].details["steps"] == [s.label for s in permit.steps.order_by("order")]
    assert audit.verify_chain().ok

"""Two approvers pressing at once give exactly one transition; submissions at once draw distinct
numbers (PostgreSQL, threads behind a barrier, repeated)."""

import datetime as dt
import threading

import pytest
from django.db import connection

from safework.core.refusals import Refused
from safework.permits import services
from safework.permits.models import PermitEvent, Signature
from safework.permits.tests.world import ON_SITE, D, at, build_world, create
from safework.qualification import engine as qualification

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def _race(workers):
    """Run each callable in its own thread, released together; returns results or exceptions."""
    barrier = threading.Barrier(len(workers))
    results = [None] * len(workers)

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001  the loser's refusal is the point
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def w(catalogue):
    qualification.clear_caches()
    return build_world()


def test_two_approvers_at_once_give_one_approval(w):
    when = at(D - dt.timedelta(days=1), 11)
    for _ in range(ROUNDS):
        permit = services.submit(
            create(w), w.user("applicant"), at=at(D - dt.timedelta(days=1), 10)
        )
        first = services.current_step(permit)
        results = _race(
            [
                lambda p=permit: services.approve(p, w.user("workshop"), at=when, position=ON_SITE),
                lambda p=permit: services.approve(
                    p, w.user("workshop2"), at=when, position=ON_SITE
                ),
            ]
        )
        wins = [r for r in results if not isinstance(r, Exception)]
        losses = [r for r in results if isinstance(r, Exception)]
        assert len(wins) == 1, results
        assert len(losses) == 1 and isinstance(losses[0], Refused), losses
        assert Signature.objects.filter(step=first, action="approve").count() == 1
        first.refresh_from_db()
        assert first.status == "approved"
        approved = PermitEvent.objects.filter(permit=permit, kind="step.approved").count()
        assert approved == 1


def test_submissions_at_once_draw_distinct_numbers(w):
    permits = [create(w) for _ in range(6)]
    submitted_at = at(D - dt.timedelta(days=1), 10)
    results = _race(
        [(lambda p=p: services.submit(p, w.user("applicant"), at=submitted_at)) for p in permits]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    numbers = sorted(r.number for r in results)
    assert numbers == [f"DH20260309-{i:03d}" for i in range(1, 7)]


def test_pushes_of_one_permit_at_once_take_distinct_versions(w):
    """Without the permit's row lock (a sweep, an export), concurrent pushes of one permit still
    write versions 1..n, each once: the insert that finds its version taken writes nothing and
    reads the next."""
    from django.db import transaction

    from safework.permits import park
    from safework.permits.models import ParkPush

    permit = create(w)
    when = at(D - dt.timedelta(days=1), 10)

    def push():
        with transaction.atomic():
            return park.enqueue_permit(permit, at=when).version

    for round_ in range(ROUNDS):
        results = _race([push for _ in range(4)])
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sorted(results) == list(range(4 * round_ + 1, 4 * round_ + 5))
    versions = ParkPush.objects.filter(object_uuid=permit.uuid).values_list("version", flat=True)
    assert sorted(versions) == list(range(1, 4 * ROUNDS + 1))

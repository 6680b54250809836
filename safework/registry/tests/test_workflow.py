"""A verification batch's own workflow (issue 13, item 5): no import-only states, the arrows
pinned here (written from the verification rules, not read from the code), each move audited,
and its task a Django task on huey."""

import datetime as dt

import pytest
from django.tasks import Task

from safework.core import jobs
from safework.core.models import AuditRecord
from safework.core.workflow import TransitionNotAllowed
from safework.registry.models import BatchStatus, VerificationBatch
from safework.registry.tasks import verify_batch

AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)

BATCH_ARROWS = {
    ("claim", "queued", "running", "cert.verification_claimed"),
    ("succeed", "running", "succeeded", "cert.verification_succeeded"),
    ("fail", "queued", "failed", "cert.verification_failed"),
    ("fail", "running", "failed", "cert.verification_failed"),
    ("requeue", "queued", "queued", "cert.verification_requeued"),
    ("requeue", "running", "queued", "cert.verification_requeued"),
    # A user queues the look-ups left to retry again, whatever the batch's state.
    ("retry", "queued", "queued", "cert.verification_retried"),
    ("retry", "running", "queued", "cert.verification_retried"),
    ("retry", "succeeded", "queued", "cert.verification_retried"),
    ("retry", "failed", "queued", "cert.verification_retried"),
}


def test_the_batch_workflow_has_exactly_the_pinned_arrows_and_no_review_states():
    field = VerificationBatch._meta.get_field("status")
    found = {
        (t.name, str(t.source), str(t.target), t.custom["action"])
        for t in field.get_all_transitions(VerificationBatch)
    }
    assert found == BATCH_ARROWS
    assert {value for value, _label in BatchStatus.choices} == {
        "queued",
        "running",
        "succeeded",
        "failed",
    }
    assert not hasattr(VerificationBatch, "approve") and not hasattr(VerificationBatch, "reject")


@pytest.mark.django_db
def test_a_batch_moves_only_through_its_transitions_each_audited():
    batch = VerificationBatch.objects.create()
    with pytest.raises(AttributeError):
        batch.status = BatchStatus.SUCCEEDED
    with pytest.raises(TransitionNotAllowed):
        batch.succeed(at=AT)  # never ran
    assert jobs.claim(VerificationBatch, batch.pk, at=AT) is not None
    assert jobs.claim(VerificationBatch, batch.pk, at=AT) is None  # a second worker
    batch.refresh_from_db()
    batch.fail(at=AT + dt.timedelta(minutes=1), message="registry down")
    batch.save()
    batch.retry(at=AT + dt.timedelta(minutes=2))
    batch.save()
    batch.refresh_from_db()
    assert (batch.status, batch.finished_at, batch.message) == (BatchStatus.QUEUED, None, "")
    actions = AuditRecord.objects.filter(
        object_type="registry.verificationbatch", object_id=str(batch.pk)
    ).order_by("seq")
    assert list(actions.values_list("action", flat=True)) == [
        "cert.verification_claimed",
        "cert.verification_failed",
        "cert.verification_retried",
    ]


def test_the_batch_task_is_a_django_task_registered_for_batches():
    assert isinstance(verify_batch, Task)
    assert jobs.task_of(VerificationBatch) is verify_batch

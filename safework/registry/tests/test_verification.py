"""Batch verification against the fake registry: outcomes, failures, retries, idempotence."""

import datetime as dt
import socket

import pytest
import time_machine
from django.db import transaction
from django.http import Http404
from django.utils import translation

from safework.certs.models import Certificate, CertificateEvent, EventKind, Verification
from safework.certs.tests.factories import CertificateFactory, item
from safework.core import audit
from safework.core.errors import InvalidInput
from safework.core.models import AuditRecord
from safework.core.refusals import Refused
from safework.core.scope import Scope
from safework.ledger.models import JobStatus
from safework.people.tests.factories import ContractorFactory, EmploymentFactory, PersonFactory
from safework.registry import queries, verification
from safework.registry.client import reset_registries
from safework.registry.fake import SAMPLE_PEOPLE, SAMPLE_RECORDS, FakeRegistry
from safework.registry.models import LookupOutcome, VerificationBatch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English messages; the Chinese ones: core/tests/test_language.py."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


EXPECTED = {
    # sample key → (outcome, how the name matched)
    "valid": (LookupOutcome.VERIFIED, "exact"),
    "revoked": (LookupOutcome.REVOKED, "exact"),
    "expired": (LookupOutcome.EXPIRED, "exact"),
    "mismatch": (LookupOutcome.MISMATCH, ""),
    "heteronym_shan": (LookupOutcome.VERIFIED, "pinyin"),
    "heteronym_zeng": (LookupOutcome.VERIFIED, "pinyin"),
    "former_name": (LookupOutcome.VERIFIED, "former_name"),
    "normalised": (LookupOutcome.VERIFIED, "normalised"),
    "not_found": (LookupOutcome.NOT_FOUND, ""),
}


@pytest.fixture
def fake(settings):
    reset_registries()
    with FakeRegistry(SAMPLE_RECORDS, slow_seconds=1.0) as server:
        settings.REGISTRY_URL = server.url
        settings.REGISTRY_TIMEOUT = 0.5
        settings.REGISTRY_RETRIES = 0
        yield server
    reset_registries()


@pytest.fixture
def certs(catalogue):
    """One certificate per sample case, held by a person as SafeWork knows them."""
    welding = item("special_operation", "2.1")
    numbers = {r.id_number: r.number for r in SAMPLE_RECORDS}
    out = {}
    for key, (id_number, name, former) in SAMPLE_PEOPLE.items():
        person = PersonFactory(id_number=id_number, name=name, former_names=list(former))
        out[key] = CertificateFactory(
            person=person, item=welding, number=numbers.get(id_number, "FR0009999")
        )
    return out


def _start(django_capture_on_commit_callbacks, **kw):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        batch = verification.start_verification(by=None, **kw)
    assert len(callbacks) == 1  # one task per batch
    batch.refresh_from_db()
    return batch


def test_a_batch_records_each_answer(fake, certs, django_capture_on_commit_callbacks):
    batch = _start(
        django_capture_on_commit_callbacks, certificate_ids=[c.pk for c in certs.values()]
    )
    assert (batch.status, batch.total, batch.done) == (JobStatus.SUCCEEDED, 9, 9)
    assert batch.source == fake.url and batch.finished_at is not None
    for key, (outcome, how) in EXPECTED.items():
        lookup = batch.lookups.get(certificate=certs[key])
        assert (lookup.outcome, lookup.name_match) == (outcome, how), key
        assert lookup.attempts == 1 and lookup.checked_at is not None
        assert lookup.id_number == SAMPLE_PEOPLE[key][0]
        cert = Certificate.objects.get(pk=certs[key].pk)
        assert cert.verification == Verification(outcome)
        assert cert.verified_at == lookup.checked_at
        assert cert.verification_source == fake.url
        (event,) = CertificateEvent.objects.filter(certificate=cert, kind=EventKind.VERIFICATION)
        assert event.passed == (outcome == LookupOutcome.VERIFIED)
        assert event.reason
    mismatch = batch.lookups.get(certificate=certs["mismatch"])
    assert mismatch.registry_name == "王强" and mismatch.response["status"] == "valid"
    progress = verification.batch_progress(batch)
    assert progress.to_review == 4  # revoked, expired, mismatch, not found
    assert progress.counts[LookupOutcome.VERIFIED] == 5
    actions = list(
        AuditRecord.objects.filter(action__startswith="cert.verification")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    # Each move of the batch is audited (created, claimed by the worker, succeeded), around
    # one record per answer.
    assert actions == [
        "cert.verification_started",
        "cert.verification_claimed",
        *["cert.verification_recorded"] * 9,
        "cert.verification_succeeded",
    ]
    assert audit.verify_chain().ok


def test_one_failing_lookup_does_not_stop_the_batch(
    fake, certs, django_capture_on_commit_callbacks
):
    failing = certs["revoked"]
    fake.inject(failing.number, "error", times=None)
    ids = [c.pk for c in certs.values()]
    batch = _start(django_capture_on_commit_callbacks, certificate_ids=ids)
    assert (batch.status, batch.done) == (JobStatus.SUCCEEDED, 9)
    row = batch.lookups.get(certificate=failing)
    assert (row.outcome, row.attempts) == (LookupOutcome.RETRY_LATER, 1)
    assert "HTTP 500" in row.message
    failing.refresh_from_db()
    assert failing.verification == Verification.UNVERIFIED and failing.verified_at is None
    assert not failing.events.exists()
    assert batch.lookups.filter(outcome=LookupOutcome.RETRY_LATER).count() == 1
    assert batch.lookups.exclude(outcome=LookupOutcome.RETRY_LATER).count() == 8

    # The registry recovers; a retry asks again for that row only.
    fake.clear_faults()
    hits_before = sum(fake.hits.values())
    with django_capture_on_commit_callbacks(execute=True):
        verification.retry_verification(batch=batch, by=None)
    batch.refresh_from_db()
    row.refresh_from_db()
    assert (row.outcome, row.attempts) == (LookupOutcome.REVOKED, 2)
    assert sum(fake.hits.values()) == hits_before + 1
    assert (batch.status, batch.done) == (JobStatus.SUCCEEDED, 9)
    failing.refresh_from_db()
    assert failing.verification == Verification.REVOKED
    with pytest.raises(Refused) as refused:
        verification.retry_verification(batch=batch, by=None)
    assert refused.value.reasons[0].code == "cert.verification.nothing_to_retry"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_registry_down_fails_the_batch_and_the_breaker_spares_the_rest(
    settings, certs, django_capture_on_commit_callbacks
):
    reset_registries()
    settings.REGISTRY_URL = f"http://127.0.0.1:{_closed_port()}"
    settings.REGISTRY_RETRIES = 0
    batch = _start(
        django_capture_on_commit_callbacks, certificate_ids=[c.pk for c in certs.values()]
    )
    assert (batch.status, batch.done) == (JobStatus.FAILED, 9)
    rows = list(batch.lookups.order_by("pk"))
    assert {r.outcome for r in rows} == {LookupOutcome.RETRY_LATER}
    # Five connection failures open the breaker; the rest fail at once without a request.
    assert ["circuit open" in r.message for r in rows] == [False] * 5 + [True] * 4
    assert not CertificateEvent.objects.exists()
    reset_registries()


def test_running_a_batch_twice_changes_nothing(fake, certs, django_capture_on_commit_callbacks):
    batch = _start(
        django_capture_on_commit_callbacks, certificate_ids=[c.pk for c in certs.values()]
    )
    hits, events, records = (
        sum(fake.hits.values()),
        CertificateEvent.objects.count(),
        AuditRecord.objects.count(),
    )
    again = verification.run_verification_batch(batch.pk)
    assert (again.status, again.done) == (JobStatus.SUCCEEDED, 9)
    assert again.finished_at == batch.finished_at
    assert sum(fake.hits.values()) == hits
    assert CertificateEvent.objects.count() == events
    assert AuditRecord.objects.count() == records
    assert set(batch.lookups.values_list("attempts", flat=True)) == {1}


def test_rows_answered_by_another_run_are_not_written_again(fake, certs):
    batch = verification.start_verification(
        by=None, certificate_ids=[certs["valid"].pk], enqueue=False
    )
    lookup = batch.lookups.select_related(
        "certificate__person", "certificate__scheme", "certificate__item"
    ).get()
    from safework.registry.client import get_registry

    late = [verification._ask(get_registry(), lookup)]  # a slow second worker's answer
    verification.run_verification_batch(batch.pk)  # the first worker finishes meanwhile
    events = CertificateEvent.objects.count()
    written, done = verification._store(batch, late, source=fake.url, actor=None)
    assert (written, done) == (0, 1)
    assert CertificateEvent.objects.count() == events == 1


def test_progress_is_reported_per_chunk(fake, certs):
    batch = verification.start_verification(
        by=None, certificate_ids=[c.pk for c in certs.values()], enqueue=False
    )
    seen = []
    verification.run_verification_batch(
        batch.pk, chunk_size=4, progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(4, 9), (8, 9), (9, 9)]


def test_the_event_is_dated_in_shanghai(fake, certs):
    batch = verification.start_verification(
        by=None, certificate_ids=[certs["valid"].pk], enqueue=False
    )
    at = dt.datetime(2026, 5, 31, 23, 30, tzinfo=dt.UTC)  # already 1 June in Shanghai
    with time_machine.travel(at, tick=False):
        verification.run_verification_batch(batch.pk)
    cert = Certificate.objects.get(pk=certs["valid"].pk)
    assert cert.verified_at == at
    assert cert.events.get().on == dt.date(2026, 6, 1)


def test_internal_qualifications_are_not_sent(fake, certs):
    internal = CertificateFactory(
        person=certs["valid"].person, item=item("internal", "PLANT-ANNUAL")
    )
    with pytest.raises(InvalidInput) as exc:
        verification.start_verification(by=None, certificate_ids=[internal.pk])
    assert exc.value.errors[0].code == "not_in_registry"
    assert not VerificationBatch.objects.exists()


@pytest.mark.parametrize(
    "kw",
    [{}, {"certificate_ids": [1], "pasted": "X"}, {"certificate_ids": []}, {"pasted": " \n\n"}],
)
def test_one_source_of_certificates_is_required(catalogue, kw):
    with pytest.raises(InvalidInput):
        verification.start_verification(by=None, **kw)


def test_pasted_numbers_and_id_numbers(fake, certs, django_capture_on_commit_callbacks):
    valid, zeng = certs["valid"], certs["heteronym_zeng"]
    second = CertificateFactory(person=valid.person, item=item("special_operation", "3.1"))
    CertificateFactory(person=valid.person, item=item("internal", "PLANT-ANNUAL"))
    full_width_id = valid.person.id_number.translate(
        str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
    )
    pasted = "\n".join(
        [
            "",
            f"  {zeng.number}  ",  # a certificate number with spaces around it
            full_width_id,  # an ID number: every external certificate of that person
            zeng.number.lower(),  # again, in lower case: once is enough
            "",
        ]
    )
    batch = _start(django_capture_on_commit_callbacks, pasted=pasted)
    assert set(batch.lookups.values_list("certificate_id", flat=True)) == {
        zeng.pk,
        valid.pk,
        second.pk,
    }
    assert batch.total == 3


def test_pasted_lines_that_match_nothing_are_named(fake, certs):
    pasted = f"{certs['valid'].number}\nNO-SUCH-NUMBER\n\n110105194912310021"
    with pytest.raises(InvalidInput) as exc:
        verification.start_verification(by=None, pasted=pasted)
    messages = [str(e.message) for e in exc.value.errors]
    assert [e.field for e in exc.value.errors] == ["pasted", "pasted"]
    assert "Line 2" in messages[0] and "NO-SUCH-NUMBER" in messages[0]
    assert "Line 4" in messages[1]
    assert not VerificationBatch.objects.exists()


def _contractor_staff(contractor, **kw):
    person = PersonFactory()
    EmploymentFactory(
        person=person, employer_kind="contractor", contractor=contractor, department=None
    )
    return CertificateFactory(person=person, item=item("special_operation", "2.1"), **kw)


def test_the_scope_limits_what_can_be_verified(fake, catalogue):
    ours, theirs = ContractorFactory(), ContractorFactory()
    mine = _contractor_staff(ours)
    other = _contractor_staff(theirs)
    scope = Scope(contractor_ids=frozenset({ours.pk}))
    with pytest.raises(Http404):
        verification.start_verification(by=None, certificate_ids=[mine.pk, other.pk], scope=scope)
    with pytest.raises(InvalidInput):
        verification.start_verification(by=None, pasted=other.number, scope=scope)
    with pytest.raises(InvalidInput):
        verification.start_verification(by=None, pasted=other.person.id_number, scope=scope)
    batch = verification.start_verification(
        by=None, pasted=mine.person.id_number, scope=scope, enqueue=False
    )
    assert list(batch.lookups.values_list("certificate_id", flat=True)) == [mine.pk]
    assert queries.batches_visible_to(scope).filter(pk=batch.pk).exists()
    assert not queries.batches_visible_to(Scope(contractor_ids=frozenset({theirs.pk}))).exists()


def test_the_task_runs_the_batch(fake, certs):
    from safework.registry.tasks import verify_batch

    batch = verification.start_verification(
        by=None, certificate_ids=[certs["valid"].pk], enqueue=False
    )
    verify_batch.enqueue(batch.pk)  # through django.tasks and huey, inline in tests
    batch.refresh_from_db()
    assert batch.status == JobStatus.SUCCEEDED
    assert verification.run_verification_batch(10**9) is None  # a deleted batch: nothing to do


@pytest.mark.django_db(transaction=True)
def test_the_task_is_queued_only_when_the_transaction_commits(fake, certs):
    ids = [certs["valid"].pk]
    with pytest.raises(RuntimeError), transaction.atomic():
        verification.start_verification(by=None, certificate_ids=ids)
        raise RuntimeError("the caller's transaction fails")
    assert not VerificationBatch.objects.exists()
    assert not fake.hits
    batch = verification.start_verification(by=None, certificate_ids=ids)
    batch.refresh_from_db()  # committed: the task ran (inline in tests)
    assert (batch.status, batch.done) == (JobStatus.SUCCEEDED, 1)
    assert fake.hits[certs["valid"].number] == 1


def test_a_site_sees_its_own_staff_and_engaged_contractors_rows(fake, catalogue):
    from safework.org.tests.factories import DepartmentFactory
    from safework.people.tests.factories import EngagementFactory

    workshop = DepartmentFactory()
    site = workshop.site
    own = PersonFactory()
    EmploymentFactory(person=own, department=workshop)
    own_cert = CertificateFactory(person=own, item=item("special_operation", "2.1"))
    engaged, elsewhere = ContractorFactory(), ContractorFactory()
    EngagementFactory(contractor=engaged, site=site)
    engaged_cert = _contractor_staff(engaged)
    elsewhere_cert = _contractor_staff(elsewhere)
    batch = verification.start_verification(
        by=None,
        certificate_ids=[own_cert.pk, engaged_cert.pk, elsewhere_cert.pk],
        enqueue=False,
    )
    scope = Scope(site_ids=frozenset({site.pk}))
    assert queries.batches_visible_to(scope).get() == batch
    seen = queries.lookups_visible_to(scope).filter(batch=batch)
    assert set(seen.values_list("certificate_id", flat=True)) == {own_cert.pk, engaged_cert.pk}
    assert verification.batch_progress(batch, scope).total == 2
    assert verification.batch_progress(batch).total == 3
    other_site = Scope(site_ids=frozenset({site.pk + 1000}))
    assert not queries.batches_visible_to(other_site).exists()


def test_large_selections_stay_under_the_query_parameter_limit(catalogue):
    person = PersonFactory()
    welding = item("special_operation", "2.1")
    Certificate.objects.bulk_create(
        CertificateFactory.build(person=person, item=welding) for _ in range(1100)
    )
    certs = list(Certificate.objects.order_by("pk").values_list("pk", "number"))
    by_ids = verification.start_verification(
        by=None, certificate_ids=[pk for pk, _ in certs], enqueue=False
    )
    assert by_ids.lookups.count() == 1100
    pasted = "\n".join(number for _, number in certs)
    by_paste = verification.start_verification(by=None, pasted=pasted, enqueue=False)
    assert by_paste.lookups.count() == 1100

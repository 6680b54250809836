"""`safework verify_certificates`: queue a batch, or run it here with --wait."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from safework.accounts.tests.factories import UserFactory
from safework.certs.tests.factories import CertificateFactory, item
from safework.ledger.models import JobStatus
from safework.people.tests.factories import PersonFactory
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


@pytest.fixture
def fake(settings):
    reset_registries()
    with FakeRegistry(SAMPLE_RECORDS) as server:
        settings.REGISTRY_URL = server.url
        settings.REGISTRY_RETRIES = 0
        settings.REGISTRY_TIMEOUT = 0.5
        yield server
    reset_registries()


@pytest.fixture
def certs(catalogue):
    numbers = {r.id_number: r.number for r in SAMPLE_RECORDS}
    out = {}
    for key in ("valid", "revoked", "mismatch"):
        id_number, name, _ = SAMPLE_PEOPLE[key]
        person = PersonFactory(id_number=id_number, name=name)
        out[key] = CertificateFactory(
            person=person, item=item("special_operation", "2.1"), number=numbers[id_number]
        )
    CertificateFactory(person=out["valid"].person, item=item("internal", "PLANT-ANNUAL"))
    return out


def _run(*args) -> str:
    out = io.StringIO()
    call_command("verify_certificates", *args, stdout=out)
    return out.getvalue()


def test_all_with_wait_runs_here(fake, certs):
    user = UserFactory(username="officer")
    output = _run("--all", "--wait", "--user", "officer")
    batch = VerificationBatch.objects.get()
    assert batch.created_by == user and batch.status == JobStatus.SUCCEEDED
    assert batch.total == 3  # the internal qualification is not sent
    assert f"verification batch #{batch.pk} succeeded: 3/3" in output
    assert "2 to review" in output  # revoked, name differs


def test_without_wait_the_batch_is_queued(fake, certs):
    output = _run("--ids", str(certs["valid"].pk))
    batch = VerificationBatch.objects.get()
    assert f"#{batch.pk}: 1 look-ups queued" in output
    assert batch.status == JobStatus.QUEUED  # the worker takes it after the commit
    assert not fake.hits


def test_pasted_file_and_retry(fake, certs, tmp_path):
    path = tmp_path / "numbers.txt"
    path.write_text(f"{certs['valid'].number}\n{certs['revoked'].person.id_number}\n")
    fake.inject(certs["valid"].number, "error", times=None)
    _run("--pasted", str(path), "--wait")
    batch = VerificationBatch.objects.get()
    assert batch.lookups.filter(outcome=LookupOutcome.RETRY_LATER).count() == 1
    fake.clear_faults()
    output = _run("--retry", str(batch.pk), "--wait")
    assert "verified 1" in output and "revoked 1" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ids", "999999"], "No such certificate"),
        (["--all", "--user", "nobody"], "No such user: nobody"),
        (["--pasted", "/nonexistent/file"], "No such file"),
        (["--retry", "999999"], "No verification batch"),
    ],
)
def test_errors(fake, certs, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_retry_with_nothing_to_retry(fake, certs):
    _run("--ids", str(certs["valid"].pk), "--wait")
    batch = VerificationBatch.objects.get()
    with pytest.raises(CommandError, match="No look-up"):
        _run("--retry", str(batch.pk))

"""The HTTP registry adapter against the fake registry on a free port: answers, retries,
timeouts and the circuit breaker."""

import socket
from datetime import date

import httpx
import pytest

from safework.registry.client import (
    CertificateRegistry,
    CircuitBreaker,
    HttpRegistry,
    RegistryAnswer,
    RegistryUnavailable,
    get_registry,
    reset_registries,
)
from safework.registry.fake import SAMPLE_PEOPLE, SAMPLE_RECORDS, FakeRecord, FakeRegistry
from safework.registry.models import LookupOutcome
from safework.registry.verification import assess


@pytest.fixture
def fake():
    with FakeRegistry(SAMPLE_RECORDS, slow_seconds=1.0) as server:
        yield server


class Sleeps(list):
    """Records the waits between retries instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(fake, sleeps):
    registry = HttpRegistry(fake.url, timeout=0.3, retries=2, backoff=0.1, sleep=sleeps)
    yield registry
    registry.close()


def _number(key):
    return next(r.number for r in SAMPLE_RECORDS if r.id_number == SAMPLE_PEOPLE[key][0])


def test_http_registry_is_a_certificate_registry(client):
    assert isinstance(client, CertificateRegistry)


@pytest.mark.parametrize(
    ("key", "status", "outcome", "how"),
    [
        ("valid", "valid", LookupOutcome.VERIFIED, "exact"),
        ("revoked", "revoked", LookupOutcome.REVOKED, "exact"),
        ("expired", "expired", LookupOutcome.EXPIRED, "exact"),
        ("mismatch", "valid", LookupOutcome.MISMATCH, None),
        ("heteronym_shan", "valid", LookupOutcome.VERIFIED, "pinyin"),
        ("heteronym_zeng", "valid", LookupOutcome.VERIFIED, "pinyin"),
        ("former_name", "valid", LookupOutcome.VERIFIED, "former_name"),
        ("normalised", "valid", LookupOutcome.VERIFIED, "normalised"),
    ],
)
def test_lookup_and_assess_each_case(client, key, status, outcome, how):
    id_number, name, former = SAMPLE_PEOPLE[key]
    answer = client.lookup(id_number, _number(key), scheme="special_operation", item="2.1")
    assert answer.status == status
    assert answer.scheme == "special_operation" and answer.item == "2.1"
    assert answer.issued_on == date(2024, 1, 10)
    verdict = assess(answer, name=name, former_names=former)
    assert (verdict.outcome, verdict.name_match) == (outcome, how)


def test_not_found(client):
    id_number = SAMPLE_PEOPLE["not_found"][0]
    answer = client.lookup(id_number, "FR9999999")
    assert answer == RegistryAnswer(status="not_found")
    assert assess(answer, name="赵磊").outcome == LookupOutcome.NOT_FOUND


def test_a_number_held_by_someone_else_is_not_found(client):
    # The number exists, but for another ID number: nothing of that holder is told.
    answer = client.lookup(SAMPLE_PEOPLE["not_found"][0], _number("valid"))
    assert answer.status == "not_found" and answer.name == ""


def test_scheme_and_item_narrow_a_number_used_for_several_items(fake, client):
    id_number = SAMPLE_PEOPLE["valid"][0]
    fake.add(
        FakeRecord(id_number, id_number, "张伟", item="1.1", scheme="special_operation"),
        FakeRecord(id_number, id_number, "张伟", "revoked", item="2.1", scheme="special_operation"),
    )
    assert client.lookup(id_number, id_number, item="1.1").status == "valid"
    assert client.lookup(id_number, id_number, item="2.1").status == "revoked"
    assert client.lookup(id_number, id_number, item="3.1").status == "not_found"


def test_answer_round_trips_through_json(client):
    answer = client.lookup(SAMPLE_PEOPLE["valid"][0], _number("valid"))
    assert RegistryAnswer.from_json(answer.as_dict()) == answer
    assert answer.as_dict()["valid_until"] == "2030-01-09"


def test_server_errors_are_retried_with_backoff_then_succeed(fake, client, sleeps):
    number = _number("valid")
    fake.inject(number, "error", times=2)
    answer = client.lookup(SAMPLE_PEOPLE["valid"][0], number)
    assert answer.status == "valid"
    assert fake.hits[number] == 3
    assert sleeps == [0.1, 0.2]  # exponential
    assert client.breaker.state == CircuitBreaker.CLOSED


def test_retries_exhausted_raise_unavailable(fake, client):
    number = _number("valid")
    fake.inject(number, "error", times=None)
    with pytest.raises(RegistryUnavailable, match="HTTP 500"):
        client.lookup(SAMPLE_PEOPLE["valid"][0], number)
    assert fake.hits[number] == 3  # the first try and 2 retries


def test_timeout_raises_unavailable(fake, client):
    number = _number("valid")
    fake.inject(number, "slow", times=None)
    with pytest.raises(RegistryUnavailable, match="did not answer within 0.3 s"):
        client.lookup(SAMPLE_PEOPLE["valid"][0], number)
    assert fake.hits[number] == 3


def test_a_dropped_connection_is_retried(fake, client):
    number = _number("valid")
    fake.inject(number, "drop", times=1)
    assert client.lookup(SAMPLE_PEOPLE["valid"][0], number).status == "valid"
    assert fake.hits[number] == 2


def test_an_answer_outside_the_contract_is_unavailable_without_retry(fake, client):
    number = _number("valid")
    fake.inject(number, "garbage", times=None)
    with pytest.raises(RegistryUnavailable, match="outside the contract"):
        client.lookup(SAMPLE_PEOPLE["valid"][0], number)
    assert fake.hits[number] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nobody_listening_raises_unavailable(sleeps):
    registry = HttpRegistry(
        f"http://127.0.0.1:{_free_port()}", timeout=0.3, retries=1, sleep=sleeps
    )
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        registry.lookup("110105198503129017", "X")
    assert len(sleeps) == 1
    registry.close()


def _mocked(handler, **kw) -> HttpRegistry:
    return HttpRegistry(
        "http://registry.test", transport=httpx.MockTransport(handler), sleep=Sleeps(), **kw
    )


def test_404_with_a_not_found_answer_is_not_found():
    registry = _mocked(lambda request: httpx.Response(404, json={"status": "not_found"}))
    assert registry.lookup("110105198503129017", "X").status == "not_found"


def test_any_other_404_is_a_misconfiguration_not_a_missing_certificate():
    registry = _mocked(lambda request: httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(RegistryUnavailable, match="HTTP 404"):
        registry.lookup("110105198503129017", "X")


@pytest.mark.parametrize(
    "body",
    [
        {"status": "maybe"},
        {"status": "valid", "valid_until": "09/01/2030"},
        {"status": "valid", "former_names": "李娜"},
        {"status": "valid", "name": 42},
        ["valid"],
    ],
)
def test_answers_outside_the_contract(body):
    registry = _mocked(lambda request: httpx.Response(200, json=body))
    with pytest.raises(RegistryUnavailable, match="outside the contract"):
        registry.lookup("110105198503129017", "X")


def test_the_request_follows_the_contract():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={"status": "valid", "name": "张伟"})

    _mocked(handler).lookup("110105198503129017", "晋A012008000001", scheme="construction")
    (request,) = seen
    assert request.url.path == "/certificates"
    assert dict(request.url.params) == {
        "id_number": "110105198503129017",
        "number": "晋A012008000001",
        "scheme": "construction",
    }
    assert request.headers["accept"] == "application/json"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_circuit_breaker_opens_then_half_opens(fake, sleeps):
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    registry = HttpRegistry(fake.url, timeout=0.3, retries=0, breaker=breaker, sleep=sleeps)
    id_number, number = SAMPLE_PEOPLE["valid"][0], _number("valid")
    fake.inject(number, "error", times=None)
    for _ in range(2):
        with pytest.raises(RegistryUnavailable, match="HTTP 500"):
            registry.lookup(id_number, number)
    assert breaker.state == CircuitBreaker.OPEN
    # Open: no request leaves; the caller learns at once.
    with pytest.raises(RegistryUnavailable, match="circuit open"):
        registry.lookup(id_number, number)
    assert fake.hits[number] == 2
    clock.now += 29.9
    with pytest.raises(RegistryUnavailable, match="circuit open"):
        registry.lookup(id_number, number)
    # Cooled down: one trial; it fails, so the breaker opens again for a whole cool-down.
    clock.now += 0.1
    assert breaker.state == CircuitBreaker.HALF_OPEN
    with pytest.raises(RegistryUnavailable, match="HTTP 500"):
        registry.lookup(id_number, number)
    assert fake.hits[number] == 3
    assert breaker.state == CircuitBreaker.OPEN
    with pytest.raises(RegistryUnavailable, match="circuit open"):
        registry.lookup(id_number, number)
    # Next trial succeeds: closed again, failures forgotten.
    fake.clear_faults()
    clock.now += 30
    assert registry.lookup(id_number, number).status == "valid"
    assert breaker.state == CircuitBreaker.CLOSED
    assert registry.lookup(id_number, number).status == "valid"
    registry.close()


def test_half_open_lets_one_trial_through_at_a_time():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # others wait for its result
    breaker.record_success()
    assert breaker.allow() and breaker.allow()


def test_success_resets_the_count_of_consecutive_failures():
    breaker = CircuitBreaker(threshold=3, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CircuitBreaker.CLOSED
    breaker.record_failure()
    assert breaker.state == CircuitBreaker.OPEN


def test_not_found_answers_do_not_count_as_failures(client):
    for _ in range(10):
        client.lookup(SAMPLE_PEOPLE["not_found"][0], "FR9999999")
    assert client.breaker.state == CircuitBreaker.CLOSED


def test_get_registry_follows_settings_and_keeps_its_breaker(settings, fake):
    reset_registries()
    settings.REGISTRY_URL = fake.url + "/"
    settings.REGISTRY_TIMEOUT = 1.5
    settings.REGISTRY_RETRIES = 1
    registry = get_registry()
    assert (registry.base_url, registry.timeout, registry.retries) == (fake.url, 1.5, 1)
    assert get_registry() is registry
    settings.REGISTRY_RETRIES = 0
    assert get_registry() is not registry
    reset_registries()

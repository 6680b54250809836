"""The certificate registry: one interface, an HTTP adapter with retries and a circuit breaker.

SafeWork asks a registry (the national query platform through an adapter; the fake in
`certs/fake_registry.py` for the demo and tests) whether a certificate exists, is in force and is
held by the person named. Callers see `CertificateRegistry.lookup(...) -> RegistryAnswer`, or the
one exception `RegistryUnavailable` when no trustworthy answer could be had; a caller never reads
an unavailable registry as "not found".

The JSON contract (version 1)
-----------------------------
Request::

    GET {base_url}/certificates?id_number=<18 chars>&number=<as printed>
        [&scheme=<scheme code>][&item=<item code>]
    Accept: application/json

`id_number` and `number` are required (400 otherwise). A certificate number may equal the ID
number and may repeat across items, so `scheme` and `item` narrow the search; when several records
still match, the registry answers the one issued last.

Answer: 200 with a JSON object::

    {
      "status": "valid" | "revoked" | "expired" | "not_found",
      "name": "单伟",                 # holder's name as registered ("" when not_found)
      "former_names": ["单小伟"],     # names the registry also knows for the holder (may be [])
      "scheme": "special_operation", # scheme code ("" when not_found)
      "item": "2.1",                 # item code within the scheme
      "number": "…",                 # the certificate number as registered
      "issued_on": "2024-01-10",     # ISO dates or null
      "valid_until": "2030-01-09",
      "issuer": "某省应急管理厅"
    }

Only `status` is required; every other field may be missing or null. A record is found only when
both the ID number and the certificate number agree: a number held by someone else is
`not_found`, so a lookup never tells one person's data to a caller who asked with another's ID.

Status codes: 200 is the answer. **404 means not_found only when its body is JSON with
`"status": "not_found"`** (some gateways answer so); any other 404 (a wrong base URL, a proxy's
HTML page) is a misconfiguration and raises `RegistryUnavailable`, so a bad URL can never mark a
batch of genuine certificates "not found". 5xx, timeouts and connection errors are retried with
exponential backoff, then raise `RegistryUnavailable`; other 4xx and unreadable bodies raise it
without retrying.

The circuit breaker: after `threshold` consecutive failed look-ups the breaker opens and every
look-up raises `RegistryUnavailable` at once (no network call) until `cooldown` seconds have
passed; then one trial look-up goes through (half-open): success closes the breaker, failure
opens it again for another cool-down. One breaker per registry URL and process, so a batch of
10,000 rows does not wait out 10,000 timeouts while the registry is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import httpx
import tenacity
from django.conf import settings

VALID, REVOKED, EXPIRED, NOT_FOUND = "valid", "revoked", "expired", "not_found"
STATUSES = (VALID, REVOKED, EXPIRED, NOT_FOUND)

# Deployment knobs with embedded defaults (environment settings of the same name override them).
DEFAULT_BREAKER_THRESHOLD = 5  # consecutive failed look-ups that open the breaker
DEFAULT_BREAKER_COOLDOWN = 30.0  # seconds the breaker stays open before one trial
DEFAULT_BACKOFF = 0.2  # first wait between retries (seconds); doubles each time
DEFAULT_MAX_BACKOFF = 2.0


class RegistryUnavailable(Exception):
    """No trustworthy answer: the registry is down, slow, misconfigured or the breaker is open."""


@dataclass(frozen=True, slots=True)
class RegistryAnswer:
    """What the registry says about one certificate (the contract's fields, parsed)."""

    status: str
    name: str = ""
    former_names: tuple[str, ...] = ()
    scheme: str = ""
    item: str = ""
    number: str = ""
    issued_on: date | None = None
    valid_until: date | None = None
    issuer: str = ""

    @property
    def found(self) -> bool:
        return self.status != NOT_FOUND

    def as_dict(self) -> dict:
        """Plain JSON data (ISO dates), as stored with a look-up."""
        out = asdict(self)
        out["former_names"] = list(self.former_names)
        for key in ("issued_on", "valid_until"):
            out[key] = out[key].isoformat() if out[key] else None
        return out

    @classmethod
    def from_json(cls, data) -> RegistryAnswer:
        """Parse a contract answer; ValueError when it does not follow the contract."""
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        status = data.get("status")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        former = data.get("former_names") or []
        if not isinstance(former, list) or not all(isinstance(n, str) for n in former):
            raise ValueError("former_names is not a list of names")
        return cls(
            status=status,
            name=_text(data, "name"),
            former_names=tuple(former),
            scheme=_text(data, "scheme"),
            item=_text(data, "item"),
            number=_text(data, "number"),
            issued_on=_date(data, "issued_on"),
            valid_until=_date(data, "valid_until"),
            issuer=_text(data, "issuer"),
        )


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _date(data: dict, key: str) -> date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not an ISO date")
    return date.fromisoformat(value)


@runtime_checkable
class CertificateRegistry(Protocol):
    """Anything that answers look-ups: the HTTP adapter, or a stub in tests."""

    base_url: str

    def lookup(
        self, id_number: str, number: str, *, scheme: str = "", item: str = ""
    ) -> RegistryAnswer:
        """The registry's answer for this holder and number; raises RegistryUnavailable."""
        ...


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; one trial after `cooldown` seconds.

    `clock` is injectable (a monotonic seconds counter) so tests need not sleep.
    """

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_BREAKER_THRESHOLD,
        cooldown: float = DEFAULT_BREAKER_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ):
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold, self.cooldown, self.clock = threshold, cooldown, clock
        self._state = self.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == self.OPEN and self._cooled_down():
                return self.HALF_OPEN
            return self._state

    def _cooled_down(self) -> bool:
        return self.clock() - self._opened_at >= self.cooldown

    def allow(self) -> bool:
        """May a look-up go out now? In half-open state only one trial at a time."""
        with self._lock:
            if self._state == self.CLOSED:
                return True
            if self._state == self.OPEN:
                if not self._cooled_down():
                    return False
                self._state = self.HALF_OPEN
                self._trial_running = False
            if self._trial_running:
                return False
            self._trial_running = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state, self._failures, self._trial_running = self.CLOSED, 0, False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_running = False
            if self._state == self.HALF_OPEN or self._failures >= self.threshold:
                self._state = self.OPEN
                self._opened_at = self.clock()

    def retry_after(self) -> float:
        """Seconds until the breaker lets a trial through (0 when closed)."""
        with self._lock:
            if self._state != self.OPEN:
                return 0.0
            return max(0.0, self.cooldown - (self.clock() - self._opened_at))


class _ServerError(Exception):
    """A 5xx answer: worth another try."""

    def __init__(self, status_code: int):
        self.status_code = status_code
        super().__init__(f"registry answered HTTP {status_code}")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _ServerError | httpx.TransportError)


@dataclass
class HttpRegistry:
    """The registry over HTTP (httpx), per the contract in this module's docstring.

    `retries` is the number of further attempts after the first, for connection errors, timeouts
    and 5xx only, waiting `backoff`, 2×`backoff`, … (at most `max_backoff`) between them. A look-up
    that still fails counts once against the circuit breaker.
    """

    base_url: str
    timeout: float = 5.0
    retries: int = 3
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    backoff: float = DEFAULT_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None

    def __post_init__(self):
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            transport=self.transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def lookup(
        self, id_number: str, number: str, *, scheme: str = "", item: str = ""
    ) -> RegistryAnswer:
        if not self.breaker.allow():
            raise RegistryUnavailable(
                f"registry {self.base_url} is failing; circuit open for another "
                f"{self.breaker.retry_after():.0f} s"
            )
        params = {"id_number": id_number, "number": number}
        if scheme:
            params["scheme"] = scheme
        if item:
            params["item"] = item
        try:
            answer = self._answer(self._get(params))
        except BaseException:
            # A half-open trial must end either way, or the breaker would never close again.
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return answer

    def _get(self, params: dict) -> httpx.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retryable),
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.backoff, max=self.max_backoff),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._client.get("/certificates", params=params)
                    if response.status_code >= 500:
                        raise _ServerError(response.status_code)
        except httpx.TimeoutException as exc:
            raise RegistryUnavailable(
                f"registry {self.base_url} did not answer within {self.timeout} s"
            ) from exc
        except httpx.TransportError as exc:
            raise RegistryUnavailable(f"registry {self.base_url} unreachable: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise RegistryUnavailable(f"registry {self.base_url}: {exc}") from exc
        except _ServerError as exc:
            raise RegistryUnavailable(f"registry {self.base_url}: {exc}") from exc
        return response

    def _answer(self, response: httpx.Response) -> RegistryAnswer:
        try:
            data = response.json()
        except ValueError:
            data = None
        if (
            response.status_code == 404
            and isinstance(data, dict)
            and data.get("status") == NOT_FOUND
        ):
            return RegistryAnswer.from_json(data)
        if response.status_code != 200:
            raise RegistryUnavailable(
                f"registry {self.base_url} answered HTTP {response.status_code}"
            )
        try:
            return RegistryAnswer.from_json(data)
        except ValueError as exc:
            raise RegistryUnavailable(
                f"registry {self.base_url} gave an answer outside the contract: {exc}"
            ) from exc


_registries: dict[tuple, HttpRegistry] = {}
_registries_lock = threading.Lock()


def get_registry() -> HttpRegistry:
    """The configured registry (settings REGISTRY_URL, REGISTRY_TIMEOUT, REGISTRY_RETRIES).

    One instance per configuration and process, so its circuit breaker remembers failures across
    batches run by the same worker.
    """
    key = (
        settings.REGISTRY_URL.rstrip("/"),
        float(settings.REGISTRY_TIMEOUT),
        int(settings.REGISTRY_RETRIES),
        int(getattr(settings, "REGISTRY_BREAKER_THRESHOLD", DEFAULT_BREAKER_THRESHOLD)),
        float(getattr(settings, "REGISTRY_BREAKER_COOLDOWN", DEFAULT_BREAKER_COOLDOWN)),
    )
    with _registries_lock:
        registry = _registries.get(key)
        if registry is None:
            url, timeout, retries, threshold, cooldown = key
            registry = HttpRegistry(
                url,
                timeout=timeout,
                retries=retries,
                breaker=CircuitBreaker(threshold=threshold, cooldown=cooldown),
            )
            _registries[key] = registry
        return registry


def reset_registries() -> None:
    """Forget configured registries and their breakers (tests; a changed configuration)."""
    with _registries_lock:
        for registry in _registries.values():
            registry.close()
        _registries.clear()

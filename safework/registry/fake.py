"""A fake certificate registry for the demo and the tests, speaking `certs.registry`'s contract.

A stdlib `ThreadingHTTPServer` holding `FakeRecord`s; `GET /certificates?id_number=…&number=…`
answers as the real adapter expects (see the contract in safework/certs/registry.py), and
`GET /health` says how many records it holds. Records come from a JSON file, from the SafeWork
database (the demo: each certificate of the database, a few deterministically revoked, expired,
renamed or missing), or from code (tests, `SAMPLE_RECORDS`).

Failure injection for tests: `server.inject(number, "error" | "slow" | "garbage" | "drop",
times=1)` makes look-ups of that number answer 500, sleep past the client's timeout, answer
non-JSON or close the connection, `times` times (None: always). A record in a JSON file may carry
`"fault": "error"` (always) for manual trials.

    with FakeRegistry(SAMPLE_RECORDS).start() as fake:    # port 0: a free port
        HttpRegistry(fake.url).lookup(id_number, number)

`manage.py fake_registry --port 8001 [--host 127.0.0.1] [--data FILE]` runs it in the foreground.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.utils.translation import gettext as _

from safework.people.synthetic import make_id_number

FAULTS = ("error", "slow", "garbage", "drop")


@dataclass(frozen=True)
class FakeRecord:
    """One certificate as the registry holds it."""

    id_number: str
    number: str
    name: str
    status: str = "valid"
    former_names: tuple[str, ...] = ()
    scheme: str = ""
    item: str = ""
    issued_on: date | None = None
    valid_until: date | None = None
    issuer: str = ""
    fault: str = ""  # "error": always answers 500 (manual trials of retry_later)

    def answer(self) -> dict:
        return {
            "status": self.status,
            "name": self.name,
            "former_names": list(self.former_names),
            "scheme": self.scheme,
            "item": self.item,
            "number": self.number,
            "issued_on": self.issued_on.isoformat() if self.issued_on else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "issuer": self.issuer,
        }

    def as_json(self) -> dict:
        out = {"id_number": self.id_number, **self.answer()}
        if self.fault:
            out["fault"] = self.fault
        return out

    @classmethod
    def from_json(cls, data: dict) -> FakeRecord:
        def day(key):
            return date.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            id_number=str(data["id_number"]).strip().upper(),
            number=str(data["number"]).strip(),
            name=data.get("name", ""),
            status=data.get("status", "valid"),
            former_names=tuple(data.get("former_names") or ()),
            scheme=data.get("scheme", ""),
            item=data.get("item", ""),
            issued_on=day("issued_on"),
            valid_until=day("valid_until"),
            issuer=data.get("issuer", ""),
            fault=data.get("fault", ""),
        )


NOT_FOUND = {
    "status": "not_found",
    "name": "",
    "former_names": [],
    "scheme": "",
    "item": "",
    "number": "",
    "issued_on": None,
    "valid_until": None,
    "issuer": "",
}


def records_from_file(path: Path) -> list[FakeRecord]:
    """Records from JSON: a list of records or {"records": [...]}, fields as `FakeRecord`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("records", [])
    return [FakeRecord.from_json(row) for row in data]


def records_to_file(records: Iterable[FakeRecord], path: Path) -> None:
    payload = {"records": [r.as_json() for r in records]}
    Path(path).write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


class FakeRegistry:
    """The server and its records; `start()` serves in a daemon thread, `stop()` ends it."""

    def __init__(
        self,
        records: Iterable[FakeRecord] = (),
        *,
        slow_seconds: float = 2.0,
        loader: Callable[[], Iterable[FakeRecord]] | None = None,
        reload_after: float = 5.0,
        log: Callable[[str], None] | None = None,
    ):
        self.slow_seconds = slow_seconds
        self.loader = loader
        self.reload_after = reload_after
        self.log = log
        self.hits: Counter[str] = Counter()  # look-ups per certificate number
        self._faults: dict[str, list] = {}  # number → [fault, remaining times or None]
        self._lock = threading.Lock()
        self._records: dict[str, list[FakeRecord]] = {}
        self._loaded_at = 0.0
        self.set_records(records)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # records -----------------------------------------------------------------------------------
    def set_records(self, records: Iterable[FakeRecord]) -> None:
        by_number: dict[str, list[FakeRecord]] = {}
        for record in records:
            by_number.setdefault(record.number, []).append(record)
        with self._lock:
            self._records = by_number
            self._loaded_at = time.monotonic()

    def add(self, *records: FakeRecord) -> None:
        with self._lock:
            for record in records:
                self._records.setdefault(record.number, []).append(record)

    @property
    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._records.values())

    def inject(self, number: str, fault: str, times: int | None = 1) -> None:
        """Make look-ups of `number` fail `times` times (None: until `clear_faults`)."""
        if fault not in FAULTS:
            raise ValueError(f"fault is one of {FAULTS}")
        with self._lock:
            self._faults[number] = [fault, times]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, number: str) -> str:
        with self._lock:
            entry = self._faults.get(number)
            if entry is None:
                return ""
            fault, left = entry
            if left is not None:
                if left <= 1:
                    del self._faults[number]
                else:
                    entry[1] = left - 1
            return fault

    def find(
        self, id_number: str, number: str, scheme: str = "", item: str = ""
    ) -> FakeRecord | None:
        found = self._find(id_number, number, scheme, item)
        if found is None and self.loader is not None and self._stale():
            # The demo's database may have gained certificates since start-up (an import).
            self.set_records(self.loader())
            found = self._find(id_number, number, scheme, item)
        return found

    def _stale(self) -> bool:
        with self._lock:
            return time.monotonic() - self._loaded_at >= self.reload_after

    def _find(self, id_number, number, scheme, item) -> FakeRecord | None:
        with self._lock:
            candidates = [r for r in self._records.get(number, ()) if r.id_number == id_number]
        if scheme:
            candidates = [r for r in candidates if r.scheme == scheme]
        if item:
            candidates = [r for r in candidates if r.item == item]
        if not candidates:
            return None
        return max(candidates, key=lambda r: r.issued_on or date.min)

    # serving -----------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeRegistry:
        self._server = _Server((host, port), _Handler)
        self._server.registry = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns quickly
            name="fake-registry",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8001) -> None:
        """Serve in the calling thread until interrupted (the management command)."""
        self._server = _Server((host, port), _Handler)
        self._server.registry = self
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake registry is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeRegistry:
        return self if self._server else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a "slow" handler never holds up stop()
    registry: FakeRegistry

    def handle_error(self, request, client_address):
        # A client that gave up (its timeout) is expected here; anything else is printed.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once, no 40 ms delayed-ACK wait

    def log_message(self, format, *args):  # noqa: A002  (the stdlib's parameter name)
        if self.server.registry.log:
            self.server.registry.log(f"{self.address_string()} {format % args}")

    def _send(self, status: int, body: dict | str, content_type="application/json") -> None:
        raw = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode(
            "utf-8"
        )
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):  # noqa: N802  (the stdlib's method name)
        registry = self.server.registry
        url = urlsplit(self.path)
        query = {k: v[0].strip() for k, v in parse_qs(url.query).items()}
        if url.path == "/health":
            return self._send(200, {"ok": True, "records": registry.count})
        if url.path != "/certificates":
            return self._send(404, {"error": "no such endpoint"})
        id_number = query.get("id_number", "").upper()
        number = query.get("number", "")
        if not id_number or not number:
            return self._send(400, {"error": "id_number and number are required"})
        registry.hits[number] += 1
        record = registry.find(id_number, number, query.get("scheme", ""), query.get("item", ""))
        fault = registry._take_fault(number) or (record.fault if record else "")
        if fault == "error":
            return self._send(500, {"error": "injected failure"})
        if fault == "garbage":
            return self._send(200, "<html>maintenance</html>", content_type="text/html")
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return None
        if fault == "slow":
            time.sleep(registry.slow_seconds)
        self._send(HTTPStatus.OK, record.answer() if record else NOT_FOUND)


# ------------------------------------------------------------------------------------------------
# Sample records: one of each case the verification must tell apart. Synthetic ID numbers
# (sequence 900–999, correct check character); the names are what the *registry* holds.
def _sample_id(region: str, birth: date, sequence: int, female: bool = False) -> str:
    return make_id_number(region, birth, sequence, female=female)


SAMPLE_PEOPLE = {
    # key: (id_number, name in SafeWork, former names in SafeWork)
    "valid": (_sample_id("110105", date(1985, 3, 12), 901), "张伟", ()),
    "revoked": (_sample_id("310104", date(1979, 7, 1), 903), "刘洋", ()),
    "expired": (_sample_id("320102", date(1990, 11, 23), 905), "陈刚", ()),
    "mismatch": (_sample_id("330106", date(1988, 5, 6), 907), "李强", ()),
    "heteronym_shan": (_sample_id("370102", date(1983, 2, 14), 908, True), "单丽", ()),
    "heteronym_zeng": (_sample_id("120101", date(1975, 9, 30), 909), "曾志红", ()),
    "former_name": (_sample_id("510104", date(1992, 1, 8), 910, True), "李静", ("李娜",)),
    "normalised": (_sample_id("420106", date(1986, 4, 18), 911), "王建国", ()),
    "not_found": (_sample_id("530102", date(1991, 8, 8), 913), "赵磊", ()),
}
_ISSUER = "示例省应急管理厅"


def _sample(key: str, number: str, name: str, status: str = "valid", **kw) -> FakeRecord:
    return FakeRecord(
        id_number=SAMPLE_PEOPLE[key][0],
        number=number,
        name=name,
        status=status,
        scheme=kw.pop("scheme", "special_operation"),
        item=kw.pop("item", "2.1"),
        issued_on=kw.pop("issued_on", date(2024, 1, 10)),
        valid_until=kw.pop("valid_until", date(2030, 1, 9)),
        issuer=kw.pop("issuer", _ISSUER),
        **kw,
    )


SAMPLE_RECORDS = (
    _sample("valid", "FR0000001", "张伟"),
    _sample("revoked", "FR0000002", "刘洋", "revoked"),
    _sample("expired", "FR0000003", "陈刚", "expired", valid_until=date(2025, 1, 9)),
    _sample("mismatch", "FR0000004", "王强"),  # a different person's name
    _sample("heteronym_shan", "FR0000005", "善丽"),  # 单 read shan, typed as 善
    _sample("heteronym_zeng", "FR0000006", "增志红"),  # 曾 read zeng, typed as 增
    _sample("former_name", "FR0000007", "李娜"),  # registered before the name change
    _sample("normalised", "FR0000008", "王　建国 "),  # full-width space, trailing space
)


# ------------------------------------------------------------------------------------------------
# The demo: the registry's view of the SafeWork database, with a few deterministic surprises.
# Homophone surnames (a shared pinyin reading): how a clerk typing pinyin may register a name.
HOMOPHONES = {
    "单": "善",
    "曾": "增",
    "解": "谢",
    "查": "扎",
    "仇": "求",
    "区": "欧",
    "张": "章",
    "王": "汪",
    "李": "理",
    "刘": "留",
    "陈": "晨",
    "杨": "阳",
    "黄": "皇",
    "赵": "照",
    "吴": "伍",
    "周": "州",
    "徐": "许",
    "孙": "荪",
    "马": "玛",
    "朱": "珠",
    "胡": "湖",
    "郭": "国",
    "何": "河",
    "林": "琳",
    "罗": "萝",
    "郑": "正",
    "梁": "良",
    "谢": "泻",
}
# Surnames for a name that must *not* match; the first without a reading in common is taken.
_OTHER_SURNAMES = ("钱", "孙", "欧阳")

REVOKE, EXPIRE, RENAME, DROP, RESPELL, FORMER = range(6)
DEMO_BUCKETS = 25  # one certificate in 25 gets each surprise


def demo_bucket(scheme: str, item: str, number: str, issued_on: date | None) -> int:
    """A stable bucket for a certificate: the same surprise on every start, on every machine."""
    key = f"{scheme}|{item}|{number}|{issued_on}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % DEMO_BUCKETS


def respelled(name: str) -> str:
    """The name with its surname replaced by a homophone, or spaced in full width."""
    if name and name[0] in HOMOPHONES:
        return HOMOPHONES[name[0]] + name[1:]
    return name[:1] + "\u3000" + name[1:] + " "


def other_name(name: str) -> str:
    """A name that matches `name` in no way (a surname without a reading in common)."""
    from safework.registry.verification import match_name

    given = name[1:] or "某"
    return next(s + given for s in _OTHER_SURNAMES if match_name(s + given, name) is None)


def demo_record(record: FakeRecord, *, former_names=(), today: date) -> FakeRecord | None:
    """The registry's version of a SafeWork certificate (None: the registry has no such record)."""
    bucket = demo_bucket(record.scheme, record.item, record.number, record.issued_on)
    if bucket == REVOKE:
        return replace(record, status="revoked")
    if bucket == EXPIRE:
        earlier = max(record.issued_on or today, today - timedelta(days=30))
        return replace(record, status="expired", valid_until=min(earlier, record.valid_until))
    if bucket == RENAME:
        return replace(record, name=other_name(record.name))
    if bucket == DROP:
        return None
    if bucket == RESPELL:
        return replace(record, name=respelled(record.name))
    if bucket == FORMER and former_names:
        return replace(record, name=former_names[0])
    return record


def records_from_database(*, today: date | None = None) -> list[FakeRecord]:
    """The registry's view of every externally issued certificate in the SafeWork database."""
    from django.db import connections
    from django.utils import timezone

    from safework.certs.models import Certificate, CertState
    from safework.registry.verification import INTERNAL_SCHEME

    today = today or timezone.localdate()
    rows = (
        Certificate.objects.exclude(scheme__code=INTERNAL_SCHEME)
        .order_by("pk")
        .values_list(
            "person__id_number",
            "person__name",
            "person__former_names",
            "number",
            "scheme__code",
            "item__code",
            "issued_on",
            "valid_until",
            "issuing_authority",
            "state",
        )
    )
    records = []
    try:
        for id_number, name, former, number, scheme, item, issued, until, issuer, state in rows:
            if state != CertState.ACTIVE:
                status = "revoked"
            elif until < today:
                status = "expired"
            else:
                status = "valid"
            base = FakeRecord(
                id_number=id_number,
                number=number,
                name=name,
                status=status,
                scheme=scheme,
                item=item,
                issued_on=issued,
                valid_until=until,
                issuer=issuer,
            )
            record = demo_record(base, former_names=tuple(former or ()), today=today)
            if record is not None:
                records.append(record)
    finally:
        # Called from a server thread on reload: give its connection back.
        if threading.current_thread() is not threading.main_thread():
            connections.close_all()
    return records


@dataclass
class DemoSummary:
    total: int = 0
    by_status: Counter = field(default_factory=Counter)

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items()))
        if not self.total:
            return _("0 records")
        return _("%(n)s records (%(parts)s)") % {"n": self.total, "parts": parts}


def summarise(records: Iterable[FakeRecord]) -> DemoSummary:
    records = list(records)
    return DemoSummary(total=len(records), by_status=Counter(r.status for r in records))

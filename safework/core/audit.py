"""The tamper-evident audit chain: append, verify, checkpoint.

Every state-changing service calls `record(...)` (bulk: `record_many(...)`) as its **last** write,
inside its transaction. That call takes the audit lock (PostgreSQL: a transaction-scoped advisory
lock; SQLite: the IMMEDIATE transaction already holds the writer lock), reads the head, and inserts
at once. Nothing is locked after it, so domain row locks never deadlock against the chain.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import decimal
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.core import inserts
from safework.core.models import AuditRecord

GENESIS = "0" * 64
# An arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
ADVISORY_LOCK_ID = 0x5AFE_A0D1

# The client address of the request being served, set by AuditContextMiddleware.
client_addr_var: contextvars.ContextVar[str] = contextvars.ContextVar("client_addr", default="")


@dataclass(frozen=True)
class Entry:
    """What one audit record says, before it is chained."""

    action: str
    object_type: str = ""
    object_id: str = ""
    object_label: str = ""
    before: dict | None = None
    after: dict | None = None
    actor_id: int | None = None
    actor_label: str = ""
    at: dt.datetime | None = None
    client_addr: str = ""


def _json_default(value):
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID | Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    if isinstance(value, FieldFile):  # an empty one has no url: hasattr() would raise
        return value.name or ""
    raise TypeError(f"not JSON-serialisable in an audit payload: {type(value).__name__}")


def canonical(data: dict) -> str:
    """JSON with sorted keys, UTC ISO timestamps with microseconds, ids not objects."""
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
    )


def compute_hash(prev_hash: str, payload: str, key: str | None = None) -> str:
    key = key if key is not None else settings.AUDIT_KEY
    return hmac.new(key.encode(), (prev_hash + payload).encode(), hashlib.sha256).hexdigest()


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict:
    """The concrete field values of a model instance, as plain data for before/after."""
    out = {}
    for f in obj._meta.concrete_fields:
        if fields is not None and f.name not in fields:
            continue
        out[f.attname] = json.loads(canonical({"v": getattr(obj, f.attname)}))["v"]
    return out


def describe(target) -> tuple[str, str, str]:
    """(object_type, object_id, label) of a model instance or an explicit tuple."""
    if target is None:
        return "", "", ""
    if isinstance(target, tuple):
        return tuple(str(x) for x in target)  # type: ignore[return-value]
    return target._meta.label_lower, str(target.pk), str(target)[:300]


def _actor(actor) -> tuple[int | None, str]:
    if actor is None:
        return None, _("system")  # written in the default language: Chinese
    if isinstance(actor, str):
        return None, actor
    return actor.pk, (actor.get_username() if hasattr(actor, "get_username") else str(actor))


def entry(
    *, action: str, target=None, actor=None, before=None, after=None, at=None, client_addr=None
) -> Entry:
    object_type, object_id, object_label = describe(target)
    actor_id, actor_label = _actor(actor)
    if after is None and target is not None and not isinstance(target, tuple):
        after = snapshot(target)
    return Entry(
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=object_label,
        before=before,
        after=after,
        actor_id=actor_id,
        actor_label=actor_label,
        at=at,
        client_addr=client_addr if client_addr is not None else client_addr_var.get(),
    )


def _payload(seq: int, e: Entry, at: dt.datetime) -> str:
    return canonical(
        {
            "seq": seq,
            "at": at,
            "actor_id": e.actor_id,
            "actor_label": e.actor_label,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "object_label": e.object_label,
            "client_addr": e.client_addr,
            "before": e.before,
            "after": e.after,
        }
    )


def _lock_chain_and_read_head() -> tuple[int, str]:
    """Take the audit lock, then read the chain's head (seq, hash) as the lock's holder sees it.

    PostgreSQL: one round trip, through the VOLATILE function of core migration 0003 (the
    advisory lock, then the head read in a fresh snapshot taken once the lock is held: it sees
    the records of the transaction that held the lock before). SQLite: the IMMEDIATE
    transaction already holds the writer lock; the head is read.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM safework_audit_lock_head(%s)", [ADVISORY_LOCK_ID])
            head = cur.fetchone()
    else:
        head = AuditRecord.objects.order_by("-seq").values_list("seq", "hash").first()
    return tuple(head) if head else (0, GENESIS)


# Text columns that repeat a payload field; verify compares each with the payload.
_TEXT_COLUMNS = (
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "client_addr",
)


def _fit(e: Entry, widths: dict[str, int]) -> Entry:
    """Cut the texts to their column widths, so the payload says exactly what the columns hold.

    Otherwise a long label would be stored cut but hashed whole, and that honest record would
    fail verification (PostgreSQL would refuse the insert instead).
    """
    if all(len(getattr(e, name)) <= width for name, width in widths.items()):
        return e
    return dataclasses.replace(e, **{name: getattr(e, name)[:w] for name, w in widths.items()})


# The entries of the running `deferred()` block, appended to the chain when it ends.
_deferred: contextvars.ContextVar[list[Entry] | None] = contextvars.ContextVar(
    "audit_deferred", default=None
)


@contextmanager
def deferred():
    """Within the block (one service call, inside its transaction), `record` and `record_many`
    collect their entries, and the block's end appends them to the chain in one write (the lock
    taken and the head read once), still the transaction's last write; nothing is written when
    the block raises. A block inside another is part of the outer one. The records are written
    without returning their ids (nobody holds them)."""
    if _deferred.get() is not None:
        yield
        return
    entries: list[Entry] = []
    token = _deferred.set(entries)
    try:
        yield
    finally:
        _deferred.reset(token)
    _insert(_chain(entries))


def record_many(entries: Iterable[Entry]) -> list[AuditRecord]:
    """Append entries to the chain, in order, as the last write of the current transaction (at
    the end of the running `deferred()` block, if any: then nothing is returned)."""
    pending = _deferred.get()
    if pending is not None:
        pending.extend(entries)
        return []
    values = _chain(entries)
    rows = [AuditRecord(**dict(zip(_INSERT_COLUMNS, row, strict=True))) for row in values]
    if len(rows) < BULK_INSERT_FROM:
        return AuditRecord.objects.bulk_create(rows)
    _insert(values)
    return rows


# From this many records on (imports, seeds) the rows are written without the ORM's per-object
# work (`_insert`); their objects then carry no pk.
BULK_INSERT_FROM = 500
_INSERT_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "client_addr",
    "payload",
    "prev_hash",
    "hash",
)


def _chain(entries: Iterable[Entry]) -> list[tuple]:
    """The entries as chained records (values in `_INSERT_COLUMNS` order), after the current
    head, which they lock; none (and no lock) for no entries."""
    widths = {name: AuditRecord._meta.get_field(name).max_length for name in _TEXT_COLUMNS}
    entries = [_fit(e, widths) for e in entries]
    if not entries:
        return []
    seq, prev = _lock_chain_and_read_head()
    now = timezone.now()
    rows = []
    for e in entries:
        seq += 1
        at = (e.at or now).astimezone(dt.UTC)
        payload = _payload(seq, e, at)
        digest = compute_hash(prev, payload)
        rows.append(
            (
                seq,
                at,
                e.actor_id,
                e.actor_label,
                e.action,
                e.object_type,
                e.object_id,
                e.object_label,
                e.client_addr,
                payload,
                prev,
                digest,
            )
        )
        prev = digest
    return rows


def _insert(values: list[tuple]) -> None:
    """Write chained records. Only `at` needs adapting as the ORM would: the other values are
    already what their columns store (str, int, None: the payload is text, hashed as stored)."""
    if not values:
        return
    adapt_at = AuditRecord._meta.get_field("at").get_db_prep_save
    rows = [(seq, adapt_at(at, connection), *rest) for seq, at, *rest in values]
    inserts.insert(AuditRecord._meta.db_table, _INSERT_COLUMNS, rows)


def record(
    *, action: str, target=None, actor=None, before=None, after=None, at=None, client_addr=None
) -> AuditRecord | None:
    """Append one record for a change made in the current transaction (its last write); None
    inside a `deferred()` block, which writes it at its end."""
    rows = record_many(
        [
            entry(
                action=action,
                target=target,
                actor=actor,
                before=before,
                after=after,
                at=at,
                client_addr=client_addr,
            )
        ]
    )
    return rows[0] if rows else None


@dataclass
class VerifyResult:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    problem: str = ""
    broken_seq: int | None = None
    checkpoints: int = 0  # saved heads that were compared

    def summary(self) -> str:
        if not self.ok:
            return self.problem
        text = _("audit chain ok: %(count)s records, head #%(seq)s %(hash)s") % {
            "count": self.count,
            "seq": self.head_seq,
            "hash": self.head_hash,
        }
        if self.checkpoints:
            text += _("; %(n)s checkpoints match") % {"n": self.checkpoints}
        return text


_COLUMNS = ("actor_id", *_TEXT_COLUMNS)


def _check_row(row: AuditRecord, expected_seq: int, prev: str) -> str:
    if row.seq != expected_seq:
        return _("record #%(seq)s is missing (found #%(next)s next)") % {
            "seq": expected_seq,
            "next": row.seq,
        }
    if row.prev_hash != prev:
        return _("record #%(seq)s: previous hash does not match record #%(prev)s") % {
            "seq": row.seq,
            "prev": row.seq - 1,
        }
    if not hmac.compare_digest(compute_hash(prev, row.payload), row.hash):
        return _("record #%(seq)s: hash does not match its payload") % {"seq": row.seq}
    try:
        data = json.loads(row.payload)
    except ValueError:
        return _("record #%(seq)s: payload is not JSON") % {"seq": row.seq}
    if data.get("seq") != row.seq:
        return _("record #%(seq)s: payload names sequence %(other)s") % {
            "seq": row.seq,
            "other": data.get("seq"),
        }
    for col in _COLUMNS:
        if data.get(col) != getattr(row, col):
            return _("record #%(seq)s: column %(column)s differs from its payload") % {
                "seq": row.seq,
                "column": col,
            }
    if data.get("at") != _json_default(row.at):
        return _("record #%(seq)s: column %(column)s differs from its payload") % {
            "seq": row.seq,
            "column": "at",
        }
    return ""


class MalformedCheckpoints(ValueError):
    """A checkpoint file that cannot be read as saved heads: verifying against it would silently
    compare nothing, so the verification fails instead."""


_CHECKPOINT_LINE = re.compile(r"^(\d+) ([0-9a-f]{64})(?: \S+)?$")


def read_checkpoints(path: Path) -> list[tuple[int, str]]:
    """The heads saved in `path`, one `seq hash [time]` per line (blank lines allowed).

    Any other line, a file that is not UTF-8 text, or two different hashes for one record make
    it malformed (MalformedCheckpoints), never skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedCheckpoints(
            _("checkpoint file %(path)s cannot be read: %(error)s") % {"path": path, "error": exc}
        ) from exc
    out: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _CHECKPOINT_LINE.match(line.strip())
        if match is None:
            raise MalformedCheckpoints(
                _("checkpoint file %(path)s, line %(line)s: not a saved head (sequence hash)")
                % {"path": path, "line": number}
            )
        seq, digest = int(match[1]), match[2]
        if out.setdefault(seq, digest) != digest:
            raise MalformedCheckpoints(
                _(
                    "checkpoint file %(path)s, line %(line)s: record #%(seq)s saved twice"
                    " with different hashes"
                )
                % {"path": path, "line": number, "seq": seq}
            )
    return list(out.items())


def verify_chain(*, checkpoints: Path | None = None, chunk: int = 5000) -> VerifyResult:
    """Recompute the whole chain; name the first broken record.

    With checkpoints (heads saved outside the database), a chain cut short after a checkpoint or
    rewritten before it is reported too.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    seen_hash: dict[int, str] = {}
    wanted = dict(read_checkpoints(checkpoints)) if checkpoints else {}
    last_seq = 0
    while True:
        rows = list(AuditRecord.objects.filter(seq__gte=expected_seq).order_by("seq")[:chunk])
        if not rows:
            break
        for row in rows:
            problem = _check_row(row, expected_seq, prev)
            if problem:
                return VerifyResult(False, count, last_seq, prev, problem, broken_seq=expected_seq)
            if row.seq in wanted:
                seen_hash[row.seq] = row.hash
            prev, last_seq, expected_seq, count = row.hash, row.seq, row.seq + 1, count + 1
    # The walk starts at #1: a row below it (forged with seq 0) is never met by it, so every row
    # the table holds must have been counted.
    total = AuditRecord.objects.count()
    if total != count:
        extra = AuditRecord.objects.filter(seq__lt=1).order_by("seq").first()
        extra_seq = extra.seq if extra else None
        return VerifyResult(
            False,
            count,
            last_seq,
            prev,
            _("record #%(seq)s: outside the chain (%(total)s rows, %(count)s in the chain)")
            % {"seq": extra_seq, "total": total, "count": count}
            if extra
            else _("%(total)s rows, %(count)s in the chain") % {"total": total, "count": count},
            broken_seq=extra_seq,
        )
    for seq, digest in sorted(wanted.items()):
        if seq == 0 and digest == GENESIS:  # a checkpoint taken while the chain was empty
            continue
        if seq > last_seq:
            return VerifyResult(
                False,
                count,
                last_seq,
                prev,
                _("chain truncated: checkpoint names record #%(seq)s, the chain ends at #%(last)s")
                % {"seq": seq, "last": last_seq},
                broken_seq=last_seq + 1,
            )
        if seen_hash.get(seq) != digest:
            return VerifyResult(
                False,
                count,
                last_seq,
                prev,
                _("record #%(seq)s: hash differs from the checkpoint") % {"seq": seq},
                broken_seq=seq,
            )
    return VerifyResult(True, count, last_seq, prev, checkpoints=len(wanted))


def store_checkpoint(*, to: Path | None = None) -> tuple[int, str, Path]:
    """Append the current head (sequence, hash) to a file outside the database."""
    path = Path(to or settings.AUDIT_CHECKPOINT_FILE)
    head = AuditRecord.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(f"{head[0]} {head[1]} {timezone.now().isoformat()}\n")
    return head[0], head[1], path


def atomic_service(func):
    """A door-level service: its own whole transaction (`atomic(durable=True)`)."""
    return transaction.atomic(durable=True)(func)

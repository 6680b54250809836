"""Two delivery workers (real processes on a SQLite file) to a local receiver; both killed with
SIGKILL mid-batch and restarted: every due notice is delivered, each delivery key succeeds
exactly once in the database, and a repeat at the receiver can only be a request that was in
flight when its worker was killed (the receiver drops it by its X-SafeWork-Delivery key)."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from safework.notify.testing import Receiver

ROOT = Path(__file__).resolve().parents[3]
N = 40
CONCURRENCY = 2  # requests each worker has in flight at once

SETUP = """
import datetime as dt
from django.utils import timezone
from safework.accounts.models import User
from safework.notify import services
from safework.notify.models import ChannelBinding
from safework.notify import shipped
for row in shipped.rows():  # notify's rules only: the whole catalogue takes longer
    row.model.objects.create(**row.key, **row.values)
user = User.objects.create(username="approver")
ChannelBinding.objects.create(user=user, channel="webhook", address="{url}/hook", secret="k")
for i in range({n}):
    services.emit(
        "permit.approval_waiting", key=f"permit:{{i}}:step:1", subject_label=f"DH-{{i}}",
        payload={{"number": f"DH-{{i}}", "roles": [], "url": "/"}}, site_id=None,
        at=timezone.now(), recipients_hint={{"approver": [user.pk]}},
    )
print(services.fan_out())
"""


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        SAFEWORK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        SAFEWORK_NOTIFY_LEASE_SECONDS="2",
        SAFEWORK_NOTIFY_BATCH="4",
        SAFEWORK_NOTIFY_CONCURRENCY=str(CONCURRENCY),
        **extra,
    )
    return env


def _manage(env, *args, **kw):
    return [sys.executable, str(ROOT / "manage.py"), *args]


def _workers(env, names):
    logs = Path(env["SAFEWORK_VAR_DIR"])
    out = []
    for name in names:
        with (logs / f"{name}.log").open("wb") as log:
            out.append(
                subprocess.Popen(
                    _manage(env, "notify", "worker", "--idle", "0.1", "--name", name),
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    return out


def _counts(db: Path) -> dict:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        by_status = dict(
            conn.execute(
                "select status, count(*) from notify_delivery where channel='webhook' "
                "group by status"
            ).fetchall()
        )
        ok_per_key = conn.execute(
            "select d.key, count(a.id) from notify_delivery d left join notify_attempt a "
            "on a.delivery_id = d.id and a.ok where d.channel='webhook' group by d.key"
        ).fetchall()
    return {"status": by_status, "ok_per_key": dict(ok_per_key)}


def test_sigkill_mid_batch_then_restart_delivers_each_notice_exactly_once(tmp_path):
    receiver = Receiver(stall=threading.Event(), stall_after=N // 2)
    url = receiver.start()
    env = _env(tmp_path)
    workers = []
    try:
        subprocess.run(
            _manage(env, "migrate", "--noinput"), env=env, cwd=ROOT, check=True, capture_output=True
        )
        setup = SETUP.format(url=url, n=N)
        subprocess.run(
            _manage(env, "shell", "-c", setup), env=env, cwd=ROOT, check=True, capture_output=True
        )
        workers = _workers(env, ["w1", "w2"])
        assert receiver.reached.wait(120), "the workers never reached the receiver"
        time.sleep(0.3)  # let the other worker stall too, or finish its request
        for p in workers:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        in_flight = {r.headers.get("X-SafeWork-Delivery") for r in receiver.requests[N // 2 :]}
        receiver.stall.set()  # the killed requests' sockets are gone; nothing more stalls
        receiver.stall = None
        workers = _workers(env, ["w3", "w4"])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if _counts(tmp_path / "db.sqlite3")["status"].get("sent") == N:
                break
            time.sleep(0.2)
    finally:
        for p in workers:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        receiver.stop()
    counts = _counts(tmp_path / "db.sqlite3")
    assert counts["status"] == {"sent": N}
    assert set(counts["ok_per_key"].values()) == {1}  # one successful attempt per key
    assert set(receiver.accepted) == set(counts["ok_per_key"])  # every key reached the receiver
    repeated = {key for key, n in receiver.accepted.items() if n > 1}
    # At most the requests in flight when the workers were killed: the outcomes that had come
    # back were stored even though the rest of their batch was still waiting.
    assert repeated <= in_flight and len(repeated) <= 2 * CONCURRENCY

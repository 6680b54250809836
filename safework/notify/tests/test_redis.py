"""At scale: huey on Redis (SAFEWORK_HUEY=redis). Emitting queues the delivery task on Redis;
two task consumers (real processes) deliver; both are killed with SIGKILL mid-batch and
restarted: every notice is delivered, each key succeeds exactly once in the database.

Marked `redis`: `.ci/run` runs it against the Redis at 127.0.0.1:6379 (database 15, emptied
first); `make test` leaves it out.
"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from safework.notify.testing import Receiver
from safework.notify.tests.test_kill import CONCURRENCY, ROOT, SETUP, N, _counts, _env, _manage

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("SAFEWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

POKE = """
import time
from safework.notify.models import Delivery
from safework.notify.tasks import deliver_task
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    if Delivery.objects.filter(channel="webhook").exclude(status="sent").count() == 0:
        break
    deliver_task.enqueue()
    time.sleep(1)
"""


def _consumers(env, names):
    logs = Path(env["SAFEWORK_VAR_DIR"])
    out = []
    for name in names:
        with (logs / f"{name}.log").open("wb") as log:
            out.append(
                subprocess.Popen(
                    _manage(env, "run_huey", "--workers", "1", "--no-periodic", "--skip-checks"),
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return out


def test_consumers_on_redis_killed_mid_batch_deliver_each_notice_once(tmp_path):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    receiver = Receiver(stall=threading.Event(), stall_after=N // 2)
    url = receiver.start()
    env = _env(
        tmp_path,
        SAFEWORK_HUEY="redis",
        REDIS_URL=REDIS_URL,
        SAFEWORK_NOTIFY_LOCK_SECONDS="3",
    )
    procs = []
    try:
        subprocess.run(
            _manage(env, "migrate", "--noinput"), env=env, cwd=ROOT, check=True, capture_output=True
        )
        procs = _consumers(env, ["c1", "c2"])
        # Emitting outside a transaction queues the delivery task on Redis at once.
        setup = SETUP.format(url=url, n=N).replace("print(services.fan_out())", "")
        subprocess.run(
            _manage(env, "shell", "-c", setup), env=env, cwd=ROOT, check=True, capture_output=True
        )
        assert receiver.reached.wait(120), "no consumer reached the receiver"
        time.sleep(0.3)
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        in_flight = {r.headers.get("X-SafeWork-Delivery") for r in receiver.requests[N // 2 :]}
        receiver.stall.set()
        receiver.stall = None
        procs = _consumers(env, ["c3", "c4"])
        subprocess.run(
            _manage(env, "shell", "-c", POKE), env=env, cwd=ROOT, check=True, capture_output=True
        )
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        receiver.stop()
    counts = _counts(tmp_path / "db.sqlite3")
    assert counts["status"] == {"sent": N}
    assert set(counts["ok_per_key"].values()) == {1}
    assert set(receiver.accepted) == set(counts["ok_per_key"])
    repeated = {key for key, n in receiver.accepted.items() if n > 1}
    assert repeated <= in_flight and len(repeated) <= 2 * CONCURRENCY

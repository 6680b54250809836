"""`safework serve`: prefixed output; a child that dies is restarted; a signal stops all."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command, get_commands

from safework.core.management.commands import serve
from safework.core.management.commands.serve import Child, Supervisor, demo_logins

PY = sys.executable


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_for(predicate, timeout=30.0):
    """Until `predicate()` holds. The timeout guards against a hang; it is no speed limit, so a
    test waits for an event with it and never asserts how soon the event came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A child that starts a grandchild (as granian starts its worker), prints its pid and waits.
PARENT = (
    "import subprocess, sys; "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print('grandchild', p.pid, flush=True); p.wait()"
)


def group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in the process group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def signal_when(predicate, signum=signal.SIGINT):
    """From a thread: once `predicate()` holds, signal this process (the supervisor's handler)."""

    def run():
        assert wait_for(predicate)
        os.kill(os.getpid(), signum)

    threading.Thread(target=run, daemon=True).start()


def started_pids(lines, name):
    prefix = re.compile(rf"^{name} *\| started \(pid (\d+)\)$")
    return [int(m[1]) for line in lines if (m := prefix.match(line))]


def test_a_child_killed_is_restarted_while_the_others_keep_serving():
    lines = []
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    children = [
        Child("web", [PY, "-m", "http.server", "--bind", "127.0.0.1", str(port)]),
        Child("worker", [PY, "-c", PARENT]),
    ]
    supervisor = Supervisor(children, write=lines.append, colour=False, restart_delay=0.1)
    seen = {}

    def kill_the_worker_then_stop():
        try:
            assert wait_for(lambda: answers(url) == 200 and any("grandchild" in x for x in lines))
            seen["web"] = children[0].popen.pid
            seen["worker"] = children[1].popen.pid
            seen["grandchild"] = next(int(x.split()[-1]) for x in lines if "grandchild" in x)
            os.kill(seen["worker"], signal.SIGKILL)
            assert wait_for(lambda: len(started_pids(lines, "worker")) == 2)
            seen["restarted"] = started_pids(lines, "worker")[1]
            seen["web after"] = children[0].popen.pid
            seen["web running"] = children[0].popen.poll() is None
            seen["answers"] = answers(url)
            seen["grandchild gone"] = wait_for(lambda: gone(seen["grandchild"]))
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=kill_the_worker_then_stop, daemon=True).start()
    assert supervisor.run() == 0

    assert seen["restarted"] != seen["worker"], lines
    assert seen["web after"] == seen["web"]
    assert seen["web running"]
    assert seen["answers"] == 200
    assert seen["grandchild gone"]  # what the dead worker left in its group went with it
    assert started_pids(lines, "web") == [seen["web"]]  # the web child was never restarted
    assert any(
        re.match(r"^worker \| killed by SIGKILL after [\d.]+ s; restarting in 0.1 s$", x)
        for x in lines
    ), lines
    assert all(c.popen.returncode is not None for c in children)
    assert not group_alive(seen["restarted"])


def test_a_child_that_fails_at_once_is_restarted_ever_later_and_reset_once_stable(tmp_path):
    """Delays double from 0.1 s to the 0.4 s cap; a run longer than `stable_after` resets them."""
    counter = tmp_path / "runs"
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
        'echo "run $n"; '
        "if [ $n -eq 5 ]; then sleep 4; exit 4; fi; "
        "if [ $n -ge 7 ]; then exec sleep 60; fi; "
        "exit 3"
    )
    lines = []
    stamped = []

    def write(line):
        stamped.append((time.monotonic(), line))
        lines.append(line)

    children = [Child("flaky", ["/bin/sh", "-c", script])]
    supervisor = Supervisor(
        children,
        write=write,
        colour=False,
        restart_delay=0.1,
        restart_delay_cap=0.4,
        stable_after=3.0,
    )
    signal_when(lambda: "flaky | run 7" in lines)
    assert supervisor.run() == 0

    restarts = [
        (at, re.match(r"^flaky \| (.*) after [\d.]+ s; restarting in ([\d.]+) s$", line))
        for at, line in stamped
    ]
    restarts = [(at, m[1], float(m[2])) for at, m in restarts if m]
    assert [(what, delay) for _, what, delay in restarts] == [
        ("exited with status 3", 0.1),
        ("exited with status 3", 0.2),
        ("exited with status 3", 0.4),
        ("exited with status 3", 0.4),  # the cap
        ("exited with status 4", 0.1),  # it had run stably: back to the first delay
        ("exited with status 3", 0.2),
    ]
    # No spinning: each start waits at least the delay announced before it.
    starts = [at for at, line in stamped if line.startswith("flaky | started (pid")]
    assert len(starts) == 7
    for (announced, _, delay), started in zip(restarts, starts[1:], strict=True):
        assert started - announced >= delay
    assert lines[-1] == "flaky | stopped (status -15)"  # the long run, stopped (SIGTERM)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_every_child_and_succeeds(signum):
    lines = []
    children = [
        Child("one", [PY, "-c", "import time; print('up', flush=True); time.sleep(60)"]),
        Child("two", [PY, "-c", PARENT], stop_signal=signal.SIGINT),
    ]
    supervisor = Supervisor(children, write=lines.append, colour=False, stop_timeout=5)

    def press_ctrl_c():
        wait_for(lambda: "one | up" in lines and any("grandchild" in x for x in lines))
        os.kill(os.getpid(), signum)  # the supervisor's handler, not KeyboardInterrupt

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    assert supervisor.run() == 0
    assert all(c.popen.returncode is not None for c in children)
    assert not any(group_alive(c.popen.pid) for c in children)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1  # and the wakeup fd


# Run in its own process (a hang there cannot hang pytest): supervisors over and over, each
# sent SIGTERM at random moments until run() returns, then every child's whole process group
# must be gone. Two sources of moments: a thread that signals after a random sleep and then
# every few milliseconds (before, while and after the children start, while they are stopped),
# and a tracer that raises the signal at a random line executed by the main thread in the
# supervisor or in `threading` (so also inside a lock's or an event's own code, where a handler
# that takes a lock deadlocks).
PESTERED = """
import os, random, signal, sys, threading
from pathlib import Path
from safework.core.management.commands import serve
from safework.core.management.commands.serve import Child, Supervisor

def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False

rounds, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
traced = {serve.__file__, threading.__file__}
signal.signal(signal.SIGTERM, lambda *_: None)  # outside run(): a stray SIGTERM is harmless
for i in range(rounds):
    children = [
        Child("group", ["/bin/sh", "-c", "sleep 60 & wait"]),
        Child("sleeper", ["sleep", "60"]),
    ]
    supervisor = Supervisor(children, write=lambda line: None, colour=False, stop_timeout=5)
    done = threading.Event()
    lines_left = [rng.randint(1, 300)]

    def line(frame, event, arg):
        if not lines_left:
            return None
        if event == "line":
            lines_left[0] -= 1
            if lines_left[0] == 0:
                lines_left.clear()
                signal.raise_signal(signal.SIGTERM)
        return line

    def call(frame, event, arg):
        return line if lines_left and frame.f_code.co_filename in traced else None

    def pester():
        done.wait(rng.uniform(0, 0.3))
        while not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)
            done.wait(rng.uniform(0, 0.01))

    thread = threading.Thread(target=pester)
    thread.start()
    sys.settrace(call)
    try:
        assert supervisor.run() == 0
    finally:
        sys.settrace(None)
    done.set()
    thread.join()
    for child in children:
        if child.popen is not None:
            assert child.popen.returncode is not None, (i, child.name)
            for _ in range(600):  # 30 s: a hang guard, not a speed limit
                if not group_alive(child.popen.pid):
                    break
                done.wait(0.05)
            else:
                raise AssertionError(f"round {i}: {child.name}'s group lives on")
    print("round", i, "stopped", flush=True)
"""


def test_sigterm_at_random_moments_always_stops_everything():
    rounds = 150
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "safework.settings"}
    proc = subprocess.Popen(
        [PY, "-c", PESTERED, str(rounds), str(int(time.time()))],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=240)  # a hang guard, not a speed limit
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"a supervisor did not stop after SIGTERM:\n{output[-3000:]}")
    assert proc.returncode == 0, output[-3000:]
    assert output.count(" stopped\n") == rounds


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout():
    lines = []
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    stamped = {}

    def write(line):
        stamped.setdefault(line, time.monotonic())
        lines.append(line)

    children = [Child("stubborn", [PY, "-c", stubborn])]
    supervisor = Supervisor(children, write=write, colour=False, stop_timeout=1)
    signal_when(lambda: "stubborn | ready" in lines, signal.SIGTERM)
    assert supervisor.run() == 0
    # Killed, not ended on its own: left alone it would sleep its 60 s and exit with status 0.
    assert children[0].popen.returncode == -signal.SIGKILL
    assert lines[-1] == f"stubborn | stopped (status {-signal.SIGKILL})"
    # And not before its time: the timeout is a lower bound, whatever the machine's speed.
    assert stamped[lines[-1]] - supervisor.stopping_since >= 1


def test_a_second_signal_while_stopping_kills_at_once():
    lines = []
    stamped = {}

    def write(line):
        stamped.setdefault(line, time.monotonic())
        lines.append(line)

    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    children = [Child("stubborn", [PY, "-c", stubborn])]
    supervisor = Supervisor(children, write=write, colour=False, stop_timeout=60)

    def press_ctrl_c_twice():
        wait_for(lambda: "stubborn | ready" in lines)
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: supervisor.stopping_since is not None)
        os.kill(os.getpid(), signal.SIGTERM)  # a repeated SIGTERM (make passes it on): wait on
        # Past IMPATIENT_AFTER: a Ctrl-C sooner than that is the same stop request repeated.
        time.sleep(1.5)
        assert children[0].popen.poll() is None
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c_twice, daemon=True).start()
    assert supervisor.run() == 0
    assert children[0].popen.returncode == -signal.SIGKILL
    # Killed because of the second Ctrl-C, before the stop timeout would have killed it.
    stopped = f"stubborn | stopped (status {-signal.SIGKILL})"
    assert stamped[stopped] < supervisor.stopping_since + supervisor.stop_timeout


def test_prefixes_are_coloured_on_request():
    supervisor = Supervisor([Child("web", []), Child("registry", [])], write=print, colour=True)
    assert supervisor.prefix(0, "web") == "\x1b[36;1mweb      | \x1b[0m"
    assert Supervisor([Child("web", [])], write=print, colour=False).prefix(0, "web") == "web | "


def test_demo_logins_are_printed_with_their_file(tmp_path):
    path = tmp_path / "demo-logins.txt"
    path.write_text(
        "# role user password\nadministrator admin pw-1\nsafety_officer officer1 pw-2\n"
    )
    path.chmod(0o600)
    assert demo_logins(path) == [
        f"Demo logins (password file: {path}):",
        "  role            user      password",
        "  administrator   admin     pw-1",
        "  safety_officer  officer1  pw-2",
    ]
    path.chmod(0o644)
    assert "readable by other users" in demo_logins(path)[-1]


def test_without_demo_logins_serve_says_how_to_make_an_administrator(tmp_path):
    text = "\n".join(demo_logins(tmp_path / "demo-logins.txt"))
    assert "does not exist" in text
    assert "safework createsuperuser" in text
    assert "password" in text


def test_the_registry_starts_only_once_its_command_exists(monkeypatch, settings):
    command = serve.Command()
    monkeypatch.setattr(serve, "get_commands", lambda: {"serve": "safework.core"})
    names = [c.name for c in command.children(host="127.0.0.1", port=1, registry_port=2)]
    assert names == ["web", "tasks"]

    monkeypatch.setattr(serve, "get_commands", lambda: {"fake_registry": "safework.certs"})
    children = command.children(host="127.0.0.1", port=8123, registry_port=8124)
    assert [c.name for c in children] == ["web", "tasks", "registry"]
    web, tasks, registry = children
    assert web.argv[1:] == [
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--workers",
        "1",
        "--blocking-threads",
        web.argv[web.argv.index("--blocking-threads") + 1],
        "--no-ws",
        "--access-log",
        "safework.wsgi:application",
    ]
    assert tasks.argv[1:] == ["-m", "django", "run_huey", "--skip-checks"]
    where = ["--host", "127.0.0.1", "--port", "8124"]
    assert registry.argv[1:] == ["-m", "django", "fake_registry", "--skip-checks", *where]

    settings.HUEY = {**settings.HUEY, "immediate": True}
    assert "tasks" not in [c.name for c in command.children(host="h", port=1, registry_port=2)]


def test_a_port_in_use_is_refused_before_anything_starts():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} on 127.0.0.1 is in use"):
            call_command("serve", "--port", str(port), stdout=StringIO())


# ---------------------------------------------------------------------------------------------
# The real command in its own process, as `make run` starts it.


def answers(url):
    """The HTTP status the URL answers with, or None when nothing listens."""
    try:
        # Generous: a loaded machine answers slowly, and a slow answer is still an answer.
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except OSError:
        return None


def pids(text):
    found = {m[0]: int(m[1]) for m in re.findall(r"^(\w+) *\| started \(pid (\d+)\)", text, re.M)}
    if worker := re.search(r"Spawning worker-1 with PID: (\d+)", text):
        found["worker"] = int(worker[1])  # granian's worker, a grandchild
    return found


def manage_env(var_dir, port, registry_port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFEWORK_", "DATABASE_URL"))}
    return env | {
        "SAFEWORK_VAR_DIR": str(var_dir),
        "SAFEWORK_PORT": str(port),
        "SAFEWORK_REGISTRY_PORT": str(registry_port),
    }


MANAGE = [PY, str(django_settings.BASE_DIR / "manage.py")]
REGISTRY = "fake_registry" in get_commands()  # serve starts the registry once it exists


def serve_until_up(tmp_path, log, *, port, registry_port, then):
    """Start `manage.py serve` as `make run` does, wait until the API answers, call `then`."""
    api = f"http://127.0.0.1:{port}/api/v1/openapi.json"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*MANAGE, "serve"],
            env=manage_env(tmp_path, port, registry_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_for(lambda: answers(api) == 200 or proc.poll() is not None, timeout=60)
        assert answers(api) == 200, log.read_text()
        assert wait_for(lambda: "tasks" in pids(log.read_text()))
        if REGISTRY:
            registry = f"http://127.0.0.1:{registry_port}/certificates?id_number=x&number=y"
            assert wait_for(lambda: answers(registry) is not None), log.read_text()
        running = pids(log.read_text())
        then(proc, running)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert "Demo logins (password file:" in text
    assert re.search(r"^  administrator +admin +demo-password-1$", text, re.M)
    assert f"http://127.0.0.1:{port}/admin/" in text
    assert re.search(r"^web +\| .*GET /api/v1/openapi.json", text, re.M)
    assert re.search(r"^tasks +\| .*Huey consumer started", text, re.M)
    assert {"web", "tasks", "worker"} | ({"registry"} if REGISTRY else set()) <= set(running)
    assert all(wait_for(lambda p=p: gone(p)) for p in running.values())
    assert answers(api) is None
    return proc.returncode, text


def test_serve_runs_web_and_tasks_restarts_a_killed_worker_and_stops_them_together(tmp_path):
    (tmp_path / "demo-logins.txt").write_text("administrator admin demo-password-1\n")
    (tmp_path / "demo-logins.txt").chmod(0o600)
    ports = {"port": free_port(), "registry_port": free_port()}
    # As `make run` does before it serves (the registry reads certificates).
    migrate = subprocess.run(
        [*MANAGE, "migrate", "--noinput", "--verbosity", "0"],
        env=manage_env(tmp_path, **ports),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr

    log = tmp_path / "serve.log"
    api = f"http://127.0.0.1:{ports['port']}/api/v1/openapi.json"
    seen = {}

    def kill_the_worker_then_stop(proc, running):
        os.kill(running["tasks"], signal.SIGKILL)
        assert wait_for(lambda: pids(log.read_text())["tasks"] != running["tasks"]), log.read_text()
        again = pids(log.read_text())
        seen["tasks"] = again["tasks"]
        assert wait_for(lambda: "Huey consumer started" in log.read_text().split("killed by")[-1])
        assert again["web"] == running["web"]  # the web server was not restarted
        assert not gone(running["web"]) and not gone(running["worker"])
        assert answers(api) == 200
        proc.send_signal(signal.SIGTERM)

    status, text = serve_until_up(tmp_path, log, **ports, then=kill_the_worker_then_stop)
    assert status == 0, text
    assert re.search(r"^tasks +\| killed by SIGKILL after [\d.]+ s; restarting in 1 s$", text, re.M)
    assert wait_for(lambda: gone(seen["tasks"]))
    assert re.search(r"^web +\| stopped \(status 0\)$", text, re.M)
    # The ports are free again, so the next `make run` can start.
    assert serve.port_free("127.0.0.1", ports["port"])
    assert serve.port_free("127.0.0.1", ports["registry_port"])

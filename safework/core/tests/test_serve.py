"""`safework serve`: children with prefixed output, stopped together; one dies, all stop."""

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


def test_a_child_that_exits_stops_the_others_and_fails():
    lines = []
    children = [
        Child("parent", [PY, "-c", PARENT]),
        Child("quitter", [PY, "-c", "import time; time.sleep(1); print('bye'); exit(3)"]),
    ]
    with pytest.raises(CommandError, match="quitter exited with status 3; stopped the others"):
        Supervisor(children, write=lines.append, colour=False, stop_timeout=5).run()

    assert "quitter | bye" in lines
    grandchild = next(int(x.split()[-1]) for x in lines if x.startswith("parent  | grandchild"))
    assert children[0].popen.returncode == -signal.SIGTERM
    assert wait_for(lambda: gone(grandchild), timeout=5)  # its whole process group was stopped
    assert lines[-2:] == ["parent  | stopped (status -15)", "quitter | stopped (status 3)"]


def test_a_signal_stops_every_child_and_succeeds():
    lines = []
    children = [
        Child("one", [PY, "-c", "import time; print('up', flush=True); time.sleep(60)"]),
        Child("two", [PY, "-c", PARENT], stop_signal=signal.SIGINT),
    ]
    supervisor = Supervisor(children, write=lines.append, colour=False, stop_timeout=5)

    def press_ctrl_c():
        wait_for(lambda: "one | up" in lines and any("grandchild" in x for x in lines))
        os.kill(os.getpid(), signal.SIGINT)  # the supervisor's handler, not KeyboardInterrupt

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    assert supervisor.run() == 0
    assert all(c.popen.returncode is not None for c in children)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout():
    lines = []
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    children = [
        Child("stubborn", [PY, "-c", stubborn]),
        Child("quitter", [PY, "-c", "import time; time.sleep(1)"]),
    ]
    started = time.monotonic()
    with pytest.raises(CommandError, match="quitter exited with status 0"):
        Supervisor(children, write=lines.append, colour=False, stop_timeout=1).run()
    assert children[0].popen.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 20


def test_a_second_signal_while_stopping_kills_at_once():
    lines = []
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    children = [Child("stubborn", [PY, "-c", stubborn])]
    supervisor = Supervisor(children, write=lines.append, colour=False, stop_timeout=60)

    def press_ctrl_c_twice():
        wait_for(lambda: "stubborn | ready" in lines)
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: supervisor.stopping_since is not None)
        os.kill(os.getpid(), signal.SIGTERM)  # a repeated SIGTERM (make passes it on): wait on
        time.sleep(1.5)
        assert children[0].popen.poll() is None
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c_twice, daemon=True).start()
    started = time.monotonic()
    assert supervisor.run() == 0
    assert children[0].popen.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 30  # not the 60 s stop timeout


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
        with urllib.request.urlopen(url, timeout=2) as response:
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
    assert all(wait_for(lambda p=p: gone(p), timeout=10) for p in running.values())
    assert answers(api) is None
    return proc.returncode, text


def test_serve_runs_web_and_tasks_and_stops_them_together(tmp_path):
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

    status, text = serve_until_up(
        tmp_path,
        tmp_path / "serve.log",
        **ports,
        then=lambda proc, running: proc.send_signal(signal.SIGTERM),
    )
    assert status == 0, text
    assert re.search(r"^web +\| stopped \(status 0\)$", text, re.M)
    # The ports are free again, so the next `make run` can start (dying children are covered by
    # the Supervisor tests above).
    assert serve.port_free("127.0.0.1", ports["port"])
    assert serve.port_free("127.0.0.1", ports["registry_port"])

"""`safework serve`: every process the product needs, in one terminal (what `make run` ends with).

web (granian, WSGI), tasks (the huey consumer, which also runs the periodic jobs) and registry (the
demo fake, once its command exists) run as child processes. Their output comes back line by line
with a coloured "name | " prefix. Ctrl-C or SIGTERM stops them all together; if one of them dies,
the others are stopped and the command exits non-zero, so a half-running product never passes
for a running one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import supports_color
from django.utils.termcolors import colorize

COLOURS = ("cyan", "magenta", "yellow", "green", "blue")
STOP_TIMEOUT = 10.0  # seconds a child gets to stop before it is killed


@dataclass
class Child:
    """One supervised process: its name (the log prefix), command line and stop signal."""

    name: str
    argv: list[str]
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen | None = field(default=None, repr=False)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: should the supervisor itself be killed (SIGKILL), its children get SIGTERM instead
    # of living on as orphans that hold the ports.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Start children, relay their output, stop them together.

    `run()` returns 0 after a requested stop (a signal) and raises CommandError naming the child
    when one exits by itself.
    """

    def __init__(self, children: list[Child], *, write, colour: bool, stop_timeout=STOP_TIMEOUT):
        self.children = children
        self.write = write  # a callable taking one line of text
        self.colour = colour
        self.stop_timeout = stop_timeout
        self.width = max(len(c.name) for c in children)
        self.lock = threading.Lock()
        self.stop_requested = threading.Event()
        self.readers: list[threading.Thread] = []
        self.stopping_since: float | None = None

    def prefix(self, index: int, name: str) -> str:
        label = f"{name.ljust(self.width)} | "
        if self.colour:
            return colorize(label, fg=COLOURS[index % len(COLOURS)], opts=("bold",))
        return label

    def say(self, index: int, name: str, text: str) -> None:
        with self.lock:
            self.write(self.prefix(index, name) + text)

    def _relay(self, index: int, child: Child) -> None:
        for raw in iter(child.popen.stdout.readline, b""):
            self.say(index, child.name, raw.decode("utf-8", "replace").rstrip("\r\n"))
        child.popen.stdout.close()

    def _on_signal(self, signum, frame) -> None:
        # A second Ctrl-C while stopping means "no more waiting". Only Ctrl-C, and only a while
        # after the first signal: `kill -- -PGID` on `make run` delivers SIGTERM twice at once
        # (to the group, and make passes it on to its child).
        impatient = signum == signal.SIGINT and self.stopping_since is not None
        if impatient and time.monotonic() - self.stopping_since > 1.0:
            for child in self.children:
                if child.popen is not None:
                    self._signal_group(child, signal.SIGKILL)
        self.stop_requested.set()

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {s: signal.signal(s, self._on_signal) for s in handled}
        try:
            return self._run()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _run(self) -> int:
        env = os.environ | {"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "safework.settings"}
        linux = sys.platform.startswith("linux")
        try:
            # Every child is started before any relay thread exists: preexec_fn is only safe in
            # a process without threads.
            for child in self.children:
                child.popen = subprocess.Popen(
                    child.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=settings.BASE_DIR,
                    # Its own process group: the terminal's Ctrl-C reaches only the supervisor,
                    # which then stops each child (and its workers) in order.
                    process_group=0,
                    preexec_fn=_die_with_parent if linux else None,
                )
            for index, child in enumerate(self.children):
                self.say(index, child.name, f"started (pid {child.popen.pid})")
                reader = threading.Thread(target=self._relay, args=(index, child), daemon=True)
                reader.start()
                self.readers.append(reader)
            died = self._watch()
        finally:
            self._stop_all()
        if died is not None:
            raise CommandError(
                f"{died.name} exited with status {died.popen.returncode}; stopped the others."
            )
        return 0

    def _watch(self) -> Child | None:
        while not self.stop_requested.wait(0.2):
            for child in self.children:
                if child.popen.poll() is not None:
                    return child
        return None

    def _signal_group(self, child: Child, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.popen.pid, signum)

    def _stop_all(self) -> None:
        self.stopping_since = time.monotonic()
        started = [c for c in self.children if c.popen is not None]
        for child in started:
            # Also when the leader has exited: its workers may still be in its group.
            self._signal_group(child, child.stop_signal)
        deadline = time.monotonic() + self.stop_timeout
        for child in started:
            try:
                child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(child, signal.SIGKILL)
                child.popen.wait()
        for child in started:
            self._signal_group(child, signal.SIGKILL)  # any worker left behind in the group
        for reader in self.readers:
            reader.join(timeout=2)
        for index, child in enumerate(started):
            self.say(index, child.name, f"stopped (status {child.popen.returncode})")


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # As the servers do: a port left in TIME_WAIT by the previous run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def demo_logins(path: Path) -> list[str]:
    """The lines to print about logging in: the demo logins, or how to make an administrator."""
    if not path.exists():
        return [
            f"No demo logins yet ({path} does not exist).",
            "Create an administrator with a password: safework createsuperuser",
            "or load the demo data with its logins: safework seed --demo",
        ]
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.split(maxsplit=2) for line in lines if line.strip() and not line.startswith("#")]
    rows = [r + [""] * (3 - len(r)) for r in rows]
    role_w = max([len("role"), *(len(r[0]) for r in rows)])
    user_w = max([len("user"), *(len(r[1]) for r in rows)])
    lines = [f"Demo logins (password file: {path}):"]
    for role, user, password in [("role", "user", "password"), *rows]:
        lines.append(f"  {role.ljust(role_w)}  {user.ljust(user_w)}  {password}".rstrip())
    if path.stat().st_mode & 0o077:
        lines.append(f"Warning: {path} is readable by other users; chmod 600 it.")
    return lines


class Command(BaseCommand):
    help = (
        "Run SafeWork: the web server, the task worker and the demo registry, with prefixed logs;"
        " Ctrl-C stops them all."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
        parser.add_argument(
            "--port",
            type=int,
            default=settings.SERVE_PORT,
            help="web port (SAFEWORK_PORT, default 8000)",
        )
        parser.add_argument(
            "--registry-port",
            type=int,
            default=settings.REGISTRY_PORT,
            help="port of the demo registry (SAFEWORK_REGISTRY_PORT, default 8001)",
        )

    def children(self, *, host: str, port: int, registry_port: int) -> list[Child]:
        python = sys.executable
        # Django's views block, so WSGI threads beyond about two per core only queue up.
        threads = min(8, (os.cpu_count() or 1) * 2 + 1)
        web = Child(
            "web",
            [python, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port)]
            + ["--workers", "1", "--blocking-threads", str(threads), "--no-ws", "--access-log"]
            + ["safework.wsgi:application"],
        )
        children = [web]
        # `make run` has just checked the project (migrate); each child need not do it again.
        manage = [python, "-m", "django"]
        if not settings.HUEY.get("immediate"):
            # SIGINT is the huey consumer's graceful stop: a running task is allowed to finish.
            children.append(
                Child("tasks", [*manage, "run_huey", "--skip-checks"], stop_signal=signal.SIGINT)
            )
        if "fake_registry" in get_commands():
            where = ["--host", host, "--port", str(registry_port)]
            children.append(Child("registry", [*manage, "fake_registry", "--skip-checks", *where]))
        return children

    def handle(self, *, host, port, registry_port, **options):
        children = self.children(host=host, port=port, registry_port=registry_port)
        names = {c.name for c in children}
        ports = {"web": port, "registry": registry_port}
        for name, number in ports.items():
            if name in names and not port_free(host, number):
                variable = "SAFEWORK_PORT" if name == "web" else "SAFEWORK_REGISTRY_PORT"
                raise CommandError(
                    f"Port {number} on {host} is in use (is SafeWork already running?)."
                    f" Stop that process, or choose another port with {variable}=…"
                )

        for line in demo_logins(Path(settings.VAR_DIR) / "demo-logins.txt"):
            self.stdout.write(line)
        base = f"http://{host}:{port}"
        self.stdout.write(f"SafeWork: {base}/admin/  API docs: {base}/api/v1/docs")
        if "registry" in names:
            self.stdout.write(f"Demo registry: http://{host}:{registry_port}/certificates")
        else:
            self.stdout.write("Demo registry: not started (no fake_registry command yet)")
        if "tasks" not in names:
            self.stdout.write("Tasks: run inside the web process (SAFEWORK_TASKS_IMMEDIATE=true)")
        self.stdout.write("Press Ctrl-C to stop everything.")
        self.stdout.flush()

        colour = options.get("force_color") or (not options.get("no_color") and supports_color())

        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        Supervisor(children, write=write, colour=bool(colour)).run()

"""`safework serve`: every process the product needs, in one terminal (what `make run` ends with).

web (granian, WSGI), tasks (the huey consumer, which also runs the periodic jobs) and registry (the
demo fake, once its command exists) run as child processes. Their output comes back line by line
with a coloured "name | " prefix. A child that dies by itself is logged (its status or signal) and
started again after a delay that doubles with each quick failure (up to a cap, back to the start
once it has run stably), while the others keep serving. Only Ctrl-C, SIGTERM or SIGHUP stops
everything: each child's process group gets its stop signal, then SIGKILL after a timeout.

The signal handlers take no lock: they append the signal number to a list, and the main thread,
which sleeps in `select` on a self-pipe that `signal.set_wakeup_fd` writes to (SIGCHLD included),
does all the work. (An earlier version called `threading.Event.set()` in the handler, which
deadlocks when the signal lands while the main thread holds that event's lock inside `wait()`.)
"""

from __future__ import annotations

import contextlib
import os
import select
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
RESTART_DELAY = 1.0  # seconds before the first restart of a child that died
RESTART_DELAY_CAP = 30.0  # the delay doubles with each quick failure, up to this
STABLE_AFTER = 60.0  # a child that ran this long before dying starts again from RESTART_DELAY
IMPATIENT_AFTER = 1.0  # a Ctrl-C this long after the first stop signal kills at once
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Run before the child's own command (exec keeps the pid): on Linux, should the supervisor itself
# be killed (SIGKILL), its children get SIGTERM instead of living on as orphans that hold the
# ports. An exec wrapper rather than `preexec_fn`, which is unsafe once relay threads exist.
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]): os._exit(1)  # the parent is already gone\n"
    "try:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "except OSError as exc:\n"
    "    print(f'cannot run {sys.argv[2]}: {exc}', flush=True)\n"
    "    os._exit(127)\n"
)


@dataclass
class Child:
    """One supervised process: its name (the log prefix), command line and stop signal."""

    name: str
    argv: list[str]
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = field(default=0.0, repr=False)
    failures: int = field(default=0, repr=False)  # quick deaths in a row
    restart_at: float | None = field(default=None, repr=False)  # when to start it again
    reader: threading.Thread | None = field(default=None, repr=False)  # relays its output


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


class Supervisor:
    """Start children, relay their output, restart the ones that die, stop them together.

    `run()` blocks in the main thread (signal handlers and the wakeup fd need it) until Ctrl-C,
    SIGTERM or SIGHUP, stops every child and returns 0.
    """

    def __init__(
        self,
        children: list[Child],
        *,
        write,
        colour: bool,
        stop_timeout: float = STOP_TIMEOUT,
        restart_delay: float = RESTART_DELAY,
        restart_delay_cap: float = RESTART_DELAY_CAP,
        stable_after: float = STABLE_AFTER,
    ):
        self.children = children
        self.write = write  # a callable taking one line of text
        self.colour = colour
        self.stop_timeout = stop_timeout
        self.restart_delay = restart_delay
        self.restart_delay_cap = restart_delay_cap
        self.stable_after = stable_after
        self.width = max(len(c.name) for c in children)
        self.lock = threading.Lock()  # one output line at a time; no signal handler takes it
        self.signals: list[int] = []  # appended by the handler, taken by the main thread
        self.stop_requested = False
        self.stopping_since: float | None = None
        self.readers: list[threading.Thread] = []
        self._wakeup = -1  # the read end of the self-pipe

    def prefix(self, index: int, name: str) -> str:
        label = f"{name.ljust(self.width)} | "
        if self.colour:
            return colorize(label, fg=COLOURS[index % len(COLOURS)], opts=("bold",))
        return label

    def say(self, index: int, name: str, text: str) -> None:
        with self.lock:
            self.write(self.prefix(index, name) + text)

    def _relay(self, index: int, child: Child, stdout) -> None:
        for raw in iter(stdout.readline, b""):
            self.say(index, child.name, raw.decode("utf-8", "replace").rstrip("\r\n"))
        stdout.close()

    def _on_signal(self, signum, frame) -> None:
        # Runs in the main thread between two bytecodes, possibly while it holds any lock: so it
        # takes none (a list append is atomic) and leaves the work to the main loop, which the
        # wakeup fd has already woken.
        if signum != signal.SIGCHLD:
            self.signals.append(signum)

    def run(self) -> int:
        read_end, write_end = os.pipe()
        for fd in (read_end, write_end):
            os.set_blocking(fd, False)
        self._wakeup = read_end
        previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        previous = {}
        try:
            # SIGCHLD too, so that a child's death wakes the main loop at once.
            for signum in (*STOP_SIGNALS, signal.SIGCHLD):
                previous[signum] = signal.signal(signum, self._on_signal)
            return self._run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_fd)
            os.close(read_end)
            os.close(write_end)

    def _run(self) -> int:
        try:
            for index, child in enumerate(self.children):
                if self._take_signals() or self.stop_requested:
                    break
                self._start(index, child)
            self._watch()
        finally:
            self._stop_all()
        return 0

    # --- the main loop ----------------------------------------------------------------------

    def _take_signals(self) -> list[int]:
        """The signals received since the last call (oldest first); notes a stop request."""
        taken = []
        while self.signals:
            taken.append(self.signals.pop(0))
        if any(s in STOP_SIGNALS for s in taken):
            self.stop_requested = True
        return taken

    def _sleep(self, timeout: float) -> None:
        """Until a signal arrives (SIGCHLD included) or `timeout` seconds have passed."""
        select.select([self._wakeup], [], [], max(0.0, timeout))
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wakeup, 512):
                pass

    def _watch(self) -> None:
        while True:
            self._take_signals()
            if self.stop_requested:
                return
            now = time.monotonic()
            for index, child in enumerate(self.children):
                if child.restart_at is None and child.popen.poll() is not None:
                    self._died(index, child, now)
                elif child.restart_at is not None and child.restart_at <= now:
                    self._start(index, child)
            # A restart due, or (should a wakeup ever be missed) a look every second.
            due = [c.restart_at - now for c in self.children if c.restart_at is not None]
            self._sleep(min([1.0, *due]))

    def _start(self, index: int, child: Child) -> None:
        argv = child.argv
        if sys.platform.startswith("linux"):
            argv = [sys.executable, "-I", "-S", "-c", DIE_WITH_PARENT, str(os.getpid()), *argv]
        env = os.environ | {"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "safework.settings"}
        child.restart_at = None
        child.started_at = time.monotonic()
        try:
            child.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=settings.BASE_DIR,
                # Its own process group: the terminal's Ctrl-C reaches only the supervisor,
                # which then stops each child (and its workers) in order.
                process_group=0,
            )
        except OSError as exc:
            if child.popen is None:  # never started: a wrong command line, not a crash
                raise CommandError(f"{child.name} cannot start: {exc}") from exc
            self._schedule_restart(index, child, f"cannot start again ({exc})", ran=0.0)
            return
        self.say(index, child.name, f"started (pid {child.popen.pid})")
        child.reader = threading.Thread(
            target=self._relay, args=(index, child, child.popen.stdout), daemon=True
        )
        child.reader.start()
        self.readers = [r for r in self.readers if r.is_alive()] + [child.reader]

    def _died(self, index: int, child: Child, now: float) -> None:
        self._signal_group(child, signal.SIGKILL)  # whatever it left behind in its group
        child.reader.join(timeout=1)  # its last lines before the news of its death
        what = describe_exit(child.popen.returncode)
        self._schedule_restart(index, child, what, ran=now - child.started_at)

    def _schedule_restart(self, index: int, child: Child, what: str, *, ran: float) -> None:
        child.failures = 1 if ran >= self.stable_after else child.failures + 1
        doublings = min(child.failures - 1, 32)
        delay = min(self.restart_delay_cap, self.restart_delay * 2**doublings)
        child.restart_at = time.monotonic() + delay
        self.say(index, child.name, f"{what} after {ran:.1f} s; restarting in {delay:.3g} s")

    # --- stopping ---------------------------------------------------------------------------

    def _signal_group(self, child: Child, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.popen.pid, signum)

    def _stop_all(self) -> None:
        self.stopping_since = time.monotonic()
        started = [c for c in self.children if c.popen is not None]
        for child in started:
            # Also when the leader has exited: its workers may still be in its group.
            self._signal_group(child, child.stop_signal)
        deadline = self.stopping_since + self.stop_timeout
        while any(c.popen.poll() is None for c in started):
            now = time.monotonic()
            # A second Ctrl-C while stopping means "no more waiting". Only Ctrl-C, and only a
            # while after the first signal: `kill -- -PGID` on `make run` delivers SIGTERM twice
            # at once (to the group, and make passes it on to its child).
            impatient = signal.SIGINT in self._take_signals()
            if now >= deadline or (impatient and now - self.stopping_since > IMPATIENT_AFTER):
                break
            self._sleep(min(1.0, deadline - now))
        for child in started:
            if child.popen.poll() is None:
                self._signal_group(child, signal.SIGKILL)
                child.popen.wait()
        for child in started:
            self._signal_group(child, signal.SIGKILL)  # any worker left behind in the group
        for reader in self.readers:
            reader.join(timeout=2)
        for index, child in enumerate(self.children):
            if child.popen is not None:
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

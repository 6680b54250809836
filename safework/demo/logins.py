"""The demo logins file: `VAR_DIR/demo-logins.txt`, mode 0600, one "role username password" a line.

Passwords are generated once; later runs read them back, so `make run` prints the same logins on
every start and never changes a password someone has written down.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings

FILE_NAME = "demo-logins.txt"


def default_path() -> Path:
    return Path(settings.VAR_DIR) / FILE_NAME


def new_password() -> str:
    return secrets.token_urlsafe(12)


def read_logins(path: Path) -> dict[str, tuple[str, str]]:
    """username → (role, password); empty when the file does not exist."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            role, username, password = parts
            out[username] = (role, password)
    return out


def write_logins(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Replace the file atomically; the new file is created 0600 before anything is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask; a stale tmp keeps its own
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            for role, username, password in rows:
                f.write(f"{role} {username} {password}\n")
        os.replace(tmp, path)
    finally:
        if fd != -1:
            os.close(fd)
        if tmp.exists():
            tmp.unlink()

"""Paths given to a management command, checked with a clear message instead of a traceback.

A bad path is a usage error: `CommandError` with exit status 2 (1 means "refused" or "failed").
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

USAGE_ERROR = 2


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE_ERROR)


def input_file(path: Path) -> Path:
    """A file to read: it exists and is a regular file (not a folder)."""
    if path.is_dir():
        raise usage_error(_("%(path)s is a folder, not a file.") % {"path": path})
    if not path.is_file():
        raise usage_error(_("No such file: %(path)s") % {"path": path})
    return path


def output_file(path: Path, *, suffixes: tuple[str, ...] = ()) -> Path:
    """A file to write: not a folder, in a folder that exists, with one of `suffixes` if given."""
    if path.is_dir():
        raise usage_error(_("%(path)s is a folder, not a file.") % {"path": path})
    if not path.parent.is_dir():
        raise usage_error(
            _("Cannot write %(path)s: the folder %(folder)s does not exist.")
            % {"path": path, "folder": path.parent}
        )
    if suffixes and path.suffix.lower() not in suffixes:
        raise usage_error(
            _("%(path)s: the file name must end in %(suffixes)s.")
            % {"path": path, "suffixes": " / ".join(suffixes)}
        )
    return path


def os_error(path: Path, exc: OSError) -> CommandError:
    """What went wrong reading or writing `path`, for the person at the console."""
    return usage_error(
        _("%(path)s cannot be read or written: %(error)s")
        % {"path": path, "error": exc.strerror or exc}
    )


class TranslatedCommand(BaseCommand):
    """A command whose `help` may be lazy (`gettext_lazy`): argparse needs a plain string, made
    in the language active when the parser is built (arguments' `help=` may stay lazy)."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)

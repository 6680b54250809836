from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, input_file, os_error
from safework.core.errors import InvalidInput
from safework.work import services


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Official holiday calendar: `load FILE` stores one year (holidays and make-up workdays) "
        "from a YAML file, replacing that year; loading the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["load"])
        parser.add_argument("file", type=Path, help=gettext_lazy("the year's YAML file"))

    def handle(self, *, action, file, **options):
        path = input_file(file)
        try:
            data = services.read_calendar_file(path)
            row, changed = services.load_calendar(data)
        except OSError as exc:
            raise os_error(path, exc)
        except InvalidInput as exc:
            raise CommandError(
                "\n".join(
                    f"{path}: {e.field}: {e.message}" if e.field else f"{path}: {e.message}"
                    for e in exc.errors
                )
            )
        if changed:
            self.stdout.write(
                _("calendar %(year)s loaded: %(n)s days")
                % {"year": row.year, "n": row.days.count()}
            )
        else:
            self.stdout.write(_("calendar %(year)s unchanged") % {"year": row.year})

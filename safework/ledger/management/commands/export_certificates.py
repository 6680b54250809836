import datetime as dt
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, os_error, output_file
from safework.core.scope import Scope
from safework.ledger import exports


class Command(TranslatedCommand):
    help = gettext_lazy("Export every certificate with its status on a date to an .xlsx file.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", type=Path, required=True, help=gettext_lazy("the .xlsx file to write")
        )
        parser.add_argument(
            "--on", type=dt.date.fromisoformat, help=gettext_lazy("status date (default today)")
        )
        parser.add_argument("--scheme", default="", help=gettext_lazy("only this scheme (code)"))

    def handle(self, *, out, on, scheme, **options):
        output_file(out, suffixes=(".xlsx",))  # before the work, not after it
        on = on or timezone.localdate()
        content = exports.export_certificates(
            user=None,
            scope=Scope.everything(),
            on=on,
            flt=exports.ExportFilter(scheme=scheme),
        )
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise os_error(out, exc) from exc
        self.stdout.write(
            _("wrote %(path)s (%(size)s bytes), status on %(on)s")
            % {"path": out, "size": len(content), "on": on}
        )

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from safework.certs.imports import exports
from safework.core.scope import Scope


class Command(BaseCommand):
    help = "Export every certificate with its status on a date to an .xlsx file."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
        parser.add_argument("--on", type=dt.date.fromisoformat, help="status date (default today)")
        parser.add_argument("--scheme", default="", help="only this scheme (code)")

    def handle(self, *, out, on, scheme, **options):
        if out.suffix.lower() != ".xlsx":
            raise CommandError("the export is an .xlsx file")
        on = on or timezone.localdate()
        content = exports.export_certificates(
            user=None,
            scope=Scope.everything(),
            on=on,
            flt=exports.ExportFilter(scheme=scheme),
        )
        out.write_bytes(content)
        self.stdout.write(f"wrote {out} ({len(content)} bytes), status on {on}")

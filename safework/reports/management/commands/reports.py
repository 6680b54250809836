from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, os_error, output_file
from safework.core.scope import Scope
from safework.people.models import Contractor
from safework.people.rules import normalise_uscc
from safework.reports import render, services
from safework.reports.queries import Month

KINDS = {"certificates": "health", "contractors": "compliance"}


class Command(TranslatedCommand):
    help = gettext_lazy(
        "The monthly certificate health report (certificates) or the contractor compliance "
        "report (contractors) of a month, as .xlsx or .pdf, for the whole enterprise."
    )

    def add_arguments(self, parser):
        parser.add_argument("report", choices=list(KINDS))
        parser.add_argument(
            "--month", required=True, help=gettext_lazy("the month, YYYY-MM (e.g. 2026-11)")
        )
        parser.add_argument("--format", choices=list(render.FORMATS), default=render.XLSX)
        parser.add_argument(
            "-o", "--out", type=Path, required=True, help=gettext_lazy("the file to write")
        )
        parser.add_argument("--contractor", metavar="CODE", help=gettext_lazy("credit code"))

    def handle(self, *, report, month, format, out, contractor, **options):
        try:
            month = Month.parse(month)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        output_file(out, suffixes=(f".{format}",))
        extra = {}
        if contractor:
            if report != "contractors":
                raise CommandError(_("--contractor is for the contractors report."), returncode=2)
            pk = (
                Contractor.objects.filter(uscc=normalise_uscc(contractor))
                .values_list("pk", flat=True)
                .first()
            )
            if pk is None:
                raise CommandError(_("no contractor %(code)s") % {"code": contractor}, returncode=2)
            extra["contractor_id"] = pk
        content, _name = services.build(
            KINDS[report], scope=Scope.everything(), month=month, fmt=format, **extra
        )
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise os_error(out, exc) from exc
        self.stdout.write(
            _("wrote %(path)s (%(size)s bytes), %(month)s")
            % {"path": out, "size": len(content), "month": month}
        )

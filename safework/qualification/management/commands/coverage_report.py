import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, os_error, output_file
from safework.core.scope import Scope
from safework.org.models import Department, Site
from safework.people.models import Contractor
from safework.people.rules import normalise_uscc
from safework.qualification import coverage


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Certificate coverage (CERT-10): who needs which certificate and who holds a usable one, "
        "per site, department and contractor, as .xlsx."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", type=Path, required=True, help=gettext_lazy("the .xlsx file to write")
        )
        parser.add_argument(
            "--on", type=dt.date.fromisoformat, help=gettext_lazy("date (default today)")
        )
        parser.add_argument("--site", metavar="CODE")
        parser.add_argument("--department", metavar="CODE")
        parser.add_argument("--contractor", metavar="CODE", help=gettext_lazy("credit code"))

    def handle(self, *, out, on, site, department, contractor, **options):
        output_file(out, suffixes=(".xlsx",))  # before the work, not after it
        on = on or timezone.localdate()
        content = coverage.coverage_bytes(
            user=None,
            scope=Scope.everything(),
            on=on,
            site_id=self._pk(Site, code=site) if site else None,
            department_id=self._pk(Department, code=department) if department else None,
            contractor_id=self._pk(Contractor, uscc=normalise_uscc(contractor))
            if contractor
            else None,
        )
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise os_error(out, exc) from exc
        self.stdout.write(
            _("wrote %(path)s (%(size)s bytes), coverage on %(on)s")
            % {"path": out, "size": len(content), "on": on}
        )

    def _pk(self, model, **key):
        pk = model.objects.filter(**key).values_list("pk", flat=True).first()
        if pk is None:
            raise CommandError(
                _("no %(what)s %(key)s")
                % {"what": model._meta.verbose_name, "key": " ".join(map(str, key.values()))},
                returncode=2,
            )
        return pk

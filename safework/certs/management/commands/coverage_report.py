import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from safework.certs.imports import coverage
from safework.core.scope import Scope
from safework.org.models import Department, Site
from safework.people.models import Contractor
from safework.people.rules import normalise_uscc


class Command(BaseCommand):
    help = (
        "Certificate coverage (CERT-10): who needs which certificate and who holds a usable one, "
        "per site, department and contractor, as .xlsx."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
        parser.add_argument("--on", type=dt.date.fromisoformat, help="date (default today)")
        parser.add_argument("--site", metavar="CODE")
        parser.add_argument("--department", metavar="CODE")
        parser.add_argument("--contractor", metavar="CODE", help="credit code")

    def handle(self, *, out, on, site, department, contractor, **options):
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
        out.write_bytes(content)
        self.stdout.write(f"wrote {out} ({len(content)} bytes), coverage on {on}")

    def _pk(self, model, **key):
        pk = model.objects.filter(**key).values_list("pk", flat=True).first()
        if pk is None:
            raise CommandError(f"no {model._meta.verbose_name} {key}")
        return pk

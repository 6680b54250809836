from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from tqdm import tqdm

from safework.certs.imports import services
from safework.certs.models import JobStatus
from safework.core.errors import InvalidInput
from safework.org.models import Site
from safework.people.models import Contractor
from safework.people.rules import normalise_uscc


class Command(BaseCommand):
    help = (
        "Import a ledger (.xlsx or .csv) of persons, certificates and medical checks, here and "
        "now, with a progress bar. All-or-nothing unless --valid-rows-only."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--valid-rows-only", action="store_true", help="import the rows without errors"
        )
        parser.add_argument(
            "--contractor",
            metavar="CODE",
            help="the employer of new persons: a contractor's credit code (or exact name)",
        )
        parser.add_argument("--site", metavar="CODE", help="the site the import is for")
        parser.add_argument("--user", help="username recorded as the importer (default: system)")
        parser.add_argument(
            "--errors", type=Path, metavar="FILE", help="write every finding to this .xlsx/.csv"
        )

    def handle(self, *, file, valid_rows_only, contractor, site, user, errors, **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        by = self._user(user)
        with file.open("rb") as f:
            try:
                job = services.start_import(
                    by=by,
                    file_obj=File(f, name=file.name),
                    original_name=file.name,
                    valid_rows_only=valid_rows_only,
                    contractor=self._contractor(contractor),
                    site=self._site(site),
                    enqueue=False,
                )
            except InvalidInput as exc:
                raise CommandError("; ".join(f"{e.code}: {e.message}" for e in exc.errors))
        bar = tqdm(total=0, unit="rows", desc=file.name, disable=options["verbosity"] == 0)

        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()

        job = services.run_import(job.pk, progress=progress)
        bar.close()
        for issue in [i for i in job.errors if i["level"] == "error"][:20]:
            self.stderr.write(
                f"row {issue['row']} {issue['cell'] or issue['column']}: "
                f"{issue['code']}: {issue['message']}"
            )
        if errors:
            from safework.certs.imports import errorfile

            content = (
                errorfile.csv_bytes(job.errors)
                if errors.suffix.lower() == ".csv"
                else errorfile.xlsx_bytes(job.errors)
            )
            errors.write_bytes(content)
        summary = (
            f"import #{job.pk} {job.status}: {job.total_rows} rows, {job.error_rows} with errors; "
            f"{job.created_count} created, {job.updated_count} updated, "
            f"{job.unchanged_count} unchanged. {job.message}"
        )
        if job.status == JobStatus.FAILED:
            raise CommandError(summary)
        self.stdout.write(summary)

    def _user(self, username):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        return user

    def _contractor(self, code):
        if not code:
            return None
        found = list(Contractor.objects.filter(Q(uscc=normalise_uscc(code)) | Q(name=code))[:2])
        if len(found) != 1:
            raise CommandError(f"no single contractor with code or name {code!r}")
        return found[0]

    def _site(self, code):
        if not code:
            return None
        site = Site.objects.filter(code=code).first()
        if site is None:
            raise CommandError(f"no site {code!r}")
        return site

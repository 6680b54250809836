from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import CommandError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from safework.core.cli import TranslatedCommand, input_file, os_error, output_file
from safework.core.errors import InvalidInput
from safework.ledger import services
from safework.ledger.models import JobStatus
from safework.org.models import Site
from safework.people.models import Contractor
from safework.people.rules import normalise_uscc


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Import a ledger (.xlsx or .csv) of persons, certificates and medical checks, here and "
        "now, with a progress bar. All-or-nothing unless --valid-rows-only."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--valid-rows-only",
            action="store_true",
            help=gettext_lazy("import the rows without errors"),
        )
        parser.add_argument(
            "--contractor",
            metavar="CODE",
            help=gettext_lazy(
                "the employer of new persons: a contractor's credit code (or exact name)"
            ),
        )
        parser.add_argument(
            "--site", metavar="CODE", help=gettext_lazy("the site the import is for")
        )
        parser.add_argument(
            "--user", help=gettext_lazy("username recorded as the importer (default: system)")
        )
        parser.add_argument(
            "--errors",
            type=Path,
            metavar="FILE",
            help=gettext_lazy("write every finding to this .xlsx/.csv"),
        )

    def handle(self, *, file, valid_rows_only, contractor, site, user, errors, **options):
        input_file(file)
        if errors:
            output_file(errors, suffixes=(".xlsx", ".csv"))
        by = self._user(user)
        try:
            f = file.open("rb")
        except OSError as exc:
            raise os_error(file, exc)
        with f:
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
        bar = tqdm(total=0, unit=_("rows"), desc=file.name, disable=options["verbosity"] == 0)

        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()

        job = services.run_import(job.pk, progress=progress)
        bar.close()
        for issue in [i for i in job.errors if i["level"] == "error"][:20]:
            self.stderr.write(
                _("row %(row)s %(cell)s: %(code)s: %(message)s")
                % {
                    "row": issue["row"],
                    "cell": issue["cell"] or issue["column"],
                    "code": issue["code"],
                    "message": issue["message"],
                }
            )
        if errors:
            from safework.ledger import errorfile

            content = (
                errorfile.csv_bytes(job.errors)
                if errors.suffix.lower() == ".csv"
                else errorfile.xlsx_bytes(job.errors)
            )
            try:
                errors.write_bytes(content)
            except OSError as exc:
                raise os_error(errors, exc)
        summary = _(
            "import #%(id)s %(status)s: %(rows)s rows, %(error_rows)s with errors; "
            "%(created)s created, %(updated)s updated, %(unchanged)s unchanged. %(message)s"
        ) % {
            "id": job.pk,
            "status": job.status,
            "rows": job.total_rows,
            "error_rows": job.error_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "message": job.message,
        }
        if job.status == JobStatus.FAILED:
            raise CommandError(summary)
        self.stdout.write(summary)

    def _user(self, username):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No such user: %(username)s") % {"username": username})
        return user

    def _contractor(self, code):
        if not code:
            return None
        found = list(Contractor.objects.filter(Q(uscc=normalise_uscc(code)) | Q(name=code))[:2])
        if len(found) != 1:
            raise CommandError(
                _("No single contractor with the credit code or name %(code)s.") % {"code": code}
            )
        return found[0]

    def _site(self, code):
        if not code:
            return None
        site = Site.objects.filter(code=code).first()
        if site is None:
            raise CommandError(_("No such site: %(code)s") % {"code": code})
        return site

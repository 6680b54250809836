from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, input_file, os_error, usage_error
from safework.core.errors import InvalidInput
from safework.core.refusals import Refused
from safework.registry import verification
from safework.registry.models import VerificationBatch


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Verify certificates against the registry as one batch: queued for the task worker, or "
        "run here with --wait. Internal qualifications are never sent."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--all",
            dest="every",
            action="store_true",
            help=gettext_lazy("every external certificate"),
        )
        which.add_argument(
            "--ids", type=int, nargs="+", metavar="ID", help=gettext_lazy("certificate ids")
        )
        which.add_argument(
            "--pasted",
            type=Path,
            metavar="FILE",
            help=gettext_lazy(
                "a file with one certificate number or ID number per line ('-': stdin)"
            ),
        )
        which.add_argument(
            "--retry", type=int, metavar="BATCH", help=gettext_lazy("retry a batch's failures")
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help=gettext_lazy("run the batch here and print the result"),
        )
        parser.add_argument("--user", help=gettext_lazy("username recorded as the one who asked"))

    def handle(self, *, every, ids, pasted, retry, wait, user, **options):
        by = self._user(user)
        try:
            if retry is not None:
                batch = VerificationBatch.objects.filter(pk=retry).first()
                if batch is None:
                    raise CommandError(_("No verification batch #%(id)s.") % {"id": retry})
                batch = verification.retry_verification(batch=batch, by=by, enqueue=not wait)
            elif every:
                certificate_ids = list(
                    verification.certificates_to_verify()
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                if not certificate_ids:
                    self.stdout.write(_("No certificate to verify."))
                    return
                batch = verification.start_verification(
                    by=by, certificate_ids=certificate_ids, enqueue=not wait
                )
            else:
                text = self._read(pasted) if pasted is not None else None
                batch = verification.start_verification(
                    by=by, certificate_ids=ids, pasted=text, enqueue=not wait
                )
        except InvalidInput as exc:
            raise CommandError("\n".join(str(e.message) for e in exc.errors))
        except Refused as exc:
            raise CommandError("\n".join(str(r.message) for r in exc.reasons))
        except Http404:
            raise CommandError(_("No such certificate."))
        if not wait:
            self.stdout.write(
                _("verification batch #%(id)s: %(total)s look-ups queued")
                % {"id": batch.pk, "total": batch.total}
            )
            return
        batch = verification.run_verification_batch(batch.pk, progress=self._progress)
        progress = verification.batch_progress(batch)
        counts = ", ".join(f"{k} {v}" for k, v in progress.counts.items() if v)
        self.stdout.write(
            _(
                "verification batch #%(id)s %(status)s: %(done)s/%(total)s (%(counts)s); "
                "%(to_review)s to review"
            )
            % {
                "id": batch.pk,
                "status": batch.status,
                "done": progress.done,
                "total": progress.total,
                "counts": counts,
                "to_review": progress.to_review,
            }
        )

    def _progress(self, done: int, total: int) -> None:
        self.stdout.write(f"  {done}/{total}")

    def _read(self, path: Path) -> str:
        if str(path) == "-":
            import sys

            return sys.stdin.read()
        input_file(path)
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise usage_error(_("%(path)s is not a UTF-8 text file.") % {"path": path})
        except OSError as exc:
            raise os_error(path, exc)

    def _user(self, username):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No such user: %(username)s") % {"username": username})
        return user

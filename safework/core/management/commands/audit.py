from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core import audit


class Command(BaseCommand):
    help = gettext_lazy(
        "Verify the audit chain, or store a checkpoint of its head outside the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify", "checkpoint"])
        parser.add_argument(
            "--checkpoint",
            type=Path,
            nargs="?",
            const=True,
            help="file of saved heads; without a value, SAFEWORK_AUDIT_CHECKPOINTS"
            " (default var/audit-checkpoints.log). verify compares the chain with each saved"
            " head, which also reveals a chain cut short.",
        )

    def handle(self, *, action, checkpoint, **options):
        if checkpoint is True:
            checkpoint = Path(settings.AUDIT_CHECKPOINT_FILE)
        if action == "verify":
            if checkpoint is not None and not checkpoint.exists():
                raise CommandError(
                    _("checkpoint file %(path)s does not exist") % {"path": checkpoint}
                )
            try:
                result = audit.verify_chain(checkpoints=checkpoint)
            except audit.MalformedCheckpoints as exc:
                raise CommandError(str(exc)) from exc
            if not result.ok:
                raise CommandError(result.problem)
            self.stdout.write(result.summary())
        else:
            # Only a head that verifies is worth saving: a checkpoint of a forged chain would
            # vouch for the forgery.
            path = Path(checkpoint or settings.AUDIT_CHECKPOINT_FILE)
            try:
                result = audit.verify_chain(checkpoints=path if path.exists() else None)
            except audit.MalformedCheckpoints as exc:
                raise CommandError(str(exc)) from exc
            if not result.ok:
                raise CommandError(
                    _("no checkpoint stored: %(problem)s") % {"problem": result.problem}
                )
            seq, digest, path = audit.store_checkpoint(to=path)
            self.stdout.write(
                _("head #%(seq)s %(hash)s appended to %(path)s")
                % {"seq": seq, "hash": digest, "path": path}
            )

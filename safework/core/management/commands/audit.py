from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from safework.core import audit


class Command(BaseCommand):
    help = "Verify the audit chain, or store a checkpoint of its head outside the database."

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
                raise CommandError(f"checkpoint file {checkpoint} does not exist")
            result = audit.verify_chain(checkpoints=checkpoint)
            if not result.ok:
                raise CommandError(result.problem)
            self.stdout.write(result.summary())
        else:
            # Only a head that verifies is worth saving: a checkpoint of a forged chain would
            # vouch for the forgery.
            path = Path(checkpoint or settings.AUDIT_CHECKPOINT_FILE)
            result = audit.verify_chain(checkpoints=path if path.exists() else None)
            if not result.ok:
                raise CommandError(f"no checkpoint stored: {result.problem}")
            seq, digest, path = audit.store_checkpoint(to=path)
            self.stdout.write(f"head #{seq} {digest} appended to {path}")

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safework.core import audit


class Command(BaseCommand):
    help = "Verify the audit chain, or store a checkpoint of its head outside the database."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify", "checkpoint"])
        parser.add_argument(
            "--checkpoint",
            type=Path,
            help="file of saved heads (default var/audit-checkpoints.log)",
        )

    def handle(self, *, action, checkpoint, **options):
        if action == "verify":
            if checkpoint is not None and not checkpoint.exists():
                raise CommandError(f"checkpoint file {checkpoint} does not exist")
            result = audit.verify_chain(checkpoints=checkpoint)
            if not result.ok:
                raise CommandError(result.problem)
            self.stdout.write(result.summary())
        else:
            seq, digest, path = audit.store_checkpoint(to=checkpoint)
            self.stdout.write(f"head #{seq} {digest} appended to {path}")

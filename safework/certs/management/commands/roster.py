"""`safework roster check FILE --site CODE`: the forward check of a work schedule."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safework.certs import roster as rosters
from safework.certs.management.commands.qualify import USAGE_ERROR, find_site, reason_lines
from safework.core.errors import InvalidInput
from safework.people.masking import mask_id_number
from safework.people.models import Person


class Command(BaseCommand):
    help = (
        "Check a roster file (xlsx or csv): lists every entry whose person will not be qualified "
        "on that date. Exit status 0 when every entry is, 1 when some are not, 2 for bad rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check"])
        parser.add_argument("file", type=Path)
        parser.add_argument("--site", default=None, help="site code for rows without one")

    def handle(self, *, action, file, site, **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}", returncode=USAGE_ERROR)
        try:
            rows = rosters.read_roster_file(file.read_bytes(), file.name)
            entries = rosters.validate_rows(
                rows, persons=Person.objects.all(), site=find_site(site)
            )
        except InvalidInput as exc:
            for e in exc.errors:
                self.stderr.write(f"{e.field}: {e.message}")
            message = f"{len(exc.errors)} row errors; nothing checked"
            raise CommandError(message, returncode=USAGE_ERROR)
        decisions = rosters.check_entries(entries)
        problems = 0
        for entry, decision in zip(entries, decisions, strict=True):
            if decision.allowed:
                continue
            problems += 1
            level = f" {entry.level.code}" if entry.level else ""
            self.stdout.write(
                f"row {entry.number}: {entry.on} {entry.person.name} "
                f"({mask_id_number(entry.person.id_number)}) {entry.work_type.code}{level} "
                f"{entry.role.code}: NOT QUALIFIED"
            )
            for line in reason_lines(decision):
                self.stdout.write(line)
        self.stdout.write(f"{len(entries)} entries checked, {problems} not qualified")
        if problems:
            sys.exit(1)

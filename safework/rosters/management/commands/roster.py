"""`safework roster check FILE --site CODE`: the forward check of a work schedule."""

import sys
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, input_file, os_error
from safework.core.errors import InvalidInput
from safework.people.masking import mask_id_number
from safework.people.models import Person
from safework.qualification.management.commands.qualify import USAGE_ERROR, find_site, reason_lines
from safework.rosters import services as rosters


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Check a roster file (xlsx or csv): lists every entry whose person will not be qualified "
        "on that date. Exit status 0 when every entry is, 1 when some are not, 2 for bad rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check"])
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--site", default=None, help=gettext_lazy("site code for rows without one")
        )

    def handle(self, *, action, file, site, **options):
        input_file(file)
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise os_error(file, exc)
        try:
            rows = rosters.read_roster_file(content, file.name)
            entries = rosters.validate_rows(
                rows, persons=Person.objects.all(), site=find_site(site)
            )
        except InvalidInput as exc:
            for e in exc.errors:
                self.stderr.write(f"{e.field}: {e.message}")
            message = _("%(n)s row errors; nothing checked") % {"n": len(exc.errors)}
            raise CommandError(message, returncode=USAGE_ERROR)
        decisions = rosters.check_entries(entries)
        problems = 0
        for entry, decision in zip(entries, decisions, strict=True):
            if decision.allowed:
                continue
            problems += 1
            level = f" {entry.level.code}" if entry.level else ""
            self.stdout.write(
                _("row %(row)s: %(on)s %(name)s (%(id_number)s) %(work)s %(role)s: NOT QUALIFIED")
                % {
                    "row": entry.number,
                    "on": entry.on,
                    "name": entry.person.name,
                    "id_number": mask_id_number(entry.person.id_number),
                    "work": f"{entry.work_type.code}{level}",
                    "role": entry.role.code,
                }
            )
            for line in reason_lines(decision):
                self.stdout.write(line)
        self.stdout.write(
            _("%(n)s entries checked, %(problems)s not qualified")
            % {"n": len(entries), "problems": problems}
        )
        if problems:
            sys.exit(1)

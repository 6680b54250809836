from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core import catalogue
from safework.core.cli import TranslatedCommand
from safework.core.errors import InvalidInput


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Catalogues: `load` adds missing shipped rows (never overwrites an edit); `diff` shows how "
        "the database differs from what ships; `update` applies those differences, audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["load", "diff", "update"])

    def handle(self, *, action, **options):
        try:
            self._run(action)
        except InvalidInput as exc:  # e.g. overlapping versions of one rule: nothing was written
            raise CommandError("\n".join(e.message for e in exc.errors))

    def _run(self, action):
        if action == "load":
            n = catalogue.load_catalogue()
            self.stdout.write(_("catalogue: %(n)s missing rows added") % {"n": n})
            return
        diffs = (
            catalogue.catalogue_differences()
            if action == "diff"
            else catalogue.apply_catalogue_update()
        )
        for d in diffs:
            self.stdout.write(d.describe())
        if action == "diff":
            self.stdout.write(_("catalogue: %(n)s differences") % {"n": len(diffs)})
        else:
            self.stdout.write(_("catalogue: %(n)s rows updated") % {"n": len(diffs)})

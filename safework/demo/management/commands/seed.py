from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand
from safework.demo import enterprise, permits
from safework.demo import scale as bench


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Synthetic data. `--demo` makes sure the demo enterprise and one login per role exist "
        "(idempotent; `--if-empty` skips when the demo group exists) and prints the logins; "
        "`--scale N --seed S` replaces the bench group with N persons (deterministic for N, S)."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--demo", action="store_true", help=gettext_lazy("the demo enterprise and logins")
        )
        mode.add_argument(
            "--scale", type=int, metavar="N", help=gettext_lazy("a bench group of N persons")
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=gettext_lazy("--demo: do nothing if the demo exists"),
        )
        parser.add_argument(
            "--seed", type=int, default=1, help=gettext_lazy("--scale: the rng seed")
        )
        parser.add_argument(
            "--certs-per-person",
            type=int,
            default=3,
            metavar="K",
            help=gettext_lazy("--scale: certificates per person (0–%(max)s, default 3)")
            % {"max": bench.MAX_CERTS},
        )
        parser.add_argument(
            "--chunk",
            type=int,
            default=bench.CHUNK,
            help=gettext_lazy("--scale: persons built and written at a time"),
        )

    def handle(self, *args, **opts):
        if opts["demo"]:
            self._demo(if_empty=opts["if_empty"])
            return
        n, k = opts["scale"], opts["certs_per_person"]
        if opts["if_empty"]:
            raise CommandError(_("--if-empty goes with --demo"))
        if n < 1:
            raise CommandError(_("--scale needs a positive number of persons"))
        if not 0 <= k <= bench.MAX_CERTS:
            raise CommandError(
                _("--certs-per-person must be between 0 and %(max)s") % {"max": bench.MAX_CERTS}
            )
        verbose = opts["verbosity"] > 1

        def progress(done, total):
            if verbose:
                self.stdout.write(
                    _("  %(done)s/%(total)s persons") % {"done": done, "total": total}
                )

        result = bench.seed_scale(
            n=n, seed=opts["seed"], certs_per_person=k, chunk=opts["chunk"], progress=progress
        )
        if result.deleted and verbose:
            self.stdout.write(
                _("previous bench group deleted: %(deleted)s") % {"deleted": result.deleted}
            )
        self.stdout.write(result.summary())

    def _demo(self, *, if_empty: bool):
        result = enterprise.seed_demo(if_empty=if_empty)
        if result.skipped:
            self.stdout.write(_("demo: already present (--if-empty)"))
        elif result.created:
            made = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.created.items())
            self.stdout.write(_("demo: created %(made)s") % {"made": made})
        else:
            self.stdout.write(_("demo: complete, nothing to add"))
        # The permit calendar and demo permits: each once (a second run adds nothing).
        permits.load_calendars()
        made = permits.seed_permits()
        if made:
            shown = ", ".join(f"{v} {k}" for k, v in made.items())
            self.stdout.write(_("demo permits: %(made)s") % {"made": shown})
        if not result.logins:
            self.stdout.write(
                _("demo logins: %(path)s is missing; run seed --demo")
                % {"path": result.logins_path}
            )
            return
        self.stdout.write(_("demo logins (%(path)s):") % {"path": result.logins_path})
        width = max(len(username) for _role, username, _pw in result.logins)
        for role, username, password in result.logins:
            self.stdout.write(f"  {username:<{width}}  {password}  {role}")

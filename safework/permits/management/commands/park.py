"""`safework park push|status|retry|export`: the chemical park data exchange (AQ 3064.2 §8.2)."""

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, os_error, output_file, usage_error
from safework.permits import park


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise usage_error(_("%(value)s is not a date (YYYY-MM-DD).") % {"value": value}) from None


class Command(TranslatedCommand):
    help = gettext_lazy(
        "The chemical park data exchange: push delivers the pending records now; status counts "
        "them and lists those given up (exit status 1 when there are any); retry gives those a "
        "new set of attempts; export writes every permit and alarm record of a period as JSON "
        "lines."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["push", "status", "retry", "export"])
        parser.add_argument(
            "--from",
            dest="start",
            help=gettext_lazy("export: first local date of the period (YYYY-MM-DD), included"),
        )
        parser.add_argument(
            "--to",
            dest="end",
            help=gettext_lazy("export: last local date of the period (YYYY-MM-DD), included"),
        )
        parser.add_argument(
            "--out", type=Path, help=gettext_lazy("export: the file to write (default: stdout)")
        )

    def handle(self, *, action, start, end, out, **options):
        return getattr(self, f"_{action}")(start=start, end=end, out=out)

    def _push(self, **_options):
        result = park.deliver_due(timezone.now())
        if not result.configured:
            raise CommandError(
                _("The park endpoint is not configured (%(problem)s): pushes stay pending.")
                % {"problem": result.problem}
            )
        for error in result.errors:
            self.stderr.write(error)
        self.stdout.write(
            _("%(sent)s sent, %(retrying)s to be retried, %(dead)s given up.")
            % {"sent": result.sent, "retrying": result.retrying, "dead": result.dead}
        )
        if result.retrying or result.dead:
            raise CommandError(_("Some pushes failed."))

    def _status(self, **_options):
        st = park.status()
        if not st.configured:
            self.stdout.write(_("The park endpoint is not configured: pushes stay pending."))
        self.stdout.write(
            _("%(pending)s pending (%(due)s due now), %(sent)s sent, %(dead)s given up.")
            % {
                "pending": st.counts["pending"],
                "due": st.due,
                "sent": st.counts["sent"],
                "dead": st.counts["dead"],
            }
        )
        if st.oldest_pending:
            self.stdout.write(
                _("Oldest pending since %(at)s.")
                % {"at": timezone.localtime(st.oldest_pending).isoformat(timespec="seconds")}
            )
        for push in st.dead:
            self.stdout.write(
                _("given up after %(n)s attempts: %(kind)s %(id)s v%(version)s: %(error)s")
                % {
                    "n": push.attempts,
                    "kind": push.kind,
                    "id": push.object_uuid,
                    "version": push.version,
                    "error": push.last_error,
                }
            )
        if st.counts["dead"]:
            raise CommandError(
                _("%(n)s pushes were given up: see above; `safework park retry` tries them again.")
                % {"n": st.counts["dead"]}
            )

    def _retry(self, **_options):
        requeued, superseded = park.retry_dead(timezone.now())
        self.stdout.write(
            _("%(n)s given-up pushes queued again; %(m)s left, a later version having been sent.")
            % {"n": requeued, "m": superseded}
        )

    def _export(self, *, start, end, out, **_options):
        if not start or not end:
            raise usage_error(_("export needs --from and --to."))
        first, last = _date(start), _date(end)
        if last < first:
            raise usage_error(_("--to is before --from."))
        if out is not None:
            output_file(out)
        lines = park.export_records(first, last, at=timezone.now())
        if out is None:
            for line in lines:
                self.stdout.write(json.dumps(line, ensure_ascii=False))
            return
        n = 0
        try:
            with out.open("w", encoding="utf-8") as stream:
                for line in lines:
                    stream.write(json.dumps(line, ensure_ascii=False) + "\n")
                    n += 1
        except OSError as exc:
            raise os_error(out, exc) from exc
        self.stdout.write(_("%(n)s records written to %(path)s") % {"n": n, "path": out})

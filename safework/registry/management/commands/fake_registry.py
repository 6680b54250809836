from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, input_file, os_error, output_file, usage_error
from safework.registry import fake as fake_registry


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Run the fake certificate registry (the demo's stand-in for the national query "
        "platform). Records come from --data FILE, or else from the SafeWork database (each "
        "certificate, a few deterministically revoked, expired, renamed or missing) plus the "
        "built-in samples."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--data", type=Path, help=gettext_lazy("JSON file of records (no database)")
        )
        parser.add_argument(
            "--export",
            type=Path,
            help=gettext_lazy("write the records to this JSON file and exit"),
        )
        parser.add_argument(
            "--quiet", action="store_true", help=gettext_lazy("do not log each request")
        )

    def handle(self, *, host, port, data, export, quiet, **options):
        if export is not None:
            output_file(export)
        if data is not None:
            input_file(data)
            try:
                records = fake_registry.records_from_file(data)
            except (ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError: a ValueError
                raise usage_error(
                    _("%(path)s: not a file of registry records (%(error)s)")
                    % {"path": data, "error": exc}
                )
            except OSError as exc:
                raise os_error(data, exc)
            loader = None
        else:

            def loader():
                return [*fake_registry.records_from_database(), *fake_registry.SAMPLE_RECORDS]

            records = loader()
        if export is not None:
            try:
                fake_registry.records_to_file(records, export)
            except OSError as exc:
                raise os_error(export, exc)
            self.stdout.write(
                _("%(n)s records written to %(path)s") % {"n": len(records), "path": export}
            )
            return
        server = fake_registry.FakeRegistry(
            records, loader=loader, log=None if quiet else self._log
        )
        source = data or _("the database and the samples")
        summary = fake_registry.summarise(records).describe()
        self.stdout.write(
            _("fake registry on http://%(host)s:%(port)s — %(summary)s from %(source)s")
            % {"host": host, "port": port, "summary": summary, "source": source}
        )
        self.stdout.flush()
        try:
            server.serve_forever(host=host, port=port)
        except OSError as exc:
            raise CommandError(
                _("Cannot listen on %(host)s:%(port)s: %(error)s")
                % {"host": host, "port": port, "error": exc}
            )
        except KeyboardInterrupt:
            self.stdout.write(_("fake registry stopped"))

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

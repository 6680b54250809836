from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safework.certs import fake_registry


class Command(BaseCommand):
    help = (
        "Run the fake certificate registry (the demo's stand-in for the national query "
        "platform). Records come from --data FILE, or else from the SafeWork database (each "
        "certificate, a few deterministically revoked, expired, renamed or missing) plus the "
        "built-in samples."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--data", type=Path, help="JSON file of records (no database)")
        parser.add_argument(
            "--export", type=Path, help="write the records to this JSON file and exit"
        )
        parser.add_argument("--quiet", action="store_true", help="do not log each request")

    def handle(self, *, host, port, data, export, quiet, **options):
        if data is not None:
            if not data.exists():
                raise CommandError(f"{data} does not exist")
            try:
                records = fake_registry.records_from_file(data)
            except (ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"{data}: not a file of registry records ({exc})")
            loader = None
        else:

            def loader():
                return [*fake_registry.records_from_database(), *fake_registry.SAMPLE_RECORDS]

            records = loader()
        if export is not None:
            fake_registry.records_to_file(records, export)
            self.stdout.write(f"{len(records)} records written to {export}")
            return
        server = fake_registry.FakeRegistry(
            records, loader=loader, log=None if quiet else self._log
        )
        source = data or "the database and the samples"
        summary = fake_registry.summarise(records).describe()
        self.stdout.write(f"fake registry on http://{host}:{port} — {summary} from {source}")
        self.stdout.flush()
        try:
            server.serve_forever(host=host, port=port)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}")
        except KeyboardInterrupt:
            self.stdout.write("fake registry stopped")

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

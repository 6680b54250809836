"""`safework notify explain|scan|deliver|worker`: the diagnosis, the scan and the delivery worker
by hand (`make run` runs scan and delivery in the task worker)."""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from safework.notify import explain as diagnosis
from safework.notify import scan, worker
from safework.people.models import Person


class Command(BaseCommand):
    help = "Notifications: explain who was (not) told and why; scan; deliver; run a worker."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["explain", "scan", "deliver", "worker"])
        parser.add_argument("--person", help="person id or resident ID number (explain)")
        parser.add_argument("--event", help="event id, kind or key (explain)")
        parser.add_argument("--json", action="store_true", help="explain as JSON")
        parser.add_argument("--idle", type=float, default=1.0, help="worker: pause when idle (s)")
        parser.add_argument("--name", default="", help="worker: name in the attempt log")

    def handle(self, *, action, person, event, json: bool, idle, name, **options):
        if action == "explain":
            return self._explain(person, event, as_json=json)
        if action == "scan":
            counts = scan.run_scan()
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()) or "-")
            return None
        if action == "deliver":
            self.stdout.write(str(worker.run_once(worker=name or None)))
            return None
        while True:  # worker: until killed
            if worker.run_once(worker=name or None) == 0:
                time.sleep(idle)

    def _explain(self, person, event, *, as_json):
        if not person:
            raise CommandError(_("Name the person: --person <id or ID number>."))
        found = Person.objects.filter(id_number=person.upper()).first()
        if found is None and person.isdigit():
            found = Person.objects.filter(pk=int(person)).first()
        if found is None:
            raise CommandError(_("No such person: %(person)s") % {"person": person})
        report = diagnosis.explain(person_id=found.pk, event=event)
        if as_json:
            self.stdout.write(_dumps(report))
            return
        self.stdout.write(f"{found.name} (#{found.pk})")
        for line in report["summary"]:
            self.stdout.write(f"  {line}")
        for e in report["events"]:
            ev = e["event"]
            self.stdout.write(f"- {ev['kind']} {ev['key']} {ev['about']}")
            rule = e["rule"]
            if rule:
                state = _("on") if rule["enabled"] else _("off")
                self.stdout.write(f"  {_('rule')}: {rule['code']} ({state})")
            for rel in e["recipients"]:
                names = ", ".join(r["label"] for r in rel["resolved"]) or "—"
                self.stdout.write(f"  {rel['relation']}: {names}")
                for r in rel["resolved"]:
                    chans = " ".join(f"{c['channel']}={c['state']}" for c in r["channels"])
                    self.stdout.write(f"    {r['label']}: {chans}")
            for d in e["deliveries"]:
                self.stdout.write(
                    f"  → {d['recipient']} [{d['channel']}] {d['status']} ({len(d['attempts'])})"
                )
                for a in d["attempts"]:
                    if not a["ok"]:
                        self.stdout.write(f"      {a['at']}: {a['error']}")
            for fix in e["fixes"]:
                self.stdout.write(f"  ! {fix}")


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)

"""`safework permits …`: the permit ledger at the console (AQ 3064.2 §5.11).

    safework permits list [--status expired] [--type hot_work] [--site CODE] [--from D] [--to D] …
    safework permits show DH20261207-003
    safework permits expire                  # store the expiry of permits past their end
    safework permits export --from 2026-12-01 --to 2026-12-31 --out ledger.xlsx
    safework permits history DH20261207-003 --out history.xlsx   (or .json)

Exit status: 0 done, 1 nothing found, 2 bad usage (core.cli).
"""

import datetime as dt
import json
import sys
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand, os_error, output_file, usage_error
from safework.org.models import Area, Site
from safework.permits import exports, queries, services
from safework.permits.models import Permit
from safework.permits.workflow import PermitStatus


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise usage_error(_("Not a date (YYYY-MM-DD): %(text)s") % {"text": text}) from None


class Command(TranslatedCommand):
    help = gettext_lazy(
        "The permit ledger: list and show permits, store expiries, export the ledger or one "
        "permit's full history."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "show", "expire", "export", "history"])
        parser.add_argument("number", nargs="?", help=gettext_lazy("permit number (show, history)"))
        parser.add_argument("--status", choices=PermitStatus.values)
        parser.add_argument("--type", dest="work_type", help=gettext_lazy("work type code"))
        parser.add_argument("--level", help=gettext_lazy("level code"))
        parser.add_argument("--site", help=gettext_lazy("site code"))
        parser.add_argument("--area", help=gettext_lazy("area code"))
        parser.add_argument("--contractor", choices=["own", "contractor"])
        parser.add_argument("--contractor-id", type=int)
        parser.add_argument("--person-id", type=int, help=gettext_lazy("crew member or leader"))
        parser.add_argument("--alarm-type", help=gettext_lazy("AQ 3064.2 alarm code, e.g. 30"))
        parser.add_argument("--from", dest="date_from", help=gettext_lazy("planned start from"))
        parser.add_argument("--to", dest="date_to", help=gettext_lazy("planned start until"))
        parser.add_argument("--q", help=gettext_lazy("number, place or content contains"))
        parser.add_argument("--limit", type=int, default=100)
        parser.add_argument("--out", type=Path, help=gettext_lazy("file to write"))

    def handle(self, *, action, number, **options):
        now = timezone.now()
        if action == "expire":
            done = services.expire_due(at=now)
            self.stdout.write(_("%(n)s permits stored as expired") % {"n": done})
            return
        if action in ("show", "history"):
            permit = self._permit(number)
            if action == "show":
                self._show(permit, now)
            else:
                self._history(permit, options["out"])
            return
        qs = queries.ledger(Permit.objects.all(), self._filter(options), at=now)
        if action == "list":
            rows = list(qs[: max(options["limit"], 0)])
            for p in rows:
                self.stdout.write("\t".join(str(v) for v in exports.ledger_row(p)[:10]))
            self.stdout.write(
                _("%(shown)s of %(total)s permits") % {"shown": len(rows), "total": qs.count()}
            )
            if not rows:
                sys.exit(1)
            return
        out = options["out"]
        if out is None:
            raise usage_error(_("Name the file to write with --out."))
        output_file(out, suffixes=(".xlsx",))
        try:
            out.write_bytes(exports.ledger_xlsx(qs))
        except OSError as exc:
            raise os_error(out, exc)
        self.stdout.write(_("%(n)s permits written to %(path)s") % {"n": qs.count(), "path": out})

    def _filter(self, o) -> queries.LedgerFilter:
        site_id = area_id = None
        if o["site"]:
            site = Site.objects.filter(code=o["site"]).first()
            if site is None:
                raise usage_error(_("No site with code %(code)s.") % {"code": o["site"]})
            site_id = site.pk
        if o["area"]:
            area = Area.objects.filter(code=o["area"]).first()
            if area is None:
                raise usage_error(_("No area with code %(code)s.") % {"code": o["area"]})
            area_id = area.pk
        return queries.LedgerFilter(
            status=o["status"],
            work_type=o["work_type"],
            level=o["level"],
            site_id=site_id,
            area_id=area_id,
            contractor=o["contractor"],
            contractor_id=o["contractor_id"],
            person_id=o["person_id"],
            alarm_type=o["alarm_type"],
            date_from=_date(o["date_from"]) if o["date_from"] else None,
            date_to=_date(o["date_to"]) if o["date_to"] else None,
            q=o["q"],
        )

    def _permit(self, number) -> Permit:
        if not number:
            raise usage_error(_("Give the permit number."))
        pk = Permit.objects.filter(number=number).values_list("pk", flat=True).first()
        if pk is None:
            self.stderr.write(_("No permit numbered %(number)s.") % {"number": number})
            sys.exit(1)
        return exports.history_permit(pk)

    def _show(self, permit: Permit, now):
        h = exports.history(permit)
        p = h["permit"]
        self.stdout.write(f"{p['number']}  {permit.work_type.name} {p['level'] or ''}")
        self.stdout.write(_("status: %(status)s") % {"status": permit.status_at(now)})
        self.stdout.write(f"{p['site']} / {p['area'] or ''} / {p['place']}")
        self.stdout.write(
            f"{timezone.localtime(permit.planned_start):%Y-%m-%d %H:%M} – "
            f"{timezone.localtime(permit.planned_end):%Y-%m-%d %H:%M}"
        )
        for c in h["crew"]:
            if not c["removed_at"]:
                self.stdout.write(f"  {c['role']}: {c['person']}")
        for s in h["steps"]:
            self.stdout.write(f"  [{s['status']}] {s['label']} ({'、'.join(s['roles'])})")
        for a in h["alarms"]:
            self.stdout.write(f"  ! {a['code']} {a['name']} [{a['status']}]")

    def _history(self, permit: Permit, out: Path | None):
        if out is None:
            raise usage_error(_("Name the file to write with --out."))
        output_file(out, suffixes=(".xlsx", ".json"))
        if out.suffix.lower() == ".json":
            content = json.dumps(
                exports.history(permit), ensure_ascii=False, indent=1, default=str
            ).encode("utf-8")
        else:
            content = exports.history_xlsx(permit)
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise os_error(out, exc)
        self.stdout.write(
            _("History of %(number)s written to %(path)s") % {"number": permit.number, "path": out}
        )

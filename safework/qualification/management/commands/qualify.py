"""`safework qualify`: ask the qualification engine about one person, from the console."""

import datetime as dt
import sys

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cli import TranslatedCommand
from safework.core.clock import start_of_day
from safework.core.errors import InvalidInput
from safework.org.models import Site
from safework.people.masking import mask_id_number, mask_id_numbers_in
from safework.people.models import Person
from safework.people.services import checked_id_number
from safework.qualification import engine as qualification

USAGE_ERROR = 2  # exit status for bad input; 1 means "refused"


def find_person(value: str) -> Person:
    """A person by database id (digits, up to 12) or by resident ID number."""
    text = value.strip()
    if text.isdigit() and len(text) <= 12:
        person = Person.objects.filter(pk=int(text)).first()
    else:
        try:
            number = checked_id_number(text)[0]
        except InvalidInput as exc:
            raise CommandError(f"--person: {exc.errors[0].message}", returncode=USAGE_ERROR)
        person = Person.objects.filter(id_number=number).first()
    if person is None:
        raise CommandError(
            _("--person: no such person: %(value)s") % {"value": value}, returncode=USAGE_ERROR
        )
    return person


def find_site(value: str | None) -> Site | None:
    if not value:
        return None
    site = Site.objects.filter(code=value).first()
    if site is None and value.isdigit():
        site = Site.objects.filter(pk=int(value)).first()
    if site is None:
        raise CommandError(
            _("--site: no such site: %(value)s") % {"value": value}, returncode=USAGE_ERROR
        )
    return site


def parse_at(value: str | None) -> dt.datetime:
    """ISO date and time (with or without zone: without is local time), or a date (its local
    midnight); default now."""
    if not value:
        return timezone.now()
    moment = parse_datetime(value)
    if moment is not None:
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    day = parse_date(value)
    if day is not None:
        return start_of_day(day)
    raise CommandError(
        _("--at: not an ISO date or date-time: %(value)s") % {"value": value},
        returncode=USAGE_ERROR,
    )


def parse_attr_options(values) -> dict:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(
                _("--attr: write name=value, not %(item)s") % {"item": repr(item)},
                returncode=USAGE_ERROR,
            )
        out[key.strip()] = value.strip()
    return out


def reason_lines(decision) -> list[str]:
    lines = []
    for r in decision.reasons:
        kind = _("refusal") if r.blocking else _("warning")
        lines.append(f"  - [{kind}] {r.code}: {r.message}")
        if r.subject:
            lines.append(
                "      " + _("subject: %(subject)s") % {"subject": mask_id_numbers_in(r.subject)}
            )
        if r.clause:
            lines.append("      " + _("clause: %(clause)s") % {"clause": r.clause})
    return lines


class Command(TranslatedCommand):
    help = gettext_lazy(
        "May this person do this work? Prints the decision and every reason; exit status 0 when "
        "allowed, 1 when refused, 2 for bad input."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--person", required=True, help=gettext_lazy("person id or resident ID number")
        )
        parser.add_argument(
            "--work-type", required=True, help=gettext_lazy("code or name, e.g. hot_work")
        )
        parser.add_argument(
            "--level", default=None, help=gettext_lazy("level code, e.g. level1, II")
        )
        parser.add_argument(
            "--role", required=True, help=gettext_lazy("crew role, e.g. worker, guardian")
        )
        parser.add_argument("--site", default=None, help=gettext_lazy("site code (or id)"))
        parser.add_argument(
            "--at", default=None, help=gettext_lazy("ISO date-time or date (default now)")
        )
        parser.add_argument(
            "--attr",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=gettext_lazy("an attribute of the work, e.g. height_m=3 hot_work_method=welding"),
        )

    def handle(self, *, person, work_type, level, role, site, at, attr, **options):
        who = find_person(person)
        where = find_site(site)
        moment = parse_at(at)
        try:
            decision = qualification.check(
                who, work_type, level, role, where, moment, parse_attr_options(attr)
            )
        except InvalidInput as exc:
            problems = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
            raise CommandError(problems, returncode=USAGE_ERROR)
        on = timezone.localdate(moment)
        verdict = _("ALLOWED") if decision.allowed else _("REFUSED")
        self.stdout.write(
            _("%(verdict)s: %(name)s (%(id_number)s) as %(role)s in %(work)s on %(on)s")
            % {
                "verdict": verdict,
                "name": who.name,
                "id_number": mask_id_number(who.id_number),
                "role": role,
                "work": f"{work_type} {level or ''}".rstrip(),
                "on": on,
            }
        )
        for line in reason_lines(decision):
            self.stdout.write(line)
        if not decision.allowed:
            sys.exit(1)

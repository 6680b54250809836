"""Forms of the web pages: they read and shape input; the services and filters decide."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safework.certs import queries as cert_queries
from safework.certs.models import Scheme
from safework.certs.notices import event_key_prefix
from safework.certs.rules import Colour, Status
from safework.ledger import queries as ledger_queries
from safework.notify.models import NotifyRule
from safework.org.models import Site
from safework.people import queries as people_queries
from safework.people.models import EmployerKind
from safework.people.rules import normalise_id_text
from safework.permits.models import AlarmType
from safework.permits.workflow import PermitStatus
from safework.qualification import engine as qualification
from safework.qualification.requirements import attribute_table
from safework.work.models import CrewRole, WorkLevel, WorkType

CREW_ROWS = 5
# The attributes a check may give (qualification.requirements.ATTRIBUTES); the listed ones are
# choices from attributes.yaml.
ATTRIBUTE_LABELS = {
    "hot_work_method": _("Hot-work method"),
    "height_task": _("Work at height"),
    "crane_kind": _("Crane kind"),
}
ATTRIBUTE_NAMES = ("height_m", *ATTRIBUTE_LABELS, "process", "forklift_area")


class Styled:
    """Bootstrap classes on every widget, so templates render `{{ field }}` as is."""

    def __getitem__(self, name):
        self._style()
        return super().__getitem__(name)

    def __iter__(self):
        self._style()
        return super().__iter__()

    def _style(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = css


def _blank(choices, label=None):
    return [("", label or _("all")), *choices]


class PersonSearchForm(Styled, forms.Form):
    q = forms.CharField(label=_("Name or ID number"), required=False, max_length=100)
    employer_kind = forms.ChoiceField(
        label=_("Employer"), required=False, choices=_blank(EmployerKind.choices)
    )
    contractor = forms.ModelChoiceField(
        label=_("Contractor"), required=False, queryset=None, empty_label=_("all")
    )

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contractor"].queryset = people_queries.contractors_visible_to(scope).order_by(
            "name"
        )

    def filter_values(self) -> dict:
        """Keyword arguments of `people.schemas.PersonFilter` (the API's person filter)."""
        data = self.cleaned_data
        out = {}
        q = data.get("q", "").strip()
        if q:
            number = normalise_id_text(q)
            if len(number) == 18 and number[:17].isdigit():
                out["id_number"] = number
            else:
                out["name"] = q
        if data.get("employer_kind"):
            out["employer_kind"] = data["employer_kind"]
        if data.get("contractor"):
            out["contractor_id"] = data["contractor"].pk
        return out


class CertificateSearchForm(Styled, forms.Form):
    number = forms.CharField(label=_("Certificate number"), required=False, max_length=100)
    colour = forms.ChoiceField(label=_("Colour"), required=False, choices=_blank(Colour.choices))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_blank(Status.choices))
    scheme = forms.ChoiceField(label=_("Scheme"), required=False, choices=())
    on = forms.DateField(
        label=_("Status on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scheme"].choices = _blank(
            [(s.code, s.name) for s in Scheme.objects.order_by("code")]
        )

    def filter_values(self) -> dict:
        """Keyword arguments of `certs.schemas.CertificateFilter`, plus `on`."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


def _now_local() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


class QualificationForm(Styled, forms.Form):
    """A crew (up to CREW_ROWS people, each by ID number or exact name, with a crew role), the
    work type and level, the site and the time."""

    work_type = forms.ModelChoiceField(
        label=_("Work type"), queryset=WorkType.objects.order_by("order", "pk"), empty_label=None
    )
    level = forms.ChoiceField(label=_("Level"), required=False, choices=())
    site = forms.ModelChoiceField(label=_("Site"), queryset=None, empty_label=None)
    at = forms.DateTimeField(
        label=_("Time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope = scope
        self.fields["at"].initial = _now_local
        sites = (
            Site.objects.all()
            if scope.group_wide
            else Site.objects.filter(
                Q(pk__in=scope.site_ids)
                | Q(engagements__contractor_id__in=scope.contractor_ids)
                | Q(departments__pk__in=scope.department_ids)
            ).distinct()
        )
        self.fields["site"].queryset = sites.order_by("name")
        levels = WorkLevel.objects.select_related("work_type").order_by("work_type__order", "rank")
        self.fields["level"].choices = _blank(
            [(lv.code, f"{lv.work_type.name} · {lv.name}") for lv in levels], _("none")
        )
        self.fields["height_m"] = forms.DecimalField(
            label=_("Height (m)"), required=False, min_value=0, max_digits=6, decimal_places=2
        )
        table = attribute_table()
        for name, label in ATTRIBUTE_LABELS.items():
            values = table[name]["values"]
            self.fields[name] = forms.ChoiceField(
                label=label,
                required=False,
                choices=_blank([(c, (syn or [c])[0]) for c, syn in values.items()], _("none")),
            )
        self.fields["process"] = forms.CharField(
            label=_("Hazardous process (item code)"), required=False, max_length=20
        )
        self.fields["forklift_area"] = forms.BooleanField(
            label=_("Drives a forklift in the area"), required=False
        )
        roles = [(r.code, r.name) for r in CrewRole.objects.order_by("pk")]
        for i in range(CREW_ROWS):
            self.fields[f"person_{i}"] = forms.CharField(
                label=_("Member %(n)d: name or ID number") % {"n": i + 1},
                required=i == 0,
                max_length=100,
            )
            self.fields[f"role_{i}"] = forms.ChoiceField(
                label=_("Member %(n)d: crew role") % {"n": i + 1}, required=False, choices=roles
            )

    def work_fields(self):
        return [self[n] for n in ("work_type", "level", "site", "at")]

    def attribute_fields(self):
        return [self[n] for n in ATTRIBUTE_NAMES]

    def attrs(self) -> dict:
        """The check's attributes as the API takes them (`attrs`), only those given."""
        out = {}
        for name in ATTRIBUTE_NAMES:
            value = self.cleaned_data.get(name)
            if value is None or value == "" or value is False:  # not given (0 m is given)
                continue
            out[name] = float(value) if name == "height_m" else value
        return out

    def member_fields(self):
        return [(self[f"person_{i}"], self[f"role_{i}"]) for i in range(CREW_ROWS)]

    def clean(self):
        data = super().clean()
        visible = people_queries.persons_visible_to(self.scope)
        self._persons = {}
        self._members = []
        for i in range(CREW_ROWS):
            text = (data.get(f"person_{i}") or "").strip()
            if not text:
                continue
            number = normalise_id_text(text)
            found = list(visible.filter(Q(id_number=number) | Q(name=text))[:2])
            if len(found) != 1:
                message = (
                    _("Nobody you can see has this name or ID number.")
                    if not found
                    else _("Several people have this name: give the ID number.")
                )
                self.add_error(f"person_{i}", message)
                continue
            person = found[0]
            self._persons[person.pk] = person
            self._members.append(qualification.CrewMember(person.pk, data.get(f"role_{i}")))
        return data

    def crew(self):
        return self._members, self._persons


class ImportForm(Styled, forms.Form):
    file = forms.FileField(label=_("Ledger file (.xlsx or .csv)"))
    site = forms.ModelChoiceField(
        label=_("Site"), required=False, queryset=None, empty_label=_("(from the file)")
    )
    valid_rows_only = forms.BooleanField(label=_("Import the valid rows only"), required=False)

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = ledger_queries.sites_for_imports(scope).order_by("name")


class RosterForm(Styled, forms.Form):
    file = forms.FileField(label=_("Roster file (.xlsx or .csv)"))
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    site = forms.ModelChoiceField(
        label=_("Site"), required=False, queryset=Site.objects.order_by("name")
    )

    row_errors: list = []


class VerificationForm(Styled, forms.Form):
    pasted = forms.CharField(
        label=_("Certificate numbers or ID numbers, one per line"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=200_000,
    )


class ExplainForm(Styled, forms.Form):
    """Whom to diagnose: a person in the scope (name or ID number), optionally one event kind and
    one of their certificates (by number)."""

    person = forms.CharField(label=_("Person (name or ID number)"), max_length=100)
    kind = forms.ChoiceField(label=_("Event kind"), required=False)
    certificate = forms.CharField(label=_("Certificate number"), required=False, max_length=100)

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope = scope
        rules = NotifyRule.objects.order_by("kind", "code").values_list("kind", "name")
        kinds = dict(reversed(list(rules)))  # one label per kind: its first rule's name
        self.fields["kind"].choices = _blank(
            [(k, f"{label} ({k})") for k, label in sorted(kinds.items())]
        )
        self._certificate_ids: list[int] = []

    def clean_person(self):
        text = self.cleaned_data["person"].strip()
        visible = people_queries.persons_visible_to(self.scope)
        number = normalise_id_text(text)
        match = Q(id_number=number) | Q(name=text)
        found = list(visible.filter(match)[:2])
        if len(found) != 1:
            raise forms.ValidationError(
                _("Nobody you can see has this name or ID number.")
                if not found
                else _("Several people have this name: give the ID number."),
                code="not_found" if not found else "ambiguous",
            )
        return found[0]

    def clean(self):
        data = super().clean()
        number = (data.get("certificate") or "").strip()
        person = data.get("person")
        if number and person is not None:
            certs = cert_queries.certificates_visible_to(self.scope).filter(
                person=person, number=number
            )
            self._certificate_ids = list(certs.order_by("pk").values_list("pk", flat=True))
            if not self._certificate_ids:
                self.add_error("certificate", _("This person has no certificate with this number."))
        return data

    def key_prefix(self) -> str | None:
        """The certificate's event keys (the newest record when a number was renewed in place)."""
        return event_key_prefix(self._certificate_ids[-1]) if self._certificate_ids else None


class PermitLedgerForm(Styled, forms.Form):
    """The permit ledger's questions (AQ 3064.2-2025 §5.11): status, type, level, site, area,
    own staff or contractor, alarm type and period, plus free text; each optional. The choices
    of sites and areas are those in the reader's scope (`queries.sites_of`)."""

    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(PermitStatus.choices)
    )
    work_type = forms.ChoiceField(label=_("Work type"), required=False, choices=())
    level = forms.ChoiceField(label=_("Level"), required=False, choices=())
    site_id = forms.TypedChoiceField(label=_("Site"), required=False, coerce=int, choices=())
    contractor = forms.ChoiceField(
        label=_("Work unit"),
        required=False,
        choices=_blank([("own", _("own staff")), ("contractor", _("contractor"))]),
    )
    alarm_type = forms.ChoiceField(label=_("Alarm type"), required=False, choices=())
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label=_("Number, place or content"), required=False, max_length=100)

    def __init__(self, *args, sites, levels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["work_type"].choices = _blank(
            list(WorkType.objects.order_by("order", "code").values_list("code", "name"))
        )
        self.fields["level"].choices = _blank(levels)
        self.fields["site_id"].choices = _blank([(s.pk, s.name) for s in sites])
        self.fields["alarm_type"].choices = _blank(
            [(a.code, f"{a.code} {a.name}") for a in AlarmType.objects.order_by("code")]
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end of the period is before its start."))
        return data

    def filter_values(self) -> dict:
        """Keyword arguments of `permits.queries.LedgerFilter` (the empty ones left out)."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}

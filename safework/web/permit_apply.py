"""The permit application wizard: choose the work type, then one page in sections (place with the
phone's position, the type's inputs and form fields, the window, the people, measures and JSA),
saved as a draft, then submitted.

As the form is filled in, one htmx call (`apply_check`) answers the level derived from the inputs
(`services.preview_level`), each crew member's qualification over the planned window as the
submit gate asks it (`services.preview_crew`) and the type's measure checklist and JSA template.
Saving calls `services.create_permit` / `update_draft`, submitting `services.submit`: the same
services as the API, so the same field errors (in the form) and refusals (every reason with its
clause). Sites, areas and work units come from the user's `permits.apply` scope; a site or area
outside it is someone else's: 404.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from safework.accounts.guard import require, requires, scope_in
from safework.core.errors import FieldError, InvalidInput
from safework.core.refusals import Refused
from safework.org.models import Area, Site
from safework.org.queries import departments_visible_to, sites_visible_to
from safework.people import queries as people_queries
from safework.people.rules import normalise_id_text
from safework.permits import queries, services
from safework.permits.workflow import PermitStatus
from safework.qualification.requirements import attribute_table
from safework.web import site_plan
from safework.web.forms import Styled
from safework.work import fields as work_fields
from safework.work import levels as work_levels
from safework.work import rules as work_rules
from safework.work.models import CrewRole, HeightHazard, WorkType

CREW_ROWS = 6
RISK_ROWS = 3
# The inputs `work.levels.derive` reads, per work type (the area's flags only when no area is
# chosen); every type takes the height, which the qualification engine reads too.
INPUT_LABELS = {
    "height_m": _lazy("Height above the fall reference (m)"),
    "mass_t": _lazy("Load (t)"),
    "depth_m": _lazy("Depth (m)"),
    "running_unit": _lazy("On a running unit"),
    "pipe_rack": _lazy("On a pipe rack"),
    "in_tank_dike": _lazy("Inside a tank-farm dike"),
    "shut_down_cleaned": _lazy("Unit shut down, cleaned, purged, tested and isolated"),
    "fire_explosion_hazard": _lazy("Fire/explosion hazardous place (no area chosen)"),
    "fixed_hot_work_area": _lazy("Approved fixed hot-work area (no area chosen)"),
    "tank_farm_major_dike": _lazy("Major-hazard tank farm of flammables (no area chosen)"),
    "process_or_tank_area": _lazy("Process or tank area (no area chosen)"),
    "buried_flammable_lines": _lazy("Buried flammable or toxic lines (no area chosen)"),
    "hazards": _lazy("Objective hazards"),
}
TYPE_INPUTS = {
    work_levels.HOT_WORK: ("height_m", *work_levels.JOB_FLAGS, *work_levels.AREA_FLAGS[:3]),
    work_levels.HEIGHT: ("height_m", "hazards"),
    work_levels.LIFTING: ("mass_t", "height_m"),
    work_levels.EXCAVATION: ("depth_m", *work_levels.AREA_FLAGS[3:]),
}
NUMBERS = ("height_m", "mass_t", "depth_m")
# Form fields whose choices have words for people in the catalogue of check attributes.
SYNONYMS = {"method": "hot_work_method"}


def _visible(request):
    return queries.permits_visible_to(scope_in(request, "permits", "read"), request.user)


def _apply_sites(scope):
    sites = sites_visible_to(scope)
    if scope.contractor_ids:
        engaged = Q(engagements__contractor_id__in=scope.contractor_ids)
        sites = Site.objects.filter(Q(pk__in=sites.values("pk")) | engaged)
    return sites.distinct().order_by("name")


class _AreaChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.site.name} · {obj.name}"


def _schema_field(name: str, spec: dict, required: bool) -> forms.Field:
    label = spec.get("title") or name
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if spec.get("enum"):
        words = attribute_table().get(SYNONYMS.get(name, ""), {}).get("values", {})
        choices = [(v, (words.get(v) or [v])[0]) for v in spec["enum"]]
        return forms.ChoiceField(label=label, required=required, choices=[("", "—"), *choices])
    if kind in ("number", "integer"):
        return forms.DecimalField(label=label, required=required)
    if kind == "boolean":
        return forms.BooleanField(label=label, required=False)
    if kind in ("array", "object"):
        return forms.CharField(
            label=label,
            required=required,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text=_lazy("As JSON"),
        )
    return forms.CharField(label=label, required=required, max_length=2000)


class ApplyForm(Styled, forms.Form):
    """One work type's application. Field names: the API's, with `i_` for the level inputs,
    `f_` for the type's and the enterprise's form fields, `person_N`/`role_N` for the crew."""

    level = forms.CharField(label=_lazy("Level"), required=False, widget=forms.Select())
    site = forms.ModelChoiceField(
        label=_lazy("Site"), queryset=Site.objects.none(), empty_label="—"
    )
    area = _AreaChoice(
        label=_lazy("Area"), required=False, queryset=Area.objects.none(), empty_label="—"
    )
    place = forms.CharField(label=_lazy("Exact place"), max_length=300)
    latitude = forms.DecimalField(
        label=_lazy("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        max_digits=9,
        decimal_places=6,
    )
    longitude = forms.DecimalField(
        label=_lazy("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        max_digits=9,
        decimal_places=6,
    )
    content = forms.CharField(
        label=_lazy("Work content"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    equipment = forms.CharField(label=_lazy("Equipment"), required=False, max_length=2000)
    open_air = forms.BooleanField(label=_lazy("Open-air work"), required=False, initial=True)
    planned_start = forms.DateTimeField(
        label=_lazy("Planned start"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    planned_end = forms.DateTimeField(
        label=_lazy("Planned end"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    is_emergency = forms.BooleanField(label=_lazy("Emergency (same-day) path"), required=False)
    emergency_reason = forms.CharField(
        label=_lazy("Reason for the emergency path"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    work_unit = forms.ModelChoiceField(
        label=_lazy("Work unit (own department)"), required=False, queryset=None, empty_label="—"
    )
    contractor = forms.ModelChoiceField(
        label=_lazy("Work unit (contractor)"), required=False, queryset=None, empty_label="—"
    )
    work_leader = forms.CharField(
        label=_lazy("Work leader: name or ID number"), required=False, max_length=100
    )
    measures_extra = forms.CharField(
        label=_lazy("Additional safety measures, one per line"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, work_type: WorkType, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.work_type, self.scope = work_type, scope
        levels = sorted(work_type.levels.all(), key=lambda lv: lv.rank)
        self.fields["level"].widget.choices = [
            ("", _("As derived from the inputs")),
            *[(lv.code, lv.name) for lv in levels],
        ]
        sites = _apply_sites(scope)
        self.fields["site"].queryset = sites
        self.fields["area"].queryset = (
            Area.objects.filter(site__in=sites)
            .select_related("site")
            .order_by("site__name", "name")
        )
        self.fields["work_unit"].queryset = departments_visible_to(scope).order_by("name")
        self.fields["contractor"].queryset = people_queries.contractors_visible_to(scope).order_by(
            "name"
        )
        for name in TYPE_INPUTS.get(work_type.code, ("height_m",)):
            label = INPUT_LABELS[name]
            if name in NUMBERS:
                field = forms.DecimalField(
                    label=label, required=False, min_value=0, max_digits=8, decimal_places=2
                )
            elif name == "hazards":
                field = forms.MultipleChoiceField(
                    label=label,
                    required=False,
                    choices=[(h.code, h.name) for h in HeightHazard.objects.order_by("order")],
                    widget=forms.CheckboxSelectMultiple,
                )
            else:
                field = forms.BooleanField(label=label, required=False)
            self.fields[f"i_{name}"] = field
        schema = work_fields.combined_schema(work_type)
        self.schema_names = []
        for name, spec in (schema.get("properties") or {}).items():
            self.fields[f"f_{name}"] = _schema_field(name, spec, name in schema["required"])
            self.schema_names.append(name)
        roles = [("", "—"), *[(r.code, r.name) for r in CrewRole.objects.order_by("pk")]]
        for i in range(CREW_ROWS):
            self.fields[f"person_{i}"] = forms.CharField(
                label=_lazy("Member %(n)d: name or ID number") % {"n": i + 1},
                required=False,
                max_length=100,
            )
            self.fields[f"role_{i}"] = forms.ChoiceField(
                label=_lazy("Member %(n)d: crew role") % {"n": i + 1},
                required=False,
                choices=roles,
            )
        for i in range(RISK_ROWS):
            self.fields[f"hazard_{i}"] = forms.CharField(
                label=_lazy("Hazard %(n)d") % {"n": i + 1}, required=False, max_length=2000
            )
            self.fields[f"controls_{i}"] = forms.CharField(
                label=_lazy("Controls %(n)d") % {"n": i + 1}, required=False, max_length=2000
            )

    # ---- sections for the template ----

    def section(self, *names):
        return [self[n] for n in names]

    def place_fields(self):
        return self.section("site", "area", "place", "latitude", "longitude")

    def input_fields(self):
        return [self[n] for n in self.fields if n.startswith("i_")]

    def schema_fields(self):
        return [self[n] for n in self.fields if n.startswith("f_")]

    def window_fields(self):
        return self.section("planned_start", "planned_end", "is_emergency", "emergency_reason")

    def work_fields(self):
        return self.section("content", "equipment", "open_air")

    def unit_fields(self):
        return self.section("work_unit", "contractor", "work_leader")

    def member_fields(self):
        return [(self[f"person_{i}"], self[f"role_{i}"]) for i in range(CREW_ROWS)]

    def risk_fields(self):
        return [(self[f"hazard_{i}"], self[f"controls_{i}"]) for i in range(RISK_ROWS)]

    # ---- reading ----

    def _person(self, text: str, field: str):
        visible = people_queries.persons_visible_to(self.scope)
        number = normalise_id_text(text)
        found = list(visible.filter(Q(id_number=number) | Q(name=text))[:2])
        if len(found) == 1:
            return found[0]
        self.add_error(
            field,
            _("Nobody you can see has this name or ID number.")
            if not found
            else _("Several people have this name: give the ID number."),
        )
        return None

    def clean(self):
        data = super().clean()
        self.people = {}
        for i in range(CREW_ROWS):
            text = (data.get(f"person_{i}") or "").strip()
            if not text:
                continue
            person = self._person(text, f"person_{i}")
            if person is not None:
                self.people[i] = person
                if not data.get(f"role_{i}"):
                    self.add_error(f"role_{i}", _("Choose the crew role."))
        leader = (data.get("work_leader") or "").strip()
        self.leader = self._person(leader, "work_leader") if leader else None
        for name in self.schema_names:
            field = self.fields[f"f_{name}"]
            value = data.get(f"f_{name}")
            if isinstance(field.widget, forms.Textarea) and value:
                try:
                    data[f"f_{name}"] = json.loads(value)
                except ValueError:
                    self.add_error(f"f_{name}", _("Not valid JSON."))
        return data

    def service_data(self) -> dict:
        """The input as the permit services take it (the API's `PermitIn`): from the fields that
        are valid so far (a live preview works on half a form)."""
        c = getattr(self, "cleaned_data", {}) or {}
        out = {"work_type": self.work_type.code, "level": str(self.data.get("level") or "")}
        for name in ("place", "content", "equipment", "emergency_reason"):
            if name in c:
                out[name] = c[name] or ""
        for name in ("open_air", "is_emergency"):
            if name in c:
                out[name] = bool(c[name])
        for name in ("planned_start", "planned_end", "latitude", "longitude"):
            if c.get(name) is not None:
                out[name] = c[name]
        for name, key in (("site", "site_id"), ("area", "area_id"), ("work_unit", "work_unit_id")):
            out[key] = c[name].pk if c.get(name) else None
        out["contractor_id"] = c["contractor"].pk if c.get("contractor") else None
        leader = getattr(self, "leader", None)
        out["work_leader_id"] = leader.pk if leader else None
        inputs = {}
        for key in self.fields:
            if not key.startswith("i_") or key not in c:
                continue
            name, value = key[2:], c[key]
            if name in NUMBERS:
                if value is not None:
                    inputs[name] = float(value)
            elif name == "hazards":
                if value:
                    inputs[name] = list(value)
            elif value:
                inputs[name] = True
        out["inputs"] = inputs
        out["fields"] = {
            name: (float(c[f"f_{name}"]) if isinstance(c[f"f_{name}"], Decimal) else c[f"f_{name}"])
            for name in self.schema_names
            if c.get(f"f_{name}") not in (None, "", False)
        }
        people = getattr(self, "people", {})
        out["crew"] = [
            {"person_id": p.pk, "role": c.get(f"role_{i}")}
            for i, p in sorted(people.items())
            if c.get(f"role_{i}")
        ]
        out["measures"] = [
            {"text": line.strip()}
            for line in (c.get("measures_extra") or "").splitlines()
            if line.strip()
        ]
        out["risks"] = [
            {"hazard": c[f"hazard_{i}"].strip(), "controls": (c.get(f"controls_{i}") or "").strip()}
            for i in range(RISK_ROWS)
            if (c.get(f"hazard_{i}") or "").strip()
        ]
        return out

    def add_service_errors(self, exc: InvalidInput) -> None:
        """A service's field errors onto the form's fields (others as form-wide errors)."""
        for e in exc.errors:
            field = _form_field(e, self)
            self.add_error(field, ValidationError(str(e.message), code=e.code))


def _form_field(e: FieldError, form) -> str | None:
    parts = e.field.split(".")
    name = {
        "site_id": "site",
        "area_id": "area",
        "work_unit_id": "work_unit",
        "contractor_id": "contractor",
        "work_leader_id": "work_leader",
    }.get(parts[0], parts[0])
    if parts[0] == "fields" and len(parts) > 1:
        name = f"f_{parts[1]}"
    elif parts[0] == "crew" and len(parts) > 1:
        name = f"{'role' if parts[-1] == 'role' else 'person'}_{parts[1]}"
    elif parts[0] == "inputs" and len(parts) > 1:
        name = f"i_{parts[1]}"
    elif f"i_{parts[0]}" in form.fields:
        name = f"i_{parts[0]}"
    return name if name in form.fields else None


def _initial(permit) -> dict:
    """A draft's values as the form's initial data."""
    local = timezone.localtime
    out = {
        "level": permit.level.code if permit.level_id else "",
        "site": permit.site_id,
        "area": permit.area_id,
        "place": permit.place,
        "latitude": permit.latitude,
        "longitude": permit.longitude,
        "content": permit.content,
        "equipment": permit.equipment,
        "open_air": permit.open_air,
        "planned_start": local(permit.planned_start),
        "planned_end": local(permit.planned_end),
        "is_emergency": permit.is_emergency,
        "emergency_reason": permit.emergency_reason,
        "work_unit": permit.work_unit_id,
        "contractor": permit.contractor_id,
        "work_leader": permit.work_leader.id_number if permit.work_leader_id else "",
        "measures_extra": "\n".join(
            m.text for m in permit.measures.order_by("order") if m.author_label
        ),
    }
    for name, value in (permit.inputs or {}).items():
        out[f"i_{name}"] = value
    for name, value in (permit.fields or {}).items():
        out[f"f_{name}"] = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
        )
    crew = permit.crew.filter(removed_at=None).select_related("person", "role").order_by("pk")
    for i, c in enumerate(crew[:CREW_ROWS]):
        out[f"person_{i}"] = c.person.id_number
        out[f"role_{i}"] = c.role.code
    risks = permit.risks.filter(from_template=False).order_by("order")
    for i, r in enumerate(risks[:RISK_ROWS]):
        out[f"hazard_{i}"], out[f"controls_{i}"] = r.hazard, r.controls
    return out


def _default_window() -> dict:
    """Tomorrow 08:00–16:00 local: work is appointed at least a day ahead."""
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    start += dt.timedelta(days=1)
    return {"planned_start": start, "planned_end": start.replace(hour=16)}


def _outside_scope(form) -> bool:
    """A site, area or work unit the user cannot apply at was sent: someone else's (404)."""
    return any(
        e.code == "invalid_choice"
        for name in ("site", "area", "work_unit", "contractor")
        for e in form.errors.as_data().get(name, [])
    )


def _form(request, work_type, *, data=None, initial=None):
    scope = scope_in(request, "permits", "apply")
    form = ApplyForm(data, work_type=work_type, scope=scope, initial=initial)
    if data is not None:
        form.is_valid()
        if _outside_scope(form):
            raise Http404("outside the scope")
    return form


def _check_scope(request, data) -> None:
    """The API's scope question (`services.check_apply_scope`); here a refusal is a 404."""
    try:
        services.check_apply_scope(
            scope_in(request, "permits", "apply"), data["site_id"], data.get("contractor_id")
        )
    except InvalidInput:
        raise Http404("outside the scope") from None


def _page(request, form, *, permit=None, refusals=None, status=200):
    attachments = permit.attachments.select_related("uploaded_by").order_by("at") if permit else []
    return render(
        request,
        "web/permit_apply.html",
        {
            "form": form,
            "work_type": form.work_type,
            "permit": permit,
            "refusals": refusals,
            "attachments": attachments,
            "measures": permit.measures.order_by("order") if permit else [],
            "risks": permit.risks.order_by("order") if permit else [],
            "plans": site_plan.site_plans(form.fields["site"].queryset),
        },
        status=status,
    )


# ---- views --------------------------------------------------------------------------------


@requires("permits.apply")
def apply_new(request):
    code = request.GET.get("type") or request.POST.get("work_type")
    work_type = WorkType.objects.filter(code=code).first() if code else None
    if work_type is None:
        drafts = (
            _visible(request)
            .filter(applicant=request.user, status=PermitStatus.DRAFT)
            .select_related("work_type")
            .order_by("-created_at")[:20]
        )
        return render(
            request,
            "web/permit_apply_type.html",
            {"work_types": WorkType.objects.order_by("order"), "drafts": drafts},
        )
    if request.method != "POST":
        return _page(request, _form(request, work_type, initial=_default_window()))
    form = _form(request, work_type, data=request.POST)
    if form.is_valid():
        data = form.service_data()
        _check_scope(request, data)
        try:
            permit = services.create_permit(request.user, data, at=timezone.now())
        except InvalidInput as exc:
            form.add_service_errors(exc)
        except Refused as exc:
            return _page(request, form, refusals=exc.reasons, status=409)
        else:
            messages.success(request, _("Draft saved. Check it, then submit it."))
            return redirect("web:permit_edit", permit_id=permit.pk)
    return _page(request, form)


def _draft(request, permit_id: int):
    permit = get_object_or_404(
        _visible(request).select_related("work_type", "level", "work_leader"), pk=permit_id
    )
    require(request, "permits.apply", permit)
    if permit.status != PermitStatus.DRAFT:
        messages.info(request, _("Only a draft can be edited."))
        return permit, redirect("web:permit", permit_id=permit.pk)
    return permit, None


@requires("permits.apply")
def apply_edit(request, permit_id: int):
    permit, elsewhere = _draft(request, permit_id)
    if elsewhere:
        return elsewhere
    if request.method != "POST":
        form = _form(request, permit.work_type, initial=_initial(permit))
        return _page(request, form, permit=permit)
    form = _form(request, permit.work_type, data=request.POST)
    if form.is_valid():
        data = form.service_data()
        _check_scope(request, data)
        try:
            services.update_draft(permit, request.user, data, at=timezone.now())
        except InvalidInput as exc:
            form.add_service_errors(exc)
        except Refused as exc:
            return _page(request, form, permit=permit, refusals=exc.reasons, status=409)
        else:
            messages.success(request, _("Draft saved. Check it, then submit it."))
            return redirect("web:permit_edit", permit_id=permit.pk)
    return _page(request, form, permit=permit)


@require_POST
@requires("permits.apply")
def apply_submit(request, permit_id: int):
    permit, elsewhere = _draft(request, permit_id)
    if elsewhere:
        return elsewhere
    try:
        permit = services.submit(permit, request.user, at=timezone.now())
    except Refused as exc:
        permit.refresh_from_db()
        form = _form(request, permit.work_type, initial=_initial(permit))
        return _page(request, form, permit=permit, refusals=exc.reasons, status=409)
    messages.success(
        request, _("Submitted as %(number)s: it waits for approval.") % {"number": permit.number}
    )
    return redirect("web:permit", permit_id=permit.pk)


class AttachmentForm(Styled, forms.Form):
    file = forms.FileField(label=_lazy("File"))
    name = forms.CharField(label=_lazy("Name"), required=False, max_length=200)


@require_POST
@requires("permits.apply")
def apply_attach(request, permit_id: int):
    permit, elsewhere = _draft(request, permit_id)
    if elsewhere:
        return elsewhere
    upload = AttachmentForm(request.POST, request.FILES)
    if upload.is_valid():
        try:
            services.add_attachment(
                permit,
                request.user,
                upload=upload.cleaned_data["file"],
                name=upload.cleaned_data["name"],
                at=timezone.now(),
            )
        except InvalidInput as exc:
            for e in exc.errors:
                messages.error(request, str(e.message))
        else:
            messages.success(request, _("Attached."))
    else:
        for errors in upload.errors.values():
            for e in errors:
                messages.error(request, e)
    return redirect("web:permit_edit", permit_id=permit.pk)


@require_POST
@requires("permits.apply")
def apply_check(request):
    """The live part of the form: the derived level with its clauses (or the refusal), each
    crew member's qualification for the planned window, the type's measures and JSA."""
    work_type = get_object_or_404(WorkType, code=request.POST.get("work_type", ""))
    form = _form(request, work_type, data=request.POST)
    data = form.service_data()
    level = {"decision": None, "refusals": [], "errors": []}
    try:
        level["decision"] = services.preview_level(data)
    except InvalidInput as exc:
        level["errors"] = exc.errors
    except Refused as exc:
        level["refusals"] = exc.reasons
    crew, crew_errors = [], []
    if data["crew"]:
        try:
            crew = services.preview_crew(data)
        except (InvalidInput, Refused) as exc:
            crew_errors = getattr(exc, "errors", None) or getattr(exc, "reasons", [])
    template = None
    decision = level["decision"]
    if decision is not None and data.get("planned_start"):
        try:
            template = work_rules.permit_rule(
                work_type, decision.level, timezone.localdate(data["planned_start"])
            )
        except Refused:
            template = None
    return render(
        request,
        "web/_apply_live.html",
        {
            "level": level,
            "crew": crew,
            "crew_errors": crew_errors,
            "template": template,
            "level_errors": [(_label(form, e), e.message) for e in level["errors"]],
        },
    )


def _label(form, e: FieldError) -> str:
    name = _form_field(e, form)
    return str(form.fields[name].label) if name else e.field

"""Acting on permits from the pages: the approvals inbox (the steps waiting for me, signed with a
drawn or confirmed signature and the phone's position) and the actions of the permit page
(measures, briefing, gas test, check-in, start, suspend, resume, complete, accept, close,
cancel).

Each action is the API's door in page form: visible (someone else's permit is a 404) → permitted
(`guard.require`, the API's permission: 403) → one service call at `timezone.now()`. A refusal
shows every reason with its clause (409), bad input its field (422); success redirects (POST,
redirect, GET). Which actions a page offers is only a hint (the permit's state and the user's
permission); the service decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from safework.accounts.guard import may, require, requires, scope_in
from safework.accounts.models import Role
from safework.core.errors import InvalidInput
from safework.core.refusals import Reason, Refused
from safework.permits import queries, services
from safework.permits.models import ApprovalStep
from safework.permits.workflow import PermitStatus
from safework.web.nav import NavEntry, register
from safework.web.permit_views import render_permit
from safework.web.views import _errors
from safework.work.models import GasLimit, in_force_q

S = PermitStatus
SIGNATURE_PREFIX = "data:image/png;base64,"


def _visible(request):
    return queries.permits_visible_to(scope_in(request, "permits", "read"), request.user)


def _label(permit) -> str:
    return permit.number or f"#{permit.pk}"


# ---- forms --------------------------------------------------------------------------------------


class _Form(forms.Form):
    """Bootstrap classes on the widgets, and the phone's position (filled by web/js/sign.js)."""

    lat = forms.FloatField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput({"data-sw": "lat"})
    )
    lon = forms.FloatField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput({"data-sw": "lon"})
    )
    accuracy_m = forms.FloatField(
        required=False,
        min_value=0,
        max_value=100_000,
        widget=forms.HiddenInput({"data-sw": "accuracy"}),
    )

    def __init__(self, *args, permit=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.permit, self.user = permit, user
        for field in self.fields.values():
            w = field.widget
            if isinstance(w, forms.HiddenInput):
                continue
            if isinstance(w, forms.CheckboxSelectMultiple | forms.CheckboxInput):
                w.attrs.setdefault("class", "form-check-input")
            elif isinstance(w, forms.Select):
                w.attrs.setdefault("class", "form-select")
            else:
                w.attrs.setdefault("class", "form-control")

    def position(self) -> dict | None:
        d = self.cleaned_data
        if d.get("lat") is None or d.get("lon") is None or d.get("accuracy_m") is None:
            return None
        return {"lat": d["lat"], "lon": d["lon"], "accuracy_m": d["accuracy_m"]}


def _text(label, *, required=True, rows=2, message=None):
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.Textarea({"rows": rows}),
        error_messages={"required": message} if message else None,
    )


class ApproveForm(_Form):
    image = forms.CharField(
        required=False, max_length=500_000, widget=forms.HiddenInput({"data-sw": "image"})
    )
    confirm = forms.BooleanField(label=_lazy("I sign this step in my own name"), required=False)
    note = _text(_lazy("Note"), required=False)

    def clean(self):
        data = super().clean()
        image = data.get("image") or ""
        if image and not image.startswith(SIGNATURE_PREFIX):
            raise ValidationError(_("The drawn signature is not an image."), code="invalid")
        if not image and not data.get("confirm"):
            raise ValidationError(
                _("Draw your signature or tick the confirmation."), code="required"
            )
        return data


class RejectForm(_Form):
    reason = _text(_lazy("Reason for rejecting"), message=_lazy("Give the reason for rejecting."))


class ReasonForm(_Form):
    reason = _text(_lazy("Reason"), message=_lazy("Give the reason."))


class NoteForm(_Form):
    note = _text(_lazy("Note"), required=False)


class CompleteForm(_Form):
    cleaned_up = forms.BooleanField(label=_lazy("The site is cleaned up"), required=False)
    note = _text(_lazy("Note"), required=False)


class PositionForm(_Form):
    pass


def _crew_choices(permit) -> list[tuple[int, str]]:
    """The current crew as choices, read once per permit object (several forms ask)."""
    if not hasattr(permit, "_sw_crew_choices"):
        rows = permit.crew.filter(removed_at=None).select_related("person", "role").order_by("id")
        permit._sw_crew_choices = [(c.person_id, f"{c.person.name}（{c.role.name}）") for c in rows]
    return list(permit._sw_crew_choices)


class MeasuresForm(_Form):
    measures = forms.TypedMultipleChoiceField(
        label=_lazy("Measures"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    not_involved = forms.TypedMultipleChoiceField(
        label=_lazy("Not involved"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    everything = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rows = list(self.permit.measures.filter(confirmed_at=None).order_by("order"))
        self.rows = rows
        choices = [(m.pk, m.text) for m in rows]
        self.fields["measures"].choices = choices
        self.fields["not_involved"].choices = choices

    def clean(self):
        data = super().clean()
        if not data.get("everything") and not data.get("measures"):
            raise ValidationError(_("Tick at least one measure."), code="required")
        return data

    def items(self) -> list[dict]:
        d = self.cleaned_data
        ids = [m.pk for m in self.rows] if d.get("everything") else d["measures"]
        skip = set(d.get("not_involved") or [])
        return [{"id": i, "involved": i not in skip} for i in ids]


class BriefingForm(_Form):
    briefer = forms.TypedChoiceField(label=_lazy("Briefed by"), coerce=int)
    recipients = forms.TypedMultipleChoiceField(
        label=_lazy("People briefed"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    content = _text(_lazy("Content"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        crew = _crew_choices(self.permit)
        self.fields["briefer"].choices = crew
        self.fields["recipients"].choices = crew
        self.fields["recipients"].initial = [pk for pk, _label in crew]
        leader = self.permit.work_leader_id
        if leader is not None:
            self.fields["briefer"].initial = leader


class GasTestForm(_Form):
    point = forms.CharField(label=_lazy("Sampling point"), max_length=100)
    gas = forms.ChoiceField(label=_lazy("Gas"))
    value = forms.DecimalField(label=_lazy("Reading"), min_value=0, max_digits=10, decimal_places=3)
    unit = forms.CharField(label=_lazy("Unit"), max_length=20)
    lel_percent = forms.DecimalField(
        label=_lazy("Lower explosive limit (%)"),
        required=False,
        min_value=0,
        max_value=100,
        max_digits=6,
        decimal_places=2,
    )
    instrument = forms.CharField(label=_lazy("Instrument number"), max_length=100)
    calibrated_on = forms.DateField(
        label=_lazy("Calibration date"), required=False, widget=forms.DateInput({"type": "date"})
    )
    tester = forms.TypedChoiceField(label=_lazy("Tested by"), coerce=int)
    taken_at = forms.DateTimeField(
        label=_lazy("Sampled at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput({"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_lazy("Empty: now."),
    )
    oxygen_enriched = forms.BooleanField(label=_lazy("Oxygen-enriched work"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        seen, gases = set(), []
        for g in GasLimit.objects.filter(in_force_q(timezone.localdate())).order_by("code"):
            if g.code not in seen:
                seen.add(g.code)
                gases.append((g.code, f"{g.name}（{g.unit}）"))
        self.fields["gas"].choices = gases
        crew = _crew_choices(self.permit)
        person_id = getattr(self.user, "person_id", None)
        if person_id is not None and person_id not in {pk for pk, _label in crew}:
            crew.insert(0, (person_id, str(self.user.person)))
        self.fields["tester"].choices = crew
        self.fields["tester"].initial = person_id


class CheckInForm(_Form):
    person = forms.TypedChoiceField(label=_lazy("Person"), coerce=int)
    kind = forms.ChoiceField(
        label=_lazy("Arriving or leaving"),
        choices=[("in", _lazy("arriving")), ("out", _lazy("leaving"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = _crew_choices(self.permit)


WEATHER_CONDITIONS = [
    ("heavy_snow", _lazy("heavy snow")),
    ("rainstorm", _lazy("rainstorm")),
    ("dense_fog", _lazy("dense fog")),
]


class StartForm(_Form):
    wind_force = forms.IntegerField(
        label=_lazy("Wind force (Beaufort)"), required=False, min_value=0, max_value=17
    )
    conditions = forms.MultipleChoiceField(
        label=_lazy("Weather"),
        required=False,
        choices=WEATHER_CONDITIONS,
        widget=forms.CheckboxSelectMultiple,
    )

    def weather(self) -> dict | None:
        d = self.cleaned_data
        if d.get("wind_force") is None and not d.get("conditions"):
            return None
        return {"wind_force": d.get("wind_force"), "conditions": list(d.get("conditions") or [])}


# ---- the permit page's actions ---------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    label: str
    perm: str
    form: type[_Form]
    offered_in: tuple[str, ...]  # a hint for the page; the service decides
    run: Callable  # (permit, user, at, form) → result
    done: Callable  # result → message
    style: str = "primary"


def _gas_done(test) -> str:
    verdict = _("passed") if test.passed else _("failed")
    return _("Gas test %(verdict)s: %(gas)s %(value)s %(unit)s, limit %(limit)s (%(clause)s).") % {
        "verdict": verdict,
        "gas": test.gas,
        "value": test.value,
        "unit": test.unit,
        "limit": test.limit,
        "clause": test.clause,
    }


def _saved(_result) -> str:
    return _("Saved.")


RUNNING = (S.IN_APPROVAL, S.APPROVED, S.ACTIVE, S.SUSPENDED)

ACTIONS: dict[str, Action] = {
    "measures": Action(
        _lazy("Confirm measures"),
        "permits.sign",
        MeasuresForm,
        RUNNING,
        lambda p, by, at, f: services.confirm_measures(p, f.items(), by, at=at),
        lambda items: _("Measures confirmed: %(count)s.") % {"count": len(items)},
    ),
    "briefing": Action(
        _lazy("Record the safety briefing"),
        "permits.sign",
        BriefingForm,
        RUNNING,
        lambda p, by, at, f: services.record_briefing(
            p,
            by,
            briefer_id=f.cleaned_data["briefer"],
            recipient_ids=f.cleaned_data["recipients"],
            content=f.cleaned_data["content"],
            at=at,
        ),
        _saved,
    ),
    "gas_test": Action(
        _lazy("Enter a gas test"),
        "permits.gas_test",
        GasTestForm,
        RUNNING,
        lambda p, by, at, f: services.record_gas_test(
            p,
            by,
            at=at,
            taken_at=f.cleaned_data["taken_at"] or at,
            point=f.cleaned_data["point"],
            gas=f.cleaned_data["gas"],
            value=f.cleaned_data["value"],
            unit=f.cleaned_data["unit"],
            instrument=f.cleaned_data["instrument"],
            tester_id=f.cleaned_data["tester"],
            calibrated_on=f.cleaned_data["calibrated_on"],
            lel_percent=f.cleaned_data["lel_percent"],
            oxygen_enriched=f.cleaned_data["oxygen_enriched"],
            position=f.position(),
        ),
        _gas_done,
    ),
    "check_in": Action(
        _lazy("Check in on site"),
        "permits.sign",
        CheckInForm,
        (S.APPROVED, S.ACTIVE, S.SUSPENDED),
        lambda p, by, at, f: services.check_in(
            p,
            by,
            person_id=f.cleaned_data["person"],
            kind=f.cleaned_data["kind"],
            at=at,
            position=f.position(),
        ),
        _saved,
    ),
    "start": Action(
        _lazy("Start the work"),
        "permits.sign",
        StartForm,
        (S.APPROVED,),
        lambda p, by, at, f: services.start(
            p, by, at=at, weather=f.weather(), position=f.position()
        ),
        lambda _p: _("The work has started."),
        "success",
    ),
    "suspend": Action(
        _lazy("Suspend"),
        "permits.sign",
        ReasonForm,
        (S.ACTIVE,),
        lambda p, by, at, f: services.suspend(
            p, by, at=at, reason=f.cleaned_data["reason"], position=f.position()
        ),
        lambda _p: _("The work is suspended."),
        "warning",
    ),
    "resume": Action(
        _lazy("Resume"),
        "permits.sign",
        PositionForm,
        (S.SUSPENDED,),
        lambda p, by, at, f: services.resume(p, by, at=at, position=f.position()),
        lambda _p: _("The work has resumed."),
        "success",
    ),
    "complete": Action(
        _lazy("Complete"),
        "permits.sign",
        CompleteForm,
        (S.ACTIVE,),
        lambda p, by, at, f: services.complete(
            p,
            by,
            at=at,
            cleaned_up=f.cleaned_data["cleaned_up"],
            note=f.cleaned_data["note"],
            position=f.position(),
        ),
        lambda _p: _("The work is complete."),
        "success",
    ),
    "accept": Action(
        _lazy("Accept the work"),
        "permits.accept",
        NoteForm,
        (S.COMPLETED,),
        lambda p, by, at, f: services.accept(
            p, by, at=at, note=f.cleaned_data["note"], position=f.position()
        ),
        lambda _p: _("The work is accepted."),
        "success",
    ),
    "close": Action(
        _lazy("Close the permit"),
        "permits.accept",
        PositionForm,
        (S.ACCEPTED,),
        lambda p, by, at, f: services.close(p, by, at=at),
        lambda _p: _("The permit is closed."),
        "success",
    ),
    "cancel": Action(
        _lazy("Cancel the permit"),
        "permits.apply",
        ReasonForm,
        (S.DRAFT, S.SUBMITTED, S.IN_APPROVAL, S.APPROVED, S.SUSPENDED, S.REJECTED),
        lambda p, by, at, f: services.cancel(p, by, at=at, reason=f.cleaned_data["reason"]),
        lambda _p: _("The permit is cancelled."),
        "danger",
    ),
}


def panel(request, permit, *, bound: dict | None = None, refusal=None) -> dict:
    """The actions this user may take on `permit` now (their forms, `bound` ones as posted),
    and the refusal of the last one tried."""
    bound = bound or {}
    now = timezone.now()
    status = permit.status_at(now)
    allowed: dict[str, bool] = {}
    offered = []
    for key, action in ACTIONS.items():
        if status not in action.offered_in and key not in bound:
            continue
        if action.perm not in allowed:
            allowed[action.perm] = may(request, action.perm, permit)
        if not allowed[action.perm]:
            continue
        form = bound.get(key) or action.form(permit=permit, user=request.user, prefix=key)
        offered.append(
            {
                "key": key,
                "label": action.label,
                "form": form,
                "style": action.style,
                "open": key in bound,
            }
        )
    return {"actions": offered, "refusal": refusal}


@require_POST
def permit_action(request, permit_id: int, action: str):
    """One action of the permit page: the service's answer, or the page with its refusal."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404(action)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("web:permit", args=[permit_id]))
    require(request, "permits.read")
    permit = get_object_or_404(_visible(request), pk=permit_id)
    require(request, spec.perm, permit)
    form = spec.form(request.POST, permit=permit, user=request.user, prefix=action)
    refusal, status = None, 422
    if form.is_valid():
        try:
            result = spec.run(permit, request.user, timezone.now(), form)
        except InvalidInput as exc:
            _errors(form, exc)
        except Refused as exc:
            refusal, status = exc.reasons, 409
        else:
            messages.success(request, spec.done(result))
            return redirect(reverse("web:permit", args=[permit.pk]) + "#actions")
    return render_permit(
        request,
        permit.pk,
        extra=lambda p: panel(request, p, bound={action: form}, refusal=refusal),
        status=status,
    )


@requires("permits.read")
def permit_detail(request, permit_id: int):
    """The permit page with the actions this user may take."""
    return render_permit(request, permit_id, extra=lambda p: panel(request, p))


# ---- the approvals inbox -----------------------------------------------------------------------


def _waiting(request) -> list[ApprovalStep]:
    """The steps waiting for the user, read once per request (the inbox and its nav badge)."""
    if not hasattr(request, "_sw_waiting"):
        request._sw_waiting = queries.steps_waiting_for(
            request.user, _visible(request), at=timezone.now()
        )
    return request._sw_waiting


def _inbox(request, *, bound: dict | None = None, refusal=None, status: int = 200):
    bound = bound or {}
    steps = _waiting(request)
    roles = dict(Role.choices)
    for step in steps:
        step.role_label = roles.get(step.signing_as, step.signing_as)
        mine = bound.get(step.pk, {})
        step.approve_form = mine.get("approve") or ApproveForm(prefix=f"a{step.pk}")
        step.reject_form = mine.get("reject") or RejectForm(prefix=f"r{step.pk}")
        step.refusal = mine.get("refusal")
        step.reject_open = "reject" in mine
    # A refusal about a step no longer listed (signed meanwhile) shows above the list.
    shown = any(step.refusal for step in steps)
    context = {"steps": steps, "refusal": None if shown else refusal}
    return render(request, "web/approvals.html", context, status=status)


@requires("permits.approve")
def approvals(request):
    """The steps waiting for my signature, overdue first."""
    return _inbox(request)


def _sign(request, step_id: int, decision: str):
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("web:approvals"))
    require(request, "permits.read")
    step = get_object_or_404(
        ApprovalStep.objects.filter(permit__in=_visible(request).values("pk")).select_related(
            "permit"
        ),
        pk=step_id,
    )
    permit = step.permit
    # The API's doors: approval steps with `permits.approve`, the checks before the start with
    # `permits.sign`; rejecting is an approver's.
    perm = "permits.approve" if step.stage == "approval" or decision == "reject" else "permits.sign"
    require(request, perm, permit)
    if decision == "approve":
        form = ApproveForm(request.POST, prefix=f"a{step.pk}")
    else:
        form = RejectForm(request.POST, prefix=f"r{step.pk}")
    refusal, status = None, 422
    if form.is_valid():
        try:
            if services.current_step(permit) != step:
                raise Refused(
                    [Reason("step.none", _("No step of this permit is waiting for a signature."))]
                )
            if decision == "approve":
                services.approve(
                    permit,
                    request.user,
                    at=timezone.now(),
                    position=form.position(),
                    image=form.cleaned_data["image"],
                    note=form.cleaned_data["note"],
                )
                done = _("Signed: %(step)s of %(permit)s.")
            else:
                services.reject(
                    permit,
                    request.user,
                    at=timezone.now(),
                    reason=form.cleaned_data["reason"],
                    position=form.position(),
                )
                done = _("Rejected: %(permit)s, back to its applicant.")
        except InvalidInput as exc:
            _errors(form, exc)
        except Refused as exc:
            refusal, status = exc.reasons, 409
        else:
            messages.success(request, done % {"step": step.label, "permit": _label(permit)})
            return redirect("web:approvals")
    return _inbox(
        request,
        bound={step.pk: {decision: form, "refusal": refusal}},
        refusal=refusal,
        status=status,
    )


@require_POST
def approve_step(request, step_id: int):
    return _sign(request, step_id, "approve")


@require_POST
def reject_step(request, step_id: int):
    return _sign(request, step_id, "reject")


def _waiting_count(request) -> int:
    return len(_waiting(request))


register(
    NavEntry(
        "approvals",
        _lazy("Approvals"),
        "web:approvals",
        "permits.approve",
        icon="pen",
        order=35,
        badge=_waiting_count,
    )
)

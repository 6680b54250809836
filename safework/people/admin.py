"""Admin of people: persons with their employment, contractors and their engagements, health
checks, the blacklist. Registration, health checks, employment changes and bars go through
people.services; ID numbers are masked for roles that may not see them."""

import datetime as dt

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.admin_mixins import (
    NamesField,
    ScopedAdmin,
    ScopedTabularInline,
    invalid_input_as_validation_error,
)
from safework.accounts.matrix import BLACKLIST, CONTRACTORS, HEALTH, PEOPLE, WRITE
from safework.core.errors import InvalidInput
from safework.core.scope import Scope
from safework.org.models import Department
from safework.org.queries import departments_visible_to
from safework.people import queries, services
from safework.people.models import (
    BlacklistEntry,
    Contractor,
    ContractorEngagement,
    EmployerKind,
    Employment,
    HealthCheck,
    Person,
)
from safework.people.queries import is_contractor_only
from safework.people.rules import UsccError, validate_uscc


def clean_id_number_field(raw) -> str:
    """The normalised number, or the services' own clear message as a form error."""
    try:
        number, _birth, _gender = services.checked_id_number(raw)
    except InvalidInput as exc:
        raise invalid_input_as_validation_error(exc)
    return number


def with_scope(form_class, scope: Scope):
    """The form class with the writer's scope, for choices and checks that depend on it."""
    return type(form_class.__name__, (form_class,), {"scope": scope})


# --- persons ---------------------------------------------------------------------------------


class PersonForm(forms.ModelForm):
    """Person fields plus an employment (services.EmploymentIn): the first one when
    registering, a new employer on a change."""

    former_names = NamesField(
        label=gettext_lazy("former names"),
        required=False,
        help_text=gettext_lazy("Separate several names with 、 or a comma."),
    )
    employer_kind = forms.ChoiceField(
        label=gettext_lazy("employer"),
        choices=[("", "---------"), *EmployerKind.choices],
        required=False,
    )
    contractor = forms.ModelChoiceField(
        label=gettext_lazy("contractor"), queryset=Contractor.objects.none(), required=False
    )
    department = forms.ModelChoiceField(
        label=gettext_lazy("department"), queryset=Department.objects.none(), required=False
    )
    started_on = forms.DateField(
        label=gettext_lazy("employed from"), required=False, widget=AdminDateWidget
    )

    scope: Scope = Scope.nothing()  # the writer's PEOPLE scope (set by PersonAdmin.get_form)

    class Meta:
        model = Person
        fields = ("id_number", "name", "former_names", "phone", "education", "position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contractor"].queryset = queries.contractors_visible_to(self.scope)
        self.fields["department"].queryset = departments_visible_to(self.scope).filter(
            is_active=True
        )

    def clean_id_number(self):
        return clean_id_number_field(self.cleaned_data.get("id_number"))

    def employment(self) -> services.EmploymentIn | None:
        data = self.cleaned_data
        if not data.get("employer_kind"):
            return None
        return services.EmploymentIn(
            employer_kind=data["employer_kind"],
            started_on=data["started_on"],
            contractor_id=data["contractor"].pk if data.get("contractor") else None,
            department_id=data["department"].pk if data.get("department") else None,
        )

    def clean_employment(self, *, required: bool) -> None:
        data = self.cleaned_data
        kind = data.get("employer_kind")
        if not kind:
            if required:
                self.add_error(
                    "employer_kind",
                    _("Give the employment: it decides who may see the person."),
                )
            return
        if not data.get("started_on"):
            self.add_error("started_on", _("Give the first day of the employment."))
        if kind == EmployerKind.CONTRACTOR and not data.get("contractor"):
            self.add_error("contractor", _("Name the contractor."))
        if kind == EmployerKind.OWN and data.get("contractor"):
            self.add_error("contractor", _("Own staff have no contractor."))
        if kind == EmployerKind.OWN and not data.get("department") and not self.scope.group_wide:
            self.add_error("department", _("Name the department."))


class PersonAddForm(PersonForm):
    def clean(self):
        cleaned = super().clean()
        # A site or contractor writer must place the person in their scope.
        self.clean_employment(required=not self.scope.group_wide)
        return cleaned


class ReviewedPersonAddForm(PersonAddForm):
    """A contractor manager's registration: no uniqueness check on the form (its "already
    exists" would tell them who else holds a number); the site's safety officer reviews it
    (issue 17, `services.submit_for_review`)."""

    def validate_unique(self):
        pass


class PersonChangeForm(PersonForm):
    ends_on = forms.DateField(
        label=gettext_lazy("current employment ends on"),
        required=False,
        widget=AdminDateWidget,
        help_text=gettext_lazy("Empty: the day before the new employment starts."),
    )

    class Meta(PersonForm.Meta):
        fields = (*PersonForm.Meta.fields, "is_active")

    def clean(self):
        cleaned = super().clean()
        self.clean_employment(required=False)
        current = self.instance.current_employment
        start = cleaned.get("started_on")
        if cleaned.get("employer_kind") and start:
            ends_on = cleaned.get("ends_on") or start - dt.timedelta(days=1)
            if current is not None and ends_on < current.started_on:
                self.add_error("ends_on", _("The current employment cannot end before it started."))
            cleaned["ends_on"] = ends_on
        return cleaned


class EmploymentInline(ScopedTabularInline):
    model = Employment
    fk_name = "person"
    editable = False
    fields = ("employer_kind", "contractor", "department", "site", "started_on", "ended_on")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("employment history")


class HealthCheckInline(ScopedTabularInline):
    model = HealthCheck
    editable = False
    fields = ("checked_on", "conclusion", "restricted_work_types", "valid_until", "institution")
    readonly_fields = fields
    show_change_link = True


@admin.register(Person)
class PersonAdmin(ScopedAdmin):
    """One record per human. Registering goes through `register_person` (with the first
    employment), a change of employer through `change_employment`; never deleted (deactivate)."""

    resource = PEOPLE
    deletable = False
    id_fields = {"id_number": "masked_id_number", "birth_date": "masked_birth_date"}
    id_search_fields = ("id_number",)
    list_display = (
        "name",
        "id_number",
        "gender",
        "birth_date",
        "employer",
        "position",
        "is_active",
    )
    list_filter = ("is_active", "gender", "education", "current_employment__employer_kind")
    list_select_related = (
        "position",
        "current_employment__contractor",
        "current_employment__department",
    )
    search_fields = ("name", "phone")
    readonly_fields = ("gender", "birth_date", "employer", "certificates", "created_at")
    inlines = (EmploymentInline, HealthCheckInline)

    def visible(self, request, scope):
        return queries.persons_visible_to(scope)

    def get_fieldsets(self, request, obj=None):
        person = (None, {"fields": ["id_number", "name", "former_names", "phone", "education"]})
        if obj is None:
            employment = ["employer_kind", "contractor", "department", "started_on"]
            fieldsets = [
                person,
                (None, {"fields": ["position"]}),
                (_("employment"), {"fields": employment}),
            ]
        else:
            fieldsets = [
                person,
                (None, {"fields": [("gender", "birth_date"), "position", "is_active"]}),
                (_("employment"), {"fields": ["employer", "certificates", "created_at"]}),
            ]
            if self.has_change_permission(request, obj):
                new = ["employer_kind", "contractor", "department", "started_on", "ends_on"]
                fieldsets.append(
                    (_("change of employer"), {"classes": ["collapse"], "fields": new})
                )
        return self.mask_fieldsets(request, fieldsets)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = PersonChangeForm
        elif self._contractor_scope(request) is not None:
            kwargs["form"] = ReviewedPersonAddForm
        else:
            kwargs["form"] = PersonAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        return with_scope(form, self.scope(request, WRITE) or Scope.nothing())

    def _contractor_scope(self, request) -> Scope | None:
        scope = self.scope(request, WRITE)
        return scope if scope is not None and is_contractor_only(scope) else None

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self._contractor_scope(request) is not None:
            readonly.append("id_number")  # corrected by the site (no "already registered" probe)
        return readonly

    def add_view(self, request, form_url="", extra_context=None):
        """A contractor manager's valid registration goes to the site's safety officer for
        review, with the same answer whoever holds the number (issue 17)."""
        scope = self._contractor_scope(request)
        if scope is None or request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        form = self.get_form(request)(request.POST, request.FILES)
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)  # shows the errors
        data = form.cleaned_data
        values = {
            "id_number": data["id_number"],
            "name": data["name"],
            "former_names": data.get("former_names") or [],
            "phone": data.get("phone") or "",
            "education": data.get("education") or "",
            "position_id": data["position"].pk if data.get("position") else None,
            "employment": form.employment(),
        }
        try:
            answer = services.submit_for_review(by=request.user, scope=scope, values=values)
        except InvalidInput as exc:
            request._sw_service_error = exc
            return super().add_view(request, form_url, extra_context)
        if answer is None:
            return super().add_view(request, form_url, extra_context)
        self.message_user(request, answer["message"], messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:people_person_changelist"))

    @admin.display(description=gettext_lazy("employer"))
    def employer(self, obj):
        emp = obj.current_employment
        if emp is None:
            return "—"
        if emp.contractor_id:
            return str(emp.contractor)
        return str(emp.department) if emp.department_id else _("own enterprise")

    @admin.display(description=gettext_lazy("certificates"))
    def certificates(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:certs_certificate_changelist") + f"?person__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("certificates of this person"))

    def save_with_service(self, request, obj, form, change):
        if change:
            return None
        data = form.cleaned_data
        return services.register_person(
            by=request.user,
            id_number=data["id_number"],
            name=data["name"],
            former_names=data.get("former_names") or [],
            phone=data.get("phone") or "",
            education=data.get("education") or "",
            position_id=data["position"].pk if data.get("position") else None,
            employment=form.employment(),
        )

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        if set(form.changed_data) & set(PersonChangeForm.Meta.fields):
            if "id_number" in form.changed_data:
                # Birth date and gender are read from the number, never typed.
                _number, obj.birth_date, obj.gender = services.checked_id_number(obj.id_number)
            super().save_model(request, obj, form, change)
        else:
            obj._sw_audited = True  # nothing of the person itself changed
        employment = form.employment()
        if employment is not None:
            services.change_employment(
                by=request.user,
                person=obj,
                employment=employment,
                ended_on=form.cleaned_data["ends_on"],
            )
            obj.refresh_from_db(fields=["current_employment"])


@admin.register(Employment)
class EmploymentAdmin(ScopedAdmin):
    """Employment history: written by registration and changes of employer on the person."""

    resource = PEOPLE
    read_only = True
    deletable = False
    id_fields = {"person__id_number": "masked_person_id_number"}
    id_search_fields = ("person__id_number",)
    list_display = (
        "person",
        "person__id_number",
        "employer_kind",
        "contractor",
        "department",
        "site",
        "started_on",
        "ended_on",
        "status",
    )
    list_filter = ("employer_kind", "status")
    list_select_related = ("person", "contractor", "department", "site")
    search_fields = ("person__name",)

    def visible(self, request, scope):
        return queries.employments_visible_to(scope)


# --- contractors -----------------------------------------------------------------------------

_USCC_MESSAGES = {
    "uscc.registration_number": gettext_lazy(
        "A 15-digit business registration number from before 2015: give the 18-character code."
    ),
    "uscc.length": gettext_lazy("A unified social credit code has 18 characters."),
    "uscc.format": gettext_lazy("The code has characters outside GB 32100 (no I, O, S, V, Z)."),
    "uscc.checksum": gettext_lazy("The check character of the credit code is wrong."),
}


class ContractorForm(forms.ModelForm):
    class Meta:
        model = Contractor
        fields = ("name", "uscc", "contact_name", "contact_phone", "status", "liaison")

    def clean_liaison(self):
        liaison = self.cleaned_data.get("liaison")
        if (
            liaison is not None
            and not Employment.objects.filter(
                pk=liaison.current_employment_id, employer_kind=EmployerKind.OWN
            ).exists()
        ):
            raise ValidationError(_("The liaison must be one of our own staff."), code="not_own")
        return liaison

    def clean_uscc(self):
        try:
            return validate_uscc(self.cleaned_data.get("uscc"))
        except UsccError as exc:
            raise ValidationError(str(_USCC_MESSAGES.get(exc.code, exc)), code=exc.code)


class EngagementFormSet(forms.BaseInlineFormSet):
    scope: Scope = Scope.everything()  # the writer's CONTRACTORS scope (EngagementInline)

    def clean(self):
        super().clean()
        if self.scope.group_wide or any(self.errors):
            return
        # A site writer sees a contractor through an engagement at their site: without one the
        # contractor would vanish from their view as it is saved.
        sites = {
            f.cleaned_data["site"].pk
            for f in self.forms
            if f.cleaned_data.get("site") and not f.cleaned_data.get("DELETE")
        }
        own = self.instance.pk in self.scope.contractor_ids
        if own or sites & set(self.scope.site_ids):
            return
        raise ValidationError(_("Add the contractor's engagement at your site."))


class EngagementInline(ScopedTabularInline):
    model = ContractorEngagement
    formset = EngagementFormSet
    fields = ("site", "starts_on", "ends_on", "status")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        scope = self.scope(request, WRITE) or Scope.nothing()
        return type(formset.__name__, (formset,), {"scope": scope})


@admin.register(Contractor)
class ContractorAdmin(ScopedAdmin):
    """Contractor companies with their engagement per site (what makes their staff visible to a
    site): a site writer adds the engagement at their site with the contractor."""

    resource = CONTRACTORS
    form = ContractorForm
    deletable = False  # end the engagements or terminate instead
    list_display = ("name", "uscc", "contact_name", "contact_phone", "liaison", "status")
    list_filter = ("status",)
    list_select_related = ("liaison",)
    search_fields = ("name", "=uscc", "contact_name")
    raw_id_fields = ("liaison",)  # chosen from the (scoped) person list, not a list of everyone
    inlines = (EngagementInline,)

    def visible(self, request, scope):
        return queries.contractors_visible_to(scope)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        scope = self.scope(request, WRITE)
        if scope is not None and is_contractor_only(scope):
            readonly.append("liaison")  # our side names its liaison, not the contractor
        return readonly


@admin.register(ContractorEngagement)
class ContractorEngagementAdmin(ScopedAdmin):
    resource = CONTRACTORS
    deletable = False
    list_display = ("contractor", "site", "starts_on", "ends_on", "status")
    list_filter = ("status", ("site", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("contractor", "site")
    search_fields = ("contractor__name",)

    def visible(self, request, scope):
        return queries.engagements_visible_to(scope)


# --- health checks ---------------------------------------------------------------------------


def work_type_choices():
    # Work types are a certs catalogue; certs sits above people, so look it up at run time.
    work_type = apps.get_model("work", "WorkType")
    return list(work_type.objects.values_list("code", "name"))


class HealthCheckForm(forms.ModelForm):
    restricted_work_types = forms.MultipleChoiceField(
        label=gettext_lazy("unfit for work types"),
        required=False,
        choices=work_type_choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = HealthCheck
        fields = (
            "person",
            "checked_on",
            "conclusion",
            "restricted_work_types",
            "restriction_reason",
            "valid_until",
            "institution",
        )

    def clean(self):
        cleaned = super().clean()
        checked_on, valid_until = cleaned.get("checked_on"), cleaned.get("valid_until")
        if checked_on and valid_until and valid_until < checked_on:
            self.add_error("valid_until", _("Valid until is before the check date."))
        return cleaned


@admin.register(HealthCheck)
class HealthCheckAdmin(ScopedAdmin):
    """Occupational medical checks; recorded through `record_health_check`, never deleted."""

    resource = HEALTH
    form = HealthCheckForm
    deletable = False
    id_fields = {"person__id_number": "masked_person_id_number"}
    id_search_fields = ("person__id_number",)
    list_display = (
        "person",
        "person__id_number",
        "checked_on",
        "conclusion",
        "valid_until",
        "institution",
    )
    list_filter = ("conclusion", "checked_on")
    list_select_related = ("person",)
    search_fields = ("person__name", "institution")
    autocomplete_fields = ("person",)
    date_hierarchy = "checked_on"

    def visible(self, request, scope):
        return queries.health_checks_visible_to(scope)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "person"] if obj is not None else readonly

    def save_with_service(self, request, obj, form, change):
        if change:
            return None
        data = form.cleaned_data
        return services.record_health_check(
            by=request.user,
            person=data["person"],
            checked_on=data["checked_on"],
            conclusion=data["conclusion"],
            restricted_work_types=data.get("restricted_work_types") or [],
            restriction_reason=data.get("restriction_reason") or "",
            valid_until=data.get("valid_until"),
            institution=data.get("institution") or "",
        )


# --- blacklist -------------------------------------------------------------------------------


class BlacklistForm(forms.ModelForm):
    class Meta:
        model = BlacklistEntry
        fields = ("id_number", "name", "reason", "starts_on", "ends_on")

    def clean_id_number(self):
        return clean_id_number_field(self.cleaned_data.get("id_number"))

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The bar cannot end before it starts."))
        return cleaned


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(ScopedAdmin):
    """Bars on ID numbers, added through `add_to_blacklist`; a bar is ended (until), not
    deleted, so the record of it stays."""

    resource = BLACKLIST
    form = BlacklistForm
    deletable = False
    id_fields = {"id_number": "masked_id_number"}
    id_search_fields = ("id_number",)
    list_display = ("id_number", "name", "reason", "starts_on", "ends_on", "created_by_label")
    list_filter = ("starts_on", "ends_on")
    search_fields = ("name", "reason")

    def visible(self, request, scope):
        return queries.blacklist_visible_to(scope)

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "created_by_label"]
        if obj is not None:
            readonly.append("id_number")  # a bar is on one number; a wrong one is ended
        return readonly

    def save_with_service(self, request, obj, form, change):
        if change:
            return None
        data = form.cleaned_data
        return services.add_to_blacklist(
            by=request.user,
            id_number=data["id_number"],
            name=data.get("name") or "",
            reason=data["reason"],
            starts_on=data["starts_on"],
            ends_on=data.get("ends_on"),
        )

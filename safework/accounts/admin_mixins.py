"""The admin's access rules: each role sees its scope, ID numbers masked, every change audited.

Every model admin of the project is a `ScopedAdmin` naming its policy `resource`:

- `get_queryset` is filtered by the user's READ scope (`accounts.guard.scope_in`): a row outside
  it does not exist for the user (the admin says "not found", like the API's 404).
  `has_*_permission` ask `accounts.guard.may(request, "<resource>.<action>", obj)`, the check the
  API and the pages make, and a change or delete also needs the object inside the user's WRITE
  scope (a group-wide inspector who is also the safety officer of site A views site B but
  changes only site A), by this admin's own rule for its rows. Superusers see and change
  everything. The model views leave the resource's READ scope on `request.scope`.
- `visible(request, scope)` names the resource's one visibility query (`<app>.queries`, the
  `…_visible_to` that the API, exports and views use too); the admin builds no visibility of its
  own. The changelist reads that query; `scope_queryset` narrows any other queryset (inlines,
  choices) to it. An admin that names no query shows nothing (fail-closed); `global_data = True`
  marks reference data (the catalogue) that every reader of the resource sees. Foreign-key
  choices are limited by the related model's query under this admin's WRITE scope, so nothing is
  attached to an object outside the writer's scope; and a saved object must still lie inside it
  (checked inside the transaction, before the audit record, so a breach rolls back with a 403).
- ID numbers: `id_fields` swaps a field (an ID number, a birth date, a certificate number) for
  its masked display (`people.masking`) for users without `sees_full_id_numbers`, and
  searching by a part of a number is only for those who see them.
  As defence in depth, each page these admins render for such a user has every valid resident ID
  number masked: Django's admin prints `str(obj)` in titles, breadcrumbs, history and messages,
  and some objects' text carries a number (a blacklist entry, a certificate numbered with the
  holder's ID number, a registry look-up, an audit payload).
- Writes: an admin whose domain has a service implements `save_with_service` (the service
  checks, changes and writes its own audit record); otherwise `save_model` / `save_related` /
  `delete_model` save here and end with one `core.audit` record per changed object, inline rows
  included, as the last write of the admin's transaction. A service's `InvalidInput` or
  `Refused` comes back as errors on the same form with the input kept.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.guard import may, scope_in
from safework.accounts.matrix import READ, WRITE
from safework.accounts.scope import sees_full_id_numbers
from safework.core import audit
from safework.core.errors import InvalidInput
from safework.core.integrity import save_unique, unique_or_422
from safework.core.policy import perm_name
from safework.core.refusals import Refused
from safework.core.scope import Scope
from safework.core.text import model_text_errors
from safework.people.masking import (
    mask_birth_date,
    mask_certificate_number,
    mask_id_number,
    mask_id_numbers_in,
)
from safework.people.rules import normalise_id_text


def shows_full_id_numbers(request) -> bool:
    return sees_full_id_numbers(request.user)


def invalid_input_as_validation_error(exc: InvalidInput) -> ValidationError:
    """A service's InvalidInput as a ValidationError of one form field (its messages)."""
    return ValidationError([str(e.message) for e in exc.errors])


def service_errors(exc: InvalidInput | Refused) -> list[tuple[str, str]]:
    """(field, message) pairs of a service's refusal; field "" for the form as a whole."""
    if isinstance(exc, Refused):
        return [("", str(r.message)) for r in exc.reasons]
    return [(e.field, str(e.message)) for e in exc.errors]


def with_service_errors(form_class, exc):
    """`form_class`, failing validation with the errors a service gave for the same input.

    Service field names are mapped onto the form: "employment.contractor_id" → "contractor"
    (last part, then without "_id"); a name the form lacks becomes an error of the whole form.
    """

    class ServiceErrorsForm(form_class):
        def clean(self):
            cleaned = super().clean()
            for field, message in service_errors(exc):
                name = field.rsplit(".", 1)[-1]
                if name not in self.fields and name.removesuffix("_id") in self.fields:
                    name = name.removesuffix("_id")
                self.add_error(name if name in self.fields else None, message)
            return cleaned

    ServiceErrorsForm.__name__ = form_class.__name__
    return ServiceErrorsForm


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's instance the row a service saved (the admin keeps using its own)."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj.refresh_from_db()


def form_values(form, allowed, *, changed_only: bool = False) -> dict:
    """The form's model fields as a service takes them: {"site_id": 3, "name": "…"}.

    Foreign keys by attname with the primary key; only names in `allowed` (attnames), and with
    `changed_only` only the fields the user changed.
    """
    opts = form._meta.model._meta
    out = {}
    for name, value in form.cleaned_data.items():
        if changed_only and name not in form.changed_data:
            continue
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:  # a form-only field
            continue
        key = getattr(field, "attname", name)
        if key not in allowed:
            continue
        out[key] = value.pk if isinstance(value, models.Model) else value
    return out


def audit_fields(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict:
    """The audit snapshot of an instance without the excluded fields (a password hash)."""
    data = audit.snapshot(obj)
    for name in exclude:
        data.pop(name, None)
        data.pop(f"{name}_id", None)
    return data


def action_name(model: type[models.Model], verb: str) -> str:
    """The audit action of a generic admin write: "certs.certificate_changed"."""
    return f"{model._meta.app_label}.{model._meta.model_name}_{verb}"


class _ScopedBase:
    """What model admins and inlines share: scopes per request and scoped foreign-key choices."""

    resource: str = ""

    def scope(self, request, action: str) -> Scope | None:
        """The user's scope for (resource, action), cached on the request."""
        return scope_in(request, self.resource_name(), action)

    def resource_name(self) -> str:
        return self.resource

    def perm(self, action: str) -> str:
        """The permission this admin checks for `action`: "people.write"."""
        return perm_name(self.resource_name(), action)

    def related_admin(self, model):
        related = self.admin_site._registry.get(model)
        return related if isinstance(related, ScopedAdmin) else None

    def limit_related(self, request, db_field, kwargs: dict) -> dict:
        """Choices of a foreign key: what the related model's admin shows in our write scope."""
        related = self.related_admin(db_field.related_model)
        if related is not None and "queryset" not in kwargs:
            scope = self.scope(request, WRITE) or Scope.nothing()
            base = db_field.related_model._default_manager.all()
            kwargs["queryset"] = related.scope_queryset(request, base, scope)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(
            db_field, request, **self.limit_related(request, db_field, kwargs)
        )


class ScopedAdmin(_ScopedBase, admin.ModelAdmin):
    """A model admin that reads the permission matrix and the user's scope (module docstring)."""

    global_data = False  # reference data: every reader of the resource sees every row
    read_only = False  # a view of rows that services write (jobs, audit records)
    deletable = True  # False: deactivate, revoke or end instead
    id_fields: dict[str, str] = {}  # field or lookup → name of its masked display method
    id_search_fields: tuple[str, ...] = ()  # ID number lookups a search may match exactly
    audit_exclude: tuple[str, ...] = ()  # fields never written into the audit payload

    # -- visibility -------------------------------------------------------------------------
    def visible(self, request, scope: Scope) -> models.QuerySet:
        """The rows `scope` sees: the resource's one visibility query (`<app>.queries`), the
        same the API, exports and views filter through. Fail-closed: nothing, unless the admin
        names its query (or is `global_data`)."""
        return self.model._default_manager.none()

    def scope_queryset(self, request, qs, scope: Scope):
        """The rows of `qs` that `scope` covers (`visible`)."""
        if self.global_data:
            return qs
        visible = self.visible(request, scope)
        if not visible.query.has_filters():  # the query sees every row: no sub-query
            return qs
        return qs.filter(pk__in=visible.values("pk"))

    def in_scope(self, request, obj, scope: Scope | None) -> bool:
        if scope is None:
            return False
        if self.global_data:
            return True
        return self.visible(request, scope).filter(pk=obj.pk).exists()

    def get_queryset(self, request):
        scope = self.scope(request, READ)
        if scope is None:
            return self.model._default_manager.none()
        if self.global_data:
            return super().get_queryset(request)
        # The changelist reads the visibility query itself (one statement, no sub-query), with
        # the admin's ordering on top.
        qs = self.visible(request, scope)
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    # -- permissions: accounts.guard, as the API and the pages ------------------------------
    def within(self, request):
        """This admin's rule for "is the object inside the scope" (its `scope_queryset`)."""
        return lambda scope, obj: self.in_scope(request, obj, scope)

    def has_module_permission(self, request):
        return may(request, self.perm(READ))

    def has_view_permission(self, request, obj=None):
        # No object check: get_queryset already hides what lies outside the READ scope.
        return may(request, self.perm(READ))

    def has_add_permission(self, request):
        return not self.read_only and may(request, self.perm(WRITE))

    def has_change_permission(self, request, obj=None):
        if self.read_only:
            return False
        return may(request, self.perm(WRITE), obj, within=self.within(request))

    def has_delete_permission(self, request, obj=None):
        return self.deletable and self.has_change_permission(request, obj)

    # -- ID numbers -------------------------------------------------------------------------
    def _masked_names(self, request, names: list) -> list:
        if not self.id_fields or shows_full_id_numbers(request):
            return names
        out = []
        for name in names:
            name = self.id_fields.get(name, name) if isinstance(name, str) else name
            if name not in out:
                out.append(name)
        return out

    def get_list_display(self, request):
        return self._masked_names(request, list(super().get_list_display(request)))

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        return self._masked_names(request, list(links)) if links else links

    def get_fields(self, request, obj=None):
        return self._masked_names(request, list(super().get_fields(request, obj)))

    def get_fieldsets(self, request, obj=None):
        return self.mask_fieldsets(request, super().get_fieldsets(request, obj))

    def mask_fieldsets(self, request, fieldsets):
        """Fieldsets with each ID number field swapped for its masked display, if need be."""
        if not self.id_fields or shows_full_id_numbers(request):
            return fieldsets
        out = []
        for name, options in fieldsets:
            fields = [
                tuple(self._masked_names(request, list(f)))
                if isinstance(f, list | tuple)
                else self.id_fields.get(f, f)
                for f in options.get("fields", ())
            ]
            out.append((name, {**options, "fields": fields}))
        return out

    @admin.display(description=gettext_lazy("resident ID number"))
    def masked_id_number(self, obj) -> str:
        return mask_id_number(obj.id_number) if obj.id_number else ""

    @admin.display(description=gettext_lazy("resident ID number"))
    def masked_person_id_number(self, obj) -> str:
        return mask_id_number(obj.person.id_number) if obj.person_id else ""

    @admin.display(description=gettext_lazy("birth date"))
    def masked_birth_date(self, obj) -> str:
        return mask_birth_date(obj.birth_date)

    @admin.display(description=gettext_lazy("certificate number"))
    def masked_certificate_number(self, obj) -> str:
        return mask_certificate_number(obj.number, obj.person.id_number if obj.person_id else "")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self.id_fields and not shows_full_id_numbers(request):
            readonly += [m for m in self.id_fields.values() if m not in readonly]
        return readonly

    def get_search_results(self, request, queryset, search_term):
        """Search as usual, plus ID numbers: the whole number for everyone, any part of it only
        for users who see full numbers (a part would let others probe masked digits)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not self.id_search_fields or not search_term.strip():
            return found, may_have_duplicates
        full = shows_full_id_numbers(request)
        by_id = Q(pk__in=[])
        for term in search_term.split():
            value = normalise_id_text(term)
            for lookup in self.id_search_fields:
                if len(value) == 18:
                    by_id |= Q(**{lookup: value})
                elif full and len(value) >= 4:
                    by_id |= Q(**{f"{lookup}__contains": value})
        return queryset.filter(Q(pk__in=found.values("pk")) | by_id), may_have_duplicates

    def _mask_page(self, request, response):
        """Defence in depth (module docstring): mask every ID number on the rendered page."""
        if shows_full_id_numbers(request) or not isinstance(response, TemplateResponse):
            return response

        def mask(rendered):
            page = rendered.content.decode()
            rendered.content = mask_id_numbers_in(page, only_valid=True).encode()

        response.add_post_render_callback(mask)
        return response

    def _set_scope(self, request) -> None:
        # As the API and the pages leave the scope of what they show on the request.
        request.scope = self.scope(request, READ) or Scope.nothing()

    def changelist_view(self, request, extra_context=None):
        self._set_scope(request)
        return self._mask_page(request, super().changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        self._set_scope(request)
        try:
            response = super().changeform_view(request, object_id, form_url, extra_context)
        except (InvalidInput, Refused) as exc:
            # The service said no and its transaction rolled back: show the same form again,
            # with the service's errors on their fields (see `get_form`) and the input kept.
            request._sw_service_error = exc
            request.__dict__.pop("_sw_inline_audit", None)
            response = super().changeform_view(request, object_id, form_url, extra_context)
        return self._mask_page(request, response)

    def history_view(self, request, object_id, extra_context=None):
        self._set_scope(request)
        return self._mask_page(request, super().history_view(request, object_id, extra_context))

    def delete_view(self, request, object_id, extra_context=None):
        self._set_scope(request)
        return self._mask_page(request, super().delete_view(request, object_id, extra_context))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        exc = getattr(request, "_sw_service_error", None)
        return form if exc is None else with_service_errors(form, exc)

    # -- audited writes ---------------------------------------------------------------------
    def _before(self, obj) -> dict | None:
        if obj.pk is None:
            return None
        current = type(obj)._default_manager.filter(pk=obj.pk).first()
        return audit_fields(current, self.audit_exclude) if current is not None else None

    def save_with_service(self, request, obj, form, change):
        """Save through the domain's service, if it has one: return the saved instance (the
        service wrote its own audit record), or None to save the model here, audited."""
        return None

    def save_model(self, request, obj, form, change):
        saved = self.save_with_service(request, obj, form, change)
        if saved is not None:
            adopt(obj, saved)
            obj._sw_audited = True
            return
        obj._sw_before = self._before(obj) if change else None
        if errors := model_text_errors(obj, exclude={"password"}):  # as services refuse them
            raise InvalidInput(errors)
        save_unique(obj)  # a concurrent twin: the form again with the error, not a 500

    def save_formset(self, request, form, formset, change):
        # Keyed by instance: a deleted row has lost its pk by the time it is reported.
        befores, labels = {}, {}
        for f in formset.initial_forms:
            inst = f.instance
            if inst.pk is not None and (f.has_changed() or formset._should_delete_form(f)):
                befores[id(inst)] = self._before(inst)
                labels[id(inst)] = audit.describe(inst)
        with unique_or_422():
            formset.save()
        pending = request.__dict__.setdefault("_sw_inline_audit", [])
        for inst in formset.new_objects:
            pending.append(
                audit.entry(
                    action=action_name(type(inst), "created"),
                    target=inst,
                    actor=request.user,
                    after=audit_fields(inst, self.audit_exclude),
                )
            )
        for inst, _changed in formset.changed_objects:
            pending.append(
                audit.entry(
                    action=action_name(type(inst), "changed"),
                    target=inst,
                    actor=request.user,
                    before=befores.get(id(inst)),
                    after=audit_fields(inst, self.audit_exclude),
                )
            )
        for inst in formset.deleted_objects:
            pending.append(
                audit.entry(
                    action=action_name(type(inst), "deleted"),
                    target=labels.get(id(inst), audit.describe(inst)),
                    actor=request.user,
                    before=befores.get(id(inst)),
                )
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        scope = self.scope(request, WRITE)
        if not self.in_scope(request, obj, scope):
            # Never leave a row outside the writer's own scope; raising rolls the change back.
            raise PermissionDenied(_("The result would lie outside your scope."))
        entries = []
        after = audit_fields(obj, self.audit_exclude)
        before = getattr(obj, "_sw_before", None)
        changed = not change or (form.has_changed() and before != after)
        if not getattr(obj, "_sw_audited", False) and changed:
            entries.append(
                audit.entry(
                    action=action_name(type(obj), "changed" if change else "created"),
                    target=obj,
                    actor=request.user,
                    before=before,
                    after=after,
                )
            )
        entries += request.__dict__.pop("_sw_inline_audit", [])
        audit.record_many(entries)

    def delete_model(self, request, obj):
        with transaction.atomic():
            target = audit.describe(obj)
            before = audit_fields(obj, self.audit_exclude)
            obj.delete()
            audit.record(
                action=action_name(type(obj), "deleted"),
                target=target,
                actor=request.user,
                before=before,
            )

    def delete_queryset(self, request, queryset):
        # "Delete selected" asks for the permission without an object: check each row here.
        scope = self.scope(request, WRITE) or Scope.nothing()
        if self.scope_queryset(request, queryset, scope).count() != queryset.count():
            raise PermissionDenied(_("Some of the selected rows lie outside your scope."))
        with transaction.atomic():
            entries = [
                audit.entry(
                    action=action_name(type(obj), "deleted"),
                    target=audit.describe(obj),
                    actor=request.user,
                    before=audit_fields(obj, self.audit_exclude),
                )
                for obj in queryset
            ]
            queryset.delete()
            audit.record_many(entries)


class ScopedInline(_ScopedBase, InlineModelAdmin):
    """An inline under a ScopedAdmin: the parent's resource and scope, unless it names its own.

    `editable = False` makes a history inline (events, employments): shown, never changed here.
    """

    editable = True
    deletable = False
    extra = 0

    def resource_name(self) -> str:
        return self.resource or self.parent_admin().resource

    def parent_admin(self) -> ScopedAdmin:
        return self.admin_site._registry[self.parent_model]

    def _may_write(self, request, obj) -> bool:
        if not self.editable:
            return False
        # `obj` is the parent's object: inside the parent admin's scope for it.
        return may(request, self.perm(WRITE), obj, within=self.parent_admin().within(request))

    def has_view_permission(self, request, obj=None):
        return may(request, self.perm(READ))

    def has_add_permission(self, request, obj):
        return self._may_write(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.deletable and self._may_write(request, obj)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        related = self.related_admin(self.model)
        scope = self.scope(request, READ)
        if related is None or scope is None:
            return qs if scope is not None else qs.none()
        return related.scope_queryset(request, qs, scope)


class ScopedTabularInline(ScopedInline):
    template = "admin/edit_inline/tabular.html"


class ScopedStackedInline(ScopedInline):
    template = "admin/edit_inline/stacked.html"


class NamesField(forms.CharField):
    """A list of names typed as one line: "李四、李小四" ↔ ["李四", "李小四"]."""

    _split = re.compile(r"[,，、;；\s]+")

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "、".join(value)
        return value

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        text = super().to_python(value) or ""
        return [n for n in self._split.split(text) if n]

    def has_changed(self, initial, data):
        return (initial or []) != self.to_python(data)

"""Admin of logins and their role grants (resource ACCOUNTS: administrators).

Roles are `RoleGrant` rows, not Django's groups and model permissions, so those are left out of
the forms and the auth "groups" admin is not shown. A user needs `is_staff` to log in here; what
they then see is decided by their grants alone.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group as AuthGroup
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from safework.accounts import queries, services
from safework.accounts.admin_mixins import ScopedAdmin, ScopedTabularInline
from safework.accounts.matrix import ACCOUNTS, WRITE
from safework.accounts.models import ApiToken, Role, RoleGrant, User
from safework.core import audit
from safework.core.refusals import Refused

if admin.site.is_registered(AuthGroup):
    admin.site.unregister(AuthGroup)

# Grants without the place they apply to give no scope at all (accounts.scope.grant_scope).
_SITE_ROLES = {Role.SAFETY_OFFICER}
_DEPARTMENT_ROLES = {Role.WORKSHOP_HEAD, Role.TEAM_LEADER}
_PERSON_ROLES = {Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER}


class RoleGrantForm(forms.ModelForm):
    class Meta:
        model = RoleGrant
        fields = ("user", "role", "site", "contractor", "department")

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if role == Role.CONTRACTOR_MANAGER and not cleaned.get("contractor"):
            self.add_error("contractor", _("A contractor manager's grant names the contractor."))
        if role != Role.CONTRACTOR_MANAGER and cleaned.get("contractor"):
            self.add_error("contractor", _("Only a contractor manager's grant names a contractor."))
        if role in _SITE_ROLES and not cleaned.get("site"):
            self.add_error("site", _("A safety officer's grant names the site."))
        if role in _DEPARTMENT_ROLES and not (cleaned.get("department") or cleaned.get("site")):
            self.add_error("department", _("Name the department (or the site) this grant covers."))
        user = cleaned.get("user") or getattr(self.instance, "user", None)
        if role in _PERSON_ROLES and user is not None and not user.person_id:
            self.add_error("role", _("Link the user to their person first: this role sees them."))
        return cleaned


class KeepsAnAdministrator:
    """Admin writes that could take administration away (a user deactivated or no longer a
    superuser, an administrator grant changed or deleted, here or in the user's inline) lock the
    administrators first and are refused when none would be left; the services' rule
    (`services.lock_administrators`), so that the API and the admin agree. A refused save shows
    the form again with the reason; a refused delete comes back with it as a message."""

    def save_model(self, request, obj, form, change):
        request._sw_administrators = services.lock_administrators()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.refuse_losing_administration(request._sw_administrators)

    def delete_model(self, request, obj):
        with transaction.atomic():
            administrators = services.lock_administrators()
            super().delete_model(request, obj)
            services.refuse_losing_administration(administrators)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            administrators = services.lock_administrators()
            super().delete_queryset(request, queryset)
            services.refuse_losing_administration(administrators)

    def _refused(self, request, exc: Refused):
        for reason in exc.reasons:
            self.message_user(request, reason.message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except Refused as exc:
            return self._refused(request, exc)

    def changelist_view(self, request, extra_context=None):
        try:  # the "delete selected" action
            return super().changelist_view(request, extra_context)
        except Refused as exc:
            return self._refused(request, exc)


class RoleGrantInline(ScopedTabularInline):
    model = RoleGrant
    form = RoleGrantForm
    fields = ("role", "site", "contractor", "department")
    deletable = True  # revoking a role is deleting its grant (audited)
    extra = 0


@admin.register(User)
class UserAdmin(KeepsAnAdministrator, ScopedAdmin, DjangoUserAdmin):
    resource = ACCOUNTS
    deletable = False  # deactivate: audit records and jobs name their users
    audit_exclude = ("password",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (gettext_lazy("Personal info"), {"fields": ("first_name", "last_name", "email", "person")}),
        (gettext_lazy("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (gettext_lazy("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = (
        "username",
        "first_name",
        "last_name",
        "person",
        "roles",
        "is_staff",
        "is_active",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "grants__role")
    list_select_related = ("person",)
    search_fields = ("username", "first_name", "last_name", "email", "person__name")
    autocomplete_fields = ("person",)
    filter_horizontal = ()
    inlines = (RoleGrantInline,)
    actions = ("unlock_logins",)

    def visible(self, request, scope):
        return queries.users_visible_to(scope)

    def save_model(self, request, obj, form, change):
        if change and not obj.is_active:
            services.refuse_deactivating_oneself(by=request.user, user=obj)
        super().save_model(request, obj, form, change)

    @admin.action(
        description=gettext_lazy("Unlock login after failed attempts"), permissions=["change"]
    )
    def unlock_logins(self, request, queryset):
        cleared = sum(
            services.unlock_login(by=request.user, username=user.username) for user in queryset
        )
        self.message_user(
            request, _("Unlocked: %(count)d failure counters cleared.") % {"count": cleared}
        )

    def get_inline_instances(self, request, obj=None):
        # Grants are added once the user exists (the add form is Django's two-step one).
        return super().get_inline_instances(request, obj) if obj is not None else []

    @admin.display(description=gettext_lazy("roles"))
    def roles(self, obj):
        return ", ".join(sorted({g.get_role_display() for g in obj.grants.all()})) or "—"

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            done = (
                request.method == "POST"
                and response.status_code == 302
                and response.url != request.get_full_path()
            )
            if done:
                user = User.objects.get(pk=id)
                # Never the hash itself: the record says that the password changed.
                audit.record(
                    action="accounts.password_changed", target=user, actor=request.user, after={}
                )
        return response


@admin.register(RoleGrant)
class RoleGrantAdmin(KeepsAnAdministrator, ScopedAdmin):
    resource = ACCOUNTS
    form = RoleGrantForm
    list_display = ("user", "role", "site", "contractor", "department", "created_at")
    list_filter = ("role", "site")
    list_select_related = ("user", "site", "contractor", "department")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)

    def visible(self, request, scope):
        return queries.grants_visible_to(scope)


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdmin):
    """Every user's API tokens, for administrators: who has which, when used; revoke. Tokens are
    made through the API (POST /api/v1/tokens), which shows the token once."""

    resource = ACCOUNTS
    read_only = True
    deletable = False
    list_display = (
        "name",
        "user",
        "prefix",
        "read_only",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("read_only", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    exclude = ("digest",)
    actions = ("revoke_tokens",)

    def visible(self, request, scope):
        return queries.tokens_visible_to(request.user)

    def has_revoke_permission(self, request):
        return self.scope(request, WRITE) is not None

    @admin.action(description=gettext_lazy("Revoke the selected tokens"), permissions=["revoke"])
    def revoke_tokens(self, request, queryset):
        for token in queryset:
            services.revoke_token(by=request.user, token=token)
        self.message_user(request, _("Revoked: %(count)d tokens.") % {"count": len(queryset)})


# The audit chain's and the settings' admins need the permission matrix, which core must not
# import; they are registered from here.
from safework.accounts import admin_core  # noqa: E402, F401

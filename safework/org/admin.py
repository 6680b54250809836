"""Admin of the organisation: group, sites, areas, the department tree (ORG) and posts
(CATALOGUE). Writes go through org.services, which check references against the writer's scope
and write the audit record."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from safework.accounts.admin_mixins import ScopedAdmin, adopt, form_values
from safework.accounts.matrix import CATALOGUE, ORG, WRITE
from safework.core import audit
from safework.org import queries, services
from safework.org.models import Area, Department, Group, Position, Site


class OrgServiceAdmin(ScopedAdmin):
    """Create and update through the org service of the model; deactivate through its
    `deactivate_*` service. Reactivating has no service: it is saved here, audited."""

    service_fields: set[str] = set()
    deletable = False  # deactivate instead: sites and departments carry history

    def create(self, *, by, values, scope):
        raise NotImplementedError

    def update(self, *, by, obj, changes, scope):
        raise NotImplementedError

    def deactivate(self, *, by, obj):
        raise NotImplementedError

    def save_with_service(self, request, obj, form, change):
        scope = self.scope(request, WRITE)
        if not change:
            return self.create(
                by=request.user, values=form_values(form, self.service_fields), scope=scope
            )
        changes = form_values(form, self.service_fields, changed_only=True)
        saved = (
            self.update(by=request.user, obj=obj, changes=changes, scope=scope) if changes else obj
        )
        if "is_active" in form.changed_data:
            if form.cleaned_data["is_active"]:
                adopt(obj, saved)
                before = audit.snapshot(obj)
                obj.is_active = True
                obj.save(update_fields=["is_active"])
                name = type(obj)._meta.model_name
                audit.record(
                    action=f"org.{name}_reactivated", target=obj, actor=request.user, before=before
                )
                saved = obj
            else:
                saved = self.deactivate(by=request.user, obj=saved)
        return saved


@admin.register(Group)
class GroupAdmin(OrgServiceAdmin):
    resource = ORG
    service_fields = services.GROUP_FIELDS
    list_display = ("name", "code", "is_active", "is_synthetic")
    list_filter = ("is_active", "is_synthetic")
    search_fields = ("name", "code")
    fields = ("name", "code", "is_active")

    def visible(self, request, scope):
        return queries.groups_visible_to(scope)

    def create(self, *, by, values, scope):
        return services.create_group(by=by, scope=scope, **values)

    def update(self, *, by, obj, changes, scope):
        return services.update_group(by=by, group=obj, changes=changes, scope=scope)

    def deactivate(self, *, by, obj):
        return services.deactivate_group(by=by, group=obj)


@admin.register(Site)
class SiteAdmin(OrgServiceAdmin):
    resource = ORG
    service_fields = services.SITE_FIELDS
    list_display = ("name", "code", "group", "address", "is_active")
    list_filter = ("is_active", ("group", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("group",)
    search_fields = ("name", "code", "address")
    fields = ("group", "name", "code", "address", ("latitude", "longitude"), "is_active")

    def visible(self, request, scope):
        return queries.sites_visible_to(scope)

    def create(self, *, by, values, scope):
        return services.create_site(by=by, values=values, scope=scope)

    def update(self, *, by, obj, changes, scope):
        return services.update_site(by=by, site=obj, changes=changes, scope=scope)

    def deactivate(self, *, by, obj):
        return services.deactivate_site(by=by, site=obj)


@admin.register(Area)
class AreaAdmin(OrgServiceAdmin):
    resource = ORG
    service_fields = services.AREA_FIELDS
    list_display = ("name", "code", "site", "hazard_class", "fire_explosion_hazard", "is_active")
    list_filter = (
        ("site", admin.RelatedOnlyFieldListFilter),
        "hazard_class",
        "fire_explosion_hazard",
        "is_active",
    )
    list_select_related = ("site",)
    search_fields = ("name", "code")
    fieldsets = (
        (None, {"fields": ("site", "name", "code", "hazard_class", "fire_explosion_hazard")}),
        (
            _("special work"),
            {
                "fields": (
                    "fixed_hot_work_area",
                    "process_or_tank_area",
                    "buried_flammable_lines",
                    "tank_farm_major_dike",
                )
            },
        ),
        (
            _("geofence"),
            {"fields": (("center_latitude", "center_longitude", "radius_m"), "polygon")},
        ),
        (None, {"fields": ("is_active",)}),
    )

    def visible(self, request, scope):
        return queries.areas_visible_to(scope)

    def create(self, *, by, values, scope):
        return services.create_area(by=by, values=values, scope=scope)

    def update(self, *, by, obj, changes, scope):
        return services.update_area(by=by, area=obj, changes=changes, scope=scope)

    def deactivate(self, *, by, obj):
        return services.deactivate_area(by=by, area=obj)


@admin.register(Department)
class DepartmentAdmin(OrgServiceAdmin):
    """The tree in path order, indented by depth; saving keeps the paths (save_department)."""

    resource = ORG
    service_fields = services.DEPARTMENT_FIELDS
    list_display = ("tree_name", "code", "kind", "parent", "effective_site", "is_active")
    list_filter = ("kind", ("effective_site", admin.RelatedOnlyFieldListFilter), "is_active")
    list_select_related = ("parent", "effective_site")
    search_fields = ("name", "code")
    fields = ("group", "parent", "site", "name", "code", "kind", "effective_site", "is_active")
    readonly_fields = ("effective_site",)

    def visible(self, request, scope):
        return queries.departments_visible_to(scope)

    @admin.display(description=_("name"), ordering="path")
    def tree_name(self, obj):
        depth = max(obj.path.count("/") - 2, 0)
        return f"{'— ' * depth}{obj.name}"

    def create(self, *, by, values, scope):
        return services.create_department(by=by, values=values, scope=scope)

    def update(self, *, by, obj, changes, scope):
        return services.update_department(by=by, department=obj, changes=changes, scope=scope)

    def deactivate(self, *, by, obj):
        return services.deactivate_department(by=by, department=obj)


@admin.register(Position)
class PositionAdmin(OrgServiceAdmin):
    """Posts are a catalogue (they decide which crew roles a person may take)."""

    resource = CATALOGUE
    global_data = True
    service_fields = services.POSITION_FIELDS
    list_display = ("name", "code", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
    fields = ("name", "code", "description", "is_active")

    def create(self, *, by, values, scope):
        return services.create_position(by=by, values=values)

    def update(self, *, by, obj, changes, scope):
        return services.update_position(by=by, position=obj, changes=changes)

    def deactivate(self, *, by, obj):
        return services.deactivate_position(by=by, position=obj)

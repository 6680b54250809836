"""Writes to the organisation: the group, sites, areas, the department tree, positions.

Each door-level service is one transaction ending with its audit record. `scope` is the writer's
scope for ORG writes: references must be visible in it (else a 422 on that field) and the result
must stay visible (a site-scoped principal cannot create a company-level department).
`scope=None` means a trusted caller (commands, seed, admin with its own checks).
"""

from decimal import Decimal

from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core import audit
from safework.core.errors import FieldError, InvalidInput
from safework.core.integrity import describe_unique, save_unique
from safework.core.refusals import Reason, Refused
from safework.core.scope import Scope
from safework.core.validation import clean_model, visible_ref
from safework.org import queries
from safework.org.models import Area, Department, Group, Position, Site

# Sent inside save_department's transaction, before its audit record, with the ids of the
# departments whose effective site changed; people keeps Employment.site in step with it.
department_sites_changed = Signal()

# A concurrent twin that passed `_unique` meets the unique constraint: same answer.
for _model, _key in (
    (Group, "code"),
    (Site, "code"),
    (Department, "code"),
    (Position, "code"),
    (Area, "area_code_per_site"),
):
    describe_unique(
        _model, _key, field="code", message=gettext_lazy("This code is already in use.")
    )

SITE_FIELDS = {"name", "code", "address", "latitude", "longitude", "group_id"}
AREA_FIELDS = {
    "site_id",
    "name",
    "code",
    "hazard_class",
    "fire_explosion_hazard",
    "fixed_hot_work_area",
    "process_or_tank_area",
    "buried_flammable_lines",
    "tank_farm_major_dike",
    "center_latitude",
    "center_longitude",
    "radius_m",
    "polygon",
}
DEPARTMENT_FIELDS = {"name", "code", "kind", "parent_id", "site_id", "group_id"}
POSITION_FIELDS = {"name", "code", "description"}
GROUP_FIELDS = {"name", "code"}


# --- helpers -----------------------------------------------------------------------------


def _everything(scope: Scope | None) -> Scope:
    return Scope.everything() if scope is None else scope


def _unique(qs, field: str, value, *, exclude_pk=None) -> None:
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if value is not None and qs.filter(**{field: value}).exists():
        raise InvalidInput(FieldError(field, "duplicate", _("This code is already in use.")))


def _still_visible(visible_qs, obj, field: str = "") -> None:
    if not visible_qs.filter(pk=obj.pk).exists():
        raise InvalidInput(
            FieldError(field, "out_of_scope", _("The result would be outside your scope."))
        )


def _apply(obj, changes: dict, allowed: set[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(
            [FieldError(name, "unknown_field", _("Unknown field.")) for name in sorted(unknown)]
        )
    for name, value in changes.items():
        setattr(obj, name, value)


def _coordinate(value) -> Decimal | None:
    return None if value is None else Decimal(str(round(float(value), 6)))


def _locked(model, obj):
    return model.objects.select_for_update().get(pk=obj.pk)


def _deactivate(model, obj, *, by, action: str):
    obj = _locked(model, obj)
    if not obj.is_active:
        return obj
    before = audit.snapshot(obj)
    obj.is_active = False
    obj.save(update_fields=["is_active"])
    audit.record(action=action, target=obj, actor=by, before=before)
    return obj


# --- group -------------------------------------------------------------------------------


@transaction.atomic
def create_group(*, by, name: str, code: str, scope: Scope | None = None) -> Group:
    """A new enterprise group; only group-wide writers see a group without sites."""
    _unique(Group.objects, "code", code)
    group = Group(name=name, code=code)
    clean_model(group)
    save_unique(group)
    _still_visible(queries.groups_visible_to(_everything(scope)), group)
    audit.record(action="org.group_created", target=group, actor=by)
    return group


@transaction.atomic
def update_group(*, by, group: Group, changes: dict, scope: Scope | None = None) -> Group:
    group = _locked(Group, group)
    before = audit.snapshot(group)
    _apply(group, changes, GROUP_FIELDS)
    _unique(Group.objects, "code", changes.get("code"), exclude_pk=group.pk)
    clean_model(group)
    save_unique(group)
    audit.record(action="org.group_updated", target=group, actor=by, before=before)
    return group


@transaction.atomic
def deactivate_group(*, by, group: Group) -> Group:
    return _deactivate(Group, group, by=by, action="org.group_deactivated")


# --- sites -------------------------------------------------------------------------------


def _site_values(changes: dict) -> dict:
    out = dict(changes)
    for name in ("latitude", "longitude"):
        if name in out:
            out[name] = _coordinate(out[name])
    return out


@transaction.atomic
def create_site(*, by, values: dict, scope: Scope | None = None) -> Site:
    """A plant with its WGS-84 position."""
    scope = _everything(scope)
    visible_ref(queries.groups_visible_to(scope), values.get("group_id"), "group_id")
    _unique(Site.objects, "code", values.get("code"))
    site = Site()
    _apply(site, _site_values(values), SITE_FIELDS)
    clean_model(site)
    save_unique(site)
    _still_visible(queries.sites_visible_to(scope), site)
    audit.record(action="org.site_created", target=site, actor=by)
    return site


@transaction.atomic
def update_site(*, by, site: Site, changes: dict, scope: Scope | None = None) -> Site:
    scope = _everything(scope)
    site = _locked(Site, site)
    before = audit.snapshot(site)
    if "group_id" in changes:
        visible_ref(queries.groups_visible_to(scope), changes["group_id"], "group_id")
    _unique(Site.objects, "code", changes.get("code"), exclude_pk=site.pk)
    _apply(site, _site_values(changes), SITE_FIELDS)
    clean_model(site)
    save_unique(site)
    audit.record(action="org.site_updated", target=site, actor=by, before=before)
    return site


@transaction.atomic
def deactivate_site(*, by, site: Site) -> Site:
    return _deactivate(Site, site, by=by, action="org.site_deactivated")


# --- areas -------------------------------------------------------------------------------


def geofence_errors(area: Area) -> list[FieldError]:
    """What is wrong with an area's geofence: a centre and radius, or a polygon of [lat, lon]
    points (at least 3 distinct, in range), or none yet; never both."""
    errors = []
    circle = {
        "center_latitude": area.center_latitude,
        "center_longitude": area.center_longitude,
        "radius_m": area.radius_m,
    }
    given = {k for k, v in circle.items() if v is not None}
    if given and given != set(circle):
        errors += [
            FieldError(
                name,
                "required",
                _("A circular geofence needs a centre latitude, a centre longitude and a radius."),
            )
            for name in circle
            if name not in given
        ]
    if area.radius_m is not None and area.radius_m <= 0:
        errors.append(FieldError("radius_m", "too_small", _("The radius must be positive.")))
    polygon = area.polygon
    if polygon is not None:
        if given:
            errors.append(
                FieldError(
                    "polygon",
                    "conflict",
                    _("Give either a centre and radius or a polygon, not both."),
                )
            )
        points = []
        for i, point in enumerate(polygon if isinstance(polygon, list) else [None]):
            if not (isinstance(point, list | tuple) and len(point) == 2):
                errors.append(
                    FieldError(f"polygon.{i}", "invalid", _("A point is [latitude, longitude]."))
                )
                continue
            lat, lon = point
            if not (isinstance(lat, int | float) and -90 <= lat <= 90):
                errors.append(
                    FieldError(
                        f"polygon.{i}.0",
                        "out_of_range",
                        _("A latitude lies between -90 and 90."),
                    )
                )
            if not (isinstance(lon, int | float) and -180 <= lon <= 180):
                errors.append(
                    FieldError(
                        f"polygon.{i}.1",
                        "out_of_range",
                        _("A longitude lies between -180 and 180."),
                    )
                )
            points.append((lat, lon))
        if len(set(points)) < 3:
            errors.append(
                FieldError(
                    "polygon",
                    "too_few_points",
                    _("A polygon needs at least 3 different points."),
                )
            )
    return errors


def _area_values(changes: dict) -> dict:
    out = dict(changes)
    for name in ("center_latitude", "center_longitude"):
        if name in out:
            out[name] = _coordinate(out[name])
    if out.get("polygon") is not None:
        out["polygon"] = [list(p) if isinstance(p, list | tuple) else p for p in out["polygon"]]
    return out


def _check_area(area: Area) -> None:
    errors = geofence_errors(area)
    if errors:
        raise InvalidInput(errors)
    if (
        area.site_id
        and area.code
        and Area.objects.filter(site_id=area.site_id, code=area.code).exclude(pk=area.pk).exists()
    ):
        raise InvalidInput(
            FieldError("code", "duplicate", _("This code is already in use at this site."))
        )
    clean_model(area)


@transaction.atomic
def create_area(*, by, values: dict, scope: Scope | None = None) -> Area:
    """A unit or area of a site, with its hazard class and geofence."""
    visible_ref(queries.sites_visible_to(_everything(scope)), values.get("site_id"), "site_id")
    area = Area()
    _apply(area, _area_values(values), AREA_FIELDS)
    _check_area(area)
    save_unique(area)
    audit.record(action="org.area_created", target=area, actor=by)
    return area


@transaction.atomic
def update_area(*, by, area: Area, changes: dict, scope: Scope | None = None) -> Area:
    area = _locked(Area, area)
    before = audit.snapshot(area)
    if "site_id" in changes:
        visible_ref(queries.sites_visible_to(_everything(scope)), changes["site_id"], "site_id")
    _apply(area, _area_values(changes), AREA_FIELDS)
    _check_area(area)
    save_unique(area)
    audit.record(action="org.area_updated", target=area, actor=by, before=before)
    return area


@transaction.atomic
def deactivate_area(*, by, area: Area) -> Area:
    return _deactivate(Area, area, by=by, action="org.area_deactivated")


# --- departments -------------------------------------------------------------------------


def department_path_and_site(dept: Department) -> tuple[str, int | None]:
    """The tree path ("/1/5/9/") and the nearest ancestor's site of a department."""
    if dept.parent_id is None:
        prefix, inherited = "/", None
    else:
        parent = Department.objects.only("path", "effective_site_id").get(pk=dept.parent_id)
        prefix, inherited = parent.path, parent.effective_site_id
    return f"{prefix}{dept.pk}/", dept.site_id or inherited


def _cycle() -> InvalidInput:
    return InvalidInput(
        FieldError(
            "parent_id",
            "cycle",
            _("A department cannot move under itself or its own sub-departments."),
        )
    )


@transaction.atomic
def save_department(dept: Department, *, by=None) -> Department:
    """Create or update a department, keeping the tree paths and effective sites of its subtree.

    Moving a department moves its subtree with it: every descendant's path and effective site
    follow, and employments in those departments get their new site.
    """
    is_new = dept.pk is None
    before = None if is_new else audit.snapshot(Department.objects.get(pk=dept.pk))
    if dept.parent_id and dept.pk and dept.parent_id == dept.pk:
        raise _cycle()
    if is_new:
        dept.path = "/"
        save_unique(dept)
    old_path, old_site = ("/", None) if is_new else (before["path"], before["effective_site_id"])
    dept.path, dept.effective_site_id = department_path_and_site(dept)
    if dept.parent_id and f"/{dept.pk}/" in dept.path[: -len(f"{dept.pk}/")]:
        raise _cycle()
    save_unique(dept)
    moved = [] if is_new or old_site == dept.effective_site_id else [dept.pk]
    if old_path != "/" and (old_path != dept.path or moved):
        # Parents sort before their children ("/1/5/" < "/1/5/9/"), so each child reads its
        # parent's new path.
        subtree = Department.objects.filter(path__startswith=old_path).exclude(pk=dept.pk)
        for child in subtree.order_by("path"):
            site_before = child.effective_site_id
            child.path, child.effective_site_id = department_path_and_site(child)
            child.save(update_fields=["path", "effective_site"])
            if child.effective_site_id != site_before:
                moved.append(child.pk)
    if moved:
        department_sites_changed.send(sender=Department, department_ids=moved)
    audit.record(
        action="org.department_created" if is_new else "org.department_saved",
        target=dept,
        actor=by,
        before=before,
    )
    return dept


def _check_department_refs(dept: Department, changes: dict, scope: Scope) -> None:
    visible = queries.departments_visible_to(scope)
    parent = visible_ref(visible, changes.get("parent_id"), "parent_id")
    site = visible_ref(queries.sites_visible_to(scope), changes.get("site_id"), "site_id")
    group = visible_ref(queries.groups_visible_to(scope), changes.get("group_id"), "group_id")
    if parent is not None and dept.group_id is None and group is None:
        dept.group_id = parent.group_id
    if site is not None and dept.group_id is None and group is None:
        dept.group_id = site.group_id
    errors = []
    if parent is not None and parent.group_id != dept.group_id:
        errors.append(
            FieldError("parent_id", "other_group", _("The parent belongs to another group."))
        )
    if site is not None and site.group_id != dept.group_id:
        errors.append(FieldError("site_id", "other_group", _("The site belongs to another group.")))
    if errors:
        raise InvalidInput(errors)


@transaction.atomic
def create_department(*, by, values: dict, scope: Scope | None = None) -> Department:
    """A department in the tree; `site` may be empty for company-level departments."""
    scope = _everything(scope)
    dept = Department()
    _apply(dept, values, DEPARTMENT_FIELDS)
    _check_department_refs(dept, values, scope)
    _unique(Department.objects, "code", values.get("code"))
    if dept.group_id is None:
        raise InvalidInput(
            FieldError("group_id", "required", _("Name the group, a parent or a site."))
        )
    clean_model(dept, exclude=["path"])
    dept = save_department(dept, by=by)
    _still_visible(queries.departments_visible_to(scope), dept, "site_id")
    return dept


@transaction.atomic
def update_department(
    *, by, department: Department, changes: dict, scope: Scope | None = None
) -> Department:
    """Rename, re-site or move a department; a move keeps the paths of its subtree."""
    scope = _everything(scope)
    dept = _locked(Department, department)
    _apply(dept, changes, DEPARTMENT_FIELDS)
    _check_department_refs(dept, changes, scope)
    _unique(Department.objects, "code", changes.get("code"), exclude_pk=dept.pk)
    clean_model(dept, exclude=["path"])
    dept = save_department(dept, by=by)
    _still_visible(queries.departments_visible_to(scope), dept, "site_id")
    return dept


@transaction.atomic
def deactivate_department(*, by, department: Department) -> Department:
    """Refused while active sub-departments remain: deactivate the leaves first."""
    children = Department.objects.filter(parent_id=department.pk, is_active=True)
    if children.exists():
        raise Refused(
            [
                Reason(
                    "org.department.active_children",
                    _("Deactivate its sub-departments first."),
                    subject=", ".join(children.values_list("name", flat=True)[:10]),
                )
            ]
        )
    return _deactivate(Department, department, by=by, action="org.department_deactivated")


# --- positions ---------------------------------------------------------------------------


@transaction.atomic
def create_position(*, by, values: dict) -> Position:
    """A post; which crew roles it may take is the catalogue's position matrix."""
    _unique(Position.objects, "code", values.get("code"))
    position = Position()
    _apply(position, values, POSITION_FIELDS)
    clean_model(position)
    save_unique(position)
    audit.record(action="org.position_created", target=position, actor=by)
    return position


@transaction.atomic
def update_position(*, by, position: Position, changes: dict) -> Position:
    position = _locked(Position, position)
    before = audit.snapshot(position)
    _unique(Position.objects, "code", changes.get("code"), exclude_pk=position.pk)
    _apply(position, changes, POSITION_FIELDS)
    clean_model(position)
    save_unique(position)
    audit.record(action="org.position_updated", target=position, actor=by, before=before)
    return position


@transaction.atomic
def deactivate_position(*, by, position: Position) -> Position:
    return _deactivate(Position, position, by=by, action="org.position_deactivated")

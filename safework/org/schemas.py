"""Input, output and filter schemas of the organisation API.

Input schemas forbid unknown fields (a typo is a 422, not silently ignored). PATCH schemas declare
non-nullable fields with a `None` default that is never validated, so an omitted field is left
alone while an explicit `null` is a 422.
"""

from typing import Annotated

from django.db.models import Q
from ninja import Field, FilterLookup, FilterSchema, Schema
from pydantic import ConfigDict

from safework.core.validation import RowId
from safework.org.models import DepartmentKind, HazardClass

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Code = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# [lat, lon] as sent; range and shape errors name the point (polygon.2.0), see geofence_errors.
Point = Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(max_length=3)]

FORBID = ConfigDict(extra="forbid")


class In(Schema):
    model_config = FORBID


# --- group -------------------------------------------------------------------------------


class GroupIn(In):
    name: Name
    code: Code


class GroupPatch(In):
    name: Name = None
    code: Code = None


class GroupOut(Schema):
    id: int
    name: str
    code: str
    is_active: bool


class GroupFilter(FilterSchema):
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    code: str | None = None
    is_active: bool | None = None


# --- sites -------------------------------------------------------------------------------


class SiteIn(In):
    group_id: int
    name: Name
    code: Code
    address: str = Field("", max_length=300)
    latitude: Latitude
    longitude: Longitude


class SitePatch(In):
    group_id: int = None
    name: Name = None
    code: Code = None
    address: str = Field(None, max_length=300)
    latitude: Latitude = None
    longitude: Longitude = None


class SiteOut(Schema):
    id: int
    group_id: int
    name: str
    code: str
    address: str
    latitude: float
    longitude: float
    is_active: bool


class SiteFilter(FilterSchema):
    group_id: RowId | None = None
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    code: str | None = None
    is_active: bool | None = None


# --- areas -------------------------------------------------------------------------------


class AreaIn(In):
    site_id: int
    name: Name
    code: Code
    hazard_class: HazardClass = HazardClass.NONE
    fire_explosion_hazard: bool = False
    fixed_hot_work_area: bool = False
    process_or_tank_area: bool = False
    buried_flammable_lines: bool = False
    tank_farm_major_dike: bool = False
    center_latitude: Latitude | None = None
    center_longitude: Longitude | None = None
    radius_m: int | None = Field(None, gt=0)
    polygon: list[Point] | None = Field(None, description="[[lat, lon], …], at least 3 points")


class AreaPatch(In):
    site_id: int = None
    name: Name = None
    code: Code = None
    hazard_class: HazardClass = None
    fire_explosion_hazard: bool = None
    fixed_hot_work_area: bool = None
    process_or_tank_area: bool = None
    buried_flammable_lines: bool = None
    tank_farm_major_dike: bool = None
    center_latitude: Latitude | None = None
    center_longitude: Longitude | None = None
    radius_m: int | None = Field(None, gt=0)
    polygon: list[Point] | None = None


class AreaOut(Schema):
    id: int
    site_id: int
    name: str
    code: str
    hazard_class: str
    fire_explosion_hazard: bool
    fixed_hot_work_area: bool
    process_or_tank_area: bool
    buried_flammable_lines: bool
    tank_farm_major_dike: bool
    center_latitude: float | None
    center_longitude: float | None
    radius_m: int | None
    polygon: list[list[float]] | None
    is_active: bool


class AreaFilter(FilterSchema):
    site_id: RowId | None = None
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    code: str | None = None
    hazard_class: HazardClass | None = None
    fire_explosion_hazard: bool | None = None
    is_active: bool | None = None


# --- departments -------------------------------------------------------------------------


class DepartmentIn(In):
    name: Name
    code: Code
    kind: DepartmentKind
    group_id: int | None = Field(None, description="defaults to the parent's or the site's group")
    parent_id: int | None = None
    site_id: int | None = Field(None, description="empty for a company-level department")


class DepartmentPatch(In):
    name: Name = None
    code: Code = None
    kind: DepartmentKind = None
    group_id: int = None
    parent_id: int | None = Field(None, description="moving keeps the subtree's paths")
    site_id: int | None = None


class DepartmentOut(Schema):
    id: int
    group_id: int
    parent_id: int | None
    site_id: int | None
    effective_site_id: int | None
    name: str
    code: str
    kind: str
    path: str
    is_active: bool


class DepartmentFilter(FilterSchema):
    group_id: RowId | None = None
    parent_id: RowId | None = None
    site_id: RowId | None = None
    effective_site_id: RowId | None = None
    within: RowId | None = Field(None, description="the subtree of this department (itself too)")
    kind: DepartmentKind | None = None
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    code: str | None = None
    is_active: bool | None = None

    def filter_within(self, value) -> Q:
        # "/1/5/9/" lies within 5: the path holds every ancestor's id between slashes.
        return Q(path__contains=f"/{value}/")


# --- positions ---------------------------------------------------------------------------


class PositionIn(In):
    name: Name
    code: Code
    description: str = ""


class PositionPatch(In):
    name: Name = None
    code: Code = None
    description: str = None


class PositionOut(Schema):
    id: int
    name: str
    code: str
    description: str
    is_active: bool


class PositionFilter(FilterSchema):
    name: Annotated[str | None, FilterLookup("name__icontains")] = None
    code: str | None = None
    is_active: bool | None = None

"""REST endpoints of the organisation: group, sites, areas, departments, positions.

Each endpoint: visible (scope query, else 404) → permitted (access) → one service call.
"""

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from safework.accounts.access import READ, WRITE, access
from safework.accounts.matrix import ORG
from safework.core.pagination import Page, PageParams, paginate
from safework.org import queries, services
from safework.org.schemas import (
    AreaFilter,
    AreaIn,
    AreaOut,
    AreaPatch,
    DepartmentFilter,
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    GroupFilter,
    GroupIn,
    GroupOut,
    GroupPatch,
    PositionFilter,
    PositionIn,
    PositionOut,
    PositionPatch,
    SiteFilter,
    SiteIn,
    SiteOut,
    SitePatch,
)

router = Router(tags=["organisation"])


def _changes(payload) -> dict:
    return payload.dict(exclude_unset=True)


# --- group -------------------------------------------------------------------------------


@router.get("/groups", response=Page[GroupOut], **access(ORG, READ))
def list_groups(request, filters: Query[GroupFilter], page: Query[PageParams]):
    qs = filters.filter(queries.groups_visible_to(request.scope)).order_by("name", "pk")
    return paginate(qs, page)


@router.get("/groups/{group_id}", response=GroupOut, **access(ORG, READ))
def get_group(request, group_id: int):
    return get_object_or_404(queries.groups_visible_to(request.scope), pk=group_id)


@router.post("/groups", response={201: GroupOut}, **access(ORG, WRITE, group_wide=True))
def create_group(request, payload: GroupIn):
    return Status(
        201, services.create_group(by=request.user, scope=request.scope, **payload.dict())
    )


@router.patch("/groups/{group_id}", response=GroupOut, **access(ORG, WRITE, group_wide=True))
def update_group(request, group_id: int, payload: GroupPatch):
    group = get_object_or_404(queries.groups_visible_to(request.scope), pk=group_id)
    return services.update_group(
        by=request.user, group=group, changes=_changes(payload), scope=request.scope
    )


@router.post(
    "/groups/{group_id}/deactivate", response=GroupOut, **access(ORG, WRITE, group_wide=True)
)
def deactivate_group(request, group_id: int):
    group = get_object_or_404(queries.groups_visible_to(request.scope), pk=group_id)
    return services.deactivate_group(by=request.user, group=group)


# --- sites -------------------------------------------------------------------------------


@router.get("/sites", response=Page[SiteOut], **access(ORG, READ))
def list_sites(request, filters: Query[SiteFilter], page: Query[PageParams]):
    qs = filters.filter(queries.sites_visible_to(request.scope)).order_by("name", "pk")
    return paginate(qs, page)


@router.get("/sites/{site_id}", response=SiteOut, **access(ORG, READ))
def get_site(request, site_id: int):
    return get_object_or_404(queries.sites_visible_to(request.scope), pk=site_id)


@router.post("/sites", response={201: SiteOut}, **access(ORG, WRITE))
def create_site(request, payload: SiteIn):
    return Status(
        201, services.create_site(by=request.user, values=payload.dict(), scope=request.scope)
    )


@router.patch("/sites/{site_id}", response=SiteOut, **access(ORG, WRITE))
def update_site(request, site_id: int, payload: SitePatch):
    site = get_object_or_404(queries.sites_visible_to(request.scope), pk=site_id)
    return services.update_site(
        by=request.user, site=site, changes=_changes(payload), scope=request.scope
    )


@router.post("/sites/{site_id}/deactivate", response=SiteOut, **access(ORG, WRITE))
def deactivate_site(request, site_id: int):
    site = get_object_or_404(queries.sites_visible_to(request.scope), pk=site_id)
    return services.deactivate_site(by=request.user, site=site)


# --- areas -------------------------------------------------------------------------------


@router.get("/areas", response=Page[AreaOut], **access(ORG, READ))
def list_areas(request, filters: Query[AreaFilter], page: Query[PageParams]):
    qs = filters.filter(queries.areas_visible_to(request.scope)).order_by("site_id", "name", "pk")
    return paginate(qs, page)


@router.get("/areas/{area_id}", response=AreaOut, **access(ORG, READ))
def get_area(request, area_id: int):
    return get_object_or_404(queries.areas_visible_to(request.scope), pk=area_id)


@router.post("/areas", response={201: AreaOut}, **access(ORG, WRITE))
def create_area(request, payload: AreaIn):
    return Status(
        201, services.create_area(by=request.user, values=payload.dict(), scope=request.scope)
    )


@router.patch("/areas/{area_id}", response=AreaOut, **access(ORG, WRITE))
def update_area(request, area_id: int, payload: AreaPatch):
    area = get_object_or_404(queries.areas_visible_to(request.scope), pk=area_id)
    return services.update_area(
        by=request.user, area=area, changes=_changes(payload), scope=request.scope
    )


@router.post("/areas/{area_id}/deactivate", response=AreaOut, **access(ORG, WRITE))
def deactivate_area(request, area_id: int):
    area = get_object_or_404(queries.areas_visible_to(request.scope), pk=area_id)
    return services.deactivate_area(by=request.user, area=area)


# --- departments -------------------------------------------------------------------------


@router.get("/departments", response=Page[DepartmentOut], **access(ORG, READ))
def list_departments(request, filters: Query[DepartmentFilter], page: Query[PageParams]):
    qs = filters.filter(queries.departments_visible_to(request.scope)).order_by("path")
    return paginate(qs, page)


@router.get("/departments/{department_id}", response=DepartmentOut, **access(ORG, READ))
def get_department(request, department_id: int):
    return get_object_or_404(queries.departments_visible_to(request.scope), pk=department_id)


@router.post("/departments", response={201: DepartmentOut}, **access(ORG, WRITE))
def create_department(request, payload: DepartmentIn):
    return Status(
        201, services.create_department(by=request.user, values=payload.dict(), scope=request.scope)
    )


@router.patch("/departments/{department_id}", response=DepartmentOut, **access(ORG, WRITE))
def update_department(request, department_id: int, payload: DepartmentPatch):
    dept = get_object_or_404(queries.departments_visible_to(request.scope), pk=department_id)
    return services.update_department(
        by=request.user, department=dept, changes=_changes(payload), scope=request.scope
    )


@router.post(
    "/departments/{department_id}/deactivate",
    response={200: DepartmentOut},
    **access(ORG, WRITE),
)
def deactivate_department(request, department_id: int):
    dept = get_object_or_404(queries.departments_visible_to(request.scope), pk=department_id)
    return services.deactivate_department(by=request.user, department=dept)


# --- positions ---------------------------------------------------------------------------


@router.get("/positions", response=Page[PositionOut], **access(ORG, READ))
def list_positions(request, filters: Query[PositionFilter], page: Query[PageParams]):
    qs = filters.filter(queries.positions_visible_to(request.scope)).order_by("name", "pk")
    return paginate(qs, page)


@router.get("/positions/{position_id}", response=PositionOut, **access(ORG, READ))
def get_position(request, position_id: int):
    return get_object_or_404(queries.positions_visible_to(request.scope), pk=position_id)


@router.post("/positions", response={201: PositionOut}, **access(ORG, WRITE, group_wide=True))
def create_position(request, payload: PositionIn):
    return Status(201, services.create_position(by=request.user, values=payload.dict()))


@router.patch(
    "/positions/{position_id}", response=PositionOut, **access(ORG, WRITE, group_wide=True)
)
def update_position(request, position_id: int, payload: PositionPatch):
    position = get_object_or_404(queries.positions_visible_to(request.scope), pk=position_id)
    return services.update_position(by=request.user, position=position, changes=_changes(payload))


@router.post(
    "/positions/{position_id}/deactivate",
    response=PositionOut,
    **access(ORG, WRITE, group_wide=True),
)
def deactivate_position(request, position_id: int):
    position = get_object_or_404(queries.positions_visible_to(request.scope), pk=position_id)
    return services.deactivate_position(by=request.user, position=position)

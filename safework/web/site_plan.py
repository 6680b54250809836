"""The application wizard's site plan (issue 16, "place on the site plan"): the area fences of each
site the user may apply at, drawn as inline SVG in the page (server-side; no request of its own),
the chosen site's shown. A tap on it sets the place's latitude and longitude
(static/web/js/apply.js) and, when it falls inside an area's fence, that area; the inputs stay
usable without it.

The projection is a local equirectangular one (areas span a few hundred metres): x grows with the
longitude scaled by the cosine of the plan's middle latitude, y with the latitude southwards, both
in `scale` SVG units per degree of latitude. The SVG carries what apply.js needs to turn a tap back
into a position (`data-min-lon`, `data-max-lat`, `data-scale`, `data-cos`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from safework.org import geo
from safework.org.models import Area

WIDTH = 400  # SVG units; the plan scales to its box
MAX_HEIGHT = 400
M_PER_DEG_LAT = 111_195.0
PAD = 0.08  # of the span, around the fences


@dataclass(frozen=True)
class Shape:
    area_id: int
    name: str
    kind: str  # "polygon" or "circle"
    points: str = ""  # polygon: "x,y x,y …"
    cx: float = 0.0
    cy: float = 0.0
    r: float = 0.0


@dataclass(frozen=True)
class Plan:
    shapes: list[Shape]
    width: int
    height: int
    min_lon: float
    max_lat: float
    scale: float
    cos: float


def _extent(area) -> list[tuple[float, float]]:
    """The (lat, lon) corners that bound the area's fence."""
    if area.polygon and len(area.polygon) >= 3:
        return [(float(p[0]), float(p[1])) for p in area.polygon]
    lat, lon = float(area.center_latitude), float(area.center_longitude)
    dlat = area.radius_m / M_PER_DEG_LAT
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return [(lat - dlat, lon - dlon), (lat + dlat, lon + dlon)]


def site_plan(areas) -> Plan | None:
    """The plan of these areas' fences (the ones without a fence left out); None without any."""
    fenced = [a for a in areas if geo.has_fence(a)]
    if not fenced:
        return None
    corners = [c for a in fenced for c in _extent(a)]
    lats = [c[0] for c in corners]
    lons = [c[1] for c in corners]
    cos = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_lat = max(max(lats) - min(lats), 1e-5)
    span_x = max((max(lons) - min(lons)) * cos, 1e-5)  # in degrees of latitude
    min_lat, max_lat = min(lats) - span_lat * PAD, max(lats) + span_lat * PAD
    min_x = min(lons) * cos - span_x * PAD
    span_lat, span_x = max_lat - min_lat, span_x * (1 + 2 * PAD)
    scale = min(WIDTH / span_x, MAX_HEIGHT / span_lat)
    width, height = round(span_x * scale), round(span_lat * scale)
    min_lon = min_x / cos

    def xy(lat, lon) -> tuple[float, float]:
        return round((lon - min_lon) * cos * scale, 1), round((max_lat - lat) * scale, 1)

    shapes = []
    for a in fenced:
        if a.polygon and len(a.polygon) >= 3:
            pts = " ".join("{},{}".format(*xy(float(p[0]), float(p[1]))) for p in a.polygon)
            shapes.append(Shape(a.pk, a.name, "polygon", points=pts))
        else:
            cx, cy = xy(float(a.center_latitude), float(a.center_longitude))
            r = round(a.radius_m / M_PER_DEG_LAT * scale, 1)
            shapes.append(Shape(a.pk, a.name, "circle", cx=cx, cy=cy, r=r))
    return Plan(shapes, width, height, min_lon, max_lat, scale, cos)


def site_plans(sites) -> list[tuple[object, Plan]]:
    """Each of these sites (the ones the user may apply at) with the plan of its active areas;
    a site without any fenced area is left out."""
    areas: dict[int, list[Area]] = {}
    for area in Area.objects.filter(site__in=sites, is_active=True).order_by("name"):
        areas.setdefault(area.site_id, []).append(area)
    out = []
    for site in sites:
        plan = site_plan(areas.get(site.pk, []))
        if plan is not None:
            out.append((site, plan))
    return out

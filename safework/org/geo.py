"""Is a position inside an area's geofence? (decisions: a position comes with its accuracy in
metres; one less accurate than the limit counts as unknown.)"""

from __future__ import annotations

import math
from decimal import Decimal

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp = p2 - p1
    dl = math.radians(float(lon2) - float(lon1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _in_polygon(lat: float, lon: float, polygon) -> bool:
    """Ray casting over [[lat, lon], …] (areas are small: a flat plane is exact enough)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        y1, x1 = (float(v) for v in polygon[i])
        y2, x2 = (float(v) for v in polygon[(i + 1) % n])
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_cross:
                inside = not inside
    return inside


def has_fence(area) -> bool:
    if area is None:
        return False
    if area.polygon and len(area.polygon) >= 3:
        return True
    return (
        area.center_latitude is not None
        and area.center_longitude is not None
        and bool(area.radius_m)
    )


def inside_fence(area, lat: Decimal | float, lon: Decimal | float) -> bool:
    """Whether (lat, lon) lies inside the area's polygon, or else within its radius."""
    if area.polygon and len(area.polygon) >= 3:
        return _in_polygon(float(lat), float(lon), area.polygon)
    return distance_m(lat, lon, area.center_latitude, area.center_longitude) <= area.radius_m

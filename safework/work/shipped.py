"""The work vocabulary as shipped (`work/catalogue/*.yaml`): work types with their levels, crew
roles, positions, the position permission matrix and the house rules. Registered in
`WorkConfig.ready()`; core loads, compares and updates the rows (`safework catalogue
load|diff|update`).

A new catalogue file of this app is one more function here, added to `rows()`.
"""

from collections.abc import Iterator
from pathlib import Path

from safework.core.catalogue import Ref, ShippedRow, as_date, as_decimal, read_yaml
from safework.org.models import Position
from safework.work.models import (
    CombustibleCriterion,
    CrewRole,
    GasLimit,
    HeightHazard,
    HouseRule,
    PermitRule,
    PositionPermission,
    RouteStep,
    UpgradePolicy,
    WeatherStop,
    WorkLevel,
    WorkType,
)

CATALOGUE_DIR = Path(__file__).parent / "catalogue"


def work_type_rows() -> Iterator[ShippedRow]:
    work = read_yaml(CATALOGUE_DIR / "work.yaml")
    for wt in work["work_types"]:
        yield ShippedRow(
            WorkType,
            {"code": wt["code"]},
            {
                "name": wt["name"],
                "permit_code": wt.get("permit_code", ""),
                "clause": wt.get("clause", ""),
                "order": wt.get("order", 0),
                "from_height_m": as_decimal(wt.get("from_height_m")),
                "height_clause": wt.get("height_clause", ""),
                "aq_type_code": str(wt.get("aq_type_code", "")),
                "level_clause": wt.get("level_clause", ""),
                "permit_measure": wt.get("permit_measure", ""),
                "permit_from": as_decimal(wt.get("permit_from")),
                "permit_from_clause": wt.get("permit_from_clause", ""),
                "gas_over_depth_m": as_decimal(wt.get("gas_over_depth_m")),
                "gas_over_depth_clause": wt.get("gas_over_depth_clause", ""),
            },
        )
        for level in wt.get("levels", []):
            yield ShippedRow(
                WorkLevel,
                {"work_type": Ref(WorkType, code=wt["code"]), "code": str(level["code"])},
                {
                    "name": level["name"],
                    "rank": level["rank"],
                    "clause": level.get("clause", ""),
                    "aq_type_code": str(level.get("aq_type_code", "")),
                    "measure": level.get("measure", ""),
                    "lower": as_decimal(level.get("lower")),
                    "lower_inclusive": level.get("lower_inclusive", True),
                    "upper": as_decimal(level.get("upper")),
                    "upper_inclusive": level.get("upper_inclusive", True),
                },
            )
    for role in work["crew_roles"]:
        yield ShippedRow(CrewRole, {"code": role["code"]}, {"name": role["name"]})
    for order, hazard in enumerate(work.get("height_hazards", []), start=1):
        yield ShippedRow(
            HeightHazard,
            {"code": hazard["code"]},
            {"name": hazard["name"], "clause": hazard["clause"], "order": order},
        )


def position_rows() -> Iterator[ShippedRow]:
    for pos in read_yaml(CATALOGUE_DIR / "positions.yaml")["positions"]:
        yield ShippedRow(Position, {"code": pos["code"]}, {"name": pos["name"]})
        for grant in pos.get("may", []):
            # No work types listed: the grant holds for every work type (work_type NULL).
            for wt_code in grant.get("work_types") or [None]:
                work_type = Ref(WorkType, code=wt_code) if wt_code else None
                max_level = (
                    Ref(WorkLevel, work_type=work_type, code=str(grant["max_level"]))
                    if grant.get("max_level") and work_type
                    else None
                )
                yield ShippedRow(
                    PositionPermission,
                    {
                        "position": Ref(Position, code=pos["code"]),
                        "work_type": work_type,
                        "crew_role": Ref(CrewRole, code=grant["role"]),
                    },
                    {"max_level": max_level, "clause": grant.get("clause", "")},
                )


def house_rule_rows() -> Iterator[ShippedRow]:
    """house_rules.yaml: one row per version of a house rule the engine applies."""
    for rule in read_yaml(CATALOGUE_DIR / "house_rules.yaml")["house_rules"]:
        yield ShippedRow(
            HouseRule,
            {"code": rule["code"], "effective_from": as_date(rule["effective_from"])},
            {
                "name": rule["name"],
                "clause": rule["clause"],
                "effective_to": as_date(rule.get("effective_to")),
            },
        )


def _dates(row: dict) -> dict:
    return {
        "effective_from": as_date(row.get("effective_from", SINCE)),
    }


# GB 30871-2022 is in force since 2022-10-01: rule rows without a date start then.
SINCE = "2022-10-01"


def permit_rule_rows() -> Iterator[ShippedRow]:
    """permit_rules.yaml: one row per type (and level) and version."""
    for rule in read_yaml(CATALOGUE_DIR / "permit_rules.yaml")["permit_rules"]:
        work_type = Ref(WorkType, code=rule["work_type"])
        level = (
            Ref(WorkLevel, work_type=work_type, code=str(rule["level"]))
            if rule.get("level")
            else None
        )
        yield ShippedRow(
            PermitRule,
            {"work_type": work_type, "level": level, **_dates(rule)},
            {
                "effective_to": as_date(rule.get("effective_to")),
                "clause": rule["clause"],
                "max_minutes": rule["max_minutes"],
                "absolute_max_minutes": rule.get("absolute_max_minutes"),
                "max_clause": rule["max_clause"],
                "default_days": rule.get("default_days"),
                "gas_test_required": rule.get("gas_test_required", False),
                "gas_test_in_hazard_area_only": rule.get("gas_test_in_hazard_area_only", False),
                "gas_window_minutes": rule.get("gas_window_minutes"),
                "gas_points": rule.get("gas_points", []),
                "continuous_monitoring": rule.get("continuous_monitoring", False),
                "monitoring_record_minutes": rule.get("monitoring_record_minutes"),
                "gas_clause": rule.get("gas_clause", ""),
                "interruption_retest_minutes": rule.get("interruption_retest_minutes"),
                "interruption_clause": rule.get("interruption_clause", ""),
                "required_roles": rule.get("required_roles", []),
                "roles_clause": rule.get("roles_clause", ""),
                "plan_required": rule.get("plan_required", False),
                "plan_clause": rule.get("plan_clause", ""),
                "measures": rule.get("measures", []),
                "hazards": rule.get("hazards", []),
                "form_schema": rule.get("form_schema", {}),
            },
        )


def weather_rows() -> Iterator[ShippedRow]:
    for stop in read_yaml(CATALOGUE_DIR / "weather.yaml")["weather_stops"]:
        yield ShippedRow(
            WeatherStop,
            {"work_type": Ref(WorkType, code=stop["work_type"]), **_dates(stop)},
            {
                "effective_to": as_date(stop.get("effective_to")),
                "min_wind_force": stop.get("min_wind_force"),
                "conditions": stop.get("conditions", []),
                "open_air_only": stop.get("open_air_only", True),
                "unless_upgraded": stop.get("unless_upgraded", False),
                "clause": stop["clause"],
            },
        )


def gas_rows() -> Iterator[ShippedRow]:
    gas = read_yaml(CATALOGUE_DIR / "gas.yaml")
    for limit in gas["gas_limits"]:
        yield ShippedRow(
            GasLimit,
            {"code": limit["code"], **_dates(limit)},
            {
                "effective_to": as_date(limit.get("effective_to")),
                "name": limit["name"],
                "kind": limit["kind"],
                "unit": limit["unit"],
                "min_value": as_decimal(limit.get("min_value")),
                "max_value": as_decimal(limit.get("max_value")),
                "enriched_max": as_decimal(limit.get("enriched_max")),
                "clause": limit["clause"],
            },
        )
    for criterion in gas["combustible_criteria"]:
        yield ShippedRow(
            CombustibleCriterion,
            {"lel_at_least": as_decimal(criterion["lel_at_least"]), **_dates(criterion)},
            {
                "effective_to": as_date(criterion.get("effective_to")),
                "max_value": as_decimal(criterion["max_value"]),
                "unit": criterion.get("unit", "%vol"),
                "clause": criterion["clause"],
            },
        )


def route_rows() -> Iterator[ShippedRow]:
    routes = read_yaml(CATALOGUE_DIR / "routes.yaml")
    for step in routes["route_steps"]:
        yield ShippedRow(
            RouteStep,
            {"code": step["code"], **_dates(step)},
            {
                "effective_to": as_date(step.get("effective_to")),
                "work_type": Ref(WorkType, code=step["work_type"])
                if step.get("work_type")
                else None,
                "order": step["order"],
                "label": step["label"],
                "roles": step["roles"],
                "condition": step.get("condition", ""),
                "time_limit_minutes": step.get("time_limit_minutes"),
                "stage": step.get("stage", "approval"),
                "on_site_required": step.get("on_site_required", True),
                "clause": step["clause"],
            },
        )
    for policy in routes["upgrade_policies"]:
        yield ShippedRow(
            UpgradePolicy,
            {"work_type": Ref(WorkType, code=policy["work_type"])},
            {
                "levels_up": policy.get("levels_up", 1),
                "at_top_extra_role": policy.get("at_top_extra_role", "principal"),
                "alarm_codes": policy.get("alarm_codes", {}),
                "clause": policy["clause"],
            },
        )


def rows() -> Iterator[ShippedRow]:
    """Every row this app ships, parents before children."""
    yield from work_type_rows()
    yield from position_rows()
    yield from house_rule_rows()
    yield from permit_rule_rows()
    yield from weather_rows()
    yield from gas_rows()
    yield from route_rows()

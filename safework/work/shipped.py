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
from safework.work.models import CrewRole, HouseRule, PositionPermission, WorkLevel, WorkType

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
            },
        )
        for level in wt.get("levels", []):
            yield ShippedRow(
                WorkLevel,
                {"work_type": Ref(WorkType, code=wt["code"]), "code": str(level["code"])},
                {"name": level["name"], "rank": level["rank"], "clause": level.get("clause", "")},
            )
    for role in work["crew_roles"]:
        yield ShippedRow(CrewRole, {"code": role["code"]}, {"name": role["name"]})


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


def rows() -> Iterator[ShippedRow]:
    """Every row this app ships, parents before children."""
    yield from work_type_rows()
    yield from position_rows()
    yield from house_rule_rows()

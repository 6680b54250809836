"""The requirements as shipped (`qualification/catalogue/requirements.yaml`): what each crew
member needs, per work type, level and crew role. Registered in `QualificationConfig.ready()`;
core loads, compares and updates the rows (`safework catalogue load|diff|update`).
"""

from collections.abc import Iterator
from pathlib import Path

from safework.core.catalogue import Ref, ShippedRow, as_date, read_yaml
from safework.qualification.models import Requirement
from safework.work.models import CrewRole, WorkLevel, WorkType

CATALOGUE_DIR = Path(__file__).parent / "catalogue"


def requirement_rows() -> Iterator[ShippedRow]:
    for req in read_yaml(CATALOGUE_DIR / "requirements.yaml")["requirements"]:
        work_type = Ref(WorkType, code=req["work_type"]) if req.get("work_type") else None
        yield ShippedRow(
            Requirement,
            {"code": req["code"]},
            {
                "description": req["description"],
                "work_type": work_type,
                "min_level": Ref(WorkLevel, work_type=work_type, code=str(req["min_level"]))
                if req.get("min_level")
                else None,
                "crew_role": Ref(CrewRole, code=req["crew_role"]) if req.get("crew_role") else None,
                "kind": req["kind"],
                "items": list(req.get("items", [])),
                "match_restriction": req.get("match_restriction", ""),
                "condition": req.get("condition", ""),
                "clause": req["clause"],
                "effective_from": as_date(req["effective_from"]),
                "effective_to": as_date(req.get("effective_to")),
            },
        )


def rows() -> Iterator[ShippedRow]:
    """Every row this app ships, parents before children."""
    yield from requirement_rows()

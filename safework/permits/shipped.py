"""The permits app's shipped catalogue: the AQ 3064.2 alarm types (`catalogue/alarms.yaml`)."""

from collections.abc import Iterator
from pathlib import Path

from safework.core.catalogue import ShippedRow, read_yaml
from safework.permits.models import AlarmType

CATALOGUE_DIR = Path(__file__).parent / "catalogue"


def rows() -> Iterator[ShippedRow]:
    for row in read_yaml(CATALOGUE_DIR / "alarms.yaml")["alarm_types"]:
        yield ShippedRow(
            AlarmType,
            {"code": str(row["code"])},
            {
                "name": row["name"],
                "trigger": row["trigger"],
                "clause": row["clause"],
                "reason_codes": list(row.get("reason_codes") or []),
            },
        )

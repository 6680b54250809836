"""The notification rules and channels as shipped (`notify/catalogue/rules.yaml`), registered in
`NotifyConfig.ready()`; `safework catalogue load` creates missing rows and keeps edits."""

from collections.abc import Iterator
from pathlib import Path

from safework.core.catalogue import ShippedRow, read_yaml
from safework.notify.models import Channel, NotifyRule

CATALOGUE_DIR = Path(__file__).parent / "catalogue"


def rows() -> Iterator[ShippedRow]:
    data = read_yaml(CATALOGUE_DIR / "rules.yaml")
    for channel in data["channels"]:
        yield ShippedRow(Channel, {"code": channel["code"]}, {"enabled": channel["enabled"]})
    for rule in data["rules"]:
        yield ShippedRow(
            NotifyRule,
            {"code": rule["code"]},
            {
                "kind": rule["kind"],
                "name": rule["name"],
                "stages": list(rule.get("stages") or []),
                "recipients": list(rule["recipients"]),
                "channels": list(rule["channels"]),
                "escalate_after_hours": rule.get("escalate_after_hours"),
                "escalate_to": list(rule.get("escalate_to") or []),
                "clause": rule.get("clause", ""),
            },
        )

"""The words people write for an item's restriction (a Q2 certificate's crane kind: 塔吊 → tower).

They are data: the `crane_kind` values of `catalogue/attributes.yaml`, the list the qualification
check takes for its crane_kind attribute, so a ledger import and a check read a word the same way.
The kinds an item takes are its catalogue row's `restriction_kinds` (special_equipment.yaml).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

ATTRIBUTES_FILE = Path(__file__).parent / "catalogue" / "attributes.yaml"
# Q2's restriction kinds are the crane kinds (special_equipment.yaml `crane_kinds`).
RESTRICTION_ATTRIBUTE = "crane_kind"


@cache
def restriction_words() -> dict[str, tuple[str, ...]]:
    """Restriction kind code → the words that mean it."""
    with ATTRIBUTES_FILE.open(encoding="utf-8") as f:
        values = yaml.safe_load(f)[RESTRICTION_ATTRIBUTE]["values"]
    return {str(code): tuple(str(w) for w in words or ()) for code, words in values.items()}

"""The certificate catalogue as shipped (`certs/catalogue/*.yaml`): one file per scheme with its
items, rules and legacy codes, and the grounds of revocation. Registered in `CertsConfig.ready()`
with a hook: rules written by a load or update are checked for overlapping versions, and the
stored review due dates follow them.

A new catalogue file of this app is one more function here, added to `rows()`.
"""

from collections.abc import Iterator
from pathlib import Path

from safework.certs.models import (
    CatalogueRule,
    CertificateItem,
    LegacyCode,
    RevocationGround,
    Scheme,
)
from safework.certs.rules import overlapping_rules
from safework.certs.services import review_due_entries
from safework.core.catalogue import Ref, ShippedRow, as_date, read_yaml
from safework.core.errors import FieldError, InvalidInput

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
SCHEME_FILES = ("special_operation", "special_equipment", "construction", "internal")

_RULE_FIELDS = (
    "validity_months",
    "review_interval_months",
    "long_review_interval_months",
    "review_window_days",
    "extension_months",
    "extension_window_open_days",
    "extension_window_close_days",
    "renewal_window_days",
    "extension_max_age_years",
)


def scheme_rows(name: str) -> Iterator[ShippedRow]:
    """One scheme file: the scheme, its items, its rules (versioned) and its legacy codes."""
    data = read_yaml(CATALOGUE_DIR / f"{name}.yaml")
    s = data["scheme"]
    scheme = Ref(Scheme, code=s["code"])
    yield ShippedRow(
        Scheme,
        {"code": s["code"]},
        {
            "name": s["name"],
            "authority": s.get("authority", ""),
            "basis": s.get("basis", ""),
            "catalogue_version": str(s["catalogue_version"]),
            "has_registry": bool(s.get("has_registry", True)),
        },
    )
    for item in data.get("items", []):
        yield ShippedRow(
            CertificateItem,
            {"scheme": scheme, "code": str(item["code"])},
            {
                "name": item["name"],
                "category": str(item.get("category", "")),
                "catalogue_version": str(item.get("catalogue_version", s["catalogue_version"])),
                "restriction_kinds": list(item.get("restriction_kinds", [])),
                "trade_code": str(item.get("trade_code", "")),
                "calendar_year": bool(item.get("calendar_year", False)),
                "aliases": [str(a) for a in item.get("aliases", [])],
            },
        )
    for rule in data.get("rules", []):
        values = {f: rule.get(f) for f in _RULE_FIELDS}
        values.update(
            scheme=scheme,
            item=Ref(CertificateItem, scheme=scheme, code=str(rule["item"]))
            if rule.get("item")
            else None,
            issuer=rule.get("issuer", ""),
            clause=rule["clause"],
            effective_from=as_date(rule["effective_from"]),
            effective_to=as_date(rule.get("effective_to")),
            note=(rule.get("note") or "").strip(),
        )
        yield ShippedRow(CatalogueRule, {"code": rule["code"]}, values)
    for legacy in data.get("legacy_codes", []):
        yield ShippedRow(
            LegacyCode,
            {"scheme": scheme, "old_code": str(legacy["old_code"])},
            {
                "old_version": str(legacy["old_version"]),
                "new_item": Ref(CertificateItem, scheme=scheme, code=str(legacy["new_item"]))
                if legacy.get("new_item")
                else None,
                "restriction": legacy.get("restriction", "") or "",
                "note": legacy.get("note", ""),
            },
        )


def revocation_ground_rows() -> Iterator[ShippedRow]:
    for ground in read_yaml(CATALOGUE_DIR / "revocation.yaml")["revocation_grounds"]:
        yield ShippedRow(
            RevocationGround,
            {"code": ground["code"]},
            {
                "name": ground["name"],
                "scheme": Ref(Scheme, code=ground["scheme"]) if ground.get("scheme") else None,
                "clause": ground["clause"],
                "reapply_bar_months": ground.get("reapply_bar_months"),
                "bar_clause": ground.get("bar_clause", ""),
                "order": ground.get("order", 0),
            },
        )


def rows() -> Iterator[ShippedRow]:
    """Every row this app ships, parents before children (a ground may name a scheme)."""
    for name in SCHEME_FILES:
        yield from scheme_rows(name)
    yield from revocation_ground_rows()


def check_rule_versions() -> None:
    """Refuse overlapping versions of one catalogue rule (same scheme and item, effective ranges
    sharing a day), as a load or update would leave them: `rule_for` would pick one silently."""
    overlaps = overlapping_rules(CatalogueRule.objects.all())
    if overlaps:
        raise InvalidInput(
            [
                FieldError("catalogue", "rule.overlap", f"{row.code}: {message}")
                for row, message in overlaps
            ]
        )


def rules_written(*, actor=None) -> list:
    """After a load or update wrote catalogue rules: refuse overlapping versions (the caller's
    transaction rolls back), then recompute the review due dates stored on each certificate
    (a new or restored rule can move them). Returns their audit entries."""
    check_rule_versions()
    return review_due_entries(actor=actor)

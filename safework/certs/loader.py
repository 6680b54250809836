"""Load the shipped catalogues (`certs/catalogue/*.yaml`) into the database.

`load_catalogue()` creates the rows that are missing and never touches an existing row, so an
administrator's edit in the admin survives every `make run`. `catalogue_differences()` lists where
the database differs from what ships, and `apply_catalogue_update()` overwrites those rows, with
one audit record per changed row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from django.db import models, transaction
from django.utils.translation import gettext as _

from safework.certs.models import (
    CatalogueRule,
    CertificateItem,
    LegacyCode,
    RevocationGround,
    Scheme,
)
from safework.certs.rules import overlapping_rules
from safework.core import audit
from safework.core.errors import FieldError, InvalidInput
from safework.org.models import Position
from safework.qualification.models import Requirement
from safework.work.models import CrewRole, HouseRule, PositionPermission, WorkLevel, WorkType

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
# Each app ships its own catalogue files; the name says whose.
CATALOGUE_DIRS = (
    CATALOGUE_DIR,
    Path(__file__).parents[1] / "work" / "catalogue",
    Path(__file__).parents[1] / "qualification" / "catalogue",
)
SCHEME_FILES = ("special_operation", "special_equipment", "construction", "internal")


@dataclass
class ShippedRow:
    """One row as shipped: its model, natural key and values (FKs as natural-key lookups)."""

    model: type[models.Model]
    key: dict
    values: dict = field(default_factory=dict)

    def label(self) -> str:
        key = ", ".join(f"{k}={_show(v)}" for k, v in self.key.items())
        return f"{self.model._meta.label_lower}({key})"


class Ref:
    """A foreign key given by natural key, resolved when the row is written or compared."""

    def __init__(self, model, **key):
        self.model, self.key = model, key

    def resolve(self):
        key = {k: (v.resolve() if isinstance(v, Ref) else v) for k, v in self.key.items()}
        return self.model.objects.filter(**key).first()

    def __repr__(self):
        return f"{self.model.__name__}({', '.join(f'{k}={_show(v)}' for k, v in self.key.items())})"


def _show(value) -> str:
    if isinstance(value, models.Model):
        return str(value.pk)
    return repr(value) if not isinstance(value, Ref) else repr(value)


def _read(name: str) -> dict:
    path = next(d / f"{name}.yaml" for d in CATALOGUE_DIRS if (d / f"{name}.yaml").exists())
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


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


def shipped_rows() -> list[ShippedRow]:
    """Every shipped row, parents before children."""
    rows: list[ShippedRow] = []
    for name in SCHEME_FILES:
        data = _read(name)
        s = data["scheme"]
        scheme = Ref(Scheme, code=s["code"])
        rows.append(
            ShippedRow(
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
        )
        for item in data.get("items", []):
            rows.append(
                ShippedRow(
                    CertificateItem,
                    {"scheme": scheme, "code": str(item["code"])},
                    {
                        "name": item["name"],
                        "category": str(item.get("category", "")),
                        "catalogue_version": str(
                            item.get("catalogue_version", s["catalogue_version"])
                        ),
                        "restriction_kinds": list(item.get("restriction_kinds", [])),
                        "trade_code": str(item.get("trade_code", "")),
                        "calendar_year": bool(item.get("calendar_year", False)),
                        "aliases": [str(a) for a in item.get("aliases", [])],
                    },
                )
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
                effective_from=_date(rule["effective_from"]),
                effective_to=_date(rule.get("effective_to")),
                note=(rule.get("note") or "").strip(),
            )
            rows.append(ShippedRow(CatalogueRule, {"code": rule["code"]}, values))
        for legacy in data.get("legacy_codes", []):
            rows.append(
                ShippedRow(
                    LegacyCode,
                    {"scheme": scheme, "old_code": str(legacy["old_code"])},
                    {
                        "old_version": str(legacy["old_version"]),
                        "new_item": Ref(
                            CertificateItem, scheme=scheme, code=str(legacy["new_item"])
                        )
                        if legacy.get("new_item")
                        else None,
                        "restriction": legacy.get("restriction", "") or "",
                        "note": legacy.get("note", ""),
                    },
                )
            )

    work = _read("work")
    for wt in work["work_types"]:
        rows.append(
            ShippedRow(
                WorkType,
                {"code": wt["code"]},
                {
                    "name": wt["name"],
                    "permit_code": wt.get("permit_code", ""),
                    "clause": wt.get("clause", ""),
                    "order": wt.get("order", 0),
                    "from_height_m": _decimal(wt.get("from_height_m")),
                    "height_clause": wt.get("height_clause", ""),
                },
            )
        )
        for level in wt.get("levels", []):
            rows.append(
                ShippedRow(
                    WorkLevel,
                    {"work_type": Ref(WorkType, code=wt["code"]), "code": str(level["code"])},
                    {
                        "name": level["name"],
                        "rank": level["rank"],
                        "clause": level.get("clause", ""),
                    },
                )
            )
    for role in work["crew_roles"]:
        rows.append(ShippedRow(CrewRole, {"code": role["code"]}, {"name": role["name"]}))

    for ground in _read("revocation")["revocation_grounds"]:
        rows.append(
            ShippedRow(
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
        )

    for pos in _read("positions")["positions"]:
        rows.append(ShippedRow(Position, {"code": pos["code"]}, {"name": pos["name"]}))
        for grant in pos.get("may", []):
            for wt_code in grant.get("work_types") or [None]:
                work_type = Ref(WorkType, code=wt_code) if wt_code else None
                max_level = (
                    Ref(WorkLevel, work_type=work_type, code=str(grant["max_level"]))
                    if grant.get("max_level") and work_type
                    else None
                )
                rows.append(
                    ShippedRow(
                        PositionPermission,
                        {
                            "position": Ref(Position, code=pos["code"]),
                            "work_type": work_type,
                            "crew_role": Ref(CrewRole, code=grant["role"]),
                        },
                        {"max_level": max_level, "clause": grant.get("clause", "")},
                    )
                )

    for req in _read("requirements")["requirements"]:
        work_type = Ref(WorkType, code=req["work_type"]) if req.get("work_type") else None
        rows.append(
            ShippedRow(
                Requirement,
                {"code": req["code"]},
                {
                    "description": req["description"],
                    "work_type": work_type,
                    "min_level": Ref(WorkLevel, work_type=work_type, code=str(req["min_level"]))
                    if req.get("min_level")
                    else None,
                    "crew_role": Ref(CrewRole, code=req["crew_role"])
                    if req.get("crew_role")
                    else None,
                    "kind": req["kind"],
                    "items": list(req.get("items", [])),
                    "match_restriction": req.get("match_restriction", ""),
                    "condition": req.get("condition", ""),
                    "clause": req["clause"],
                    "effective_from": _date(req["effective_from"]),
                    "effective_to": _date(req.get("effective_to")),
                },
            )
        )
    rows += house_rule_rows()
    return rows


# --- work: house rules (issue 13 #6; belongs with the work app's shipped rows) --------------------


def house_rule_rows() -> list[ShippedRow]:
    """work/catalogue/house_rules.yaml: one row per version of a house rule."""
    return [
        ShippedRow(
            HouseRule,
            {"code": rule["code"], "effective_from": _date(rule["effective_from"])},
            {
                "name": rule["name"],
                "clause": rule["clause"],
                "effective_to": _date(rule.get("effective_to")),
            },
        )
        for rule in _read("house_rules")["house_rules"]
    ]


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


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


def _resolved(values: dict) -> dict:
    return {k: (v.resolve() if isinstance(v, Ref) else v) for k, v in values.items()}


def _existing(row: ShippedRow):
    return row.model.objects.filter(**_resolved(row.key)).first()


def _field_value(obj, name):
    f = obj._meta.get_field(name)
    return getattr(obj, name) if not f.is_relation else getattr(obj, name)


@dataclass
class Difference:
    row: ShippedRow
    missing: bool
    fields: dict  # name → (in database, shipped)

    def describe(self) -> str:
        if self.missing:
            return f"+ {self.row.label()}"
        changes = "; ".join(f"{k}: {_short(a)} → {_short(b)}" for k, (a, b) in self.fields.items())
        return f"~ {self.row.label()}: {changes}"


def _short(value) -> str:
    if isinstance(value, models.Model):
        return str(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@transaction.atomic
def load_catalogue(*, actor=None) -> int:
    """Create the shipped rows that are missing; never overwrite an existing row. Returns count."""
    created = []
    for row in shipped_rows():
        if _existing(row) is None:
            obj = row.model.objects.create(**_resolved(row.key), **_resolved(row.values))
            created.append(obj)
    if any(isinstance(o, CatalogueRule) for o in created):
        check_rule_versions()  # a shipped row next to an administrator's version of the rule
    if created:
        entries = [
            audit.entry(
                action="catalogue.loaded",
                actor=actor,
                target=("catalogue", "shipped", _("shipped catalogue")),
                after={"created": [f"{o._meta.label_lower}:{o.pk}" for o in created]},
            )
        ]
        if any(isinstance(o, CatalogueRule) for o in created):
            # A new rule can change stored review due dates (a deleted one restored, say).
            from safework.certs.services import review_due_entries

            entries += review_due_entries(actor=actor)
        audit.record_many(entries)
    return len(created)


def catalogue_differences() -> list[Difference]:
    """Where the database differs from the shipped catalogue (missing rows, changed fields)."""
    out = []
    for row in shipped_rows():
        obj = _existing(row)
        if obj is None:
            out.append(Difference(row, True, {}))
            continue
        changed = {}
        for name, shipped in _resolved(row.values).items():
            current = _field_value(obj, name)
            if current != shipped:
                changed[name] = (current, shipped)
        if changed:
            out.append(Difference(row, False, changed))
    return out


@transaction.atomic
def apply_catalogue_update(*, actor=None) -> list[Difference]:
    """Make the database match the shipped catalogue; one audit record per changed row. When
    rules changed, every certificate's `next_review_due` is recomputed (audited per change)."""
    diffs = catalogue_differences()
    entries = []
    for d in diffs:
        if d.missing:
            obj = d.row.model.objects.create(**_resolved(d.row.key), **_resolved(d.row.values))
            entries.append(audit.entry(action="catalogue.row_created", target=obj, actor=actor))
            continue
        obj = _existing(d.row)
        before = audit.snapshot(obj)
        for name, (_old, new) in d.fields.items():
            setattr(obj, name, new)
        obj.save()
        entries.append(
            audit.entry(action="catalogue.row_updated", target=obj, actor=actor, before=before)
        )
    if any(d.row.model is CatalogueRule for d in diffs):
        check_rule_versions()  # before anything is recomputed from overlapping versions
        # Review due dates are stored on each certificate: follow the rules just changed.
        from safework.certs.services import review_due_entries

        entries += review_due_entries(actor=actor)
    audit.record_many(entries)
    return diffs

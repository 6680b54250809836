"""Shipped catalogue rows: each app registers what it ships; core loads, compares and updates.

An app describes its rows in its own module (`safework/<app>/shipped.py`, beside the YAML files
in `catalogue/`) and registers that function in `AppConfig.ready()` with `register_catalogue`.
Core knows no app's models: a row carries its model, natural key and values, and foreign keys
are `Ref`s resolved when the row is written or compared. Rows are taken app by app in the order
of INSTALLED_APPS (the layer order), so an app's rows may refer to rows of any app below it.

`load_catalogue()` creates the rows that are missing and never touches an existing row, so an
administrator's edit in the admin survives every `make run`. `catalogue_differences()` lists where
the database differs from what ships, and `apply_catalogue_update()` overwrites those rows, with
one audit record per changed row. An app whose stored data follows its catalogue rows (certs:
review due dates follow the rules) registers a hook with `register_catalogue_hook`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from django.apps import apps
from django.db import models, transaction
from django.utils.translation import gettext as _

from safework.core import audit


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
        return self.model.objects.filter(**_resolved(self.key)).first()

    def __repr__(self):
        return f"{self.model.__name__}({', '.join(f'{k}={_show(v)}' for k, v in self.key.items())})"


def _show(value) -> str:
    if isinstance(value, models.Model):
        return str(value.pk)
    return repr(value)


# --- helpers for the apps' row functions --------------------------------------------------------


def read_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def as_date(value) -> dt.date | None:
    """A YAML date (already a date, or an ISO string when quoted)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def as_decimal(value) -> Decimal | None:
    # Through str: YAML reads 2.0 as a float, and Decimal(2.0) would carry binary noise.
    return None if value is None else Decimal(str(value))


# --- the registry -------------------------------------------------------------------------------

RowsFn = Callable[[], Iterable[ShippedRow]]
# A hook returns more audit entries (recorded after the rows' own, in the same transaction) and
# may raise InvalidInput, which undoes the whole load or update.
HookFn = Callable[..., list]


@dataclass(frozen=True)
class _Source:
    app_label: str
    rows: RowsFn
    order: int
    seq: int  # registration order, the tie-break for equal `order`


@dataclass(frozen=True)
class _Hook:
    models: tuple[type[models.Model], ...]
    fn: HookFn


_SOURCES: dict[tuple[str, RowsFn], _Source] = {}
_HOOKS: dict[HookFn, _Hook] = {}


def register_catalogue(app_label: str, rows: RowsFn, *, order: int = 0) -> None:
    """Ship `rows()` (parents before children) as part of `app_label`'s catalogue.

    Apps are taken in INSTALLED_APPS order, then by `order` within an app. Registering the same
    function again replaces it (a second `ready()` must not load rows twice)."""
    key = (app_label, rows)
    seq = _SOURCES[key].seq if key in _SOURCES else len(_SOURCES)
    _SOURCES[key] = _Source(app_label, rows, order, seq)


def register_catalogue_hook(fn: HookFn, *, models: Iterable[type[models.Model]]) -> None:
    """Call `fn(actor=…)` after a load or update wrote a row of any of `models`, inside its
    transaction and before its audit records; `fn` returns its own audit entries."""
    _HOOKS[fn] = _Hook(tuple(models), fn)


def _app_index() -> dict[str, int]:
    return {config.label: i for i, config in enumerate(apps.get_app_configs())}


def shipped_rows() -> list[ShippedRow]:
    """Every shipped row of every app, lower apps first, parents before children."""
    index = _app_index()
    sources = sorted(
        _SOURCES.values(), key=lambda s: (index.get(s.app_label, len(index)), s.order, s.seq)
    )
    return [row for source in sources for row in source.rows()]


def _after_write(written: set[type[models.Model]], actor) -> list:
    entries = []
    for hook in _HOOKS.values():
        if written.intersection(hook.models):
            entries += hook.fn(actor=actor)
    return entries


# --- load, compare, update ----------------------------------------------------------------------


def _resolved(values: dict) -> dict:
    return {k: (v.resolve() if isinstance(v, Ref) else v) for k, v in values.items()}


def _existing(row: ShippedRow):
    return row.model.objects.filter(**_resolved(row.key)).first()


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
            created.append(row.model.objects.create(**_resolved(row.key), **_resolved(row.values)))
    if not created:
        return 0
    entries = [
        audit.entry(
            action="catalogue.loaded",
            actor=actor,
            target=("catalogue", "shipped", _("shipped catalogue")),
            after={"created": [f"{o._meta.label_lower}:{o.pk}" for o in created]},
        )
    ]
    entries += _after_write({type(o) for o in created}, actor)
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
            current = getattr(obj, name)
            if current != shipped:
                changed[name] = (current, shipped)
        if changed:
            out.append(Difference(row, False, changed))
    return out


@transaction.atomic
def apply_catalogue_update(*, actor=None) -> list[Difference]:
    """Make the database match the shipped catalogue; one audit record per changed row, then
    whatever the apps' hooks add for the models written (certs: review due dates)."""
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
    entries += _after_write({d.row.model for d in diffs}, actor)
    audit.record_many(entries)
    return diffs

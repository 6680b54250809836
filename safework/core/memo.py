"""Reads memoised for one unit of work: a service call, inside its transaction.

Catalogue rows and settings are admin data, edited while the product runs, so they are never
cached beyond the call: within `unit()`, `get(key, load)` loads once and answers the same value
again (the call sees one version of the catalogue, as one transaction would); outside a unit it
just loads. A save or delete of a model registered with `forget_on_change` (signals) empties the
running unit's memo, so a call that edits the catalogue reads it again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models.signals import post_delete, post_save

_store: ContextVar[dict | None] = ContextVar("memo_store", default=None)


@contextmanager
def unit():
    """Memoise the reads inside the block (a block inside another is part of the outer one)."""
    if _store.get() is not None:
        yield
        return
    token = _store.set({})
    try:
        yield
    finally:
        _store.reset(token)


def active() -> bool:
    return _store.get() is not None


def get[T](key, load: Callable[[], T]) -> T:
    store = _store.get()
    if store is None:
        return load()
    try:
        return store[key]
    except KeyError:
        value = store[key] = load()
        return value


def forget(**_signal_kwargs) -> None:
    store = _store.get()
    if store is not None:
        store.clear()


def forget_on_change(*models) -> None:
    """Empty the running unit's memo whenever a row of `models` is saved or deleted."""
    for model in models:
        for signal in (post_save, post_delete):
            signal.connect(forget, sender=model, dispatch_uid=f"memo-{model._meta.label}")

from functools import cache

import pytest

from safework.core.catalogue import Ref
from safework.org.models import Position
from safework.work import shipped
from safework.work.models import PositionPermission, WorkType


def _value(v):
    return v.resolve() if isinstance(v, Ref) else v


@cache
def _rows():
    # YAML is read once per test session; positions are not this suite's business.
    skip = {Position, PositionPermission}
    return [row for row in shipped.rows() if row.model not in skip]


@pytest.fixture
def work_catalogue(db):
    """Only this app's shipped rows (the whole catalogue takes a second per test)."""
    for row in _rows():
        row.model.objects.create(
            **{k: _value(v) for k, v in row.key.items()},
            **{k: _value(v) for k, v in row.values.items()},
        )


@pytest.fixture
def types(work_catalogue):
    """The shipped work types by code."""
    return {wt.code: wt for wt in WorkType.objects.prefetch_related("levels")}

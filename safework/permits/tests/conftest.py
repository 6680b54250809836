import datetime as dt

import pytest
import time_machine

from safework.permits.tests.world import D, at, build_world
from safework.qualification import engine as qualification


@pytest.fixture
def w(catalogue):
    """The permits' world (`world.build_world`), built on the eve of its day D at 08:00; a test
    module with another clock defines its own `w`."""
    qualification.clear_caches()
    with time_machine.travel(at(D - dt.timedelta(days=1), 8), tick=False):
        yield build_world()

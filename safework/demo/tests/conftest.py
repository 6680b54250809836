import datetime as dt

import pytest

# A day after Order No. 19 took effect, and one before it: the demo's stories must hold on both.
AFTER_ORDER_19 = dt.date(2026, 11, 27)
BEFORE_ORDER_19 = dt.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def _demo_settings(settings, tmp_path):
    """A var/ folder of the test's own, and a fast hasher (a dozen PBKDF2 hashes take seconds)."""
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db):
    from safework.demo.enterprise import seed_demo

    return seed_demo(today=AFTER_ORDER_19)

"""Shared test fixtures: the shipped catalogue, one user per role, a clock."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    # Suites marked `postgres` run only against PostgreSQL (.ci/run sets DATABASE_URL).
    if any("redis" in item.keywords for item in items) and not _redis_reachable():
        skip_redis = pytest.mark.skip(
            reason="needs Redis at 127.0.0.1:6379 (and the redis package)"
        )
        for item in items:
            if "redis" in item.keywords:
                item.add_marker(skip_redis)
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    if on_postgres:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _redis_reachable() -> bool:
    try:
        import redis

        url = os.environ.get("SAFEWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        with redis.Redis.from_url(url, socket_connect_timeout=2) as conn:
            return bool(conn.ping())
    except Exception:
        return False


@pytest.fixture
def catalogue(db):
    """The shipped catalogues, loaded as `make run` loads them."""
    from safework.core.catalogue import load_catalogue

    load_catalogue()


@pytest.fixture(autouse=True)
def _tasks_run_immediately():
    """Background tasks run inline in tests (huey's immediate mode, in-memory storage)."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture(autouse=True)
def _fresh_qualification_caches():
    """The qualification engine caches catalogue and settings per process (cleared by signals on
    save/delete); a test's rows vanish on rollback without a signal, so start each test afresh."""
    from safework.qualification.engine import clear_caches

    clear_caches()
    yield
    clear_caches()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: LocaleMiddleware activates a request's language
    and leaves it active after the response, which would leak into the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)

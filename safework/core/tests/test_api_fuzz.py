"""Schemathesis over the whole API: every operation of /api/v1/openapi.json, with generated
valid and invalid input, as an administrator (may do everything) and as a worker (may see only
themselves). The checks: no 5xx answer, and every status answered is documented for that
operation with its content type.

Marked `fuzz`: `make test` leaves it out (it takes minutes); `.ci/run` runs it on PostgreSQL
with a bounded example count (SAFEWORK_FUZZ_EXAMPLES, default 5 per operation and user).
"""

import base64
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from safework.accounts.models import Role
from safework.accounts.tests.world import grant, make_user

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=False)]

EXAMPLES = int(os.environ.get("SAFEWORK_FUZZ_EXAMPLES", "5"))
PASSWORD = "fuzz-password-1"


def _schema():
    from django.core.wsgi import get_wsgi_application

    # The document is built from the registered endpoints; reading it needs no database.
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


schema = _schema()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go straight to the WSGI application, whose request signals close the database
    connection after each answer: that would end the test's transaction. Django's own test
    client disconnects the same handler for the same reason."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _user(role: str, settings):
    # Basic auth on every call: a fast hasher keeps thousands of logins affordable in a test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = make_user(f"fuzz-{role}", password=PASSWORD)
    grant(user, role)
    return user


@pytest.fixture
def administrator(db, catalogue, settings):
    return _user(Role.ADMINISTRATOR, settings)


@pytest.fixture
def worker(db, catalogue, settings):
    return _user(Role.WORKER, settings)


def _basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure in CI reproduces here
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_administrator_gets_no_5xx_and_only_documented_statuses(case, administrator):
    headers = {"Authorization": _basic(administrator.username)}
    case.call_and_validate(headers=headers, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_worker_gets_no_5xx_and_only_documented_statuses(case, worker):
    headers = {"Authorization": _basic(worker.username)}
    case.call_and_validate(headers=headers, checks=CHECKS)

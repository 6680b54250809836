"""PostgreSQL binds parameters on the server and prepares a statement on its second run on a
connection (settings: SAFEWORK_PG_PREPARE_THRESHOLD); the variable is read strictly."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connection

from safework.people.models import Person


def _prepared_count() -> int:
    """Statements prepared on this connection that read the people table (this one query
    is prepared too, from its own second run)."""
    table = Person._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return sum(f'FROM "{table}"' in statement for (statement,) in cur.fetchall())


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_statement_is_prepared_on_its_second_run_not_its_first():
    def query(pk):
        return list(Person.objects.filter(pk=pk).values_list("pk", flat=True))

    query(-1)  # the statement's text is now known to the connection, not yet prepared
    before = _prepared_count()
    query(-2)  # the same text with another parameter: its second run
    after_second = _prepared_count()
    query(-3)
    assert after_second == before + 1
    assert _prepared_count() == after_second  # reused, not prepared again


def _database_options(value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFEWORK_", "DATABASE_URL"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "safework.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",  # never connected to
        "SAFEWORK_VAR_DIR": str(django_settings.VAR_DIR),
    }
    if value is not None:
        env["SAFEWORK_PG_PREPARE_THRESHOLD"] = value
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("value", "threshold"), [(None, "1"), ("0", "0"), ("5", "5"), ("", "None"), (" ", "None")]
)
def test_the_threshold_comes_from_the_environment(value, threshold):
    done = _database_options(value)
    assert done.returncode == 0, done.stderr
    assert f"'prepare_threshold': {threshold}" in done.stdout
    assert "'server_side_binding': True" in done.stdout


@pytest.mark.parametrize("value", ["x", "-1", "1.5"])
def test_a_threshold_that_is_not_a_whole_number_stops_the_start(value):
    done = _database_options(value)
    assert done.returncode != 0
    assert "SAFEWORK_PG_PREPARE_THRESHOLD" in done.stderr

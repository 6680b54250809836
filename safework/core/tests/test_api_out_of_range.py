"""Input the database or the calendar cannot hold is the caller's error (4xx), never a 500."""

import pytest

from safework.accounts.tests.factories import RoleGrantFactory, UserFactory


@pytest.fixture
def admin_client(client, db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # many users
    user = UserFactory()
    RoleGrantFactory(user=user, role="administrator")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/persons?offset=99999999999999999999",
        "/api/v1/certificates?on=9999-12-31",
    ],
)
def test_out_of_range_numbers_and_dates_are_422(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["code"] in {"out_of_range", "too_large", "invalid_type"}


def _integer_query_parameters():
    """(path, name) of every integer query parameter of a list (GET without a path parameter),
    from the OpenAPI document: a new filter cannot skip the test below."""
    from safework.api import api

    found = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        if "get" not in operations or "{" in path:
            continue
        for parameter in operations["get"].get("parameters", []):
            schema = parameter.get("schema", {})
            types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
            if parameter["in"] == "query" and "integer" in types:
                found.append((path, parameter["name"]))
    return found


INTEGER_PARAMETERS = _integer_query_parameters()
PAGE = {"limit", "offset"}  # bounded by their own, smaller limits


def test_the_lists_have_id_filters_to_check():
    # The collection above found the filters (a change in the document's shape would leave the
    # test below with nothing to check).
    assert ("/api/v1/persons", "position_id") in INTEGER_PARAMETERS
    assert ("/api/v1/health-checks", "person_id") in INTEGER_PARAMETERS
    assert ("/api/v1/audit", "actor_id") in INTEGER_PARAMETERS


@pytest.mark.parametrize(("path", "name"), INTEGER_PARAMETERS)
@pytest.mark.parametrize(("value", "code"), [(2**63, "too_large"), (-(2**63) - 1, "too_small")])
def test_an_integer_no_database_can_hold_is_422_on_every_backend(
    admin_client, path, name, value, code
):
    # Unbounded, PostgreSQL would answer "no such row" (200) where SQLite cannot bind the number:
    # the caller's error is the same on both (decisions.md: 422 for field validation).
    response = admin_client.get(path, {name: value})
    assert response.status_code == 422, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(name, code)]


ID_PARAMETERS = [(path, name) for path, name in INTEGER_PARAMETERS if name not in PAGE]


@pytest.mark.parametrize(("path", "name"), ID_PARAMETERS)
def test_the_largest_id_the_database_holds_finds_nothing(admin_client, path, name):
    # The bound's other side: 2**63 - 1 is a valid id that no row has.
    response = admin_client.get(path, {name: 2**63 - 1})
    assert response.status_code == 200, response.content
    if response["Content-Type"].startswith("application/json"):
        assert response.json()["total"] == 0
    else:  # a list as a file (the permit ledger's export): the header row only
        import io

        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
        assert sheet.max_row == 1

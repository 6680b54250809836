"""Input the database or the calendar cannot hold is the caller's error (4xx), never a 500."""

import pytest

from safework.accounts.tests.factories import RoleGrantFactory, UserFactory


@pytest.fixture
def admin_client(client, db):
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


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/persons?position_id=99999999999999999999",
        "/api/v1/health-checks?person_id=99999999999999999999",
    ],
)
def test_an_id_no_database_can_hold_finds_nothing_or_is_422(admin_client, url):
    # PostgreSQL's backend answers "no such row" for an id past bigint; SQLite cannot bind it.
    response = admin_client.get(url)
    assert response.status_code in (200, 422), response.content
    if response.status_code == 200:
        assert response.json()["total"] == 0

"""A twin inserted between a service's check and its insert: a 422 naming the field, never a 500.

These play the race deterministically on SQLite: the twin row is written just after the
service's duplicate check (inside its validation step), so only the database's unique constraint
can stop the second insert. The PostgreSQL suite plays it with real concurrent requests
(test_races_postgres.py).
"""

import datetime as dt
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import IntegrityError

from safework.accounts.models import Role, RoleGrant
from safework.accounts.tests.world import API, client_for, make_user, world_fixture
from safework.core.errors import InvalidInput
from safework.core.integrity import conflict_error, save_unique, unique_keys
from safework.core.models import AuditRecord
from safework.org.tests.factories import AreaFactory, SiteFactory
from safework.people.models import Contractor, HealthCheck, Person
from safework.people.tests.factories import (
    ContractorFactory,
    HealthCheckFactory,
    PersonFactory,
    fresh_uscc,
)
from safework.work.models import WorkType

api_world = world_fixture()


@contextmanager
def twin_after_check(target: str, make_twin):
    """Patch `target` (a step the service runs after its duplicate check, before its insert) so
    that the twin row appears at that moment, as a concurrent request's would."""
    module_name, attr = target.rsplit(".", 1)
    module = __import__(module_name, fromlist=[attr])
    original = getattr(module, attr)
    made = []

    def step(*args, **kwargs):
        if not made:
            made.append(make_twin())
        return original(*args, **kwargs)

    with mock.patch(target, side_effect=step):
        yield


def admin(world):
    return client_for(world.users[Role.ADMINISTRATOR])


def the_error(response):
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def audit_count():
    return AuditRecord.objects.count()


def test_person_twin_is_422_on_id_number(api_world, db):
    number = PersonFactory.build().id_number
    before = audit_count()
    with twin_after_check(
        "safework.people.services.clean_model", lambda: PersonFactory(id_number=number)
    ):
        response = admin(api_world).post(f"{API}/persons", {"id_number": number, "name": "张三"})
    error = the_error(response)
    assert (error["field"], error["code"]) == ("id_number", "duplicate")
    assert "身份证号" in error["message"]  # Chinese by default
    # The whole request rolled back (here the twin too, being written in the same transaction):
    # no row and no audit record of the loser are left.
    assert not Person.objects.filter(id_number=number).exists()
    assert audit_count() == before


def test_contractor_twin_is_422_on_uscc(api_world, db):
    code = fresh_uscc(987654)
    with twin_after_check(
        "safework.people.services.clean_model", lambda: ContractorFactory(uscc=code)
    ):
        response = admin(api_world).post(f"{API}/contractors", {"name": "新承包商", "uscc": code})
    error = the_error(response)
    assert (error["field"], error["code"]) == ("uscc", "duplicate")
    assert not Contractor.objects.filter(uscc=code).exists()


def test_health_check_twin_is_422_on_checked_on(api_world, db):
    person = api_world.p_own
    day = dt.date(2026, 2, 3)
    with twin_after_check(
        "safework.people.services.clean_model",
        lambda: HealthCheckFactory(person=person, checked_on=day),
    ):
        response = admin(api_world).post(
            f"{API}/health-checks",
            {"person_id": person.pk, "checked_on": str(day), "conclusion": "fit"},
        )
    error = the_error(response)
    assert (error["field"], error["code"]) == ("checked_on", "duplicate")
    assert not HealthCheck.objects.filter(person=person, checked_on=day).exists()


def test_user_twin_is_422_on_username(api_world, db):
    with twin_after_check("safework.accounts.services.clean_model", lambda: make_user("twin")):
        response = admin(api_world).post(f"{API}/users", {"username": "twin"})
    error = the_error(response)
    assert (error["field"], error["code"]) == ("username", "duplicate")


def test_role_grant_twin_is_422(api_world, db):
    user = make_user("granted")
    values = {"user_id": user.pk, "role": Role.INSPECTOR, "site_id": api_world.site_a.pk}
    with twin_after_check(
        "safework.accounts.services.clean_model",
        lambda: RoleGrant.objects.create(user=user, role=Role.INSPECTOR, site=api_world.site_a),
    ):
        response = admin(api_world).post(f"{API}/role-grants", values)
    error = the_error(response)
    assert (error["field"], error["code"]) == ("role", "duplicate")
    assert not RoleGrant.objects.filter(user=user).exists()


def test_site_code_twin_is_422(api_world, db):
    body = {
        "group_id": api_world.group.pk,
        "name": "丙厂区",
        "code": "site-c",
        "latitude": 31.2,
        "longitude": 121.5,
    }
    with twin_after_check(
        "safework.org.services.clean_model",
        lambda: SiteFactory(group=api_world.group, code="site-c"),
    ):
        response = admin(api_world).post(f"{API}/sites", body)
    error = the_error(response)
    assert (error["field"], error["code"]) == ("code", "duplicate")


def test_area_code_per_site_twin_is_422(api_world, db):
    site = api_world.site_a
    with twin_after_check(
        "safework.org.services.clean_model", lambda: AreaFactory(site=site, code="area-new")
    ):
        response = admin(api_world).post(
            f"{API}/areas", {"site_id": site.pk, "name": "新区域", "code": "area-new"}
        )
    error = the_error(response)
    assert (error["field"], error["code"]) == ("code", "duplicate")


# --- the mechanism itself ------------------------------------------------------------------


def test_an_undescribed_key_gets_djangos_message_in_chinese(db):
    WorkType.objects.create(code="twin-type", name="甲")
    with pytest.raises(InvalidInput) as caught:
        save_unique(WorkType(code="twin-type", name="乙"))
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("code", "duplicate")
    assert "已存在" in str(error.message)
    assert WorkType.objects.filter(code="twin-type").count() == 1


def test_other_integrity_errors_are_not_unique_conflicts(db):
    assert conflict_error(IntegrityError("NOT NULL constraint failed: people_person.name")) is None
    assert conflict_error(IntegrityError("FOREIGN KEY constraint failed")) is None


def test_every_unique_key_of_the_project_is_known():
    """Each key the mechanism can name has fields it can report, or a described message."""
    from django.apps import apps

    from safework.core.integrity import error_for

    for model in apps.get_models():
        if not model.__module__.startswith("safework."):
            continue
        for key in unique_keys(model):
            error = error_for(key)
            assert error.code and str(error.message), key

"""One permission check for every door: `guard.require` (API, admin, pages), its object rules
through `rules`, the policy registry, and a scope of several contractors."""

from types import SimpleNamespace

import pytest
import rules
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.test import RequestFactory
from django.urls import path, reverse
from django.views import View

from safework.accounts import checks, guard
from safework.accounts.guard import (
    RequiresPermission,
    holds_role_at_site,
    is_applicant,
    may,
    require,
    requires,
)
from safework.accounts.models import ApiToken, Role
from safework.accounts.scope import grant_scope, scope_for
from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.core import policy
from safework.core.scope import Scope
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.models import Person
from safework.people.queries import persons_visible_to
from safework.people.tests.factories import ContractorFactory, EmploymentFactory

pytestmark = pytest.mark.django_db


def user_with(role=None, **where):
    user = UserFactory(is_staff=True)
    if role is not None:
        RoleGrantFactory(user=user, role=role, **where)
    return user


@pytest.fixture
def world():
    site_a, site_b = SiteFactory(name="甲厂区"), SiteFactory(name="乙厂区")
    dept_a = DepartmentFactory(site=site_a, group=site_a.group)
    dept_b = DepartmentFactory(site=site_b, group=site_b.group)
    own_a = EmploymentFactory(department=dept_a).person
    own_b = EmploymentFactory(department=dept_b).person
    return SimpleNamespace(
        site_a=site_a,
        site_b=site_b,
        own_a=own_a,
        own_b=own_b,
        officer_a=user_with(Role.SAFETY_OFFICER, site=site_a),
        worker=user_with(Role.WORKER, site=site_a),
        stranger=user_with(),
    )


def request_of(user, path="/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


# --- require / may ---------------------------------------------------------------------------


def test_require_answers_403_without_the_cell_404_outside_the_scope(world):
    scope = require(world.officer_a, "people.write", world.own_a)
    assert scope == Scope(site_ids=frozenset({world.site_a.pk}))
    with pytest.raises(Http404):  # someone else's object does not exist for them
        require(world.officer_a, "people.write", world.own_b)
    with pytest.raises(PermissionDenied):  # workers write no people, wherever the person is
        require(world.worker, "people.write", world.own_a)
    with pytest.raises(PermissionDenied):
        require(world.stranger, "people.read")
    assert may(world.officer_a, "people.write", world.own_a)
    assert not may(world.officer_a, "people.write", world.own_b)
    assert not may(world.worker, "people.write")


def test_a_permission_nobody_declared_is_a_programming_error(world):
    with pytest.raises(ImproperlyConfigured):
        require(world.officer_a, "people.wirte")
    with pytest.raises(ImproperlyConfigured):
        require(world.officer_a, "persons.read")


def test_require_leaves_the_scope_on_the_request_and_may_does_not(world):
    request = request_of(world.officer_a)
    assert may(request, "people.read") and not hasattr(request, "scope")
    require(request, "people.read")
    assert request.scope == scope_for(world.officer_a, "people", "read")
    assert request.scope.site_ids == {world.site_a.pk}


def test_a_read_only_token_refuses_every_action_but_read(world):
    request = request_of(world.officer_a)
    request.api_token = ApiToken(user=world.officer_a, read_only=True, resources=[])
    assert may(request, "people.read")
    assert not may(request, "people.write")
    narrowed = request_of(world.officer_a)
    narrowed.api_token = ApiToken(user=world.officer_a, resources=["health"])
    assert may(narrowed, "health.write") and not may(narrowed, "people.read")


def test_the_rules_permissions_agree_with_require(world):
    officer = world.officer_a
    assert officer.has_perm("people.write")
    assert officer.has_perm("people.write", world.own_a)
    assert not officer.has_perm("people.write", world.own_b)
    assert not world.worker.has_perm("people.write")
    assert rules.perm_exists("certificates.read") and rules.perm_exists("audit.write")


# --- an object rule: "holds this role at the object's site and is not its applicant" ---------


@pytest.fixture
def permits():
    """A resource as the permits app will declare it: its own actions and an object rule."""
    perm = policy.perm_name("test_permits", "approve")
    policy.declare(
        "test_permits",
        app="accounts",
        cells={
            "read": {Role.SAFETY_OFFICER, Role.PRINCIPAL, Role.INSPECTOR},
            "approve": {Role.SAFETY_OFFICER, Role.PRINCIPAL},
        },
    )
    guard.object_rule(perm, holds_role_at_site(Role.SAFETY_OFFICER, Role.PRINCIPAL) & ~is_applicant)
    yield perm
    guard.OBJECT_RULES.remove_rule(perm)
    for action in ("read", "approve"):
        rules.remove_perm(f"test_permits.{action}")
    del policy._RESOURCES["test_permits"]


def within(scope, permit):
    # The permits app will declare its visibility query; a plain object stands in for a permit.
    return scope.group_wide or permit.site_id in scope.site_ids


def test_approve_needs_the_role_at_the_permits_site_and_not_being_its_applicant(world, permits):
    applicant = user_with(Role.SAFETY_OFFICER, site=world.site_a)
    permit = SimpleNamespace(pk=1, site_id=world.site_a.pk, applicant_id=applicant.pk)
    assert require(world.officer_a, permits, permit, within=within).site_ids == {world.site_a.pk}
    with pytest.raises(PermissionDenied):  # nobody approves their own application
        require(applicant, permits, permit, within=within)
    officer_b = user_with(Role.SAFETY_OFFICER, site=world.site_b)
    with pytest.raises(Http404):  # another site's permit
        require(officer_b, permits, permit, within=within)
    inspector = user_with(Role.INSPECTOR, site=world.site_a)
    assert may(inspector, "test_permits.read", permit, within=within)
    with pytest.raises(PermissionDenied):  # reads permits, approves none
        require(inspector, permits, permit, within=within)


def test_holds_role_at_site_reads_the_grant_of_that_site_or_a_group_wide_one(world, permits):
    permit_a = SimpleNamespace(pk=1, site_id=world.site_a.pk, applicant_id=None)
    permit_b = SimpleNamespace(pk=2, site_id=world.site_b.pk, applicant_id=None)
    at_site = holds_role_at_site(Role.SAFETY_OFFICER)
    assert at_site.test(world.officer_a, permit_a) and not at_site.test(world.officer_a, permit_b)
    assert not holds_role_at_site(Role.PRINCIPAL).test(world.officer_a, permit_a)
    principal = user_with(Role.PRINCIPAL)  # group-wide
    assert holds_role_at_site(Role.PRINCIPAL).test(principal, permit_b)
    assert not at_site.test(world.officer_a, None)
    # The same rule through Django's has_perm (rules' backend), scope included.
    assert principal.has_perm(permits, permit_b)
    own = SimpleNamespace(pk=3, site_id=world.site_b.pk, applicant_id=principal.pk)
    assert not principal.has_perm(permits, own)
    assert is_applicant.test(principal, own) and not is_applicant.test(principal, permit_b)


# --- pages: the decorator and the mixin ------------------------------------------------------


@requires("people.read")
def persons_page(request):
    ids = persons_visible_to(request.scope).order_by("pk").values_list("pk", flat=True)
    return HttpResponse(",".join(map(str, ids)))


def person_page(request, person_id):
    person = get_object_or_404(Person, pk=person_id)
    require(request, "people.write", person)
    return HttpResponse(person.name)


class SitesPage(RequiresPermission, View):
    permission = "people.write"

    def get(self, request):
        return HttpResponse(",".join(map(str, sorted(request.scope.site_ids))))


urlpatterns = [
    path("t/persons/", persons_page, name="t-persons"),
    path("t/persons/<int:person_id>/", person_page, name="t-person"),
    path("t/sites/", SitesPage.as_view(), name="t-sites"),
]


@pytest.mark.urls(__name__)
def test_a_page_view_asks_the_same_question(world, client):
    url = reverse("t-persons")
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "next=" in anonymous["Location"]
    client.force_login(world.stranger)
    assert client.get(url).status_code == 403
    client.force_login(world.officer_a)
    answer = client.get(url)
    assert (answer.status_code, answer.content.decode()) == (200, str(world.own_a.pk))
    assert answer.wsgi_request.scope == Scope(site_ids=frozenset({world.site_a.pk}))
    assert client.get(reverse("t-person", args=[world.own_a.pk])).status_code == 200
    assert client.get(reverse("t-person", args=[world.own_b.pk])).status_code == 404
    client.force_login(world.worker)
    assert client.get(reverse("t-person", args=[world.own_a.pk])).status_code == 403


@pytest.mark.urls(__name__)
def test_a_class_based_page_view_asks_the_same_question(world, client):
    assert client.get(reverse("t-sites")).status_code == 302
    client.force_login(world.worker)
    assert client.get(reverse("t-sites")).status_code == 403
    client.force_login(world.officer_a)
    answer = client.get(reverse("t-sites"))
    assert (answer.status_code, answer.content.decode()) == (200, str(world.site_a.pk))


# --- the admin -------------------------------------------------------------------------------


def test_the_admin_asks_require_and_leaves_the_scope_on_the_request(world, client):
    client.force_login(world.officer_a)
    listing = client.get(reverse("admin:people_person_changelist"))
    assert listing.status_code == 200
    assert listing.wsgi_request.scope == Scope(site_ids=frozenset({world.site_a.pk}))
    change_url = reverse("admin:people_person_change", args=[world.own_a.pk])
    assert client.get(change_url).context["has_change_permission"]
    # An object rule on the permission binds the admin as it binds the API and the pages.
    guard.object_rule("people.write", rules.predicate(lambda user, obj: obj.pk != world.own_a.pk))
    try:
        assert not client.get(change_url).context["has_change_permission"]
        assert not may(world.officer_a, "people.write", world.own_a)
    finally:
        guard.OBJECT_RULES.remove_rule("people.write")
    assert client.get(change_url).context["has_change_permission"]


# --- the registry ----------------------------------------------------------------------------


def test_a_resource_is_declared_once_and_its_models_belong_to_it_alone():
    with pytest.raises(ImproperlyConfigured):
        policy.declare("people", app="people", cells={"read": set()})
    with pytest.raises(ImproperlyConfigured):
        policy.declare("elsewhere", app="x", cells={"read": set()}, objects={"people.person": ""})
    assert "elsewhere" not in policy.resources()
    with pytest.raises(ImproperlyConfigured):
        policy.declare("a.b", app="x", cells={"read": set()})


def test_the_system_check_names_an_unknown_role():
    policy.declare("misspelt", app="core", cells={"read": {"saftey_officer"}})
    try:
        errors = checks.policy_names_known_roles(None)
    finally:
        del policy._RESOURCES["misspelt"]
        rules.remove_perm("misspelt.read")
    assert [e.id for e in errors] == ["safework.E101"]
    assert "saftey_officer" in errors[0].msg
    assert checks.policy_names_known_roles(None) == []


# --- a scope of several contractors ---------------------------------------------------------


def test_two_contractor_manager_grants_make_one_scope_of_both(world):
    x, y, z = ContractorFactory(), ContractorFactory(), ContractorFactory()
    staff = {
        c.pk: EmploymentFactory(employer_kind="contractor", contractor=c).person for c in (x, y, z)
    }
    manager = user_with(Role.CONTRACTOR_MANAGER, contractor=x)
    RoleGrantFactory(user=manager, role=Role.CONTRACTOR_MANAGER, contractor=y)
    scope = scope_for(manager, "people", "read")
    assert scope == Scope(contractor_ids=frozenset({x.pk, y.pk}))
    seen = set(persons_visible_to(scope).values_list("pk", flat=True))
    assert seen == {staff[x.pk].pk, staff[y.pk].pk}
    # each grant alone: one contractor
    grants = list(manager.grants.order_by("pk"))
    assert [grant_scope(g, manager).contractor_ids for g in grants] == [{x.pk}, {y.pk}]


def test_every_model_a_resource_names_has_a_query_that_runs():
    """A dotted path left behind by a move would only fail when someone opens that object."""
    from django.apps import apps

    from safework.core import policy
    from safework.core.scope import Scope

    labels = [label for name in policy.resources() for label in policy.resource(name).objects]
    assert {"ledger.importjob", "registry.verificationlookup", "rosters.roster"} <= set(labels)
    for label in labels:
        query = policy.visibility(label)
        assert query is not None, label
        assert query(Scope.nothing(), None).model is apps.get_model(label), label

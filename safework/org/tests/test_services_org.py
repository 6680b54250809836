"""org.services.save_department: paths, effective sites and employments follow a move."""

import json

import pytest

from safework.core.errors import InvalidInput
from safework.core.models import AuditRecord
from safework.org.models import Department
from safework.org.services import save_department
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.models import Employment
from safework.people.tests.factories import EmploymentFactory


@pytest.fixture
def tree(db):
    site_a, site_b = SiteFactory(), SiteFactory()
    root = DepartmentFactory(site=None, kind="company")
    workshop = DepartmentFactory(parent=root, site=site_a)
    team = DepartmentFactory(parent=workshop, site=None, kind="team")
    squad = DepartmentFactory(parent=team, site=None, kind="team")
    other = DepartmentFactory(parent=root, site=site_b)
    return site_a, site_b, root, workshop, team, squad, other


def test_paths_and_effective_sites_on_create(tree):
    site_a, _b, root, workshop, team, squad, _other = tree
    assert squad.path == f"/{root.pk}/{workshop.pk}/{team.pk}/{squad.pk}/"
    assert (root.effective_site_id, squad.effective_site_id) == (None, site_a.pk)


def test_moving_a_subtree_moves_paths_sites_and_employments(tree):
    site_a, site_b, root, workshop, team, squad, other = tree
    employment = EmploymentFactory(department=squad)
    assert employment.site_id == site_a.pk
    team.parent = other  # the admin hands over a changed instance
    save_department(team, by="admin")
    squad.refresh_from_db()
    assert squad.path == f"/{root.pk}/{other.pk}/{team.pk}/{squad.pk}/"
    assert squad.effective_site_id == site_b.pk
    assert Employment.objects.get(pk=employment.pk).site_id == site_b.pk
    record = AuditRecord.objects.filter(action="org.department_saved").latest("seq")
    payload = json.loads(record.payload)
    assert payload["before"]["parent_id"] == workshop.pk  # the stored row, not the edit
    assert payload["after"]["parent_id"] == other.pk


def test_a_new_department_leaves_the_rest_of_the_tree_alone(tree):
    *_rest, other = tree
    before = dict(Department.objects.values_list("pk", "path"))
    DepartmentFactory(parent=other, site=None)
    after = dict(Department.objects.values_list("pk", "path"))
    assert {pk: after[pk] for pk in before} == before


def test_cycles_are_field_errors(tree):
    _a, _b, _root, workshop, team, squad, _other = tree
    for parent in (workshop, squad):
        workshop.parent = parent
        with pytest.raises(InvalidInput) as exc:
            save_department(workshop)
        assert [(e.field, e.code) for e in exc.value.errors] == [("parent_id", "cycle")]

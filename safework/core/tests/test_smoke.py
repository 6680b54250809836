import pytest

from safework.people.tests.factories import EmploymentFactory


@pytest.mark.django_db
def test_factories_make_a_current_employee(catalogue):
    from safework.org.tests.factories import DepartmentFactory

    dept = DepartmentFactory()
    emp = EmploymentFactory(department=dept)
    assert emp.person.current_employment == emp
    assert emp.site == dept.site
    assert dept.path == f"/{dept.pk}/"

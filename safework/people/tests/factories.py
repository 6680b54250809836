import datetime as dt
import random

import factory

from safework.people.models import (
    Contractor,
    ContractorEngagement,
    Employment,
    HealthCheck,
    Person,
)
from safework.people.rules import uscc_check_char
from safework.people.synthetic import random_identity

_rng = random.Random(20261127)
_used: set[str] = set()


def fresh_identity():
    while True:
        number, name, birth, gender = random_identity(_rng, today=dt.date(2026, 1, 1))
        if number not in _used:
            _used.add(number)
            return number, name, birth, gender


def fresh_uscc(n: int) -> str:
    first17 = f"91310000{n:09d}"
    return first17 + uscc_check_char(first17)


class PersonFactory(factory.django.DjangoModelFactory):
    """A person with a valid synthetic ID number; employment via EmploymentFactory."""

    class Meta:
        model = Person

    class Params:
        identity = factory.LazyFunction(fresh_identity)

    id_number = factory.LazyAttribute(lambda o: o.identity[0])
    name = factory.LazyAttribute(lambda o: o.identity[1])
    birth_date = factory.LazyAttribute(lambda o: o.identity[2])
    gender = factory.LazyAttribute(lambda o: o.identity[3])
    is_synthetic = True


class ContractorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contractor

    name = factory.Sequence(lambda n: f"承包商{n}有限公司")
    uscc = factory.Sequence(fresh_uscc)
    contact_name = "联系人"


class EngagementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractorEngagement

    contractor = factory.SubFactory(ContractorFactory)
    site = factory.SubFactory("safework.org.tests.factories.SiteFactory")
    starts_on = dt.date(2025, 1, 1)


class EmploymentFactory(factory.django.DjangoModelFactory):
    """Opens an employment and makes it the person's current one."""

    class Meta:
        model = Employment
        skip_postgeneration_save = True

    person = factory.SubFactory(PersonFactory)
    employer_kind = "own"
    started_on = dt.date(2020, 1, 1)
    department = None
    site = factory.LazyAttribute(lambda o: o.department.effective_site if o.department else None)

    @factory.post_generation
    def make_current(obj, create, extracted, **kwargs):
        if create and extracted is not False and obj.ended_on is None:
            obj.person.current_employment = obj
            obj.person.save(update_fields=["current_employment"])


class HealthCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthCheck

    person = factory.SubFactory(PersonFactory)
    checked_on = dt.date(2026, 3, 1)
    conclusion = "fit"

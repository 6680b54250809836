"""Builders for qualification tests: fully qualified crew members, one fact at a time to break.

Each builder makes a person who passes every check on `D` (10 March 2026) for the given position,
so a test changes exactly one fact and asserts exactly the reason it expects.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from safework.certs.tests.factories import CertificateFactory, item
from safework.org.models import Position
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.tests.factories import (
    ContractorFactory,
    EmploymentFactory,
    EngagementFactory,
    HealthCheckFactory,
    PersonFactory,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = dt.date(2026, 3, 10)
HOT_WORK_ATTRS = {"hot_work_method": "welding", "height_m": 0.5}


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """An aware instant on a Shanghai day."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def site():
    return SiteFactory()


def certificate(person, scheme: str, code: str, **kwargs):
    kwargs.setdefault("verification", "verified")
    return CertificateFactory(person=person, item=item(scheme, code), **kwargs)


def plant_training(person, completed: dt.date = D - dt.timedelta(days=30), **kwargs):
    kwargs.setdefault("valid_until", completed + relativedelta(years=1) - dt.timedelta(days=1))
    return certificate(person, "internal", "PLANT-ANNUAL", issued_on=completed, **kwargs)


def member(
    where,
    *,
    position: str = "welder",
    certs=(("special_operation", "2.1"),),
    contractor=None,
    medical_on: dt.date = D - dt.timedelta(days=30),
    **person_kwargs,
):
    """A person qualified on D for `position`: employed (own staff at `where`, or `contractor`'s
    staff with an engagement at `where`), fit, trained this year, holding `certs`, verified."""
    person = PersonFactory(position=Position.objects.get(code=position), **person_kwargs)
    if contractor is not None:
        EmploymentFactory(
            person=person, employer_kind="contractor", contractor=contractor, department=None
        )
    else:
        EmploymentFactory(person=person, department=DepartmentFactory(site=where))
    HealthCheckFactory(person=person, checked_on=medical_on, conclusion="fit")
    plant_training(person)
    for scheme, code in certs:
        certificate(person, scheme, code)
    return person


def contractor_at(where, **kwargs):
    contractor = ContractorFactory()
    EngagementFactory(contractor=contractor, site=where, starts_on=dt.date(2025, 1, 1), **kwargs)
    return contractor


def hot_work_crew(where):
    """A welder (worker), a guardian and a gas tester, each qualified on D."""
    welder = member(where)
    guardian = member(where, position="team-leader", certs=(("internal", "GUARDIAN"),))
    tester = member(where, position="gas-analyst", certs=(("internal", "GAS-TESTER"),))
    return welder, guardian, tester


def codes(decision) -> list[str]:
    return sorted(r.code for r in decision.reasons)


def blocking_codes(decision) -> list[str]:
    return sorted(r.code for r in decision.reasons if r.blocking)

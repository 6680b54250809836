"""The engine as permits call it: typed crew members, `at` required, employment and engagement
in force at the instant asked (history, not today's pointers), house rules read from the
catalogue."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safework.certs.tests.factories import CertificateFactory
from safework.core.errors import InvalidInput
from safework.people.models import Employment, EmploymentStatus
from safework.people.services import EmploymentIn, change_employment, end_employment
from safework.people.tests.factories import ContractorFactory, EmploymentFactory, EngagementFactory
from safework.qualification import engine as qualification
from safework.qualification import facts
from safework.qualification.engine import CrewMember
from safework.qualification.tests.qualification_fixtures import (
    HOT_WORK_ATTRS,
    SHANGHAI,
    D,
    at,
    codes,
    contractor_at,
    hot_work_crew,
    member,
    site,
)
from safework.work.models import HouseRule

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def here(catalogue):
    qualification.clear_caches()  # house rules edited by an earlier test of this process
    return site()


def welder_check(person, here, when):
    return qualification.check(person, "hot_work", "level1", "worker", here, when, HOT_WORK_ATTRS)


# --- `at` is required -----------------------------------------------------------------------------


def test_at_none_is_refused_not_read_as_now(here):
    welder = member(here)
    with pytest.raises(TypeError, match="at"):
        qualification.check(welder, "hot_work", "level1", "worker", here, None, HOT_WORK_ATTRS)
    with pytest.raises(TypeError, match="at"):
        qualification.check_crew(
            [CrewMember(welder.pk, "worker")], "hot_work", "level1", here, None
        )


def test_a_naive_instant_is_an_input_error(here):
    with pytest.raises(InvalidInput) as exc:
        welder_check(member(here), here, dt.datetime(2026, 3, 10, 10))
    assert [(e.field, e.code) for e in exc.value.errors] == [("at", "invalid_datetime")]


# --- the typed crew member ------------------------------------------------------------------------


def test_crew_members_are_typed_values(here):
    welder = member(here)
    with pytest.raises(TypeError, match="CrewMember"):
        qualification.check_crew([(welder.pk, "worker")], "hot_work", "level1", here, at(D))


def test_a_member_of_its_own_level_is_checked_at_that_level(here):
    # The welder's position allows hot work up to level1 only: the crew's level2 passes, the
    # member's own special level does not, and names the member's level.
    welder, guardian, tester = hot_work_crew(here)
    welder_rows = welder.position.permissions.filter(work_type__code="hot_work")
    welder_rows.update(max_level=welder_rows.first().work_type.levels.get(code="level1"))
    qualification.clear_caches()
    crew = [
        CrewMember(welder.pk, "worker", HOT_WORK_ATTRS, level="special"),
        CrewMember(guardian.pk, "guardian"),
        CrewMember(tester.pk, "gas_tester"),
    ]
    result = qualification.assess_crew(crew, "hot_work", "level2", here, at(D))
    assert [m.decision.allowed for m in result.members] == [False, True, True]
    (reason,) = result.members[0].decision.reasons
    assert reason.code == "position.not_permitted"
    assert "特级" in reason.message
    assert result.level == "level2"  # the crew's level is still the question's


def test_a_member_level_the_work_type_lacks_is_an_input_error(here):
    welder = member(here)
    with pytest.raises(InvalidInput) as exc:
        qualification.check_crew(
            [CrewMember(welder.pk, "worker", level="IV")], "hot_work", "level1", here, at(D)
        )
    assert [(e.field, e.code) for e in exc.value.errors] == [("crew.0.level", "invalid_level")]


# --- employment in force at `at` ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended_on", "allowed"),
    [(D - DAY, False), (D, True), (D + DAY, True)],  # the last day of employment still counts
)
def test_employment_ending_around_the_day(here, ended_on, allowed):
    welder = member(here)
    end_employment(by=None, employment=welder.current_employment, ended_on=ended_on)
    welder.refresh_from_db()
    assert welder.current_employment is None  # ended: no "current" employer any more
    decision = welder_check(welder, here, at(D))
    assert decision.allowed is allowed
    if not allowed:
        (reason,) = decision.reasons
        assert reason.code == "person.not_employed"
        assert reason.clause == "企业规定：在册且在岗人员方可作业"
        assert str(D - DAY) in reason.message  # the end of the employment shown


def test_an_employment_starting_after_the_day_does_not_count(here):
    welder = member(here)
    Employment.objects.filter(person=welder).update(started_on=D + DAY)
    assert codes(welder_check(welder, here, at(D))) == ["person.not_employed"]
    assert welder_check(welder, here, at(D + DAY)).allowed


def test_the_local_day_decides_the_employment(here):
    # 23:30 UTC on the day before is 07:30 on D in Shanghai: the employment starting on D counts.
    welder = member(here)
    Employment.objects.filter(person=welder).update(started_on=D)
    previous = D - DAY
    late_utc = dt.datetime(previous.year, previous.month, previous.day, 23, 30, tzinfo=dt.UTC)
    before_midnight = dt.datetime(
        previous.year, previous.month, previous.day, 23, 59, tzinfo=SHANGHAI
    )
    assert welder_check(welder, here, late_utc).allowed
    assert codes(welder_check(welder, here, before_midnight)) == ["person.not_employed"]


def test_a_future_move_to_a_contractor_counts_from_its_first_day(here):
    # Own staff until D + 9, then staff of a contractor that is not engaged at this site: a
    # roster for D sees the own-staff employment, one for D + 10 the contractor's.
    welder = member(here)
    elsewhere = ContractorFactory()
    change_employment(
        by=None,
        person=welder,
        employment=EmploymentIn("contractor", D + 10 * DAY, contractor_id=elsewhere.pk),
    )
    welder.refresh_from_db()
    assert welder.current_employment.started_on == D + 10 * DAY  # "current" is the future one
    assert welder_check(welder, here, at(D)).allowed
    assert welder_check(welder, here, at(D + 9 * DAY)).allowed
    assert codes(welder_check(welder, here, at(D + 10 * DAY))) == ["contractor.not_engaged"]


def test_a_past_contractor_employment_is_not_checked_as_today(here):
    # Contractor staff until D - 1 (their contractor suspended since), own staff from D.
    gone = ContractorFactory(status="suspended")
    welder = member(here, contractor=gone)
    change_employment(
        by=None,
        person=welder,
        employment=EmploymentIn("own", D, department_id=_department_at(here)),
    )
    assert welder_check(welder, here, at(D)).allowed
    assert codes(welder_check(welder, here, at(D - DAY))) == [
        "contractor.inactive",
        "contractor.not_engaged",
    ]


def _department_at(where) -> int:
    from safework.org.tests.factories import DepartmentFactory

    return DepartmentFactory(site=where).pk


def test_of_overlapping_employments_the_active_one_counts(here):
    welder = member(here)
    EmploymentFactory(
        person=welder,
        department=welder.current_employment.department,
        started_on=D - 10 * DAY,
        status=EmploymentStatus.SUSPENDED,
        make_current=False,
    )
    assert welder_check(welder, here, at(D)).allowed
    Employment.objects.filter(person=welder, status="active").update(ended_on=D - DAY)
    (reason,) = welder_check(welder, here, at(D)).reasons
    assert reason.code == "person.not_employed"  # only the suspended one covers D


# --- engagement in force at `at` ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts_on", "allowed"),
    [(D + DAY, False), (D, True)],  # a contract starting after the day does not cover it
)
def test_engagement_starting_around_the_day(here, starts_on, allowed):
    contractor = ContractorFactory()
    EngagementFactory(contractor=contractor, site=here, starts_on=starts_on)
    worker = member(here, contractor=contractor)
    decision = welder_check(worker, here, at(D))
    assert decision.allowed is allowed
    if not allowed:
        (reason,) = decision.reasons
        assert reason.code == "contractor.not_engaged"
        assert reason.clause == "企业规定：承包商资格有效且在本厂区有有效合同"


# --- house rules are catalogue rows ---------------------------------------------------------------


def test_a_refusal_names_the_house_rule_clause_as_edited(here):
    welder = member(here)
    welder.position = None
    welder.save()
    rule = HouseRule.objects.get(code="position.permission")
    rule.clause = "企业规定：岗位作业权限矩阵（2026版）"
    rule.save()  # the admin saves it: the cached catalogue is dropped at once
    (reason,) = welder_check(welder, here, at(D)).reasons
    assert (reason.code, reason.clause) == (
        "position.not_permitted",
        "企业规定：岗位作业权限矩阵（2026版）",
    )


def test_a_house_rule_version_applies_from_its_first_day(here):
    # A new version of the contractor medical rule from D + 1: D still uses the old clause.
    contractor = contractor_at(here)
    worker = member(here, contractor=contractor, medical_on=D - dt.timedelta(days=120))
    old = HouseRule.objects.get(code="medical.contractor_age")
    old.effective_to = D + DAY
    old.save()
    HouseRule.objects.create(
        code="medical.contractor_age", name="新版", clause="新条款", effective_from=D + DAY
    )
    (on_d,) = welder_check(worker, here, at(D)).reasons
    (next_day,) = welder_check(worker, here, at(D + DAY)).reasons
    assert on_d.code == next_day.code == "medical.contractor_too_old"
    assert old.clause in on_d.clause and "新条款" not in on_d.clause
    assert "新条款" in next_day.clause


def test_a_house_rule_ended_before_the_day_is_not_applied(here):
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(last_practised_on=dt.date(2025, 1, 1))
    HouseRule.objects.filter(code="cert.absence").update(effective_to=D + DAY)
    qualification.clear_caches()  # update() sends no signal
    assert codes(welder_check(welder, here, at(D))) == ["cert.absence"]  # last day in force
    assert welder_check(welder, here, at(D + DAY)).allowed


def test_a_house_rule_missing_from_the_catalogue_cannot_decide(here):
    welder = member(here)
    HouseRule.objects.filter(code="person.blacklist").delete()
    decision = welder_check(welder, here, at(D))
    (reason,) = decision.reasons
    assert (decision.allowed, reason.code) == (False, "check.cannot_decide")
    assert "person.blacklist" in reason.message


def test_the_engine_holds_no_house_rule_clause():
    # Clauses live in the catalogue; the one in code is for when the catalogue cannot be read.
    import inspect

    from safework.qualification import requirements

    for module in (qualification, requirements):
        source = inspect.getsource(module)
        assert "企业规定" not in source
        assert "第三十二条" not in source


# --- facts in one round trip ----------------------------------------------------------------------


@pytest.mark.postgres
def test_the_facts_of_a_crew_are_one_round_trip_on_postgresql(here):
    contractor = contractor_at(here)
    crew = [member(here), member(here, contractor=contractor)]
    certificate = crew[0].certificates.get(item__code="2.1")
    CertificateFactory(
        person=crew[0], item=certificate.item, predecessor=certificate, verification="verified"
    )
    welder_check(crew[0], here, at(D))  # warm the catalogue and settings
    with CaptureQueriesContext(connection) as captured:
        decision = qualification.check_crew(
            [CrewMember(p.pk, "worker") for p in crew], "hot_work", "level1", here, at(D),
            HOT_WORK_ATTRS,
        )  # fmt: skip
    assert decision.allowed, decision.reasons
    reads = [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]
    assert len(reads) == 1


def test_facts_in_batches_equal_facts_at_once(here, monkeypatch):
    # A roster names thousands of persons: they are read 2,000 at a time. Three persons of one
    # contractor read two at a time give the same facts, the engagement once; a predecessor
    # held under another person record is read, but is not the asker's certificate.
    contractor = contractor_at(here)
    people = [member(here, contractor=contractor) for _ in range(3)]
    other = member(here)
    old = other.certificates.get(item__code="2.1")
    new = CertificateFactory(person=people[0], item=old.item, predecessor=old)
    ids = [p.pk for p in people]

    def summary(f):
        return {
            pk: (
                sorted(c.pk for c in pf.certificates),
                [e.pk for e in pf.employments],
                [h.pk for h in pf.health_checks],
            )
            for pk, pf in f.persons.items()
        }

    whole = facts.fetch_facts(ids, until=D)
    monkeypatch.setattr(facts, "BATCH", 2)
    batched = facts.fetch_facts(ids, until=D)
    assert summary(batched) == summary(whole)
    assert [g.site_id for g in batched.engagements_of(contractor.pk)] == [here.pk]
    assert batched.certificates[old.pk].person_id == other.pk
    assert new.pk in {c.pk for c in batched.persons[people[0].pk].certificates}
    assert old.pk not in {c.pk for c in batched.persons[people[0].pk].certificates}
